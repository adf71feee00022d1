//! Pure types and rules of the federation, with their unit tests beside them.
//! Nothing here touches the database or the network.

pub mod activity;
pub mod codes;
pub mod identity;
pub mod kinds;
pub mod support_plan;
pub mod text;

/// Why a value from outside is not usable, in words a caller can act on.
/// The message never repeats personal input (an ID number, a phone number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
