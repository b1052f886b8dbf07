//! TLS for the API (rustls on ring): the server's certificate chain and key, and for mutual TLS
//! the CA that signs client certificates, read from PEM files into a server configuration, and
//! read again on request (the binary asks on SIGHUP) so certificates rotate without a restart.
//!
//! Each new connection takes the configuration current when it is accepted; connections already
//! open keep theirs. A reload that fails leaves the current configuration in place: a bad file
//! is never half applied, and the server never stops serving because of one.

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;
use x509_cert::der::Decode as _;

/// Where the server's TLS material is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The leaf's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// With mutual TLS, the CA certificates client certificates must chain to (PEM); every
    /// client must then present one.
    pub client_ca: Option<PathBuf>,
}

/// Which file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFile {
    Certificate,
    Key,
    ClientCa,
}

impl std::fmt::Display for TlsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsFile::Certificate => "certificate file (tls_cert, --tls-cert)",
            TlsFile::Key => "private key file (tls_key, --tls-key)",
            TlsFile::ClientCa => "client CA file (tls_client_ca, --tls-client-ca)",
        })
    }
}

/// Why TLS material cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {file} {}: {source}", .path.display())]
    Read {
        file: TlsFile,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the TLS {file} {} is not valid PEM: {detail}", .path.display())]
    Pem {
        file: TlsFile,
        path: PathBuf,
        detail: String,
    },
    #[error("the TLS {file} {} holds no {expected}", .path.display())]
    Missing {
        file: TlsFile,
        path: PathBuf,
        expected: &'static str,
    },
    #[error("the TLS {file} {} holds a certificate that cannot be read: {detail}", .path.display())]
    Certificate {
        file: TlsFile,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "the private key in {} does not match the certificate in {}",
        .key.display(),
        .cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("the TLS {file} {} cannot be used: {detail}", .path.display())]
    Unusable {
        file: TlsFile,
        path: PathBuf,
        detail: String,
    },
}

/// What a load read, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The leaf certificate's subject.
    pub subject: String,
    /// When the leaf certificate expires (RFC 3339).
    pub not_after: String,
    /// Whether it already has.
    pub expired: bool,
    /// Certificates in the chain, the leaf included.
    pub chain: usize,
    /// Whether clients must present a certificate.
    pub mutual: bool,
}

impl Loaded {
    /// Says what was loaded, and warns of a certificate that has expired.
    pub fn log(&self, message: &'static str) {
        tracing::info!(
            subject = %self.subject,
            not_after = %self.not_after,
            chain = self.chain,
            mutual_tls = self.mutual,
            "{message}"
        );
        if self.expired {
            tracing::warn!(
                subject = %self.subject,
                not_after = %self.not_after,
                "the tls certificate has expired; clients will refuse it"
            );
        }
    }
}

/// The server's TLS configuration, replaced whole by a reload that succeeds.
pub struct ServerTls {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
}

/// The files only: nothing of the loaded key is ever printed.
impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads and checks the files: every one readable PEM, the key matching the leaf, the
    /// client CA usable as a trust anchor.
    pub fn load(files: TlsFiles) -> Result<(ServerTls, Loaded), TlsError> {
        let (config, loaded) = configuration(&files)?;
        let tls = ServerTls {
            files,
            current: RwLock::new(Arc::new(config)),
        };
        Ok((tls, loaded))
    }

    /// Reads the files again; new connections get the new configuration. On an error nothing
    /// changes.
    pub fn reload(&self) -> Result<Loaded, TlsError> {
        let (config, loaded) = configuration(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        Ok(loaded)
    }

    /// Reloads, and logs what was loaded or, at error level (an operator must act), why
    /// nothing was.
    pub fn reload_logged(&self) {
        match self.reload() {
            Ok(loaded) => loaded.log("reloaded the tls certificate"),
            Err(e) => tracing::error!(
                error = %e,
                "cannot reload the tls certificate; still serving the previous one"
            ),
        }
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// An acceptor with the configuration current now.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let config = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(Arc::clone(&config))
    }
}

fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        file,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(file: TlsFile, path: &Path, e: &rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        file,
        path: path.to_owned(),
        detail: e.to_string(),
    }
}

/// Every certificate in a PEM file, at least one.
fn certificates(file: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(file, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(file, path, &e))?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            file,
            path: path.to_owned(),
            expected: "certificate (-----BEGIN CERTIFICATE-----)",
        });
    }
    for cert in &certs {
        x509_cert::Certificate::from_der(cert).map_err(|e| TlsError::Certificate {
            file,
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(TlsFile::Key, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
            file: TlsFile::Key,
            path: path.to_owned(),
            expected: "private key (-----BEGIN PRIVATE KEY-----, or an RSA or EC one)",
        },
        other => pem_error(TlsFile::Key, path, &other),
    })
}

/// What the log says of a leaf certificate.
fn describe(leaf: &CertificateDer<'_>, chain: usize, mutual: bool) -> Loaded {
    let cert = x509_cert::Certificate::from_der(leaf);
    let (subject, not_after, expired) = match &cert {
        Ok(c) => {
            let tbs = c.tbs_certificate();
            let not_after = tbs.validity().not_after;
            (
                tbs.subject().to_string(),
                not_after.to_string(),
                not_after.to_system_time() < std::time::SystemTime::now(),
            )
        }
        Err(_) => (
            String::from("(unreadable)"),
            String::from("(unknown)"),
            false,
        ),
    };
    Loaded {
        subject,
        not_after,
        expired,
        chain,
        mutual,
    }
}

/// The client certificate verifier for mutual TLS: chains to one of the CA file's
/// certificates, valid now, for client authentication.
fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let unusable = |detail: String| TlsError::Unusable {
        file: TlsFile::ClientCa,
        path: path.to_owned(),
        detail,
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates(TlsFile::ClientCa, path)? {
        roots.add(ca).map_err(|e| unusable(e.to_string()))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| unusable(e.to_string()))
}

/// rustls on ring: it builds with a C compiler alone (aws-lc-rs needs a long C build), and
/// offers TLS 1.3 and 1.2 with X25519 and the NIST curves.
#[expect(
    deprecated,
    reason = "rustls deprecates its ring provider for lacking post-quantum key exchange; docs/DEPENDENCIES.md says why ring all the same"
)]
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A server configuration from the files: HTTP/1.1 only (the server speaks nothing else), TLS
/// 1.2 and 1.3 with rustls' safe defaults.
fn configuration(files: &TlsFiles) -> Result<(ServerConfig, Loaded), TlsError> {
    let chain = certificates(TlsFile::Certificate, &files.cert)?;
    let key = private_key(&files.key)?;
    let loaded = describe(&chain[0], chain.len(), files.client_ca.is_some());
    let provider = Arc::new(provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Unusable {
            file: TlsFile::Certificate,
            path: files.cert.clone(),
            detail: e.to_string(),
        })?;
    let builder = match &files.client_ca {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, &provider)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            }
        }
        other => TlsError::Unusable {
            file: TlsFile::Key,
            path: files.key.clone(),
            detail: other.to_string(),
        },
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, loaded))
}
