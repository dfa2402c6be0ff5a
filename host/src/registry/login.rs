//! `sbx login`: checks a user and password with the registry before they are stored. A registry
//! behind a token server checks them when it is asked for a token; one that takes basic auth is
//! asked for a repository's tags with them, and tells a wrong password (401) from a repository
//! it does not have (404).

use super::client::{self, RegistryError, remote_error};
use crate::config::Registries;
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};

pub fn verify(config: &Registries, registry: &str, user: &str, password: &str) -> Result<(), RegistryError> {
    let name = format!("{registry}/sbx-login-check/probe:latest");
    let reference: Reference = name.parse().map_err(|e: oci_client::ParseError| RegistryError::BadName {
        name: registry.into(),
        message: e.to_string(),
    })?;
    let client = client::client(config, registry, client::Upload::Monolithic)?;
    let auth = RegistryAuth::Basic(user.into(), password.into());
    let failed = |e: OciDistributionError| match e {
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            RegistryError::Remote {
                at: registry.into(),
                what: format!("login as {user}"),
                message: "unauthorized: incorrect username or password".into(),
                transient: false,
                not_found: false,
            }
        }
        e => remote_error(registry, registry, format!("login as {user}"), e),
    };
    client::runtime()?.block_on(async {
        if client.auth(&reference, &auth, RegistryOperation::Pull).await.map_err(failed)?.is_some() {
            return Ok(()); // a token server gave a token for these credentials
        }
        match client.list_tags(&reference, &auth, Some(1), None).await {
            Err(e @ (OciDistributionError::UnauthorizedError { .. } | OciDistributionError::RequestError(_))) => {
                Err(failed(e))
            }
            _ => Ok(()),
        }
    })
}
