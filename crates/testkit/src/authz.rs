//! Checking a service against its policy table, from the outside.
//!
//! * [`uncovered`] compares the table with the service's descriptor: every
//!   method the proto declares must have a rule, and every rule a method.
//! * [`probe`] calls every RPC of a running service as every role (and
//!   without a token, and as a service the table does not name) over real
//!   gRPC, and reports each call the layer answered against the table: a
//!   role the table does not grant that got through, or a granted one that
//!   was refused. Requests are empty messages: what a handler then says
//!   (mostly `INVALID_ARGUMENT`) does not matter here, only whether the
//!   policy let the call reach it. Scope rules that need data are tested
//!   by each service's own tests.

use std::str::FromStr as _;

use bytes::{Buf as _, BufMut as _};
use flatgov_auth::policy::{Policy, earned};
use flatgov_auth::{Caller, Jurisdiction, Role, TokenRequest};
use prost_reflect::DescriptorPool;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::TestAuth;

/// The methods `service` declares in the proto, e.g. every RPC of
/// `flatgov.cases.v1.CaseDispatch`.
pub fn declared_methods(service: &str) -> Vec<String> {
    let pool = DescriptorPool::decode(flatgov_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let descriptor = pool
        .get_service_by_name(service)
        .unwrap_or_else(|| panic!("{service} is not in the descriptor set"));
    descriptor
        .methods()
        .map(|method| method.name().to_owned())
        .collect()
}

/// What is wrong between `policy` and the proto: methods without a rule
/// (which nobody could call) and rules for methods that do not exist.
pub fn uncovered(policy: &Policy) -> Vec<String> {
    let declared = declared_methods(policy.service);
    let mut problems: Vec<String> = declared
        .iter()
        .filter(|method| policy.rule(method).is_none())
        .map(|method| format!("{}/{method} has no rule", policy.service))
        .collect();
    problems.extend(
        policy
            .rules
            .iter()
            .filter(|rule| !declared.iter().any(|method| method == rule.method))
            .map(|rule| format!("{}/{} is not a method", policy.service, rule.method)),
    );
    problems.extend(policy.defects());
    problems
}

/// One probe caller: a role (or none) and the token it presents.
struct ProbeCaller {
    label: String,
    caller: Option<Caller>,
    token: Option<String>,
    /// False for a token no key of the platform signed: refused everywhere, public
    /// methods included (a token that is sent must verify).
    trusted: bool,
}

/// Every caller a probe tries: no token, each role district-wide with an
/// organisation, and the `service` role as a service named in no grant and
/// as each service any grant names.
fn probe_callers(policy: &Policy, auth: &TestAuth) -> Vec<ProbeCaller> {
    let district: Jurisdiction = "districts/430302".parse().expect("jurisdiction");
    let mut callers = vec![ProbeCaller {
        label: "no token".into(),
        caller: None,
        token: None,
        trusted: true,
    }];
    let mut service_names: Vec<&str> = vec!["intruder"];
    for rule in policy.rules {
        for grant in rule.grants {
            if let flatgov_auth::policy::Scope::Services(names) = grant.scope {
                for name in names {
                    if !service_names.contains(name) {
                        service_names.push(name);
                    }
                }
            }
        }
    }
    for role in Role::ALL {
        let subjects: Vec<&str> = if role == Role::Service {
            service_names.clone()
        } else {
            vec!["probe"]
        };
        for subject in subjects {
            let token = if role == Role::Service {
                auth.service_token(subject)
            } else {
                auth.token_for(
                    TokenRequest::new(subject, &[role])
                        .organisation("probe_org")
                        .jurisdiction(district),
                )
            };
            let is_service = role == Role::Service;
            callers.push(ProbeCaller {
                label: format!("{role} {subject}"),
                caller: Some(Caller {
                    subject: subject.to_owned(),
                    roles: [role].into_iter().collect(),
                    organisation: (!is_service).then(|| "probe_org".into()),
                    jurisdictions: if is_service {
                        Vec::new()
                    } else {
                        vec![district]
                    },
                }),
                token: Some(token),
                trusted: !is_service || auth.service_key_file(subject).exists(),
            });
        }
    }
    callers
}

/// The outcome of probing a service: calls made, and every call whose
/// answer contradicts the table.
#[derive(Debug, Default)]
pub struct ProbeReport {
    pub calls: usize,
    pub refusals_expected: usize,
    pub contradictions: Vec<String>,
}

/// Calls every RPC of `policy` on the server at `url` as every probe
/// caller and compares each answer with the table.
pub async fn probe(url: &str, policy: &Policy, auth: &TestAuth) -> ProbeReport {
    let channel = Channel::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .expect("connect to the probed service");
    let callers = probe_callers(policy, auth);
    let mut report = ProbeReport::default();
    for rule in policy.rules {
        for probe_caller in &callers {
            let granted =
                probe_caller.trusted && earned(rule, probe_caller.caller.as_ref()).is_some();
            let status = call(
                channel.clone(),
                policy.service,
                rule.method,
                probe_caller.token.as_deref(),
            )
            .await;
            report.calls += 1;
            let refused_by_layer = status.as_ref().err().is_some_and(is_layer_refusal);
            if !granted {
                report.refusals_expected += 1;
            }
            if granted == refused_by_layer {
                report.contradictions.push(format!(
                    "{}/{} as {}: table says {}, service answered {:?}",
                    policy.service,
                    rule.method,
                    probe_caller.label,
                    if granted { "granted" } else { "refused" },
                    status
                        .err()
                        .map(|status| (status.code(), status.message().to_owned())),
                ));
            }
        }
    }
    report
}

/// A refusal the authorization layer gives before any handler runs.
fn is_layer_refusal(status: &Status) -> bool {
    match status.code() {
        Code::Unauthenticated => true,
        Code::PermissionDenied => status.message().contains("is not granted to"),
        _ => false,
    }
}

async fn call(
    channel: Channel,
    service: &str,
    method: &str,
    token: Option<&str>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let path = http::uri::PathAndQuery::from_str(&format!("/{service}/{method}"))
        .map_err(|error| Status::internal(error.to_string()))?;
    let mut request = tonic::Request::new(Vec::new());
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii token"),
        );
    }
    grpc.unary(request, path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Passes message bytes through unchanged: the probe sends empty messages
/// to any method without its generated types.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, destination: &mut EncodeBuf<'_>) -> Result<(), Status> {
        destination.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, source: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(source.copy_to_bytes(source.remaining()).to_vec()))
    }
}
