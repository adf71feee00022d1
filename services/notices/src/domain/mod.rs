//! Pure types and rules: the milestones a reporter is told about, the zh-CN
//! messages, the gateways and their addresses, block notices.

pub mod gateway;
pub mod message;
pub mod milestone;
pub mod notice;
pub mod template;

pub use gateway::{GatewayCode, GatewayKind, GatewayUrl, WebhookSecret};
pub use message::{Closure, FeedbackMessage};
pub use milestone::Milestone;
pub use notice::NoticeCategory;
pub use template::TemplateText;
