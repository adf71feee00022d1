//! Transport: `flatgov.notices.v1.Notices` on the chassis. The
//! authorization layer has already checked the caller's role against
//! [`crate::policy::POLICY`]; each handler, in the module of its resource,
//! parses the request into a command (every field violation collected
//! before any I/O), calls the use case in [`crate::application`] and
//! renders the answer.

mod feedback;
mod gateways;
mod indicators;
mod notices;
mod templates;

use flatgov_proto::notices::v1 as proto;
use flatgov_proto::notices::v1::notices_server::Notices as NoticesApi;

use crate::application::Notices;

/// The `flatgov.notices.v1.Notices` server.
pub struct NoticesService {
    /// What the use cases work with.
    pub(crate) notices: Notices,
}

impl NoticesService {
    pub fn new(notices: Notices) -> Self {
        Self { notices }
    }
}

flatgov_grpc::dispatch! {
    impl NoticesApi for NoticesService {
        fn set_gateway(proto::SetGatewayRequest) -> proto::Gateway => gateways::set_gateway;
        fn list_gateways(proto::ListGatewaysRequest) -> proto::ListGatewaysResponse => gateways::list_gateways;
        fn list_feedback(proto::ListFeedbackRequest) -> proto::ListFeedbackResponse => feedback::list_feedback;
        fn set_block_robot(proto::SetBlockRobotRequest) -> proto::BlockRobot => notices::set_block_robot;
        fn list_block_robots(proto::ListBlockRobotsRequest) -> proto::ListBlockRobotsResponse => notices::list_block_robots;
        fn create_notice(proto::CreateNoticeRequest) -> proto::Notice => notices::create_notice;
        fn get_notice(proto::GetNoticeRequest) -> proto::Notice => notices::get_notice;
        fn list_notices(proto::ListNoticesRequest) -> proto::ListNoticesResponse => notices::list_notices;
        fn approve_notice(proto::ApproveNoticeRequest) -> proto::Notice => notices::approve_notice;
        fn get_indicators(proto::GetIndicatorsRequest) -> proto::Indicators => indicators::get_indicators;
        fn list_feedback_templates(proto::ListFeedbackTemplatesRequest) -> proto::ListFeedbackTemplatesResponse => templates::list_feedback_templates;
        fn set_feedback_template(proto::SetFeedbackTemplateRequest) -> proto::FeedbackTemplate => templates::set_feedback_template;
    }
}
