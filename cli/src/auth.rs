//! `flatgov keys` (the platform's key set: init, list, rotate, retire) and
//! `flatgov token`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use flatgov_auth::keys::{Binding, KeyDirectory, KeySet, SIGNING_SERVICES, SigningKey};
use flatgov_auth::{Jurisdiction, Role, Signer, TokenRequest};

use crate::Output;

/// Where `scripts/up` keeps the local platform's keys.
pub const DEFAULT_KEY_DIR: &str = ".flatgov/keys";

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// The key directory: jwks.json, people.pem, services/<svc>.pem.
    #[arg(long, global = true, default_value = DEFAULT_KEY_DIR)]
    dir: PathBuf,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Create what is missing: the people key, a key per service, the key set
    /// trusting them, the federation identity key. Existing keys are kept.
    Init,
    /// The trusted keys: kid and what each may sign.
    List,
    /// Replace a key with no downtime: publish the new public key beside the old,
    /// wait for verifiers to reload, switch the signer, and (with --retire-after)
    /// retire the old key once its tokens have expired.
    Rotate {
        /// `people`, or a service: blocks, duties, cases, enforcement, federation,
        /// notices, gateway.
        #[arg(long)]
        key: String,
        /// How long verifiers need to pick up the new key set (they look every 2 s;
        /// give Kubernetes' secret propagation a minute).
        #[arg(long, default_value = "5s", value_parser = parse_wait)]
        propagation: Duration,
        /// Wait this long, then retire the old key (at least the longest token
        /// lifetime: 15m for services, 10h for people). Without it the command prints
        /// the `retire` to run later.
        #[arg(long, value_parser = parse_wait)]
        retire_after: Option<Duration>,
        /// Only publish the new public key and leave the new private key beside
        /// the current one (`<key file>.next`): for deployments where the key set
        /// and the signing key travel separately (Kubernetes secrets); finish with
        /// `--switch` once verifiers have the new key set.
        #[arg(long, conflicts_with_all = ["switch", "retire_after"])]
        publish_only: bool,
        /// Put the key left by `--publish-only` in place of the current one.
        #[arg(long, conflicts_with = "retire_after")]
        switch: bool,
    },
    /// Stop trusting a key.
    Retire {
        #[arg(long)]
        kid: String,
    },
}

pub async fn keys(arguments: &KeysArgs, output: Output) -> anyhow::Result<()> {
    let directory = KeyDirectory::new(&arguments.dir);
    match &arguments.command {
        KeysCommand::Init => {
            let set = directory
                .init(&SIGNING_SERVICES)
                .with_context(|| format!("cannot write keys into {}", arguments.dir.display()))?;
            let identity_path = write_identity_key_if_missing(&arguments.dir)?;
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::json!({
                        "jwks_file": directory.jwks_file(),
                        "people_key_file": directory.people_key_file(),
                        "service_key_files": SIGNING_SERVICES.iter()
                            .map(|service| (service.to_string(), directory.service_key_file(service)))
                            .collect::<std::collections::BTreeMap<_, _>>(),
                        "federation_identity_key_file": identity_path,
                    })
                ),
                Output::Table => {
                    println!(
                        "key set:      {} ({} keys)",
                        directory.jwks_file().display(),
                        set.bindings().len()
                    );
                    println!("people key:   {}", directory.people_key_file().display());
                    println!("service keys: {}", arguments.dir.join("services").display());
                    println!("federation identity key: {}", identity_path.display());
                }
            }
            Ok(())
        }
        KeysCommand::List => {
            let set = KeySet::read(&directory.jwks_file())?;
            let rows: Vec<serde_json::Value> = set
                .bindings()
                .into_iter()
                .map(|(kid, binding)| {
                    let signs = match binding {
                        Binding::People => "people's tokens".to_owned(),
                        Binding::Service(service) => format!("{service}'s service token"),
                    };
                    serde_json::json!({ "kid": kid, "signs": signs })
                })
                .collect();
            crate::render::print_rows(&rows, &["kid", "signs"], output);
            Ok(())
        }
        KeysCommand::Rotate {
            key,
            propagation,
            retire_after,
            publish_only,
            switch,
        } => {
            let stage = if *publish_only {
                RotationStage::PublishOnly
            } else if *switch {
                RotationStage::Switch
            } else {
                RotationStage::Whole {
                    propagation: *propagation,
                    retire_after: *retire_after,
                }
            };
            rotate(&directory, key, stage, output).await
        }
        KeysCommand::Retire { kid } => {
            let jwks = directory.jwks_file();
            let mut set = KeySet::read(&jwks)?;
            if !set.retire(kid) {
                anyhow::bail!("no key {kid} in {}", jwks.display());
            }
            set.write(&jwks)?;
            println!("retired {kid}");
            Ok(())
        }
    }
}

/// How much of a rotation to do now.
enum RotationStage {
    /// Publish, wait, switch, and retire after a wait if asked.
    Whole {
        propagation: Duration,
        retire_after: Option<Duration>,
    },
    /// Publish the new public key; keep the private key as `<file>.next`.
    PublishOnly,
    /// Put `<file>.next` in place.
    Switch,
}

async fn rotate(
    directory: &KeyDirectory,
    owner: &str,
    stage: RotationStage,
    output: Output,
) -> anyhow::Result<()> {
    let (key_file, binding) = if owner == "people" {
        (directory.people_key_file(), Binding::People)
    } else if SIGNING_SERVICES.contains(&owner) {
        (
            directory.service_key_file(owner),
            Binding::Service(owner.to_owned()),
        )
    } else {
        anyhow::bail!(
            "unknown key {owner:?}; use people or one of {}",
            SIGNING_SERVICES.join(", ")
        );
    };
    let next_file = key_file.with_extension("pem.next");
    let old = SigningKey::read(&key_file)?;
    let jwks = directory.jwks_file();
    let (propagation, retire_after) = match stage {
        RotationStage::PublishOnly => {
            let new = SigningKey::generate();
            let mut set = KeySet::read(&jwks)?;
            set.add(&new, &binding);
            set.write(&jwks)?;
            new.write(&next_file)?;
            println!(
                "published {}; the new private key waits in {}: run again with --switch once verifiers have the new key set",
                new.kid(),
                next_file.display()
            );
            return Ok(());
        }
        RotationStage::Switch => {
            let new = SigningKey::read(&next_file).with_context(|| {
                format!(
                    "no key waiting in {}: run with --publish-only first",
                    next_file.display()
                )
            })?;
            let trusted = KeySet::read(&jwks)?.bindings().contains_key(&new.kid());
            if !trusted {
                anyhow::bail!(
                    "{} is not in {} yet: verifiers would refuse its tokens",
                    new.kid(),
                    jwks.display()
                );
            }
            new.write(&key_file)?;
            std::fs::remove_file(&next_file)?;
            println!(
                "{} now signs with {}; once its tokens have expired run: flatgov keys retire --dir {} --kid {}",
                key_file.display(),
                new.kid(),
                directory_path(directory).display(),
                old.kid()
            );
            return Ok(());
        }
        RotationStage::Whole {
            propagation,
            retire_after,
        } => (propagation, retire_after),
    };
    let new = SigningKey::generate();
    // 1. Verifiers trust both keys before anything is signed with the new one.
    let mut set = KeySet::read(&jwks)?;
    set.add(&new, &binding);
    set.write(&jwks)?;
    eprintln!(
        "published {} beside {}; waiting {propagation:?} for verifiers",
        new.kid(),
        old.kid()
    );
    tokio::time::sleep(propagation).await;
    // 2. The signer switches (services re-read their key file within seconds).
    new.write(&key_file)?;
    eprintln!("{} now signs with {}", key_file.display(), new.kid());
    // 3. The old key goes once no token it signed can still be alive.
    let retired = match retire_after {
        Some(wait) => {
            eprintln!("waiting {wait:?} before retiring {}", old.kid());
            tokio::time::sleep(wait).await;
            let mut set = KeySet::read(&jwks)?;
            set.retire(&old.kid());
            set.write(&jwks)?;
            true
        }
        None => false,
    };
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({ "new_kid": new.kid(), "old_kid": old.kid(), "old_retired": retired })
        ),
        Output::Table if retired => println!("rotated {owner}: {} → {}", old.kid(), new.kid()),
        Output::Table => println!(
            "rotated {owner}: {} → {}; once its tokens have expired run: flatgov keys retire --dir {} --kid {}",
            old.kid(),
            new.kid(),
            directory_path(directory).display(),
            old.kid()
        ),
    }
    Ok(())
}

fn directory_path(directory: &KeyDirectory) -> PathBuf {
    directory
        .jwks_file()
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// The federation's key for hashing ID numbers (FEDERATION_IDENTITY_KEY_FILE):
/// 32 random bytes as hex, mode 0600, kept when it exists (changing it would
/// orphan every registered person's identity key).
fn write_identity_key_if_missing(directory: &std::path::Path) -> anyhow::Result<PathBuf> {
    use rand::RngCore as _;
    let path = directory.join("federation-identity-key");
    if path.exists() {
        return Ok(path);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(&path)
        .and_then(|mut file| file.write_all(hex.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Role(s) to grant: district_admin, subdistrict_dispatcher, governor,
    /// assistant, supervisor, department_officer, federation_staff,
    /// integrator, resident, service. Repeat for several.
    #[arg(long = "role", required = true, value_parser = parse_role)]
    roles: Vec<Role>,
    /// The department, agency or mass organisation the caller acts for
    /// (e.g. urban_management, womens_federation).
    #[arg(long)]
    org: Option<String>,
    /// A division the caller is responsible for, e.g. subdistricts/430302001.
    /// Repeat for several. District admins default to districts/430302.
    #[arg(long = "jurisdiction", value_parser = parse_jurisdiction)]
    jurisdictions: Vec<Jurisdiction>,
    /// The caller's id (`sub`), e.g. a staff id.
    #[arg(long, default_value = "operator")]
    subject: String,
    /// Lifetime, e.g. 30m, 8h (at most a working day: services refuse longer).
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The people key that signs the token (service tokens are minted only by the
    /// services themselves, with their own keys).
    #[arg(
        long,
        env = "FLATGOV_SIGNING_KEY_FILE",
        default_value = ".flatgov/keys/people.pem"
    )]
    signing_key: PathBuf,
    /// Must match the services' AUTH_ISSUER.
    #[arg(long, env = "AUTH_ISSUER", default_value = "flatgov")]
    issuer: String,
    /// Where the token is good (repeat); every service when omitted.
    #[arg(long = "audience")]
    audiences: Vec<String>,
}

pub fn token(arguments: &TokenArgs, output: Output) -> anyhow::Result<()> {
    if arguments.roles.contains(&Role::Service) {
        anyhow::bail!(
            "service tokens are minted only by the services themselves, each with its own key; the platform refuses a service role signed by any other key"
        );
    }
    let signer = Signer::from_file(&arguments.signing_key, &arguments.issuer)
        .context("run `flatgov keys init` (or scripts/up) first, or pass --signing-key")?;
    let mut request =
        TokenRequest::new(arguments.subject.clone(), &arguments.roles).ttl(arguments.ttl);
    if !arguments.audiences.is_empty() {
        let audiences: Vec<&str> = arguments.audiences.iter().map(String::as_str).collect();
        request = request.audiences(&audiences);
    }
    if let Some(organisation) = &arguments.org {
        request = request.organisation(organisation.clone());
    }
    let mut jurisdictions = arguments.jurisdictions.clone();
    if jurisdictions.is_empty() && arguments.roles.contains(&Role::DistrictAdmin) {
        jurisdictions.push("districts/430302".parse().map_err(anyhow::Error::msg)?);
    }
    for jurisdiction in jurisdictions {
        request = request.jurisdiction(jurisdiction);
    }
    let token = signer.mint(&request);
    match output {
        Output::Table => println!("{token}"),
        Output::Json => println!(
            "{}",
            serde_json::json!({ "token": token, "expires_in_seconds": arguments.ttl.as_secs() })
        ),
    }
    Ok(())
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
}

fn parse_jurisdiction(value: &str) -> Result<Jurisdiction, String> {
    value.parse()
}

/// A token's lifetime: `30s`, `30m`, `8h`, `7d`, never zero.
pub fn parse_ttl(value: &str) -> Result<Duration, String> {
    let ttl = parse_wait(value)?;
    if ttl.is_zero() {
        return Err("a token must live longer than zero seconds".to_owned());
    }
    Ok(ttl)
}

/// A wait: `0s`, `5s`, `15m`, `10h`.
pub fn parse_wait(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{value:?}: add a unit, e.g. 30m, 8h or 7d"))?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?}: expected a whole number followed by s, m, h or d"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        other => {
            return Err(format!(
                "{value:?}: unknown unit {other:?}; use s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_take_a_number_and_a_unit() {
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("8h").unwrap(), Duration::from_secs(28_800));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_ttl("8").unwrap_err().contains("add a unit"));
        assert!(parse_ttl("8w").unwrap_err().contains("unknown unit"));
        assert!(parse_ttl("0h").is_err());
    }
}
