//! The gateway's configuration, read once from the environment; every error names
//! the variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use flatgov_config::{ConfigError, Env};
use flatgov_db::DatabaseConfig;
use flatgov_grpc::ClientTls;

/// The services the gateway fronts, by short name, with their gRPC service and
/// the variable naming their URL.
pub const UPSTREAMS: [Upstream; 8] = [
    Upstream {
        name: "blocks",
        grpc_service: "flatgov.blocks.v1.BlockRegistry",
        url_variable: "BLOCKS_URL",
        default_port: 50051,
    },
    Upstream {
        name: "duties",
        grpc_service: "flatgov.duties.v1.DutyLists",
        url_variable: "DUTIES_URL",
        default_port: 50052,
    },
    Upstream {
        name: "cases",
        grpc_service: "flatgov.cases.v1.CaseDispatch",
        url_variable: "CASES_URL",
        default_port: 50053,
    },
    Upstream {
        name: "enforcement",
        grpc_service: "flatgov.enforcement.v1.JointEnforcement",
        url_variable: "ENFORCEMENT_URL",
        default_port: 50054,
    },
    Upstream {
        name: "federation",
        grpc_service: "flatgov.federation.v1.Federation",
        url_variable: "FEDERATION_URL",
        default_port: 50055,
    },
    Upstream {
        name: "notices",
        grpc_service: "flatgov.notices.v1.Notices",
        url_variable: "NOTICES_URL",
        default_port: 50056,
    },
    Upstream {
        name: "mediation",
        grpc_service: "flatgov.mediation.v1.Mediation",
        url_variable: "MEDIATION_URL",
        default_port: 50057,
    },
    Upstream {
        name: "errands",
        grpc_service: "flatgov.errands.v1.Errands",
        url_variable: "ERRANDS_URL",
        default_port: 50058,
    },
];

/// An upstream's URL, read under its variable's literal name (deploy/check finds
/// the variables a binary reads by these calls).
fn upstream_url(env: &Env, upstream: &Upstream) -> Result<String, ConfigError> {
    let default = format!("http://127.0.0.1:{}", upstream.default_port);
    match upstream.url_variable {
        "BLOCKS_URL" => env.optional(
            "BLOCKS_URL",
            default,
            "the block registry's gRPC URL, e.g. https://blocks:50051",
        ),
        "DUTIES_URL" => env.optional(
            "DUTIES_URL",
            default,
            "the duty lists' gRPC URL, e.g. https://duties:50052",
        ),
        "CASES_URL" => env.optional(
            "CASES_URL",
            default,
            "the case dispatch service's gRPC URL, e.g. https://cases:50053",
        ),
        "ENFORCEMENT_URL" => env.optional(
            "ENFORCEMENT_URL",
            default,
            "the joint enforcement service's gRPC URL, e.g. https://enforcement:50054",
        ),
        "FEDERATION_URL" => env.optional(
            "FEDERATION_URL",
            default,
            "the federation service's gRPC URL, e.g. https://federation:50055",
        ),
        "NOTICES_URL" => env.optional(
            "NOTICES_URL",
            default,
            "the notices service's gRPC URL, e.g. https://notices:50056",
        ),
        "ERRANDS_URL" => env.optional(
            "ERRANDS_URL",
            default,
            "the errands service's gRPC URL, e.g. https://errands:50058",
        ),
        _ => env.optional(
            "MEDIATION_URL",
            default,
            "the mediation service's gRPC URL, e.g. https://mediation:50057",
        ),
    }
}

/// One service behind the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    /// `cases`: the audience of the gateway's own token for it.
    pub name: &'static str,
    /// `flatgov.cases.v1.CaseDispatch`: what HTTP/JSON and gRPC-Web paths name.
    pub grpc_service: &'static str,
    /// `CASES_URL`.
    pub url_variable: &'static str,
    /// The service's default port, for the default URL on a laptop.
    pub default_port: u16,
}

/// The certificate the HTTP listener presents.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Explicit cross-origin rules for browsers (gRPC-Web, HTTP/JSON, Open311 reads).
#[derive(Debug, Clone, Default)]
pub struct CorsConfig {
    /// Origins allowed to call from a browser, exactly as the browser sends them
    /// (`https://map.example.gov.cn`). Empty: no cross-origin call is allowed.
    pub allowed_origins: Vec<String>,
}

/// What the Open311 endpoint says about itself and whom it serves.
#[derive(Debug, Clone)]
pub struct Open311Config {
    /// The district served, a 6-digit division code; `jurisdiction_id` names it.
    pub jurisdiction_id: String,
    /// The endpoint's public URL, as discovery announces it.
    pub public_url: String,
    /// Discovery's `contact`: whom developers ask.
    pub contact: String,
    /// Discovery's `key_service`: how a developer gets an api_key.
    pub key_service: String,
    /// Requests a minute from one address without an api_key (reads only).
    pub anonymous_per_minute: u32,
    /// Largest accepted POST body.
    pub max_request_bytes: usize,
}

/// Everything the gateway needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where HTTP is served; port 0 picks a free port (tests).
    pub listen_addr: SocketAddr,
    /// HTTPS when set.
    pub tls: Option<ListenerTls>,
    /// The registry of API clients.
    pub database: DatabaseConfig,
    /// `https://` services are verified against this authority.
    pub client_tls: ClientTls,
    /// Each upstream's URL, in [`UPSTREAMS`] order.
    pub upstream_urls: Vec<String>,
    pub cors: CorsConfig,
    pub open311: Open311Config,
    /// Largest accepted HTTP/JSON or gRPC-Web request body.
    pub api_max_request_bytes: usize,
    /// Requests a minute one address may make to the HTTP/JSON and gRPC-Web
    /// surface (the services limit each caller again).
    pub api_per_minute: u32,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listen_addr = env.optional(
            "GATEWAY_LISTEN_ADDR",
            SocketAddr::from(([0, 0, 0, 0], 8080)),
            "host:port, e.g. 0.0.0.0:8080",
        )?;
        let cert: Option<PathBuf> = env.maybe(
            "GATEWAY_TLS_CERT_FILE",
            "the PEM certificate chain the HTTP listener presents (HTTPS when set)",
        )?;
        let key: Option<PathBuf> = env.maybe(
            "GATEWAY_TLS_KEY_FILE",
            "the PEM key of GATEWAY_TLS_CERT_FILE",
        )?;
        let tls = match (cert, key) {
            (Some(cert_file), Some(key_file)) => Some(ListenerTls {
                cert_file,
                key_file,
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Malformed {
                    name: "GATEWAY_TLS_CERT_FILE",
                    value: "[incomplete]".into(),
                    reason: "HTTPS needs both GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE"
                        .into(),
                    expected: "a PEM certificate chain and its key",
                });
            }
        };
        let mut upstream_urls = Vec::new();
        for upstream in UPSTREAMS {
            upstream_urls.push(upstream_url(env, &upstream)?);
        }
        let origins: String = env.optional(
            "GATEWAY_CORS_ALLOWED_ORIGINS",
            String::new(),
            "comma-separated origins such as https://map.example.gov.cn; empty allows none",
        )?;
        let allowed_origins = parse_origins(&origins)?;
        let jurisdiction_id: String = env.required(
            "OPEN311_JURISDICTION_ID",
            "the 6-digit code of the district served, e.g. 430302",
        )?;
        if jurisdiction_id.len() != 6 || !jurisdiction_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Malformed {
                name: "OPEN311_JURISDICTION_ID",
                value: jurisdiction_id,
                reason: "is not a 6-digit district code".into(),
                expected: "the 6-digit code of the district served, e.g. 430302",
            });
        }
        let public_url: String = env.optional(
            "OPEN311_PUBLIC_URL",
            format!("http://localhost:{}/open311/v2/", listen_addr.port()),
            "the Open311 endpoint's public URL, ending in /open311/v2/",
        )?;
        let open311 = Open311Config {
            jurisdiction_id,
            public_url,
            contact: env.optional(
                "OPEN311_CONTACT",
                "区数据局 (the district data bureau)".to_owned(),
                "whom developers contact, shown in discovery",
            )?,
            key_service: env.optional(
                "OPEN311_KEY_SERVICE",
                "向区数据局申请 api_key (ask the district data bureau for an api_key)".to_owned(),
                "how a developer gets an api_key, shown in discovery",
            )?,
            anonymous_per_minute: positive(env.optional(
                "OPEN311_ANONYMOUS_PER_MINUTE",
                120,
                "a positive number of requests a minute",
            )?)
            .ok_or(ConfigError::Malformed {
                name: "OPEN311_ANONYMOUS_PER_MINUTE",
                value: "0".into(),
                reason: "must be positive".into(),
                expected: "a positive number of requests a minute",
            })?,
            max_request_bytes: env.optional(
                "OPEN311_MAX_REQUEST_BYTES",
                64 * 1024,
                "a size in bytes",
            )?,
        };
        let api_per_minute = positive(env.optional(
            "GATEWAY_API_PER_MINUTE",
            600,
            "a positive number of requests a minute",
        )?)
        .ok_or(ConfigError::Malformed {
            name: "GATEWAY_API_PER_MINUTE",
            value: "0".into(),
            reason: "must be positive".into(),
            expected: "a positive number of requests a minute",
        })?;
        Ok(Self {
            listen_addr,
            tls,
            database: DatabaseConfig::from_env(env)?,
            client_tls: ClientTls::from_env(env, None)?,
            upstream_urls,
            cors: CorsConfig { allowed_origins },
            open311,
            api_max_request_bytes: env.optional(
                "GATEWAY_API_MAX_REQUEST_BYTES",
                1024 * 1024,
                "a size in bytes",
            )?,
            api_per_minute,
        })
    }
}

fn positive(value: u32) -> Option<u32> {
    (value > 0).then_some(value)
}

/// `https://a.example, http://localhost:5173` → each origin, checked.
fn parse_origins(text: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for origin in text.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let well_formed = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.ends_with('/')
            && origin != "*"
            && http::HeaderValue::from_str(origin).is_ok();
        if !well_formed {
            return Err(ConfigError::Malformed {
                name: "GATEWAY_CORS_ALLOWED_ORIGINS",
                value: origin.to_owned(),
                reason: "is not an origin (scheme://host[:port], no path, no wildcard)".into(),
                expected: "comma-separated origins such as https://map.example.gov.cn",
            });
        }
        origins.push(origin.to_owned());
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Env {
        Env::from_pairs([
            (
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1/flatgov_gateway",
            ),
            ("OPEN311_JURISDICTION_ID", "430302"),
        ])
    }

    #[test]
    fn a_minimal_environment_serves_on_8080_without_cross_origin_callers() {
        let config = Config::from_env(&minimal()).expect("config");
        assert_eq!(config.listen_addr.port(), 8080);
        assert!(config.cors.allowed_origins.is_empty());
        assert_eq!(config.upstream_urls[2], "http://127.0.0.1:50053");
        assert_eq!(config.open311.max_request_bytes, 64 * 1024);
    }

    #[test]
    fn a_wildcard_origin_is_refused_naming_the_variable() {
        let error = Config::from_env(&minimal().with("GATEWAY_CORS_ALLOWED_ORIGINS", "*"))
            .expect_err("a wildcard");
        assert!(error.to_string().contains("GATEWAY_CORS_ALLOWED_ORIGINS"));
    }

    #[test]
    fn the_jurisdiction_must_be_a_district_code() {
        let error = Config::from_env(&minimal().with("OPEN311_JURISDICTION_ID", "yuhu"))
            .expect_err("not a code");
        assert!(error.to_string().contains("OPEN311_JURISDICTION_ID"));
    }

    #[test]
    fn half_a_certificate_is_refused() {
        let error = Config::from_env(&minimal().with("GATEWAY_TLS_CERT_FILE", "/tmp/cert.pem"))
            .expect_err("no key");
        assert!(error.to_string().contains("GATEWAY_TLS_CERT_FILE"));
    }
}
