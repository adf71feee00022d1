//! The unrated closure after a return visit (回访).
//!
//! The notices service follows up verified cases: a reporter who has not rated within
//! N working days gets a return-visit message, and when the case is still unrated M
//! working days after it, the notices service publishes
//! `flatgov.notices.return_visit.expired` (consumer `cases-on-return-visit-expired`).
//! Closing the case is this service's to do, through the lifecycle like every other
//! transition: a case still verified is closed as unrated (`CloseUnrated`, by the
//! system, with the reason), so satisfaction counts only the ratings given. A case that
//! moved on meanwhile (rated, reopened, closed) is left alone: a late or repeated event
//! changes nothing.

use flatgov_messaging::HandlerError;
use flatgov_proto::notices::v1::ReturnVisitExpired;
use sqlx::PgConnection;

use crate::application::ops;
use crate::consumers::Handlers;
use crate::domain::lifecycle::{Actor, CaseState, Command};
use crate::domain::values::CaseId;
use crate::events::EventContext;
use crate::store;
use crate::triage::reason_text;

impl Handlers {
    /// Closes a case still verified, and unrated, after its return visit expired.
    pub(crate) async fn return_visit_expired(
        &self,
        connection: &mut PgConnection,
        event: ReturnVisitExpired,
    ) -> Result<(), HandlerError> {
        let id = CaseId::parse_resource_name(&event.case)
            .map_err(|error| HandlerError::Reject(format!("return visit expired: {error}")))?;
        let Some(mut stored) = store::load_case(&mut *connection, id, true).await? else {
            tracing::warn!(case = %id, "return visit expired for a case this service does not hold; ignored");
            return Ok(());
        };
        // Only about the verification the case now waits on: an expiry of an earlier
        // one (the case was reworked and verified again meanwhile, while the expiry
        // waited out a NATS outage or a redrive) must not close the new one, whose
        // return visit has not even started.
        if stored.case.state() != CaseState::Verified
            || store::latest_verification(&mut *connection, id).await?
                != Some(event.verified_sequence)
        {
            tracing::info!(case = %id, state = %stored.case.state(), "return visit expired for a case that moved on; nothing to do");
            return Ok(());
        }
        let now = self.shared.clock.now();
        let before = stored.case.clone();
        let mut records = Vec::new();
        let reason =
            reason_text("no rating after the return visit (回访后逾期未评价): closed as unrated");
        if let Err(error) = ops::apply(
            &mut stored,
            Actor::System,
            Command::CloseUnrated { reason },
            now,
            &mut records,
        ) {
            tracing::warn!(case = %id, %error, "the expired return visit cannot close the case");
            return Ok(());
        }
        ops::persist(
            connection,
            &mut stored,
            &records,
            &EventContext::from_before(&before),
            now,
        )
        .await?;
        tracing::info!(case = %id, "closed as unrated after the return visit expired");
        Ok(())
    }
}
