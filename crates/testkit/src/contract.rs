//! Stand-ins for another service's gRPC contract, for a service's tests.
//!
//! A service that calls another (cases asks blocks and duties, enforcement
//! asks duties) is tested against a real gRPC server on a real socket that
//! answers the few methods it calls from data the test chooses; every other
//! method of the contract is UNIMPLEMENTED, so the real service may grow
//! freely. Answers are plain closures over the decoded request, which may
//! also look at its metadata (to check the caller's token):
//!
//! ```no_run
//! # async fn example(port: u16) {
//! use flatgov_proto::duties::v1::{GetDepartmentRequest, Department};
//! use flatgov_testkit::contract::Contract;
//!
//! let running = Contract::new("flatgov.duties.v1.DutyLists")
//!     .unary("GetDepartment", |request: tonic::Request<GetDepartmentRequest>| {
//!         Ok(Department { name: request.into_inner().name, ..Default::default() })
//!     })
//!     .serve(port)
//!     .await;
//! // … point the service under test at http://127.0.0.1:{port} …
//! running.stop().await;
//! # }
//! ```

use std::convert::Infallible;
use std::future::ready;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::Grpc;
use tonic::{Request, Response, Status};

/// The methods a test answers, on one or more contracts served together.
#[derive(Clone)]
pub struct Contract {
    /// The fully-qualified gRPC service the next methods belong to.
    service: String,
    /// Every answered method, by its path `/{service}/{method}`.
    router: axum::Router,
}

impl Contract {
    /// A contract of `service` (`flatgov.duties.v1.DutyLists`) answering
    /// nothing yet.
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_owned(),
            router: axum::Router::new(),
        }
    }

    /// Further methods belong to `service`, served on the same port.
    pub fn and(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self
    }

    /// Answers `method` of the current service with `answer`.
    pub fn unary<Q, A, F>(mut self, method: &str, answer: F) -> Self
    where
        Q: prost::Message + Default + Send + 'static,
        A: prost::Message + Send + 'static,
        F: Fn(Request<Q>) -> Result<A, Status> + Clone + Send + Sync + 'static,
    {
        let path = format!("/{}/{method}", self.service);
        let method = tower::service_fn(move |request: http::Request<axum::body::Body>| {
            let answer = answer.clone();
            async move {
                let unary = tower::service_fn(move |request: Request<Q>| {
                    ready(answer(request).map(Response::new))
                });
                let mut grpc = Grpc::new(tonic_prost::ProstCodec::<A, Q>::default());
                Ok::<_, Infallible>(grpc.unary(unary, request).await)
            }
        });
        self.router = self.router.route_service(&path, method);
        self
    }

    /// Serves every method answered on 127.0.0.1:`port` (chosen in advance,
    /// so the service under test can be pointed at it first) until the
    /// returned value is stopped or dropped.
    pub async fn serve(self, port: u16) -> RunningContract {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the contract's port is free");
        let router = self.router.fallback(|| async {
            Status::unimplemented("not part of what this test answers")
                .into_http::<tonic::body::Body>()
        });
        let stop = CancellationToken::new();
        let server = tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                stop.clone().cancelled_owned(),
            );
        let task = tokio::spawn(async move {
            if let Err(error) = server.await {
                eprintln!("note: contract server stopped: {error}");
            }
        });
        RunningContract {
            stop,
            task: Some(task),
        }
    }
}

/// A contract being served; stops on [`RunningContract::stop`] or drop.
pub struct RunningContract {
    /// Cancelled to stop accepting calls.
    stop: CancellationToken,
    /// The server, awaited by `stop` so the port is free afterwards.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningContract {
    /// Stops serving and waits until the port is released.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningContract {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
