//! GetReporterContact: the claim check of the notices service. Events carry no
//! personal data, so when the notices service tells a reporter about their case it
//! fetches the contact here, at the moment of sending, with its own service token. The
//! policy table grants the call to the `notices` service alone and records every call
//! in the audit trail, naming the case.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::cases::v1 as proto;

use super::CaseService;
use super::parse;
use crate::convert;
use crate::error::Error;
use crate::store;

pub(super) async fn get_reporter_contact(
    service: &CaseService,
    access: &Access,
    request: proto::GetReporterContactRequest,
) -> Result<proto::ReporterContact, Error> {
    let mut violations = Violations::new();
    let id = violations.check("name", parse::case_id(&request.name));
    violations.finish()?;
    let id = id.ok_or_else(|| Error::Internal("a parsed case id went missing".into()))?;
    access.audit().resource(id.resource_name());
    let mut connection = service.shared.pool.acquire().await?;
    let stored = store::load_case(&mut connection, id, false)
        .await?
        .ok_or_else(|| Error::NotFound(id.resource_name()))?;
    let contact = if stored.anonymous {
        None
    } else {
        store::load_contact(&mut connection, id).await?
    };
    Ok(proto::ReporterContact {
        name: id.resource_name(),
        channel: convert::channel(stored.case.channel()) as i32,
        anonymous: stored.anonymous,
        contact: contact.map(|contact| proto::Contact {
            name: contact.name,
            phone: contact.phone,
        }),
    })
}
