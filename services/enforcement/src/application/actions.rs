//! What agencies record in an operation.

use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::{Enforcement, Retry, lost_race, remember};
use crate::access;
use crate::domain::{
    ActionDetails, ActionName, AgencyCode, Attachment, Command, Marking, NewAction, OperationName,
    Text,
};
use crate::error::Error;
use crate::store::{self, ActionRow};

/// An action as asked.
#[derive(Debug, Clone)]
pub struct RecordAction {
    pub operation: OperationName,
    /// Makes a retry return the first action.
    pub retry: Option<Retry>,
    /// The agency the request names, if any: it must be the caller's.
    pub agency: Option<AgencyCode>,
    pub summary: Text,
    pub notes: Text,
    /// Sensitive notes, or open ones, or as the agency does by default.
    pub notes_marking: Marking,
    /// Restricted findings and penalty details, or open ones, or as the
    /// agency does by default.
    pub details_marking: Marking,
    /// The kind-specific part; a check names an order of this operation.
    pub details: ActionDetails,
    pub attachments: Vec<Attachment>,
}

impl Enforcement {
    pub async fn record_action(
        &self,
        access: &Access,
        command: RecordAction,
    ) -> Result<ActionRow, Error> {
        let agency = access::acting_agency(access, command.agency.as_ref())?;
        let retry = command.retry.as_ref();
        if let Some(earlier) = self.recall(access, retry).await? {
            return self.action_named(access, &earlier).await;
        }
        let mut locked = self.lock(access, &command.operation).await?;
        let id = Uuid::now_v7();
        let name = ActionName {
            operation: command.operation,
            id,
        };
        if !remember(&mut locked.transaction, access, retry, &name.to_string()).await? {
            drop(locked);
            let earlier = self.recall_winner(access, retry).await?;
            return self.action_named(access, &earlier).await;
        }
        access.audit().resource(name.to_string());
        // Sensitive by default: what the officer did not mark follows the
        // agency's defaults as they stand when the action is recorded.
        let defaults = store::get_agency(&mut locked.transaction, agency.as_str())
            .await?
            .ok_or_else(|| Error::Internal(format!("agency {agency} went missing")))?;
        let action = NewAction {
            id,
            agency,
            summary: command.summary.into_string(),
            notes: command.notes.into_string(),
            notes_sensitive: command
                .notes_marking
                .restricts(defaults.notes_sensitive_by_default),
            details_restricted: command
                .details_marking
                .restricts(defaults.details_restricted_by_default),
            details: command.details,
            attachments: command.attachments,
        };
        let operation = self
            .change(
                access,
                locked,
                Command::RecordAction(action),
                self.clock.now(),
            )
            .await?;
        operation
            .actions
            .into_iter()
            .find(|action| action.id == id)
            .ok_or_else(|| Error::not_found(name))
    }

    /// The action a remembered resource name names, as the caller may see
    /// it now; NOT_FOUND when the caller no longer reaches its operation.
    async fn action_named(&self, access: &Access, resource: &str) -> Result<ActionRow, Error> {
        let name = ActionName::parse(resource).map_err(|_| lost_race())?;
        self.operation(access, name.operation.0)
            .await?
            .actions
            .into_iter()
            .find(|action| action.id == name.id)
            .ok_or_else(|| Error::not_found(name))
    }
}
