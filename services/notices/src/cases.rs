//! The claim check: asking the cases service, with this service's own
//! token, whom to tell about a case. Case events never carry a contact, so
//! it is fetched at the moment of sending (`GetReporterContact`, which the
//! cases service grants to this service alone and records in its audit
//! trail) and dropped once the message is sent.

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_grpc::client::{AuthenticatedChannel, ServiceInterceptor};
use flatgov_proto::cases::v1::GetReporterContactRequest;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use uuid::Uuid;

/// How long one call may take before the message waits for a retry.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Who to tell about a case.
pub enum Reporter {
    /// Reported anonymously: nobody is told.
    Anonymous,
    /// Reported without a contact.
    NoContact,
    /// The reporter's contact, and the channel the case came by in lower
    /// snake case (`hotline_12345`), which chooses the gateway.
    Contact {
        channel: String,
        name: String,
        phone: String,
    },
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reporter::Anonymous => formatter.write_str("Anonymous"),
            Reporter::NoContact => formatter.write_str("NoContact"),
            Reporter::Contact { channel, .. } => {
                write!(formatter, "Contact {{ channel: {channel}, .. }}")
            }
        }
    }
}

/// Why the cases service gave no contact.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// It does not know the case: asking again will not help.
    #[error("the cases service does not know the case")]
    UnknownCase,
    /// It could not answer now.
    #[error("the cases service is unavailable: {0}")]
    Unavailable(String),
}

/// The cases service, reached with this service's own token.
#[derive(Clone)]
pub struct CasesClient {
    client: CaseDispatchClient<AuthenticatedChannel>,
}

impl CasesClient {
    /// A client of `url`; the channel connects lazily, so start-up never
    /// depends on the cases service.
    pub fn new(
        url: &str,
        credentials: ServiceCredentials,
        tls: &flatgov_grpc::ClientTls,
    ) -> Result<Self, String> {
        let channel = flatgov_grpc::client::channel(url, tls)?;
        Ok(Self {
            client: CaseDispatchClient::with_interceptor(
                channel,
                ServiceInterceptor::new(credentials, "cases"),
            ),
        })
    }

    /// Whom to tell about `case_id`.
    pub async fn reporter(&self, case_id: Uuid) -> Result<Reporter, ContactError> {
        let mut request = tonic::Request::new(GetReporterContactRequest {
            name: format!("cases/{case_id}"),
        });
        request.set_timeout(CALL_TIMEOUT);
        let mut client = self.client.clone();
        let answer = match tokio::time::timeout(
            CALL_TIMEOUT + Duration::from_millis(500),
            client.get_reporter_contact(request),
        )
        .await
        {
            Err(_) => return Err(ContactError::Unavailable("no answer in time".into())),
            Ok(Err(status)) if status.code() == tonic::Code::NotFound => {
                return Err(ContactError::UnknownCase);
            }
            Ok(Err(status)) => {
                return Err(ContactError::Unavailable(format!(
                    "{:?}: {}",
                    status.code(),
                    status.message()
                )));
            }
            Ok(Ok(response)) => response.into_inner(),
        };
        if answer.anonymous {
            return Ok(Reporter::Anonymous);
        }
        let channel = answer
            .channel()
            .as_str_name()
            .trim_start_matches("CHANNEL_")
            .to_ascii_lowercase();
        let Some(contact) = answer
            .contact
            .filter(|contact| !contact.phone.trim().is_empty())
        else {
            return Ok(Reporter::NoContact);
        };
        Ok(Reporter::Contact {
            channel,
            name: contact.name,
            phone: contact.phone,
        })
    }
}
