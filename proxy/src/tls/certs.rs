//! Reading a server's certificate chain and key, with the checks nginx
//! leaves to the first unlucky client: the files must be readable PEM, the
//! key must belong to the certificate, and the certificate must be valid now.

use super::x509;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a certificate and key cannot be served.
#[derive(Debug)]
pub struct CertError {
    /// The problem is with the key file (else the certificate file).
    pub in_key: bool,
    /// What is wrong and what to do.
    pub message: String,
}

/// A certificate chain (leaf first) and its private key, checked, ready to
/// serve. `certificate` and `key` may name the same file, as with nginx.
pub fn load(
    certificate: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, CertError> {
    let cert_err = |message| CertError {
        in_key: false,
        message,
    };
    let key_err = |message| CertError {
        in_key: true,
        message,
    };
    let chain = chain(certificate).map_err(cert_err)?;
    let key_pem = read(key, "certificate key").map_err(key_err)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        key_err(format!(
            "certificate key {}: no private key in it ({e}; expected a PEM block \
             `-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)",
            key.display()
        ))
    })?;
    let pair = CertifiedKey::from_der(chain, key_der, provider).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => {
                "it is the private key of another certificate".to_string()
            }
            e => e.to_string(),
        };
        key_err(format!(
            "certificate key {} does not belong to certificate {}: {why}",
            key.display(),
            certificate.display()
        ))
    })?;
    Ok(Arc::new(pair))
}

/// The certificate chain in `certificate`, its leaf valid now.
fn chain(certificate: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let cert_pem = read(certificate, "certificate")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate {}: not valid PEM: {e}", certificate.display()))?;
    let Some(leaf) = chain.first() else {
        return Err(format!(
            "certificate {}: no certificate in it (expected a PEM block `-----BEGIN CERTIFICATE-----`)",
            certificate.display()
        ));
    };
    check_dates(leaf, certificate)?;
    Ok(chain)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {}: cannot read: {e}", path.display()))
}

/// Refuses a leaf certificate that is not valid at this moment.
fn check_dates(leaf: &CertificateDer<'_>, path: &Path) -> Result<(), String> {
    let Some((not_before, not_after)) = x509::validity(leaf) else {
        return Err(format!(
            "certificate {}: the first PEM block is not an X.509 certificate",
            path.display()
        ));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if now > not_after {
        return Err(format!(
            "certificate {}: expired on {}; renew it",
            path.display(),
            x509::format_time(not_after)
        ));
    }
    if now < not_before {
        return Err(format!(
            "certificate {}: not valid before {} (is the clock right?)",
            path.display(),
            x509::format_time(not_before)
        ));
    }
    Ok(())
}
