//! `flatgov keys init|list|rotate|retire` and `flatgov token` as an operator
//! runs them, against a service on the real chassis that reads the key set
//! they write: a rotation publishes the new key beside the old one (tokens of
//! both are accepted), switches the signer (new tokens carry the new kid), and
//! a retired key's tokens are refused — with no restart of the service.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use flatgov_proto::testing::v1::EchoRequest;
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::{TestEnv, eventually, with_token};

/// How long the service may take to re-read its key set (it looks every 2 s).
const RELOAD: Duration = Duration::from_secs(15);

/// Runs `flatgov <arguments>`; answers (succeeded, stdout, stderr).
fn flatgov(arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_flatgov"))
        .args(arguments)
        .env("FLATGOV_LANG", "en")
        .env_remove("FLATGOV_OUTPUT")
        .env_remove("FLATGOV_SIGNING_KEY_FILE")
        .env_remove("FLATGOV_TOKEN")
        .output()
        .expect("the flatgov binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn succeeds(arguments: &[&str]) -> String {
    let (ok, stdout, stderr) = flatgov(arguments);
    assert!(ok, "flatgov {arguments:?} failed:\n{stdout}\n{stderr}");
    stdout
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// A governor's token signed with the people key in `directory`.
fn token(directory: &Path) -> String {
    let people = directory.join("people.pem");
    succeeds(&[
        "token",
        "--role",
        "governor",
        "--subject",
        "gov-017",
        "--jurisdiction",
        "blocks/430302001004017",
        "--signing-key",
        people.to_str().unwrap(),
    ])
    .trim()
    .to_owned()
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT");
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    json(&String::from_utf8(decoded).unwrap())["kid"]
        .as_str()
        .expect("a kid")
        .to_owned()
}

/// The kids `keys list` shows as signing people's tokens.
fn people_kids(directory: &str) -> Vec<String> {
    let listed = json(&succeeds(&[
        "--output", "json", "keys", "list", "--dir", directory,
    ]));
    listed
        .as_array()
        .expect("rows")
        .iter()
        .filter(|row| row["signs"] == "people's tokens")
        .map(|row| row["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether the service accepts `token` (the call's only refusal is the token's).
async fn accepted(client: &EchoClient<tonic::transport::Channel>, token: &str) -> bool {
    client
        .clone()
        .echo(with_token(
            EchoRequest {
                message: "钥".into(),
                delay_millis: 0,
            },
            token,
        ))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_rotates_the_people_key_without_a_restart_and_a_retired_keys_tokens_are_refused()
 {
    let keys = tempfile::tempdir().unwrap();
    let dir = keys.path().to_str().unwrap().to_owned();
    let created = json(&succeeds(&[
        "--output", "json", "keys", "init", "--dir", &dir,
    ]));
    let jwks = created["jwks_file"].as_str().expect("jwks_file").to_owned();
    assert!(Path::new(&jwks).exists());
    assert!(keys.path().join("people.pem").exists());
    let before = people_kids(&dir);
    assert_eq!(before.len(), 1, "one people key after init: {before:?}");
    // init again keeps every key.
    succeeds(&["keys", "init", "--dir", &dir]);
    assert_eq!(people_kids(&dir), before);

    let test = TestEnv::new();
    let application = echo::build(
        test.env()
            .with("AUTH_JWKS_FILE", jwks.clone())
            // Tokens from `flatgov token` are for the platform's services; the echo
            // service stands in for one of them.
            .with("AUTH_AUDIENCE", "flatgov.cases"),
        EchoOptions::default(),
    )
    .await
    .expect("the service starts on the key set `keys init` wrote");
    let client = EchoClient::connect(application.grpc_url()).await.unwrap();

    let old_token = token(keys.path());
    assert_eq!(kid_of(&old_token), before[0]);
    assert!(
        accepted(&client, &old_token).await,
        "a token of the people key"
    );

    // The whole rotation at once: publish, wait for verifiers, switch the signer.
    let rotated = json(&succeeds(&[
        "--output",
        "json",
        "keys",
        "rotate",
        "--key",
        "people",
        "--propagation",
        "3s",
        "--dir",
        &dir,
    ]));
    let old_kid = rotated["old_kid"].as_str().unwrap().to_owned();
    let new_kid = rotated["new_kid"].as_str().unwrap().to_owned();
    assert_eq!(old_kid, before[0]);
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["old_retired"], false);
    let mut both = people_kids(&dir);
    both.sort();
    let mut expected = vec![old_kid.clone(), new_kid.clone()];
    expected.sort();
    assert_eq!(
        both, expected,
        "both keys are trusted until the old one retires"
    );

    let new_token = token(keys.path());
    assert_eq!(kid_of(&new_token), new_kid, "the signer switched");
    eventually("the new key's token to be accepted", RELOAD, || async {
        accepted(&client, &new_token).await.then_some(())
    })
    .await;
    assert!(
        accepted(&client, &old_token).await,
        "tokens signed before the switch stay valid until the old key retires"
    );

    // Retired: its tokens are refused, the new key's are not.
    let retired = succeeds(&["keys", "retire", "--kid", &old_kid, "--dir", &dir]);
    assert!(retired.contains(&old_kid), "{retired}");
    assert_eq!(people_kids(&dir), vec![new_kid.clone()]);
    eventually("the retired key's token to be refused", RELOAD, || async {
        (!accepted(&client, &old_token).await).then_some(())
    })
    .await;
    assert!(accepted(&client, &new_token).await);

    // A kid the set does not hold is an error that names it, and changes nothing.
    let (ok, _, stderr) = flatgov(&["keys", "retire", "--kid", "no-such-kid", "--dir", &dir]);
    assert!(!ok);
    assert!(stderr.contains("no-such-kid"), "{stderr}");
    assert_eq!(people_kids(&dir), vec![new_kid]);
    application.shutdown().await.unwrap();
}
