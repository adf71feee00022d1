//! Identities that cannot be forged: every service through the chassis accepts a token
//! only from a trusted key chosen by `kid`, for its own audience, within its
//! lifetime, and a service's key only for that service's own service token; keys
//! rotate without a restart; people's tokens may come from an OpenID Connect
//! provider (a locally generated key set acting as one) with their claims mapped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use flatgov_auth::keys::{Binding, KeyDirectory, KeySet, SigningKey};
use flatgov_auth::{AuthConfig, Jurisdiction, Role, Signer, TokenRequest, Verifier};
use flatgov_proto::testing::v1::EchoRequest;
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::{TestEnv, eventually, with_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

async fn echo_as(client: &mut EchoClient<Channel>, token: &str) -> Result<String, tonic::Status> {
    client
        .echo(with_token(
            EchoRequest {
                message: "hi".into(),
                delay_millis: 0,
            },
            token,
        ))
        .await
        .map(|response| response.into_inner().message)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token with exactly these claims, signed by `key` under its kid.
fn hand_made(key: &SigningKey, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid());
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            key.to_pem()
                .lines()
                .filter(|line| !line.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&der)).unwrap()
}

#[tokio::test]
async fn a_service_key_cannot_mint_a_person_or_another_service_and_people_keys_cannot_mint_services()
 {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = EchoClient::connect(application.grpc_url()).await.unwrap();
    let cases_key = SigningKey::read(&test.auth.service_key_file("cases")).unwrap();
    let cases_signer = Signer::new(cases_key.clone(), "flatgov");

    let as_admin = cases_signer.mint(
        &TokenRequest::new("cases", &[Role::DistrictAdmin])
            .jurisdiction("districts/430302".parse::<Jurisdiction>().unwrap())
            .audiences(&["flatgov.testing"]),
    );
    let refused = echo_as(&mut client, &as_admin).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused
            .message()
            .contains("only that service's own service token"),
        "{}",
        refused.message()
    );

    let as_enforcement = cases_signer
        .mint(&TokenRequest::new("enforcement", &[Role::Service]).audiences(&["flatgov.testing"]));
    assert_eq!(
        echo_as(&mut client, &as_enforcement)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    let service_by_people_key = test
        .auth
        .token_for(TokenRequest::new("cases", &[Role::Service]));
    let refused = echo_as(&mut client, &service_by_people_key)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("only from a service's own key"),
        "{}",
        refused.message()
    );

    // Service tokens are short-lived.
    let long_lived = cases_signer.mint(
        &TokenRequest::new("cases", &[Role::Service])
            .audiences(&["flatgov.testing"])
            .ttl(Duration::from_secs(3600)),
    );
    let refused = echo_as(&mut client, &long_lived).await.unwrap_err();
    assert!(
        refused.message().contains("lives longer"),
        "{}",
        refused.message()
    );

    // Its own service token is accepted (and Echo grants no service: the table decides).
    let own = cases_signer.mint(
        &TokenRequest::new("cases", &[Role::Service])
            .audiences(&["flatgov.testing"])
            .ttl(Duration::from_secs(300)),
    );
    assert_eq!(
        echo_as(&mut client, &own).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_for_another_audience_an_unknown_key_or_outside_its_times_is_refused() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = EchoClient::connect(application.grpc_url()).await.unwrap();
    let people = SigningKey::read(&test.auth.people_key_file()).unwrap();
    let claims = |iat: u64, nbf: u64, exp: u64, aud: &str| {
        json!({
            "iss": "flatgov", "aud": aud, "sub": "gov-1", "iat": iat, "nbf": nbf, "exp": exp,
            "roles": ["governor"], "jurisdiction": ["blocks/430302001004017"],
        })
    };
    let t = now();
    let good = hand_made(&people, claims(t, t, t + 600, "flatgov.testing"));
    assert_eq!(echo_as(&mut client, &good).await.unwrap(), "hi");

    let cases: &[(&str, String, &str)] = &[
        (
            "another audience",
            hand_made(&people, claims(t, t, t + 600, "flatgov.cases")),
            "not meant for this service",
        ),
        (
            "not valid yet",
            hand_made(&people, claims(t, t + 3600, t + 7200, "flatgov.testing")),
            "not valid yet",
        ),
        (
            "issued in the future",
            hand_made(&people, claims(t + 3600, t, t + 7200, "flatgov.testing")),
            "issued in the future",
        ),
        (
            "living too long",
            hand_made(&people, claims(t, t, t + 86_400 * 2, "flatgov.testing")),
            "lives longer",
        ),
        (
            "expired",
            hand_made(
                &people,
                claims(t - 7200, t - 7200, t - 3600, "flatgov.testing"),
            ),
            "expired",
        ),
        (
            "an unknown key",
            hand_made(
                &SigningKey::generate(),
                claims(t, t, t + 600, "flatgov.testing"),
            ),
            "not trusted",
        ),
    ];
    for (what, token, said) in cases {
        let refused = echo_as(&mut client, token).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{what}");
        assert!(
            refused.message().contains(said),
            "{what}: {}",
            refused.message()
        );
    }
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rotated_key_is_trusted_within_seconds_without_a_restart_and_the_retired_one_no_longer() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = EchoClient::connect(application.grpc_url()).await.unwrap();
    let old_token = test.auth.token("gov-1", &[Role::Governor]);
    let new_key = SigningKey::generate();
    let new_token = Signer::new(new_key.clone(), "flatgov")
        .mint(&TokenRequest::new("gov-1", &[Role::Governor]).audiences(&["flatgov.testing"]));
    assert_eq!(
        echo_as(&mut client, &new_token).await.unwrap_err().code(),
        Code::Unauthenticated,
        "not trusted before it is published"
    );

    // 1. Publish the new key beside the old one: both are trusted.
    let jwks = test.auth.jwks_file();
    let mut set = KeySet::read(&jwks).unwrap();
    set.add(&new_key, &Binding::People);
    set.write(&jwks).unwrap();
    eventually("the new key to be trusted", Duration::from_secs(10), || {
        let mut client = client.clone();
        let token = new_token.clone();
        async move { echo_as(&mut client, &token).await.ok() }
    })
    .await;
    assert_eq!(echo_as(&mut client, &old_token).await.unwrap(), "hi");

    // 2. Retire the old key: its tokens stop working, the new key's do not.
    let old_kid = SigningKey::read(&test.auth.people_key_file())
        .unwrap()
        .kid();
    let mut set = KeySet::read(&jwks).unwrap();
    assert!(set.retire(&old_kid));
    set.write(&jwks).unwrap();
    eventually("the old key to be retired", Duration::from_secs(10), || {
        let mut client = client.clone();
        let token = old_token.clone();
        async move {
            echo_as(&mut client, &token)
                .await
                .err()
                .filter(|status| status.code() == Code::Unauthenticated)
        }
    })
    .await;
    assert_eq!(echo_as(&mut client, &new_token).await.unwrap(), "hi");
    application.shutdown().await.unwrap();
}

/// A local OpenID Connect provider: discovery and a JWKS over HTTP, an ES256 key.
struct Provider {
    issuer: String,
    key: EncodingKey,
    kid: String,
    _server: tokio::task::JoinHandle<()>,
}

impl Provider {
    async fn start() -> Self {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use p256::pkcs8::EncodePrivateKey as _;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let point = secret.public_key().to_encoded_point(false);
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let kid = "sso-2026".to_owned();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
        }]});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!(
            "http://127.0.0.1:{}/realms/yuhu",
            listener.local_addr().unwrap().port()
        );
        let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/protocol/openid-connect/certs")});
        let router = axum::Router::new()
            .route(
                "/realms/yuhu/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let body = discovery.to_string();
                    async move { body }
                }),
            )
            .route(
                "/realms/yuhu/protocol/openid-connect/certs",
                axum::routing::get(move || {
                    let body = jwks.to_string();
                    async move { body }
                }),
            );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let pem = secret.to_pkcs8_pem(Default::default()).unwrap();
        Self {
            issuer,
            key: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            kid,
            _server: server,
        }
    }

    fn token(&self, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

#[tokio::test]
async fn a_person_signed_in_at_the_governments_provider_is_mapped_onto_flatgov_roles_but_never_a_service()
 {
    let provider = Provider::start().await;
    let test = TestEnv::new();
    let env = test
        .env()
        .with("AUTH_OIDC_ISSUER", provider.issuer.clone())
        .with("AUTH_OIDC_AUDIENCE", "flatgov")
        .with("AUTH_OIDC_SUBJECT_CLAIM", "preferred_username")
        .with("AUTH_OIDC_ROLES_CLAIM", "realm_access.roles")
        .with(
            "AUTH_OIDC_ROLE_MAP",
            "grid-governor=governor,platform=subdistrict_dispatcher",
        );
    let application = echo::build(env, EchoOptions::default()).await.unwrap();
    let mut client = EchoClient::connect(application.grpc_url()).await.unwrap();
    let t = now();
    let person = |roles: serde_json::Value, aud: &str| {
        provider.token(json!({
            "iss": provider.issuer, "aud": aud, "sub": "5f0c9a", "iat": t, "exp": t + 300,
            "preferred_username": "gov-017", "realm_access": {"roles": roles},
            "jurisdiction": ["blocks/430302001004017"],
        }))
    };
    assert_eq!(
        echo_as(
            &mut client,
            &person(json!(["offline_access", "grid-governor"]), "flatgov")
        )
        .await
        .unwrap(),
        "hi"
    );
    for (what, token) in [
        ("the service role", person(json!(["service"]), "flatgov")),
        (
            "no flatgov role",
            person(json!(["offline_access"]), "flatgov"),
        ),
        (
            "another client",
            person(json!(["grid-governor"]), "payroll"),
        ),
    ] {
        let refused = echo_as(&mut client, &token).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{what}: {refused:?}");
    }
    // The platform's own people keys still work beside the provider's.
    assert_eq!(
        echo_as(&mut client, &test.auth.token("gov-1", &[Role::Governor]))
            .await
            .unwrap(),
        "hi"
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_id_token_is_accepted_only_for_its_client_and_the_nonce_of_its_login() {
    let provider = Provider::start().await;
    let test = TestEnv::new();
    let env = test.env().with("AUTH_OIDC_ISSUER", provider.issuer.clone());
    let verifier = Verifier::new(AuthConfig::from_env(&env, "gateway").unwrap())
        .await
        .unwrap();
    let t = now();
    let id_token = |aud: &str, nonce: &str| {
        provider.token(json!({
            "iss": provider.issuer, "aud": aud, "sub": "5f0c9a", "iat": t, "exp": t + 300,
            "nonce": nonce,
        }))
    };
    let claims = verifier
        .verify_id_token(
            &id_token("flatgov-command", "n-1"),
            "flatgov-command",
            "n-1",
        )
        .unwrap();
    assert_eq!(claims["sub"], json!("5f0c9a"));
    for (what, token, said) in [
        (
            "another login's nonce",
            id_token("flatgov-command", "n-2"),
            "nonce",
        ),
        (
            "another client's token",
            id_token("payroll", "n-1"),
            "not meant",
        ),
        (
            "a platform token",
            test.auth.token("gov-1", &[Role::Governor]),
            "identity provider",
        ),
    ] {
        let refused = verifier
            .verify_id_token(&token, "flatgov-command", "n-1")
            .unwrap_err()
            .to_string();
        assert!(refused.contains(said), "{what}: {refused}");
    }
}

#[test]
fn a_key_directory_holds_one_key_per_service_bound_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyDirectory::new(dir.path());
    let set = keys.init(&["cases"]).unwrap();
    let cases = SigningKey::read(&keys.service_key_file("cases")).unwrap();
    assert_eq!(
        set.bindings()[&cases.kid()],
        Binding::Service("cases".into())
    );
}
