//! Endpoints and credentials shared by every command that calls the
//! platform, from flags or environment variables.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use flatgov_auth::{Role, Signer, TokenRequest};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::enforcement::v1::joint_enforcement_client::JointEnforcementClient;
use flatgov_proto::errands::v1::errands_client::ErrandsClient;
use flatgov_proto::federation::v1::federation_client::FederationClient;
use flatgov_proto::mediation::v1::mediation_client::MediationClient;
use flatgov_proto::messaging::v1::event_delivery_client::EventDeliveryClient;
use flatgov_proto::notices::v1::notices_client::NoticesClient;

/// Where the services are and who the caller is.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    #[arg(
        long,
        global = true,
        env = "BLOCKS_URL",
        default_value = "https://localhost:50051"
    )]
    pub blocks_url: String,
    #[arg(
        long,
        global = true,
        env = "DUTIES_URL",
        default_value = "https://localhost:50052"
    )]
    pub duties_url: String,
    #[arg(
        long,
        global = true,
        env = "CASES_URL",
        default_value = "https://localhost:50053"
    )]
    pub cases_url: String,
    #[arg(
        long,
        global = true,
        env = "ENFORCEMENT_URL",
        default_value = "https://localhost:50054"
    )]
    pub enforcement_url: String,
    #[arg(
        long,
        global = true,
        env = "FEDERATION_URL",
        default_value = "https://localhost:50055"
    )]
    pub federation_url: String,
    #[arg(
        long,
        global = true,
        env = "NOTICES_URL",
        default_value = "https://localhost:50056"
    )]
    pub notices_url: String,
    #[arg(
        long,
        global = true,
        env = "MEDIATION_URL",
        default_value = "https://localhost:50057"
    )]
    pub mediation_url: String,
    #[arg(
        long,
        global = true,
        env = "ERRANDS_URL",
        default_value = "https://localhost:50058"
    )]
    pub errands_url: String,
    /// The authority `https://` services' certificates chain to (scripts/up's local
    /// one by default; the system's roots when the file does not exist).
    #[arg(
        long,
        global = true,
        env = "FLATGOV_CA_FILE",
        default_value = ".flatgov/tls/ca.pem"
    )]
    pub ca_file: PathBuf,
    /// Bearer token to call with. Without one, a token is minted from
    /// --signing-key (the local platform's key) with the --as-* claims.
    #[arg(long, global = true, env = "FLATGOV_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Private key used to mint a token when --token is not given.
    #[arg(
        long,
        global = true,
        env = "FLATGOV_SIGNING_KEY_FILE",
        default_value = ".flatgov/keys/people.pem"
    )]
    pub signing_key: PathBuf,
    /// Role of the minted token (only without --token), e.g. governor.
    #[arg(long = "as-role", global = true, default_value = "district_admin", value_parser = parse_role)]
    pub as_role: Role,
    /// Subject (staff id) of the minted token.
    #[arg(long = "as-subject", global = true, default_value = "flatgov-cli")]
    pub as_subject: String,
    /// Organisation of the minted token, e.g. urban_management.
    #[arg(long = "as-org", global = true)]
    pub as_org: Option<String>,
    /// Jurisdiction of the minted token; defaults to the whole district.
    #[arg(
        long = "as-jurisdiction",
        global = true,
        default_value = "districts/430302"
    )]
    pub as_jurisdiction: String,
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
}

/// Adds the caller's bearer token to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// Connected clients of the services.
pub struct Session {
    connection: Connection,
    token: String,
    bearer: Bearer,
}

impl Session {
    pub fn open(connection: &Connection) -> anyhow::Result<Self> {
        let token = match &connection.token {
            Some(token) => token.clone(),
            None => {
                let signer = Signer::from_file(&connection.signing_key, "flatgov")
                    .context("no --token/FLATGOV_TOKEN given and no signing key to mint one (run scripts/up, or pass --token)")?;
                let mut request =
                    TokenRequest::new(connection.as_subject.clone(), &[connection.as_role])
                        .jurisdiction(
                            connection
                                .as_jurisdiction
                                .parse()
                                .map_err(anyhow::Error::msg)?,
                        )
                        .ttl(Duration::from_secs(3600));
                if let Some(organisation) = &connection.as_org {
                    request = request.organisation(organisation.clone());
                }
                signer.mint(&request)
            }
        };
        let bearer = Bearer(
            format!("Bearer {token}")
                .parse()
                .context("the token is not a valid header value")?,
        );
        Ok(Self {
            connection: connection.clone(),
            token,
            bearer,
        })
    }

    /// The bearer token calls are made with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A block registry client without the interceptor, for code that adds
    /// the token itself (the blocks crate's demo loader).
    pub fn blocks_plain(&self) -> anyhow::Result<BlockRegistryClient<Channel>> {
        Ok(
            BlockRegistryClient::new(self.channel(&self.connection.blocks_url)?)
                .max_decoding_message_size(256 * 1024 * 1024)
                .max_encoding_message_size(64 * 1024 * 1024),
        )
    }

    fn channel(&self, url: &str) -> anyhow::Result<Channel> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("invalid service url {url:?}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120));
        if url.starts_with("https://") {
            let ca_file = &self.connection.ca_file;
            let tls = match std::fs::read(ca_file) {
                Ok(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
                Err(_) => ClientTlsConfig::new().with_enabled_roots(),
            };
            endpoint = endpoint
                .tls_config(tls)
                .with_context(|| format!("TLS for {url}"))?;
        }
        Ok(endpoint.connect_lazy())
    }

    pub fn blocks(&self) -> anyhow::Result<BlockRegistryClient<Authed>> {
        Ok(BlockRegistryClient::with_interceptor(
            self.channel(&self.connection.blocks_url)?,
            self.bearer.clone(),
        )
        .max_decoding_message_size(256 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
    }

    pub fn duties(&self) -> anyhow::Result<DutyListsClient<Authed>> {
        Ok(DutyListsClient::with_interceptor(
            self.channel(&self.connection.duties_url)?,
            self.bearer.clone(),
        ))
    }

    pub fn cases(&self) -> anyhow::Result<CaseDispatchClient<Authed>> {
        Ok(CaseDispatchClient::with_interceptor(
            self.channel(&self.connection.cases_url)?,
            self.bearer.clone(),
        ))
    }

    pub fn enforcement(&self) -> anyhow::Result<JointEnforcementClient<Authed>> {
        Ok(JointEnforcementClient::with_interceptor(
            self.channel(&self.connection.enforcement_url)?,
            self.bearer.clone(),
        ))
    }

    /// The audit trail of one service, on that service's own port.
    pub fn audit(&self, service: &str) -> anyhow::Result<AuditTrailClient<Authed>> {
        Ok(AuditTrailClient::with_interceptor(
            self.channel(self.service_url(service)?)?,
            self.bearer.clone(),
        ))
    }

    /// The undelivered events of one service (dead letters, parked outbox
    /// rows), on that service's own port or at `url` when given (a replica
    /// reached through a port-forward, a service not in this list).
    pub fn event_delivery(
        &self,
        service: &str,
        url: Option<&str>,
    ) -> anyhow::Result<EventDeliveryClient<Authed>> {
        let url = match url {
            Some(url) => url,
            None => self.service_url(service)?,
        };
        Ok(EventDeliveryClient::with_interceptor(
            self.channel(url)?,
            self.bearer.clone(),
        ))
    }

    fn service_url(&self, service: &str) -> anyhow::Result<&str> {
        let url = match service {
            "blocks" => &self.connection.blocks_url,
            "duties" => &self.connection.duties_url,
            "cases" => &self.connection.cases_url,
            "enforcement" => &self.connection.enforcement_url,
            "federation" => &self.connection.federation_url,
            "notices" => &self.connection.notices_url,
            "mediation" => &self.connection.mediation_url,
            "errands" => &self.connection.errands_url,
            other => anyhow::bail!(
                "unknown service {other:?}; use blocks, duties, cases, enforcement, federation, notices, mediation or errands"
            ),
        };
        Ok(url)
    }

    pub fn federation(&self) -> anyhow::Result<FederationClient<Authed>> {
        Ok(FederationClient::with_interceptor(
            self.channel(&self.connection.federation_url)?,
            self.bearer.clone(),
        ))
    }

    pub fn notices(&self) -> anyhow::Result<NoticesClient<Authed>> {
        Ok(NoticesClient::with_interceptor(
            self.channel(&self.connection.notices_url)?,
            self.bearer.clone(),
        ))
    }

    pub fn mediation(&self) -> anyhow::Result<MediationClient<Authed>> {
        Ok(MediationClient::with_interceptor(
            self.channel(&self.connection.mediation_url)?,
            self.bearer.clone(),
        ))
    }

    pub fn errands(&self) -> anyhow::Result<ErrandsClient<Authed>> {
        Ok(ErrandsClient::with_interceptor(
            self.channel(&self.connection.errands_url)?,
            self.bearer.clone(),
        ))
    }
}

/// A readable error for a failed call: the status message and every
/// `google.rpc.BadRequest` field violation, one per line.
pub fn describe(status: &tonic::Status) -> String {
    use tonic_types::StatusExt as _;
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad_request) = status.get_details_bad_request() {
        for violation in bad_request.field_violations {
            text.push_str(&format!(
                "\n  {}: {}",
                violation.field, violation.description
            ));
        }
    }
    text
}

/// Turns a gRPC failure into an error naming what was being done.
pub trait CallContext<T> {
    fn doing(self, what: &str) -> anyhow::Result<T>;
}

impl<T> CallContext<T> for Result<tonic::Response<T>, tonic::Status> {
    fn doing(self, what: &str) -> anyhow::Result<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| anyhow::anyhow!("{what} failed: {}", describe(&status)))
    }
}
