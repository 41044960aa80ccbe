//! Planning shared by the Azure connectors (Logs Ingestion, Data Collector, Event Hubs): an
//! HTTPS endpoint with its TLS settings, durations in seconds, and the Entra ID credential from
//! `siem.azure_sentinel.auth`.

use std::time::Duration;

use gatekit_config::{Config, ConfigError};

use crate::azure::body::AUTH_FAILURE_RETRY;
use crate::azure::entra::{self, Credential, TokenSettings};
use crate::checks::{endpoint, Warnings};
use crate::config::SentinelAuthConfig;

/// Seconds from the configuration, or `default`, at most an hour (Azure settings).
pub(crate) fn seconds(
    src: &str,
    path: String,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    crate::checks::seconds(src, path, value, default, 3600)
}

/// Entra token settings from `auth` for `default_scope`, and the delay after an
/// authentication failure.
pub(crate) fn entra_settings(
    cfg: &Config,
    auth: Option<&SentinelAuthConfig>,
    path: &str,
    default_scope: &str,
    warnings: &mut Warnings,
) -> Result<(TokenSettings, Duration), ConfigError> {
    let src = cfg.source.as_str();
    let block = format!("{path}.auth");
    let auth = auth.ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{block}.method"),
            "an Entra ID credential is needed: `auth: {method: service_principal, tenant_id: ..., client_id: ..., client_secret: ...}` (or `method: managed_identity`)",
        )
    })?;
    let need = |value: &Option<String>, key: &str| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{block}.{key}"),
                    format!("`{key}` is required for service_principal"),
                )
            })
    };
    let (credential, default_endpoint) = match auth.method.as_deref().unwrap_or("service_principal") {
        "service_principal" => {
            let tenant_id = need(&auth.tenant_id, "tenant_id")?;
            if !tenant_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                return Err(ConfigError::at(src, format!("{block}.tenant_id"), "expected a directory id (GUID) or a tenant domain name"));
            }
            let client_id = need(&auth.client_id, "client_id")?;
            let credential = match (&auth.client_secret, &auth.certificate_file, &auth.private_key_file) {
                (Some(secret), None, None) => {
                    if secret.plain_text {
                        warnings.add(format!("{block}.client_secret"), "the Entra client secret is written in the configuration file in plain text; use ${ENV_VAR} or {file: PATH}");
                    }
                    Credential::ClientSecret {
                        tenant_id,
                        client_id,
                        secret: secret.clone(),
                    }
                }
                (None, Some(cert), Some(key)) => {
                    let resolve = |p: &std::path::Path| cfg.resolve_path(&p.display().to_string());
                    let certificate = crate::azure::entra_assertion::ClientCertificate::load(&resolve(cert), &resolve(key))
                        .map_err(|e| ConfigError::at(src, format!("{block}.certificate_file"), e))?;
                    Credential::ClientCertificate {
                        tenant_id,
                        client_id,
                        certificate,
                    }
                }
                (None, None, None) => {
                    return Err(ConfigError::at(src, format!("{block}.client_secret"), "service_principal needs `client_secret`, or `certificate_file` and `private_key_file`"))
                }
                _ => {
                    return Err(ConfigError::at(src, format!("{block}.client_secret"), "use either `client_secret` or `certificate_file` with `private_key_file`, not both (and the certificate needs its key)"))
                }
            };
            (
                credential,
                auth.authority_host.clone().unwrap_or_else(|| entra::DEFAULT_AUTHORITY.to_string()),
            )
        }
        "managed_identity" => (
            Credential::ManagedIdentity {
                client_id: auth.client_id.clone(),
            },
            auth.metadata_endpoint.clone().unwrap_or_else(|| entra::DEFAULT_METADATA_ENDPOINT.to_string()),
        ),
        "shared_key" => {
            return Err(ConfigError::at(
                src,
                format!("{block}.method"),
                "this transport authenticates with Entra ID, not a shared key; use service_principal or managed_identity",
            ))
        }
        other => {
            return Err(ConfigError::at(
                src,
                format!("{block}.method"),
                format!("unknown method `{other}`; use service_principal, managed_identity or shared_key"),
            ))
        }
    };
    let key = if matches!(credential, Credential::ManagedIdentity { .. }) {
        "metadata_endpoint"
    } else {
        "authority_host"
    };
    // The instance metadata service is plain HTTP on a link-local address by design.
    let metadata = key == "metadata_endpoint";
    let (endpoint, tls) = endpoint(
        cfg,
        default_endpoint.trim_end_matches('/'),
        auth.tls.as_ref(),
        metadata,
        &block,
        key,
        warnings,
    )?;
    let scope = auth
        .scope
        .clone()
        .unwrap_or_else(|| default_scope.to_string());
    if !scope.ends_with("/.default") {
        return Err(ConfigError::at(
            src,
            format!("{block}.scope"),
            "the client-credentials grant takes only `<resource>/.default` scopes",
        ));
    }
    let retry = seconds(
        src,
        format!("{block}.failure_retry_delay"),
        auth.failure_retry_delay,
        AUTH_FAILURE_RETRY.as_secs_f64(),
    )?;
    Ok((
        TokenSettings {
            credential,
            endpoint,
            scope,
            tls,
            timeout: Duration::from_secs(30),
        },
        retry,
    ))
}
