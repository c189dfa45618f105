//! The relay's TLS identity. A self-signed certificate is made at first run and kept in the data directory
//! (the key readable by the user only), so its fingerprint, which phones pin when they pair, stays the same
//! across restarts. Replacing it means every phone pairs again: that is what the fingerprint is for.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(feature = "server")]
use std::sync::Arc;

#[cfg(feature = "server")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "server")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "server")]
use crate::error::RelayError;

#[cfg(feature = "server")]
const CERT_FILE: &str = "relay-cert.pem";
#[cfg(feature = "server")]
const KEY_FILE: &str = "relay-key.pem";

/// SHA-256 of the certificate (DER): what a phone compares with the one in the pairing QR code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(certificate_der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate_der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads the hex form back, with or without `:` separators, in either case.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let digits: String = text.chars().filter(|c| *c != ':').collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).ok()?;
        Some(Fingerprint(bytes))
    }

    /// Lowercase hex without separators, for QR codes and URLs.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Fingerprint {
    /// `AB:CD:…`, the way browsers and `openssl x509 -fingerprint -sha256` show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|byte| format!("{byte:02X}")).collect();
        f.write_str(&parts.join(":"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(feature = "server")]
/// The certificate and key the relay serves with.
pub struct RelayIdentity {
    pub certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    pub fingerprint: Fingerprint,
}

#[cfg(feature = "server")]
impl fmt::Debug for RelayIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Tags an I/O error with the file it concerns.
fn at(path: &Path) -> impl Fn(std::io::Error) -> (PathBuf, std::io::Error) + '_ {
    move |error| (path.to_path_buf(), error)
}

/// Writes a file readable by the user only (a temporary file is made 0600), atomically: a temporary file beside
/// it, flushed, then renamed over it, so a crash leaves the old file or the new, never half. The error names
/// the file that failed (the folder, the temporary file or the target). Shared with the CLI phone, which
/// keeps its device token the same way, and with the app's preferences and autostart entry.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    let folder = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(at(folder))?;
    let temporary = file.path().to_path_buf();
    file.write_all(contents).map_err(at(&temporary))?;
    file.as_file().sync_all().map_err(at(&temporary))?;
    file.persist(path)
        .map_err(|error| (path.to_path_buf(), error.error))?;
    Ok(())
}

#[cfg(feature = "server")]
fn write_private(path: &Path, contents: &str) -> Result<(), RelayError> {
    write_private_file(path, contents.as_bytes())
        .map_err(|(path, source)| RelayError::IdentityFile { path, source })
}

#[cfg(feature = "server")]
impl RelayIdentity {
    /// Loads the identity from `dir`, or makes and saves one naming `hostnames` (e.g. `caret.local`, the
    /// machine's name, `localhost`). Phones pin the fingerprint rather than trusting names, so the names
    /// only help tools that look at them.
    pub fn load_or_create(dir: &Path, hostnames: &[String]) -> Result<RelayIdentity, RelayError> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if cert_path.exists() && key_path.exists() {
            return RelayIdentity::load(&cert_path, &key_path);
        }
        let names: Vec<String> = if hostnames.is_empty() {
            vec!["localhost".to_owned()]
        } else {
            hostnames.to_vec()
        };
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|source| RelayError::CertificateGeneration { source })?;
        write_private(&key_path, &generated.signing_key.serialize_pem())?;
        write_private(&cert_path, &generated.cert.pem())?;
        RelayIdentity::load(&cert_path, &key_path)
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<RelayIdentity, RelayError> {
        let corrupt = |path: &Path, reason: String| RelayError::IdentityCorrupt {
            path: path.to_path_buf(),
            reason,
        };
        let certificate =
            CertificateDer::from_pem_file(cert_path).map_err(|e| corrupt(cert_path, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| corrupt(key_path, e.to_string()))?;
        let fingerprint = Fingerprint::of(certificate.as_ref());
        Ok(RelayIdentity {
            certificate,
            key,
            fingerprint,
        })
    }

    /// A rustls server configuration serving this identity (TLS 1.2 and 1.3, ring).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, RelayError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // TLS 1.3 only: every client the protocol documents speaks it, and under 1.2 the certificate (with
        // the machine's name in it) would cross the LAN in the clear. Set here rather than left to rustls's
        // features, which other crates of the app turn on for TLS 1.2 (caret-slack does).
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| RelayError::Tls {
                step: crate::error::TlsStep::ProtocolVersions,
                source,
            })?
            .with_no_client_auth()
            .with_single_cert(vec![self.certificate.clone()], self.key.clone_key())
            .map_err(|source| RelayError::Tls {
                step: crate::error::TlsStep::Certificate,
                source,
            })?;
        Ok(Arc::new(config))
    }

    /// Where the identity is kept in a directory.
    pub fn files(dir: &Path) -> [PathBuf; 2] {
        [dir.join(CERT_FILE), dir.join(KEY_FILE)]
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_kept_with_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let first = RelayIdentity::load_or_create(dir.path(), &["caret.local".into()]).unwrap();
        let again = RelayIdentity::load_or_create(dir.path(), &["other.local".into()]).unwrap();
        assert_eq!(
            first.fingerprint, again.fingerprint,
            "phones keep trusting the same desktop"
        );
        assert_eq!(Fingerprint::of(again.certificate.as_ref()), again.fingerprint);
        let other_dir = tempfile::tempdir().unwrap();
        let other = RelayIdentity::load_or_create(other_dir.path(), &[]).unwrap();
        assert_ne!(first.fingerprint, other.fingerprint, "each desktop has its own");
    }

    #[test]
    fn the_key_is_readable_by_the_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        RelayIdentity::load_or_create(dir.path(), &[]).unwrap();
        let [cert, key] = RelayIdentity::files(dir.path());
        assert_eq!(
            std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            std::fs::read_to_string(cert)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary file left behind"
        );
    }

    #[test]
    fn a_damaged_file_is_a_clear_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        RelayIdentity::load_or_create(dir.path(), &[]).unwrap();
        std::fs::write(dir.path().join("relay-cert.pem"), "garbage").unwrap();
        let error = RelayIdentity::load_or_create(dir.path(), &[]).unwrap_err();
        assert!(matches!(error, RelayError::IdentityCorrupt { .. }), "{error}");
        assert!(error.to_string().contains("phones must pair again"));
    }

    #[test]
    fn fingerprints_print_like_openssl_does() {
        let fingerprint = Fingerprint([0xab; 32]);
        assert_eq!(fingerprint.to_string().len(), 32 * 3 - 1);
        assert!(fingerprint.to_string().starts_with("AB:AB:"));
        assert_eq!(fingerprint.hex(), "ab".repeat(32));
    }

    #[test]
    fn the_identity_makes_a_working_tls_server_config() {
        let dir = tempfile::tempdir().unwrap();
        let identity = RelayIdentity::load_or_create(dir.path(), &["localhost".into()]).unwrap();
        let config = identity.server_config().unwrap();
        assert!(config.alpn_protocols.is_empty());
        assert!(
            !format!("{identity:?}").contains("PRIVATE"),
            "the key never shows in Debug"
        );
    }
}

#[cfg(all(test, feature = "server"))]
mod openssl_check {
    /// Matches `openssl x509 -fingerprint -sha256` (scripts/setup.sh --test installs openssl).
    #[test]
    fn the_fingerprint_is_the_one_openssl_prints() {
        let dir = tempfile::tempdir().unwrap();
        let identity = super::RelayIdentity::load_or_create(dir.path(), &[]).unwrap();
        let [cert, _] = super::RelayIdentity::files(dir.path());
        let output = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl is installed by scripts/setup.sh --test");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            printed.trim().rsplit('=').next(),
            Some(identity.fingerprint.to_string().as_str()),
            "{printed}"
        );
    }
}
