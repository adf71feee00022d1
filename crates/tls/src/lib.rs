//! A local certificate authority, for development machines and tests: production
//! takes its certificates from cert-manager (Kubernetes) or the district's own PKI.
//!
//! `flatgov certs init --dir .flatgov/tls` (run by `scripts/up`) creates, once:
//!
//! ```text
//! ca.pem, ca-key.pem            the authority every flatgov client trusts
//! <name>.pem, <name>-key.pem    a certificate per service, nats, postgres and the cli,
//!                               valid for server and client authentication (mTLS)
//! ```
//!
//! Every certificate names `localhost`, `127.0.0.1`, `::1`, its own name, `flatgov-<name>`
//! and the Kubernetes service names, so the same files serve the local platform,
//! compose and a dev cluster.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

/// Everything the local platform needs a certificate for.
pub const NAMES: [&str; 13] = [
    "blocks",
    "duties",
    "cases",
    "enforcement",
    "federation",
    "notices",
    "mediation",
    "errands",
    "gateway",
    "nats",
    "postgres",
    "cli",
    "integrator",
];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The files of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The local authority, able to issue certificates.
pub struct Authority {
    directory: PathBuf,
    certificate: Certificate,
    key: KeyPair,
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "flatgov (local)");
    name.push(DnType::CommonName, "flatgov local certificate authority");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

impl Authority {
    /// The authority in `directory`, created when it is not there yet.
    pub fn open_or_create(directory: &Path) -> Result<Self, TlsError> {
        let cert_path = directory.join("ca.pem");
        let key_path = directory.join("ca-key.pem");
        if key_path.exists() && cert_path.exists() {
            let pem = read(&key_path)?;
            let key = KeyPair::from_pem(&pem)?;
            // Signing uses the authority's name and key only: the same parameters
            // signed again with the same key issue certificates the stored ca.pem
            // verifies.
            let certificate = ca_params()?.self_signed(&key)?;
            return Ok(Self {
                directory: directory.to_owned(),
                certificate,
                key,
            });
        }
        std::fs::create_dir_all(directory).map_err(|source| TlsError::Write {
            path: directory.to_owned(),
            source,
        })?;
        let key = KeyPair::generate()?;
        let certificate = ca_params()?.self_signed(&key)?;
        write(&key_path, key.serialize_pem().as_bytes(), true)?;
        write(&cert_path, certificate.pem().as_bytes(), false)?;
        Ok(Self {
            directory: directory.to_owned(),
            certificate,
            key,
        })
    }

    /// The authority's certificate file, which clients trust.
    pub fn ca_file(&self) -> PathBuf {
        self.directory.join("ca.pem")
    }

    /// The files of `name`'s certificate (whether issued yet or not).
    pub fn files(&self, name: &str) -> CertificateFiles {
        CertificateFiles {
            cert: self.directory.join(format!("{name}.pem")),
            key: self.directory.join(format!("{name}-key.pem")),
        }
    }

    /// Issues `name`'s certificate unless it exists, for the standard host names plus
    /// `extra_hosts`.
    pub fn issue(&self, name: &str, extra_hosts: &[&str]) -> Result<CertificateFiles, TlsError> {
        let files = self.files(name);
        if files.cert.exists() && files.key.exists() {
            return Ok(files);
        }
        let mut hosts: Vec<String> = vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
            name.into(),
            format!("flatgov-{name}"),
            format!("{name}.flatgov.svc"),
            format!("{name}.flatgov.svc.cluster.local"),
        ];
        hosts.extend(extra_hosts.iter().map(|host| (*host).to_owned()));
        let mut params = CertificateParams::new(hosts)?;
        let mut distinguished = DistinguishedName::new();
        distinguished.push(DnType::OrganizationName, "flatgov (local)");
        distinguished.push(DnType::CommonName, name);
        params.distinguished_name = distinguished;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.certificate, &self.key)?;
        write(&files.key, key.serialize_pem().as_bytes(), true)?;
        write(&files.cert, certificate.pem().as_bytes(), false)?;
        Ok(files)
    }
}

/// Creates the authority and every certificate of [`NAMES`] that is missing.
pub fn init(directory: &Path, extra_hosts: &[&str]) -> Result<Authority, TlsError> {
    let authority = Authority::open_or_create(directory)?;
    for name in NAMES {
        authority.issue(name, extra_hosts)?;
    }
    Ok(authority)
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), TlsError> {
    let failed = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    use std::io::Write as _;
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_and_certificates_are_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let authority = init(dir.path(), &[]).unwrap();
        let cases = authority.files("cases");
        let first = std::fs::read(&cases.cert).unwrap();
        let ca = std::fs::read(authority.ca_file()).unwrap();
        let again = init(dir.path(), &[]).unwrap();
        assert_eq!(std::fs::read(&cases.cert).unwrap(), first);
        assert_eq!(std::fs::read(again.ca_file()).unwrap(), ca);
        assert!(
            String::from_utf8(first)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }
}
