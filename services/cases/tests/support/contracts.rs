//! Small gRPC servers implementing the contract RPCs the cases service calls —
//! `BlockRegistry.LocatePoint` / `GetBlock` and `DutyLists.ResolveResponsibility` /
//! `CheckAssignment` — over real sockets, answering from data the test sets. They check
//! the caller's token is the cases service's own (`service` role), as the real services
//! do; every other RPC is UNIMPLEMENTED, so the real services may grow freely.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use flatgov_auth::{Role, Verifier};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::duties::v1 as duties;
use flatgov_proto::flatgov::r#type::v1 as types;
use flatgov_testkit::contract::{Contract, RunningContract};
use tonic::{Request, Status};

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

/// Serves both contracts on `port` (a port chosen in advance, so the cases service can
/// be pointed at it before anything listens there). Every answer first checks the
/// caller is the cases service itself.
pub async fn serve(port: u16, directory: Arc<Directory>, verifier: Verifier) -> RunningContract {
    fn answer<Q, A>(
        directory: &Arc<Directory>,
        verifier: &Verifier,
        handler: fn(&Directory, Q) -> Result<A, Status>,
    ) -> impl Fn(Request<Q>) -> Result<A, Status> + Clone + Send + Sync + 'static
    where
        Q: Send + 'static,
        A: Send + 'static,
    {
        let directory = directory.clone();
        let verifier = verifier.clone();
        move |call: Request<Q>| {
            directory.authenticate(&verifier, &call)?;
            handler(&directory, call.into_inner())
        }
    }
    Contract::new("flatgov.blocks.v1.BlockRegistry")
        .unary("LocatePoint", answer(&directory, &verifier, locate_point))
        .unary("GetBlock", answer(&directory, &verifier, get_block))
        .and("flatgov.duties.v1.DutyLists")
        .unary(
            "ResolveResponsibility",
            answer(&directory, &verifier, resolve_responsibility),
        )
        .unary(
            "CheckAssignment",
            answer(&directory, &verifier, check_assignment),
        )
        .serve(port)
        .await
}
