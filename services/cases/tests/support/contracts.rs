//! Small gRPC servers implementing the contract RPCs the cases service calls —
//! `BlockRegistry.LocatePoint` / `GetBlock` and `DutyLists.ResolveResponsibility` /
//! `CheckAssignment` — over real sockets, answering from data the test sets. They check
//! the caller's token is the cases service's own (`service` role), as the real services
//! do; every other RPC is UNIMPLEMENTED, so the real services may grow freely.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use flatgov_auth::{Role, Verifier};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::duties::v1 as duties;
use flatgov_proto::flatgov::r#type::v1 as types;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A block of the fake registry: a latitude/longitude rectangle with a team.
#[derive(Debug, Clone)]
pub struct FakeBlock {
    pub code: String,
    /// (south, west, north, east) in degrees.
    pub rectangle: (f64, f64, f64, f64),
    pub governor: String,
    pub supervisor: String,
}

impl FakeBlock {
    pub fn contains(&self, latitude: f64, longitude: f64) -> bool {
        let (south, west, north, east) = self.rectangle;
        (south..north).contains(&latitude) && (west..east).contains(&longitude)
    }

    fn proto(&self) -> blocks::Block {
        blocks::Block {
            name: format!("blocks/{}", self.code),
            code: self.code.clone(),
            community_code: self.code[..12].to_owned(),
            subdistrict_code: self.code[..9].to_owned(),
            team: Some(blocks::Team {
                governor: self.governor.clone(),
                supervisor: self.supervisor.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// A matter the fake duty lists know.
#[derive(Debug, Clone)]
pub struct FakeMatter {
    pub lead: types::Unit,
    pub cooperating: Vec<String>,
    pub tier: types::HandlingTier,
}

/// A gate rule: assigning `matter` to a unit of `to_kind` is refused.
#[derive(Debug, Clone)]
pub struct FakeRefusal {
    pub matter: String,
    pub to_kind: types::UnitKind,
    pub reason_code: String,
    pub responsible_instead: types::Unit,
}

/// What the fakes answer, changeable while they run.
#[derive(Debug, Default)]
pub struct Directory {
    pub blocks: Mutex<Vec<FakeBlock>>,
    pub matters: Mutex<HashMap<String, FakeMatter>>,
    pub refusals: Mutex<Vec<FakeRefusal>>,
    /// Calls answered, per RPC name.
    pub calls: Mutex<HashMap<&'static str, usize>>,
    /// Calls refused for a missing or wrong token.
    pub unauthenticated: AtomicUsize,
    /// Refusals the gate recorded (a retried request id counts once).
    pub recorded_refusals: Mutex<Vec<String>>,
}

impl Directory {
    pub fn calls(&self, rpc: &str) -> usize {
        self.calls.lock().unwrap().get(rpc).copied().unwrap_or(0)
    }

    fn count(&self, rpc: &'static str) {
        *self.calls.lock().unwrap().entry(rpc).or_default() += 1;
    }

    fn authenticate<T>(&self, verifier: &Verifier, request: &Request<T>) -> Result<(), Status> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        match verifier.verify_header(header) {
            Ok(caller) if caller.has_role(Role::Service) && caller.subject == "cases" => Ok(()),
            _ => {
                self.unauthenticated.fetch_add(1, Ordering::SeqCst);
                Err(Status::unauthenticated(
                    "the cases service's own token is required",
                ))
            }
        }
    }
}

/// Wraps a closure as tonic's unary service.
struct Unary<F>(F);

impl<F, R, S> UnaryService<R> for Unary<F>
where
    F: FnMut(Request<R>) -> Result<S, Status>,
    S: Send + 'static,
{
    type Response = S;
    type Future = BoxFuture<Result<Response<S>, Status>>;

    fn call(&mut self, request: Request<R>) -> Self::Future {
        let result = (self.0)(request).map(Response::new);
        Box::pin(async move { result })
    }
}

fn unimplemented() -> http::Response<Body> {
    let mut response = http::Response::new(Body::default());
    response.headers_mut().insert(
        tonic::Status::GRPC_STATUS,
        (tonic::Code::Unimplemented as i32).into(),
    );
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        tonic::metadata::GRPC_CONTENT_TYPE,
    );
    response
}

macro_rules! contract_service {
    ($name:ident, $service:literal, { $($path:literal => $handler:ident),+ $(,)? }) => {
        #[derive(Clone)]
        pub struct $name {
            directory: Arc<Directory>,
            verifier: Verifier,
        }

        impl NamedService for $name {
            const NAME: &'static str = $service;
        }

        impl tower::Service<http::Request<Body>> for $name {
            type Response = http::Response<Body>;
            type Error = Infallible;
            type Future = BoxFuture<Result<Self::Response, Infallible>>;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: http::Request<Body>) -> Self::Future {
                let directory = self.directory.clone();
                let verifier = self.verifier.clone();
                match request.uri().path() {
                    $(
                        $path => Box::pin(async move {
                            let mut grpc = Grpc::new(tonic_prost::ProstCodec::default());
                            let method = Unary(move |call| {
                                directory.authenticate(&verifier, &call)?;
                                $handler(&directory, call.into_inner())
                            });
                            Ok(grpc.unary(method, request).await)
                        }),
                    )+
                    _ => Box::pin(async { Ok(unimplemented()) }),
                }
            }
        }
    };
}

fn locate_point(
    directory: &Directory,
    request: blocks::LocatePointRequest,
) -> Result<blocks::LocatePointResponse, Status> {
    directory.count("LocatePoint");
    let point = request
        .point
        .ok_or_else(|| Status::invalid_argument("point is required"))?;
    let blocks = directory.blocks.lock().unwrap();
    let found = blocks
        .iter()
        .filter(|block| block.contains(point.latitude, point.longitude))
        .min_by(|a, b| a.code.cmp(&b.code))
        .ok_or_else(|| Status::not_found("no block contains the point"))?;
    Ok(blocks::LocatePointResponse {
        block: Some(found.proto()),
    })
}

fn get_block(
    directory: &Directory,
    request: blocks::GetBlockRequest,
) -> Result<blocks::Block, Status> {
    directory.count("GetBlock");
    let code = request
        .name
        .strip_prefix("blocks/")
        .ok_or_else(|| Status::invalid_argument("name must be blocks/{code}"))?;
    let blocks = directory.blocks.lock().unwrap();
    blocks
        .iter()
        .find(|block| block.code == code)
        .map(FakeBlock::proto)
        .ok_or_else(|| Status::not_found(format!("block {code}")))
}

fn resolve_responsibility(
    directory: &Directory,
    request: duties::ResolveResponsibilityRequest,
) -> Result<duties::ResolveResponsibilityResponse, Status> {
    directory.count("ResolveResponsibility");
    let place = request.place.unwrap_or_default();
    if place.subdistrict_code.len() != 9 {
        return Err(Status::invalid_argument(
            "place.subdistrict_code is required",
        ));
    }
    let matters = directory.matters.lock().unwrap();
    let matter = matters
        .get(&request.matter_code)
        .ok_or_else(|| Status::not_found(format!("matter {}", request.matter_code)))?;
    let mut lead = matter.lead.clone();
    // As the real service: a division lead is the place's own division.
    match types::UnitKind::try_from(lead.kind) {
        Ok(types::UnitKind::Subdistrict) => lead.code = place.subdistrict_code.clone(),
        Ok(types::UnitKind::BlockTeam) => lead.code = place.block_code.clone(),
        _ => {}
    }
    Ok(duties::ResolveResponsibilityResponse {
        lead: Some(lead),
        cooperating_departments: matter.cooperating.clone(),
        default_tier: matter.tier as i32,
        list_item_code: "SD-01-01".into(),
        list_version: "lists/subdistrict_duty/versions/1".into(),
        ..Default::default()
    })
}

fn check_assignment(
    directory: &Directory,
    request: duties::CheckAssignmentRequest,
) -> Result<duties::CheckAssignmentResponse, Status> {
    directory.count("CheckAssignment");
    let to = request.to.unwrap_or_default();
    let refusals = directory.refusals.lock().unwrap();
    let refused = refusals
        .iter()
        .find(|rule| rule.matter == request.matter_code && rule.to_kind as i32 == to.kind);
    let Some(rule) = refused else {
        return Ok(duties::CheckAssignmentResponse {
            allowed: true,
            ..Default::default()
        });
    };
    let mut recorded = directory.recorded_refusals.lock().unwrap();
    let key = if request.request_id.is_empty() {
        format!("anonymous-{}", recorded.len())
    } else {
        request.request_id.clone()
    };
    if !recorded.contains(&key) {
        recorded.push(key);
    }
    Ok(duties::CheckAssignmentResponse {
        allowed: false,
        reason_code: rule.reason_code.clone(),
        reason: format!(
            "matter {} is not on the lists of the receiving unit",
            request.matter_code
        ),
        responsible_instead: Some(rule.responsible_instead.clone()),
        refusal: format!("refusals/{}", recorded.len()),
        ..Default::default()
    })
}

contract_service!(FakeBlockRegistry, "flatgov.blocks.v1.BlockRegistry", {
    "/flatgov.blocks.v1.BlockRegistry/LocatePoint" => locate_point,
    "/flatgov.blocks.v1.BlockRegistry/GetBlock" => get_block,
});

contract_service!(FakeDutyLists, "flatgov.duties.v1.DutyLists", {
    "/flatgov.duties.v1.DutyLists/ResolveResponsibility" => resolve_responsibility,
    "/flatgov.duties.v1.DutyLists/CheckAssignment" => check_assignment,
});

/// A running fake, stopped on drop or with [`Running::stop`].
pub struct Running {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves both contracts on `port` (a port chosen in advance, so the cases service can
/// be pointed at it before anything listens there).
pub async fn serve(port: u16, directory: Arc<Directory>, verifier: Verifier) -> Running {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the fake's port is free");
    let stop = CancellationToken::new();
    let routes = tonic::service::Routes::new(FakeBlockRegistry {
        directory: directory.clone(),
        verifier: verifier.clone(),
    })
    .add_service(FakeDutyLists {
        directory,
        verifier,
    });
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stop.clone().cancelled_owned());
    let task = tokio::spawn(async move {
        let _ = server.await;
    });
    Running {
        stop,
        task: Some(task),
    }
}
