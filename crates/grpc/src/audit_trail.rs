//! `flatgov.audit.v1.AuditTrail`, served by every service about its own
//! records, and the worker that prunes records past their retention.

use std::time::Duration;

use flatgov_config::{ConfigError, Env};
use flatgov_proto::audit::v1 as proto;
use flatgov_proto::audit::v1::audit_trail_server::AuditTrail;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::error;
use crate::paging::{ListQuery, PageRequest};
use crate::time::timestamp;

/// How long audit records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// Days a record is kept before the pruning worker deletes it (at
    /// least 180, the shortest log retention the Cybersecurity Law allows).
    pub retention_days: u32,
}

impl AuditConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let retention_days: u32 = env.optional(
            "AUDIT_RETENTION_DAYS",
            1095,
            "days audit records are kept, at least 180",
        )?;
        if retention_days < 180 {
            return Err(ConfigError::Malformed {
                name: "AUDIT_RETENTION_DAYS",
                value: retention_days.to_string(),
                reason: "the law requires logs to be kept at least six months".into(),
                expected: "days audit records are kept, at least 180",
            });
        }
        Ok(Self { retention_days })
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 1095,
        }
    }
}

/// Days a request id is remembered: a retry comes within minutes; a week
/// covers any client's retry budget many times over.
const REQUEST_ID_DAYS: u32 = 7;

/// Prunes once an hour: audit records past their retention, request ids
/// past [`REQUEST_ID_DAYS`]. Several replicas pruning at once only find
/// less to delete.
pub async fn prune_worker(pool: PgPool, config: AuditConfig, shutdown: CancellationToken) {
    loop {
        match flatgov_audit::prune(&pool, config.retention_days).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned audit records past their retention"),
            Err(error) => tracing::warn!(%error, "cannot prune the audit trail now"),
        }
        if let Err(error) = crate::idempotency::forget_older_than(&pool, REQUEST_ID_DAYS).await {
            tracing::warn!(%error, "cannot forget old request ids now");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// The service's audit trail over gRPC.
pub struct AuditTrailService {
    pool: PgPool,
}

impl AuditTrailService {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

const RECORD_COLLECTION: &str = "auditRecords/";

#[tonic::async_trait]
impl AuditTrail for AuditTrailService {
    async fn list_audit_records(
        &self,
        request: Request<proto::ListAuditRecordsRequest>,
    ) -> Result<Response<proto::ListAuditRecordsResponse>, Status> {
        let mut request = request.into_inner();
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let query = ListQuery::of_request("auditRecords", &request);
        let page = PageRequest::parse(page_size, &page_token, &query)
            .map_err(|violations| error::invalid_argument(&violations))?;
        let before_id = page
            .after_as::<i64>()
            .map_err(|violation| error::invalid_argument(&[violation]))?;
        let resource = request.resource.trim().to_owned();
        let mut records = flatgov_audit::list(
            &self.pool,
            &flatgov_audit::ListFilter {
                resource: (!resource.is_empty()).then_some(resource),
                before_id,
                limit: page.size.fetch_limit(),
            },
        )
        .await
        .map_err(|error| error::database("listing audit records", error))?;
        let next_page_token = page
            .size
            .next_page_token(&mut records, &query, |record| record.id.to_string());
        Ok(Response::new(proto::ListAuditRecordsResponse {
            records: records
                .into_iter()
                .map(|record| proto::AuditRecord {
                    name: format!("{RECORD_COLLECTION}{}", record.id),
                    time: Some(timestamp(record.at)),
                    subject: record.entry.subject,
                    roles: record.entry.roles,
                    organisation: record.entry.organisation,
                    service: record.entry.service,
                    method: record.entry.method,
                    resources: record.entry.resources,
                    outcome: record.entry.outcome,
                    trace_id: record.entry.trace_id,
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn verify_audit_trail(
        &self,
        _request: Request<proto::VerifyAuditTrailRequest>,
    ) -> Result<Response<proto::VerifyAuditTrailResponse>, Status> {
        let verification = flatgov_audit::verify(&self.pool)
            .await
            .map_err(|error| error::database("verifying the audit trail", error))?;
        let (first_broken_record, reason) = match &verification.first_broken {
            Some(broken) => (
                format!("{RECORD_COLLECTION}{}", broken.id),
                broken.reason.to_owned(),
            ),
            None => (String::new(), String::new()),
        };
        Ok(Response::new(proto::VerifyAuditTrailResponse {
            intact: verification.first_broken.is_none(),
            records_checked: verification.records,
            first_broken_record,
            reason,
        }))
    }
}
