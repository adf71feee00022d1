//! A stand-in of the cases service's claim check (`GetReporterContact`)
//! for benchmarks and tests that publish case events themselves: every
//! case has a hotline reporter with a contact, given to the notices
//! service's own token alone.
//!
//! It verifies a token's signature once and remembers the header it
//! verified (until the token expires, it stays valid): in a debug build an
//! Ed25519 verification per call was half the benchmark's CPU, a cost of
//! the stand-in, not of the notices service (the real cases service runs
//! optimised).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use flatgov_auth::{Role, Verifier};
use flatgov_proto::cases::v1 as cases;
use tonic::{Request, Status};

use super::PHONE;

/// The cases service's claim check, answering every case with a hotline
/// reporter's contact (what the benchmark delivers is not personal).
pub async fn serve(port: u16, verifier: Verifier) -> flatgov_testkit::contract::RunningContract {
    let verified: Arc<Mutex<HashSet<String>>> = Arc::default();
    flatgov_testkit::contract::Contract::new("flatgov.cases.v1.CaseDispatch")
        .unary(
            "GetReporterContact",
            move |call: Request<cases::GetReporterContactRequest>| {
                let header = call
                    .metadata()
                    .get("authorization")
                    .and_then(|value| value.to_str().ok());
                let known = header.is_some_and(|header| verified.lock().unwrap().contains(header));
                if !known {
                    match verifier.verify_header(header) {
                        Ok(caller)
                            if caller.has_role(Role::Service) && caller.subject == "notices" =>
                        {
                            verified
                                .lock()
                                .unwrap()
                                .insert(header.unwrap_or_default().to_owned());
                        }
                        _ => return Err(Status::unauthenticated("the notices service only")),
                    }
                }
                Ok(cases::ReporterContact {
                    name: call.into_inner().name,
                    channel: cases::Channel::Hotline12345 as i32,
                    anonymous: false,
                    contact: Some(cases::Contact {
                        name: "测试".into(),
                        phone: PHONE.into(),
                    }),
                })
            },
        )
        .serve(port)
        .await
}
