//! `flatgov keygen` and `flatgov token`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use flatgov_auth::{Jurisdiction, Role, Signer, TokenRequest};

use crate::Output;

/// Where `scripts/up` keeps the local platform's keys.
pub const DEFAULT_KEY_DIR: &str = ".flatgov/keys";

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Directory for signing-key.pem (private, mode 0600) and public-key.pem.
    #[arg(long, default_value = DEFAULT_KEY_DIR)]
    out: PathBuf,
}

pub fn keygen(arguments: &KeygenArgs, output: Output) -> anyhow::Result<()> {
    let (private_path, public_path) = flatgov_auth::write_key_pair_if_missing(&arguments.out)
        .with_context(|| format!("cannot write keys into {}", arguments.out.display()))?;
    let identity_path = write_identity_key_if_missing(&arguments.out)?;
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "signing_key_file": private_path,
                "public_key_file": public_path,
                "federation_identity_key_file": identity_path,
            })
        ),
        Output::Table => {
            println!("signing key: {}", private_path.display());
            println!("public key:  {}", public_path.display());
            println!("federation identity key: {}", identity_path.display());
        }
    }
    Ok(())
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
    /// Lifetime, e.g. 30m, 8h, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The private key that signs the token.
    #[arg(
        long,
        env = "FLATGOV_SIGNING_KEY_FILE",
        default_value = ".flatgov/keys/signing-key.pem"
    )]
    signing_key: PathBuf,
    /// Must match the services' AUTH_ISSUER.
    #[arg(long, env = "AUTH_ISSUER", default_value = "flatgov")]
    issuer: String,
    /// Must match the services' AUTH_AUDIENCE.
    #[arg(long, env = "AUTH_AUDIENCE", default_value = "flatgov")]
    audience: String,
}

pub fn token(arguments: &TokenArgs, output: Output) -> anyhow::Result<()> {
    let signer = Signer::from_file(
        &arguments.signing_key,
        &arguments.issuer,
        &arguments.audience,
    )
    .map_err(anyhow::Error::msg)
    .context("run `flatgov keygen` (or scripts/up) first, or pass --signing-key")?;
    let mut request =
        TokenRequest::new(arguments.subject.clone(), &arguments.roles).ttl(arguments.ttl);
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

/// `30s`, `30m`, `8h`, `7d`.
pub fn parse_ttl(value: &str) -> Result<Duration, String> {
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
    if seconds == 0 {
        return Err("a token must live longer than zero seconds".to_owned());
    }
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
