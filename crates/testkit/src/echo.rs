//! `flatgov.testing.v1.Echo`: the smallest service on the real chassis.
//!
//! It exists so the chassis can be tested end to end (auth, health,
//! reflection, outbox, relay, consumer, tracing) without depending on any
//! domain service, and so benchmarks have a trivial RPC to compare against.

use std::sync::Arc;

use flatgov_auth::Role;
use flatgov_config::Env;
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_messaging::{ConsumerSpec, Envelope, EventHandler, HandlerError, RelayConfig};
use flatgov_proto::testing::v1::echo_server::{Echo, EchoServer};
use flatgov_proto::testing::v1::{
    EchoRequest, EchoResponse, Echoed, RecordRequest, RecordResponse,
};
use sqlx::PgConnection;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "testing",
    grpc_service: "flatgov.testing.v1.Echo",
    grpc_port: 0,
    metrics_port: 0,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator,
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

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        flatgov_auth::caller(&request)?;
        let request = request.into_inner();
        if request.delay_millis > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(
                request.delay_millis,
            )))
            .await;
        }
        Ok(Response::new(EchoResponse {
            message: request.message,
        }))
    }

    async fn record(
        &self,
        request: Request<RecordRequest>,
    ) -> Result<Response<RecordResponse>, Status> {
        flatgov_auth::caller(&request)?.require_any_role(&[Role::DistrictAdmin])?;
        let request = request.into_inner();
        if request.message.is_empty() {
            return Err(flatgov_grpc::error::invalid_field(
                "message",
                "must not be empty",
            ));
        }
        let id = uuid::Uuid::now_v7();
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(|error| flatgov_grpc::error::database("recording", error))?;
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
        transaction
            .commit()
            .await
            .map_err(|error| flatgov_grpc::error::database("recording", error))?;
        Ok(Response::new(RecordResponse { id: id.to_string() }))
    }
}

/// Applies `Echoed` events to `echo_effects`. Messages starting with
/// `poison` always fail, to exercise retries and dead-lettering.
struct EffectRecorder;

impl EventHandler for EffectRecorder {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let echoed: Echoed = event.decode()?;
        if echoed.message.starts_with("poison") {
            return Err(HandlerError::Retry(format!(
                "cannot apply {}",
                echoed.message
            )));
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
