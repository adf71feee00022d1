//! A case loaded for a call: read without a lock, or locked for a change that is saved
//! with its records, events and audit record in one transaction.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;
use sqlx::{Postgres, Transaction};

use super::CaseService;
use crate::access::{self, Visibility};
use crate::application::ops;
use crate::domain::lifecycle::{Actor, Case, Command, TransitionRecord};
use crate::domain::values::CaseId;
use crate::error::Error;
use crate::events::EventContext;
use crate::policy::POLICY;
use crate::render;
use crate::store::{self, StoredCase};

/// A case locked for a change, with what the change needs.
pub struct Working {
    pub transaction: Transaction<'static, Postgres>,
    pub stored: StoredCase,
    pub before: Case,
    pub records: Vec<TransitionRecord>,
    pub now: DateTime<Utc>,
    pub visibility: Visibility,
    pub context: EventContext,
    /// A `CaseEscalated` to publish after the records' events (a reassignment to the
    /// whistle).
    pub escalation: Option<proto::CaseEscalated>,
    /// The call's access, for its audit record.
    access: Access,
}

impl Working {
    /// Applies `command` for `actor`.
    pub fn apply(&mut self, actor: Actor, command: Command) -> Result<(), Error> {
        ops::apply(
            &mut self.stored,
            actor,
            command,
            self.now,
            &mut self.records,
        )?;
        Ok(())
    }

    /// Tries `command` on a copy: the lifecycle's refusal (the state, or who may do it)
    /// without changing anything.
    pub fn try_command(&self, actor: &Actor, command: &Command) -> Result<(), Error> {
        self.stored
            .case
            .clone()
            .apply(actor.clone(), command.clone(), self.now)?;
        Ok(())
    }

    /// Saves, publishes, audits, commits and renders the case.
    pub async fn finish(mut self) -> Result<proto::Case, Error> {
        if self.context.previous_assignee.is_none() && self.context.previous_matter.is_none() {
            let generation = self.context.generation.take();
            let me_too_channel = self.context.me_too_channel.take();
            self.context = EventContext::from_before(&self.before);
            self.context.generation = generation;
            self.context.me_too_channel = me_too_channel;
        }
        ops::persist(
            &mut self.transaction,
            &mut self.stored,
            &self.records,
            &self.context,
            self.now,
        )
        .await?;
        if let Some(event) = &self.escalation {
            outbox::enqueue(&mut self.transaction, &self.stored.name(), event).await?;
        }
        let contact = if self.visibility == Visibility::Full {
            store::load_contact(&mut self.transaction, self.stored.case.id()).await?
        } else {
            None
        };
        self.access.audit().resource(self.stored.name());
        flatgov_grpc::authz::record_in_transaction(
            &mut self.transaction,
            &self.access,
            POLICY.service,
        )
        .await?;
        self.transaction.commit().await?;
        Ok(render::case(
            &self.stored,
            self.visibility,
            contact.as_ref(),
            self.now,
        ))
    }
}

impl CaseService {
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        Ok(self.shared.pool.begin().await?)
    }

    /// Loads a case without locking it; NOT_FOUND unless the caller reaches it.
    pub(super) async fn read(
        &self,
        access: &Access,
        id: CaseId,
    ) -> Result<(StoredCase, Visibility), Error> {
        let mut connection = self.shared.pool.acquire().await?;
        let stored = store::load_case(&mut connection, id, false)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        let visibility = access::require_visible(access, &stored)?;
        access.audit().resource(stored.name());
        Ok((stored, visibility))
    }

    /// Locks a case for a change; NOT_FOUND unless the caller reaches it.
    pub(super) async fn open(&self, access: &Access, id: CaseId) -> Result<Working, Error> {
        let mut transaction = self.begin().await?;
        let stored = store::load_case(&mut transaction, id, true)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        let visibility = access::require_visible(access, &stored)?;
        access.audit().resource(stored.name());
        Ok(Working {
            transaction,
            before: stored.case.clone(),
            stored,
            records: Vec::new(),
            now: self.shared.clock.now(),
            visibility,
            context: EventContext::default(),
            escalation: None,
            access: access.clone(),
        })
    }

    /// The common path of a lifecycle call: lock the case the caller reaches, apply the
    /// command (refused with the state, or PERMISSION_DENIED when the caller is not the
    /// one who may), save.
    pub(super) async fn transition(
        &self,
        access: &Access,
        id: CaseId,
        command: impl Fn(&StoredCase, DateTime<Utc>) -> Result<Command, Error>,
    ) -> Result<proto::Case, Error> {
        let mut work = self.open(access, id).await?;
        let actor = access::actor_on(access, Some(&work.stored))?;
        let command = command(&work.stored, work.now)?;
        work.apply(actor, command)?;
        work.finish().await
    }
}
