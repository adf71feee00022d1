//! A stand-in of the cases service's claim check (`GetReporterContact`)
//! for benchmarks and tests that publish case events themselves: every
//! case has a hotline reporter with a contact, given to the notices
//! service's own token alone.

use flatgov_auth::{Role, Verifier};
use flatgov_proto::cases::v1 as cases;
use tonic::{Request, Status};

use super::PHONE;

/// The cases service's claim check, answering every case with a hotline
/// reporter's contact (what the benchmark delivers is not personal).
pub async fn serve(port: u16, verifier: Verifier) -> flatgov_testkit::contract::RunningContract {
    flatgov_testkit::contract::Contract::new("flatgov.cases.v1.CaseDispatch")
        .unary(
            "GetReporterContact",
            move |call: Request<cases::GetReporterContactRequest>| {
                let header = call
                    .metadata()
                    .get("authorization")
                    .and_then(|value| value.to_str().ok());
                match verifier.verify_header(header) {
                    Ok(caller) if caller.has_role(Role::Service) && caller.subject == "notices" => {
                    }
                    _ => return Err(Status::unauthenticated("the notices service only")),
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
