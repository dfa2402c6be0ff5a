//! A connection to one repository of a registry through `oci-client` (the ORAS project's client of
//! the Distribution spec: manifest negotiation, basic auth and the bearer-token flow, chunked and
//! monolithic uploads, cross-repository mounts): TLS verified against the system's roots plus the
//! registry's CA files, plain HTTP only for hosts the configuration lists as insecure, the
//! configured timeouts, and the user's stored login. Its errors name the registry, the repository
//! and what was asked, and say whether trying again may help.

use super::auth;
use crate::config::Registries;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("'{name}' is not a valid image reference: {message}")]
    BadName { name: String, message: String },
    #[error("{at}: {what}: {message}")]
    Remote {
        at: String,
        what: String,
        message: String,
        /// A network failure or a 5xx/429: trying again may help.
        transient: bool,
        /// The registry said it has no such thing (404, or an unknown name or manifest).
        not_found: bool,
    },
    #[error("cannot read the CA certificates of {registry} in {path}: {source}")]
    Certs { registry: String, path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Store(#[from] crate::image::StoreError),
    #[error(transparent)]
    Load(#[from] crate::image::load::LoadError),
    #[error("{image}: denied by policy {plugin}: {reason}")]
    Denied { image: String, plugin: String, reason: String },
    #[error("{0}")]
    Other(String),
}

impl RegistryError {
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Remote { transient: true, .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::Remote { not_found: true, .. })
    }
}

/// An error with the causes under it, as one line (reqwest's own message is only "error sending
/// request"; the TLS or connection failure is below it).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
        cause = c.source();
    }
    out
}

/// What reaching registries takes: the configuration, the files logins are read from, and where
/// progress is shown.
pub struct Access<'a> {
    pub registries: &'a Registries,
    pub auth_files: &'a [std::path::PathBuf],
    pub progress: &'a super::progress::Progress,
}

impl Access<'_> {
    /// The repository `name` names (see [`Remote::new`]).
    pub fn remote(&self, name: &str) -> Result<Remote, RegistryError> {
        Remote::new(name, self.registries, self.auth_files)
    }
}

/// A repository of a registry, and how to reach it.
pub struct Remote {
    pub client: Client,
    /// The same client never given a login (see [`Remote::blob_client`]).
    bare: Client,
    pub auth: RegistryAuth,
    pub reference: Reference,
    /// `HOST[:PORT]/REPOSITORY`, naming it in errors.
    pub at: String,
    pub registry: String,
}

impl Remote {
    /// Connects (lazily: no request is made) to the repository `name` names, fully qualified
    /// (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app@sha256:...`).
    pub fn new(name: &str, config: &Registries, auth_files: &[std::path::PathBuf]) -> Result<Remote, RegistryError> {
        let reference: Reference = name.parse().map_err(|e: oci_client::ParseError| RegistryError::BadName {
            name: name.into(),
            message: e.to_string(),
        })?;
        let registry = reference.registry().to_string();
        let (client, bare) =
            (client(config, &registry, Upload::Monolithic)?, client(config, &registry, Upload::Monolithic)?);
        let auth = match auth::credentials(auth_files, &registry)? {
            Some((user, password)) => RegistryAuth::Basic(user, password),
            None => RegistryAuth::Anonymous,
        };
        let at = format!("{registry}/{}", reference.repository());
        Ok(Remote { client, bare, auth, reference, at, registry })
    }

    /// The client to fetch blobs with. oci-client caches tokens, not the absence of one: given no
    /// login for a registry that asks for none, it asks `/v2/` again before every request. A
    /// client that was never given a login asks nothing first, which halves the requests of a pull
    /// of many layers from such a registry; any other registry gets the client that holds its token.
    pub async fn blob_client(&self) -> &Client {
        let anonymous = matches!(self.auth, RegistryAuth::Anonymous);
        if anonymous && matches!(self.client.auth(&self.reference, &self.auth, RegistryOperation::Pull).await, Ok(None))
        {
            &self.bare
        } else {
            &self.client
        }
    }

    /// The registry's error for `what`, with what the user can do about it.
    pub fn error(&self, what: impl Into<String>, e: OciDistributionError) -> RegistryError {
        remote_error(&self.at, &self.registry, what.into(), e)
    }
}

/// What an oci-client error means to the user. Pure but for formatting.
pub fn remote_error(at: &str, registry: &str, what: String, e: OciDistributionError) -> RegistryError {
    use oci_client::errors::OciErrorCode;
    let (mut transient, mut not_found) = (false, false);
    let unauthorized = match &e {
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::RequestError(r) => matches!(r.status().map(|s| s.as_u16()), Some(401 | 403)),
        _ => false,
    };
    let message = match &e {
        _ if unauthorized => {
            format!("{}: unauthorized; log in with `sbx login {registry}` (or check the login)", chain(&e))
        }
        OciDistributionError::ServerError { code, message, .. } => {
            transient = *code >= 500 || *code == 429;
            not_found = *code == 404;
            let body = message.trim();
            let body = if body.len() > 300 { &body[..body.floor_char_boundary(300)] } else { body };
            format!("the registry answered {code}{}", if body.is_empty() { String::new() } else { format!(": {body}") })
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            not_found = envelope.errors.iter().any(|err| {
                matches!(
                    err.code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            });
            let denied =
                envelope.errors.iter().any(|err| matches!(err.code, OciErrorCode::Denied | OciErrorCode::Unauthorized));
            // The codes as the registry wrote them (MANIFEST_UNKNOWN, DENIED...).
            let code = |c: &OciErrorCode| serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from));
            let said: Vec<String> = envelope
                .errors
                .iter()
                .map(|err| format!("{}: {}", code(&err.code).unwrap_or_default(), err.message))
                .collect();
            let hint = if denied { format!("; log in with `sbx login {registry}`") } else { String::new() };
            format!("the registry said {}{hint}", said.join("; "))
        }
        OciDistributionError::RequestError(r) if r.status().is_some() => {
            let code = r.status().map_or(0, |s| s.as_u16());
            transient = code >= 500 || code == 429;
            not_found = code == 404;
            chain(&e)
        }
        OciDistributionError::RequestError(r) => {
            let text = chain(&e);
            // A name the resolver does not know stays unknown; "temporary failure" may pass.
            let unknown_host = ["Name or service not known", "No address associated"].iter().any(|w| text.contains(w));
            transient = !r.is_builder() && !r.is_redirect() && !is_tls(&text) && !unknown_host;
            if is_tls(&text) {
                format!(
                    "{text}; give its CA as /etc/sbx/certs.d/{registry}/ca.crt (registries.certs-dir), or list it under registries.insecure to use plain HTTP"
                )
            } else if text.contains("dns error") {
                let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
                format!("cannot find the registry's host {host} ({text}); check the image's name and the network")
            } else {
                text
            }
        }
        OciDistributionError::IoError(_) => {
            transient = true;
            chain(&e)
        }
        OciDistributionError::ImageManifestNotFoundError(_) => {
            not_found = true;
            chain(&e)
        }
        _ => chain(&e),
    };
    RegistryError::Remote { at: at.to_string(), what, message, transient, not_found }
}

fn is_tls(text: &str) -> bool {
    ["certificate", "ssl", "tls", "handshake"].iter().any(|w| text.to_lowercase().contains(w))
}

/// The PEM files of `dir` (`*.crt`, as docker reads them), or none if it does not exist.
fn certificates(dir: &Path, registry: &str) -> Result<Vec<Certificate>, RegistryError> {
    let err = |source| RegistryError::Certs { registry: registry.into(), path: dir.into(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(err)?.path();
        if path.extension().is_some_and(|e| e == "crt") {
            let data = std::fs::read(&path).map_err(err)?;
            out.push(Certificate { encoding: CertificateEncoding::Pem, data });
        }
    }
    Ok(out)
}

/// How a client sends a blob.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// In one streamed request (POST, then PUT with the whole body), which the Distribution
    /// spec asks every registry to take, rather than a request per chunk.
    Monolithic,
    /// A PATCH per 4 MiB chunk, for a registry (or a proxy before it) that refuses big bodies.
    Chunked,
}

/// A client for `registry` as the configuration says to reach it.
pub fn client(config: &Registries, registry: &str, upload: Upload) -> Result<Client, RegistryError> {
    // rustls's cryptography (ring); once per process, a second install is refused and harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let timeout = Duration::from_secs(config.timeout_secs);
    let protocol =
        if config.insecure.iter().any(|h| h == registry) { ClientProtocol::Http } else { ClientProtocol::Https };
    Ok(Client::new(ClientConfig {
        protocol,
        extra_root_certificates: certificates(&config.certs_dir.join(registry), registry)?,
        // sbx picks the platform of an index itself (`--platform`).
        platform_resolver: None,
        max_concurrent_download: config.max_concurrent_downloads,
        max_concurrent_upload: config.max_concurrent_downloads,
        use_monolithic_push: upload == Upload::Monolithic,
        read_timeout: Some(timeout),
        connect_timeout: Some(timeout),
        user_agent: concat!("sbx/", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    }))
}

/// A runtime for the client's futures: one worker drives the connections while sbx's threads
/// (layers unpacking as they stream) wait on them.
pub fn runtime() -> Result<tokio::runtime::Runtime, RegistryError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| RegistryError::Other(format!("cannot start the registry client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_manifest_is_not_found_and_a_5xx_is_transient() {
        let e = remote_error(
            "r:1/a",
            "r:1",
            "manifest latest".into(),
            OciDistributionError::ServerError { code: 503, url: "u".into(), message: "busy".into() },
        );
        assert!(e.is_transient() && !e.is_not_found());
        assert_eq!(e.to_string(), "r:1/a: manifest latest: the registry answered 503: busy");
        let e = remote_error(
            "r:1/a",
            "r:1",
            "manifest x".into(),
            OciDistributionError::ServerError { code: 404, url: "u".into(), message: String::new() },
        );
        assert!(e.is_not_found() && !e.is_transient());
        let e = remote_error(
            "r:1/a",
            "r:1",
            "manifest".into(),
            OciDistributionError::UnauthorizedError { url: "u".into() },
        );
        assert!(e.to_string().contains("sbx login r:1"), "{e}");
    }
}
