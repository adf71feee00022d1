//! The one place every call is authenticated, authorized, limited and
//! audited, before and after its handler.
//!
//! For each call the layer:
//! 1. looks the method up in the policy tables (the service's own and the
//!    chassis'); a method without a rule is refused (default deny);
//! 2. verifies the bearer token (a public rule also admits a call without
//!    one; a token that is present must verify);
//! 3. refuses the call when none of the caller's roles is granted;
//! 4. applies the caller's rate and concurrency limits;
//! 5. hands the handler an [`Access`] (caller and earned scopes);
//! 6. appends an audit record for writes and personal-data reads, refused
//!    ones included, unless the handler already wrote it in its own
//!    transaction.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use flatgov_auth::policy::{self, Access, Audit, Policy, Refusal, Rule};
use flatgov_auth::{AuthError, Caller, Role, Verifier};
use flatgov_config::{ConfigError, Env};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use flatgov_auth::policy::{PUBLIC, rpc};

/// The chassis' own RPCs: health and reflection are public (load
/// balancers and `grpcurl` need them before they hold credentials); the
/// audit trail and the undelivered events are for district administrators.
pub static HEALTH_POLICY: Policy = Policy {
    service: "grpc.health.v1.Health",
    rules: &[
        rpc("Check").grants(&[PUBLIC]),
        rpc("Watch").grants(&[PUBLIC]),
    ],
};

pub static REFLECTION_POLICY: Policy = Policy {
    service: "grpc.reflection.v1.ServerReflection",
    rules: &[rpc("ServerReflectionInfo").grants(&[PUBLIC])],
};

pub static REFLECTION_V1ALPHA_POLICY: Policy = Policy {
    service: "grpc.reflection.v1alpha.ServerReflection",
    rules: &[rpc("ServerReflectionInfo").grants(&[PUBLIC])],
};

pub static AUDIT_POLICY: Policy = Policy {
    service: "flatgov.audit.v1.AuditTrail",
    rules: &[
        rpc("ListAuditRecords").grants(&[policy::allow(
            &[Role::DistrictAdmin],
            policy::Scope::Everything,
        )]),
        rpc("VerifyAuditTrail").grants(&[policy::allow(
            &[Role::DistrictAdmin],
            policy::Scope::Everything,
        )]),
    ],
};

/// Undelivered events (dead letters, parked outbox rows): district
/// administrators, the platform's operators, only. Redrives and retries
/// change what a service has applied or published, so they are audited
/// as writes, with the dead letters or parked events they touched.
pub static EVENT_DELIVERY_POLICY: Policy = Policy {
    service: "flatgov.messaging.v1.EventDelivery",
    rules: &[
        rpc("ListDeadLetters").grants(&[policy::allow(
            &[Role::DistrictAdmin],
            policy::Scope::Everything,
        )]),
        rpc("GetDeadLetter").grants(&[policy::allow(
            &[Role::DistrictAdmin],
            policy::Scope::Everything,
        )]),
        rpc("RedriveDeadLetters")
            .grants(&[policy::allow(
                &[Role::DistrictAdmin],
                policy::Scope::Everything,
            )])
            .writes(),
        rpc("ListParkedEvents").grants(&[policy::allow(
            &[Role::DistrictAdmin],
            policy::Scope::Everything,
        )]),
        rpc("RetryParkedEvents")
            .grants(&[policy::allow(
                &[Role::DistrictAdmin],
                policy::Scope::Everything,
            )])
            .writes(),
    ],
};

/// Every policy the chassis serves beside a service's own.
pub const CHASSIS_POLICIES: [&Policy; 5] = [
    &HEALTH_POLICY,
    &REFLECTION_POLICY,
    &REFLECTION_V1ALPHA_POLICY,
    &AUDIT_POLICY,
    &EVENT_DELIVERY_POLICY,
];

/// The handler's view of its call: the caller and what the policy granted.
/// `UNAUTHENTICATED` when the layer did not run (a wiring mistake).
pub fn access<T>(request: &tonic::Request<T>) -> Result<&Access, Status> {
    request
        .extensions()
        .get::<Access>()
        .ok_or_else(|| Status::unauthenticated("no verified caller on this request"))
}

/// Per-caller limits, read once from the environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitsConfig {
    /// Sustained calls per second one caller may make.
    pub calls_per_second: f64,
    /// Calls a caller may make at once above the sustained rate.
    pub burst: f64,
    /// Calls of one caller in flight at the same time.
    pub concurrent_calls: usize,
}

impl LimitsConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            calls_per_second: env.optional(
                "RATE_LIMIT_PER_SECOND",
                100.0,
                "calls per second one caller may make, sustained",
            )?,
            burst: env.optional(
                "RATE_LIMIT_BURST",
                200.0,
                "calls one caller may make at once above the sustained rate",
            )?,
            concurrent_calls: env.optional(
                "CONCURRENCY_LIMIT_PER_CALLER",
                32,
                "calls of one caller in flight at the same time",
            )?,
        })
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            calls_per_second: 100.0,
            burst: 200.0,
            concurrent_calls: 32,
        }
    }
}

/// Token buckets and in-flight counts per caller. Other flatgov services
/// are not limited: their load is the platform's own intake, which is
/// limited where it enters.
#[derive(Debug)]
struct Limiter {
    config: LimitsConfig,
    callers: Mutex<HashMap<String, CallerBudget>>,
}

#[derive(Debug)]
struct CallerBudget {
    tokens: f64,
    refreshed: Instant,
    in_flight: usize,
}

/// Why a call was held back, and when to try again.
enum Exhausted {
    Rate(Duration),
    Concurrency,
}

impl Limiter {
    /// Callers tracked before idle ones are forgotten.
    const TRACKED: usize = 10_000;

    fn new(config: LimitsConfig) -> Self {
        Self {
            config,
            callers: Mutex::new(HashMap::new()),
        }
    }

    fn admit(self: &Arc<Self>, key: &str) -> Result<InFlight, Exhausted> {
        let now = Instant::now();
        let mut callers = self
            .callers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if callers.len() >= Self::TRACKED {
            let full = self.config.burst;
            callers.retain(|_, budget| budget.in_flight > 0 || budget.tokens < full);
        }
        let budget = callers.entry(key.to_owned()).or_insert(CallerBudget {
            tokens: self.config.burst,
            refreshed: now,
            in_flight: 0,
        });
        let elapsed = now.duration_since(budget.refreshed).as_secs_f64();
        budget.tokens =
            (budget.tokens + elapsed * self.config.calls_per_second).min(self.config.burst);
        budget.refreshed = now;
        if budget.in_flight >= self.config.concurrent_calls {
            return Err(Exhausted::Concurrency);
        }
        if budget.tokens < 1.0 {
            let wait = (1.0 - budget.tokens) / self.config.calls_per_second.max(0.001);
            return Err(Exhausted::Rate(Duration::from_secs_f64(wait)));
        }
        budget.tokens -= 1.0;
        budget.in_flight += 1;
        Ok(InFlight {
            limiter: self.clone(),
            key: key.to_owned(),
        })
    }
}

/// A call counted against its caller's concurrency until dropped.
struct InFlight {
    limiter: Arc<Limiter>,
    key: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut callers = self
            .limiter
            .callers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(budget) = callers.get_mut(&self.key) {
            budget.in_flight = budget.in_flight.saturating_sub(1);
        }
    }
}

/// Where audit records go: the service's own database.
#[derive(Clone)]
pub struct AuditSink {
    pool: PgPool,
    failures: Counter,
}

impl AuditSink {
    pub fn new(pool: PgPool, registry: &mut Registry) -> Self {
        let failures = Counter::default();
        registry.register(
            "flatgov_audit_append_failures",
            "Audit records that could not be written (the call's outcome stood)",
            failures.clone(),
        );
        Self { pool, failures }
    }

    async fn append(&self, entry: flatgov_audit::Entry) {
        let result = async {
            let mut connection = self.pool.acquire().await?;
            flatgov_audit::append(&mut connection, &entry).await
        }
        .await;
        if let Err(error) = result {
            self.failures.inc();
            tracing::error!(
                %error,
                method = %entry.method,
                outcome = %entry.outcome,
                "cannot append an audit record"
            );
        }
    }
}

/// The audit entry of a call.
pub fn audit_entry(
    access: Option<&Access>,
    caller: Option<&Caller>,
    service: &str,
    method: &str,
    outcome: Code,
    trace_id: &str,
) -> flatgov_audit::Entry {
    flatgov_audit::Entry {
        subject: caller
            .map(|caller| caller.subject.clone())
            .unwrap_or_default(),
        roles: caller
            .map(|caller| {
                caller
                    .roles
                    .iter()
                    .map(|role| role.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        organisation: caller
            .and_then(|caller| caller.organisation.clone())
            .unwrap_or_default(),
        service: service.to_owned(),
        method: method.to_owned(),
        resources: access
            .map(|access| access.audit().resources())
            .unwrap_or_default(),
        outcome: code_name(outcome).to_owned(),
        trace_id: trace_id.to_owned(),
    }
}

/// Appends the audit record of a call from inside the handler's own
/// transaction, so the record and the change commit together; the layer
/// then writes no second record when the call succeeds.
pub async fn record_in_transaction(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    service: &str,
) -> Result<(), sqlx::Error> {
    let trace_id = flatgov_telemetry::trace_id(&tracing::Span::current()).unwrap_or_default();
    let entry = audit_entry(
        Some(access),
        access.caller(),
        service,
        access.method(),
        Code::Ok,
        &trace_id,
    );
    flatgov_audit::append(connection, &entry).await?;
    access.audit().mark_recorded();
    Ok(())
}

/// `PERMISSION_DENIED`: the code's upper snake case name as gRPC spells it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// What the layer needs, shared by every connection.
struct Shared {
    verifier: Verifier,
    rules: HashMap<String, (&'static str, &'static Rule)>,
    limiter: Arc<Limiter>,
    audit: Option<AuditSink>,
    /// The largest request body of an RPC not marked bulk.
    max_request_bytes: usize,
}

/// The authorization layer of one server.
#[derive(Clone)]
pub struct AuthzLayer {
    shared: Arc<Shared>,
}

impl AuthzLayer {
    /// Enforces `policies` (the service's own and [`CHASSIS_POLICIES`]).
    pub fn new(
        verifier: Verifier,
        policies: &[&'static Policy],
        limits: LimitsConfig,
        max_request_bytes: usize,
        audit: Option<AuditSink>,
    ) -> Self {
        let mut rules = HashMap::new();
        for policy in policies {
            for rule in policy.rules {
                rules.insert(
                    format!("/{}/{}", policy.service, rule.method),
                    (policy.service, rule),
                );
            }
        }
        Self {
            shared: Arc::new(Shared {
                verifier,
                rules,
                limiter: Arc::new(Limiter::new(limits)),
                audit,
                max_request_bytes,
            }),
        }
    }

    /// `/package.Service/Method` of every method with a rule.
    pub fn known_paths(&self) -> Vec<String> {
        self.shared.rules.keys().cloned().collect()
    }
}

impl<S> tower::Layer<S> for AuthzLayer {
    type Service = AuthzService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthzService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthzService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Turns a refusal into the HTTP response gRPC clients read.
fn refuse<B: Default>(status: Status) -> http::Response<B> {
    status.into_http()
}

fn resource_exhausted(exhausted: Exhausted) -> Status {
    let (message, retry_after) = match exhausted {
        Exhausted::Rate(wait) => (
            "too many calls from this caller; retry after the delay in the RetryInfo detail",
            wait,
        ),
        Exhausted::Concurrency => (
            "too many calls from this caller in flight at once; retry when earlier ones finish",
            Duration::from_millis(100),
        ),
    };
    Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(retry_after.max(Duration::from_millis(1)))),
    )
}

impl<S, ResBody> tower::Service<http::Request<tonic::body::Body>> for AuthzService<S>
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let shared = self.shared.clone();
        let path = request.uri().path().to_owned();
        let trace_id = flatgov_telemetry::trace_id(&tracing::Span::current()).unwrap_or_default();
        let Some(&(service, rule)) = shared.rules.get(&path) else {
            let refusal = Refusal::Unlisted {
                method: path.trim_start_matches('/').to_owned(),
            };
            tracing::debug!(path, "refused: the method has no rule");
            return Box::pin(
                async move { Ok(refuse(Status::permission_denied(refusal.to_string()))) },
            );
        };
        let audited = rule.audit != Audit::No;

        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|value| value.to_str().map_err(|_| AuthError::MalformedHeader));
        let is_public = rule
            .grants
            .iter()
            .any(|grant| grant.scope == policy::Scope::Public);
        let caller = match header {
            None if is_public => None,
            None => Some(shared.verifier.verify_header(None)),
            Some(Err(error)) => Some(Err(error)),
            Some(Ok(value)) => Some(shared.verifier.verify_header(Some(value))),
        };
        let caller = match caller.transpose() {
            Ok(caller) => caller,
            Err(error) => {
                tracing::debug!(%error, path, "refused: unauthenticated");
                return Box::pin(
                    async move { Ok(refuse(Status::unauthenticated(error.to_string()))) },
                );
            }
        };
        if let Some(caller) = &caller {
            tracing::Span::current().record("caller", caller.subject.as_str());
        }

        let Some(scopes) = policy::earned(rule, caller.as_ref()) else {
            let roles: Vec<&str> = caller
                .iter()
                .flat_map(|caller| caller.roles.iter().map(|role| role.as_str()))
                .collect();
            let needs_district_claim = caller.as_ref().is_some_and(|caller| {
                rule.grants.iter().any(|grant| {
                    grant.scope == policy::Scope::DistrictWide
                        && grant.roles.iter().any(|role| caller.has_role(*role))
                })
            });
            let refusal = if needs_district_claim {
                Refusal::NeedsDistrictWideJurisdiction {
                    method: rule.method.to_owned(),
                }
            } else {
                Refusal::RoleNotGranted {
                    method: rule.method.to_owned(),
                    roles: roles.join(", "),
                }
            };
            tracing::debug!(path, "refused: role not granted");
            let entry = audited.then(|| {
                audit_entry(
                    None,
                    caller.as_ref(),
                    service,
                    rule.method,
                    Code::PermissionDenied,
                    &trace_id,
                )
            });
            return Box::pin(async move {
                if let (Some(entry), Some(sink)) = (entry, &shared.audit) {
                    sink.append(entry).await;
                }
                Ok(refuse(Status::permission_denied(refusal.to_string())))
            });
        };

        let limited = caller
            .as_ref()
            .is_some_and(|caller| !caller.has_role(Role::Service))
            || caller.is_none();
        let in_flight = if limited {
            let key = match &caller {
                Some(caller) => format!("sub:{}", caller.subject),
                None => format!(
                    "ip:{}",
                    peer_ip(&request)
                        .map(|ip| ip.to_string())
                        .unwrap_or_default()
                ),
            };
            match shared.limiter.admit(&key) {
                Ok(in_flight) => Some(in_flight),
                Err(exhausted) => {
                    return Box::pin(async move { Ok(refuse(resource_exhausted(exhausted))) });
                }
            }
        } else {
            None
        };

        let mut request = if rule.bulk {
            request
        } else {
            request
                .map(|body| tonic::body::Body::new(CappedBody::new(body, shared.max_request_bytes)))
        };
        let access = Access::new(caller.clone(), rule, scopes);
        request.extensions_mut().insert(access.clone());
        if let Some(caller) = &caller {
            // Handlers not yet on the policy tables read the caller directly.
            request.extensions_mut().insert(caller.clone());
        }
        // The clone that was polled ready must serve this call.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = ready.call(request).await;
            drop(in_flight);
            let outcome = match &response {
                Ok(response) if audited => Some(
                    Status::from_header_map(response.headers())
                        .map(|status| status.code())
                        .unwrap_or(Code::Ok),
                ),
                _ => None,
            };
            if let (Some(code), Some(sink)) = (outcome, &shared.audit)
                && !(code == Code::Ok && access.audit().needs_no_record())
            {
                sink.append(audit_entry(
                    Some(&access),
                    caller.as_ref(),
                    service,
                    rule.method,
                    code,
                    &trace_id,
                ))
                .await;
            }
            response
        })
    }
}

/// A request body refused once it grows past a limit: only import RPCs (`.bulk()`)
/// may send import-sized messages.
struct CappedBody {
    inner: tonic::body::Body,
    remaining: usize,
    limit: usize,
}

impl CappedBody {
    /// The gRPC frame header (5 bytes) rides on the message.
    fn new(inner: tonic::body::Body, limit: usize) -> Self {
        Self {
            inner,
            remaining: limit.saturating_add(5),
            limit,
        }
    }
}

impl http_body::Body for CappedBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(context);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            if data.len() > self.remaining {
                let limit = self.limit;
                self.remaining = 0;
                return Poll::Ready(Some(Err(Status::out_of_range(format!(
                    "the request is larger than the {limit} bytes this RPC accepts"
                )))));
            }
            self.remaining -= data.len();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn peer_ip<B>(request: &http::Request<B>) -> Option<IpAddr> {
    request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .map(|addr| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_over_its_rate_is_told_when_to_retry() {
        let limiter = Arc::new(Limiter::new(LimitsConfig {
            calls_per_second: 1.0,
            burst: 2.0,
            concurrent_calls: 10,
        }));
        let first = limiter.admit("sub:a");
        let second = limiter.admit("sub:a");
        assert!(first.is_ok() && second.is_ok());
        match limiter.admit("sub:a") {
            Err(Exhausted::Rate(wait)) => assert!(wait <= Duration::from_secs(1), "{wait:?}"),
            _ => panic!("the third call at once must be held back"),
        }
        assert!(
            limiter.admit("sub:b").is_ok(),
            "other callers keep their own budget"
        );
    }

    #[test]
    fn a_caller_with_too_many_calls_in_flight_waits_for_one_to_finish() {
        let limiter = Arc::new(Limiter::new(LimitsConfig {
            calls_per_second: 1000.0,
            burst: 1000.0,
            concurrent_calls: 1,
        }));
        let first = limiter.admit("sub:a").ok().expect("first call");
        assert!(matches!(
            limiter.admit("sub:a"),
            Err(Exhausted::Concurrency)
        ));
        drop(first);
        assert!(limiter.admit("sub:a").is_ok());
    }

    #[test]
    fn resource_exhausted_carries_retry_info() {
        let status = resource_exhausted(Exhausted::Rate(Duration::from_millis(250)));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let retry = status.get_details_retry_info().expect("retry info");
        assert_eq!(retry.retry_delay, Some(Duration::from_millis(250)));
    }

    #[test]
    fn the_chassis_policies_are_sound() {
        for policy in CHASSIS_POLICIES {
            assert!(policy.defects().is_empty(), "{:?}", policy.defects());
        }
    }
}
