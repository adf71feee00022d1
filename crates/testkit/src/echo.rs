//! `flatgov.testing.v1.Echo`: the smallest service on the real chassis.
//!
//! It exists so the chassis can be tested end to end (auth, health,
//! reflection, outbox, relay, consumer, tracing) without depending on any
//! domain service, and so benchmarks have a trivial RPC to compare against.

use std::sync::Arc;

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Policy, Scope, allow, rpc};
use flatgov_config::Env;
use flatgov_grpc::idempotency::{Fingerprint, IdempotencyError, recall, remember};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_messaging::{ConsumerSpec, Envelope, EventHandler, HandlerError, RelayConfig};
use flatgov_proto::testing::v1::echo_server::{Echo, EchoServer};
use flatgov_proto::testing::v1::{
    EchoRequest, EchoResponse, Echoed, RecordRequest, RecordResponse,
};
use sqlx::PgConnection;
use tonic::Status;
use tonic::service::Routes;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "testing",
    grpc_service: "flatgov.testing.v1.Echo",
    grpc_port: 0,
    metrics_port: 0,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator,
    policy: &POLICY,
    append_only_tables: &["echoes"],
};

/// Every staff role may echo; only district administrators record.
pub static POLICY: Policy = Policy {
    service: "flatgov.testing.v1.Echo",
    rules: &[
        rpc("Echo").grants(&[allow(
            &[
                Role::DistrictAdmin,
                Role::SubdistrictDispatcher,
                Role::Governor,
                Role::Assistant,
                Role::Supervisor,
                Role::DepartmentOfficer,
                Role::FederationStaff,
                Role::Integrator,
                Role::Resident,
            ],
            Scope::Everything,
        )]),
        // Marked bulk so the chassis' tests can show import-sized requests reach
        // only such RPCs.
        rpc("Record")
            .grants(&[allow(&[Role::DistrictAdmin], Scope::Everything)])
            .writes()
            .bulk(),
    ],
};

fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./echo_migrations")
}

/// What to run beside the server.
#[derive(Clone)]
pub struct EchoOptions {
    /// The relay's tuning; `None` runs no relay (a test drives it itself).
    pub relay: Option<RelayConfig>,
    /// A consumer of the service's own `Echoed` events; `None` runs none.
    pub consumer: Option<ConsumerSpec>,
}

impl Default for EchoOptions {
    fn default() -> Self {
        Self {
            relay: Some(RelayConfig::default()),
            consumer: None,
        }
    }
}

/// The consumer spec tests start from: quick retries.
pub fn consumer_spec(durable_name: &str) -> ConsumerSpec {
    let mut spec = ConsumerSpec::new(
        durable_name,
        "testing",
        "flatgov.testing.echo.echoed",
        "testing",
    );
    spec.max_deliver = 3;
    spec.initial_backoff = std::time::Duration::from_millis(50);
    spec.max_backoff = std::time::Duration::from_millis(200);
    spec.ack_wait = std::time::Duration::from_secs(1);
    spec
}

/// Starts the echo service from `env`.
pub async fn build(env: Env, options: EchoOptions) -> Result<Application, StartError> {
    let config = ChassisConfig::from_env(&env, &IDENTITY)?;
    let mut runtime = Runtime::start(&IDENTITY, config).await?;
    if let Some(relay) = options.relay {
        runtime.spawn_relay_with(relay);
    }
    if let Some(spec) = options.consumer {
        runtime.spawn_consumer(spec, Arc::new(EffectRecorder));
    }
    let service = EchoService {
        pool: runtime.pool.clone(),
    };
    let routes = Routes::new(flatgov_grpc::bounded!(EchoServer::new(service), runtime));
    runtime.serve(routes).await
}

struct EchoService {
    pool: sqlx::PgPool,
}

flatgov_grpc::dispatch! {
    impl Echo for EchoService {
        fn echo(EchoRequest) -> EchoResponse => echo;
        fn record(RecordRequest) -> RecordResponse => record;
    }
}

async fn echo(
    _service: &EchoService,
    _access: &Access,
    request: EchoRequest,
) -> Result<EchoResponse, Status> {
    if request.delay_millis > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(
            request.delay_millis,
        )))
        .await;
    }
    Ok(EchoResponse {
        message: request.message,
    })
}

async fn record(
    service: &EchoService,
    access: &Access,
    request: RecordRequest,
) -> Result<RecordResponse, Status> {
    if request.message.is_empty() {
        return Err(flatgov_grpc::error::invalid_field(
            "message",
            "must not be empty",
        ));
    }
    let database = |error| flatgov_grpc::error::database("recording", error);
    let request_id = RequestId::parse_optional(&request.request_id)
        .map_err(|error| flatgov_grpc::error::invalid_field("request_id", error.to_string()))?;
    let fingerprint = Fingerprint::of(&request);
    if let Some(request_id) = &request_id {
        let mut connection = service.pool.acquire().await.map_err(database)?;
        if let Some(resource) = recall(&mut connection, access, request_id, fingerprint)
            .await
            .map_err(idempotency_status)?
        {
            return Ok(RecordResponse {
                id: resource.trim_start_matches("echoes/").to_owned(),
            });
        }
    }
    let id = uuid::Uuid::now_v7();
    let mut transaction = service
        .pool
        .begin()
        .await
        .map_err(|error| flatgov_grpc::error::database("recording", error))?;
    if let Some(request_id) = &request_id {
        remember(
            &mut transaction,
            access,
            request_id,
            fingerprint,
            &format!("echoes/{id}"),
        )
        .await
        .map_err(database)?;
    }
    sqlx::query("insert into echoes (id, message) values ($1, $2)")
        .bind(id)
        .bind(&request.message)
        .execute(&mut *transaction)
        .await
        .map_err(|error| flatgov_grpc::error::database("recording", error))?;
    flatgov_messaging::outbox::enqueue(
        &mut transaction,
        &format!("echoes/{id}"),
        &Echoed {
            id: id.to_string(),
            message: request.message,
        },
    )
    .await
    .map_err(|error| flatgov_grpc::error::database("recording", error))?;
    if request.fail_after_write {
        transaction
            .rollback()
            .await
            .map_err(|error| flatgov_grpc::error::database("recording", error))?;
        return Err(Status::aborted("rolled back as requested"));
    }
    access.audit().resource(format!("echoes/{id}"));
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .map_err(|error| flatgov_grpc::error::database("recording", error))?;
    transaction
        .commit()
        .await
        .map_err(|error| flatgov_grpc::error::database("recording", error))?;
    Ok(RecordResponse { id: id.to_string() })
}

fn idempotency_status(error: IdempotencyError) -> Status {
    match error.violation() {
        Some(violation) => flatgov_grpc::error::invalid_argument(&[violation]),
        None => match error {
            IdempotencyError::Database(error) => flatgov_grpc::error::database("recording", error),
            IdempotencyError::Reused(_) => Status::internal("unreachable"),
        },
    }
}

/// Applies `Echoed` events to `echo_effects`. Messages starting with
/// `poison` fail, to exercise retries and dead-lettering, until a test fixes
/// the cause by inserting the message into `echo_cures` (then a redriven
/// dead letter applies).
struct EffectRecorder;

impl EventHandler for EffectRecorder {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let echoed: Echoed = event.decode()?;
        if echoed.message.starts_with("poison") {
            let cured: bool =
                sqlx::query_scalar("select exists (select 1 from echo_cures where message = $1)")
                    .bind(&echoed.message)
                    .fetch_one(&mut *connection)
                    .await?;
            if !cured {
                return Err(HandlerError::Retry(format!(
                    "cannot apply {}",
                    echoed.message
                )));
            }
        }
        let echo_id: uuid::Uuid = echoed
            .id
            .parse()
            .map_err(|_| HandlerError::Reject(format!("bad echo id {}", echoed.id)))?;
        let trace_id = flatgov_telemetry::trace_id(&tracing::Span::current());
        sqlx::query(
            "insert into echo_effects (echo_id, message, applications, trace_id) values ($1, $2, 1, $3)
             on conflict (echo_id) do update set applications = echo_effects.applications + 1",
        )
        .bind(echo_id)
        .bind(&echoed.message)
        .bind(trace_id)
        .execute(connection)
        .await?;
        Ok(())
    }
}
