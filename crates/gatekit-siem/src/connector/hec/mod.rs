//! Splunk's HTTP Event Collector: its `hec` block, its plan and its transport
//! ([`transport::HecTransport`], with indexer acknowledgement, gzip and the health check).
//! HEC takes its own JSON envelope whatever the platform's `format` says: the event is the
//! canonical JSON with Splunk's metadata around it (docs/reference/splunk-hec.md).

pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_format::Formatter;
use serde::Deserialize;

use crate::auth::AuthMonitor;
use crate::checks::Warnings;
use crate::error::SiemError;
use crate::http::client::{Endpoint, HttpClient};
use crate::secret::Secret;
use crate::tls::{TlsConfig, TlsSettings};
use transport::{AckSettings, HecSettings, HecTransport};

/// `siem.splunk.hec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// `https://splunk.example.com:8088`.
    pub endpoint: String,
    /// HEC token (a GUID; sent as `Authorization: Splunk <token>`).
    pub token: Secret,
    /// Index.
    #[serde(default)]
    pub index: Option<String>,
    /// Source.
    #[serde(default)]
    pub source: Option<String>,
    /// Sourcetype.
    #[serde(default)]
    pub sourcetype: Option<String>,
    /// TLS options for `https://` endpoints (Gatekit addition).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Accept `http://` to a host that is not this machine (Gatekit addition; default off:
    /// the token and events would cross the network in clear text).
    #[serde(default)]
    pub allow_insecure: bool,
    /// Indexer acknowledgement: a batch counts as delivered only when Splunk confirms it was
    /// indexed (the token needs `useACK = 1`; Gatekit addition, default off).
    #[serde(default)]
    pub use_ack: bool,
    /// Longest wait between two acknowledgement polls, in seconds (default 1).
    #[serde(default)]
    pub ack_poll_interval: Option<f64>,
    /// Seconds to wait for an acknowledgement before the batch is resent (default 60).
    #[serde(default)]
    pub ack_timeout: Option<f64>,
    /// The request channel, a GUID (default: a random one per gateway process).
    #[serde(default)]
    pub channel: Option<String>,
    /// `none` (default) or `gzip`.
    #[serde(default)]
    pub compression: Option<String>,
}

/// A HEC destination, ready to build.
#[derive(Debug, Clone)]
pub struct HecPlan {
    /// `https://host:8088`.
    pub endpoint: Endpoint,
    /// Token, channel, acknowledgement, compression.
    pub settings: HecSettings,
    /// TLS options for https.
    pub tls: TlsSettings,
}

/// Per-request timeout of the HEC transport.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl HecPlan {
    /// The transport, reporting authentication failures to `auth`.
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<HecTransport, SiemError> {
        self.build_with_timeout(REQUEST_TIMEOUT, auth)
    }

    fn build_with_timeout(
        &self,
        timeout: Duration,
        auth: Arc<AuthMonitor>,
    ) -> Result<HecTransport, SiemError> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, timeout)?;
        Ok(HecTransport::with_settings(
            client,
            self.settings.clone(),
            auth,
        ))
    }

    /// Splunk's health endpoint (docs/reference/splunk-hec.md): `Ok(text)` healthy; the
    /// authentication attempt is reported to `auth` like a batch's.
    pub async fn health(&self, auth: Arc<AuthMonitor>) -> Result<String, String> {
        let transport = self
            .build_with_timeout(Duration::from_secs(10), auth)
            .map_err(|e| e.to_string())?;
        transport.health().await
    }
}

/// The HEC formatter and plan for the block at `path`.
pub(crate) fn plan(
    cfg: &Config,
    hec: &HecConfig,
    path: &str,
    delivery: &gatekit_delivery::DeliverySettings,
    warnings: &mut Warnings,
) -> Result<(Box<dyn Formatter>, HecPlan), ConfigError> {
    let src = cfg.source.as_str();
    if hec.token.plain_text {
        warnings.add(format!("{path}.token"), "the HEC token is written in the configuration file in plain text; use ${ENV_VAR} or {file: PATH}");
    }
    let default = gatekit_format::HecSettings::default();
    let settings = gatekit_format::HecSettings {
        host: None,
        source: hec.source.clone().unwrap_or(default.source),
        sourcetype: hec.sourcetype.clone().unwrap_or(default.sourcetype),
        index: hec.index.clone(),
        indexed_fields: default.indexed_fields,
    };
    let formatter = gatekit_format::HecFormatter::new(settings)
        .map_err(|e| ConfigError::at(src, path, e.to_string()))?;
    let (endpoint, tls) = crate::checks::endpoint(
        cfg,
        &hec.endpoint,
        hec.tls.as_ref(),
        hec.allow_insecure,
        path,
        "endpoint",
        warnings,
    )?;
    let settings = hec_settings(src, hec, path, delivery)?;
    Ok((
        Box::new(formatter),
        HecPlan {
            endpoint,
            settings,
            tls,
        },
    ))
}

/// Seconds to wait for an indexer acknowledgement by default (Vector gives up after 30 polls
/// 10 s apart; a minute keeps the one batch in flight from stalling delivery for long).
const DEFAULT_ACK_TIMEOUT: f64 = 60.0;

/// HEC's delivery defaults: requests under 1 MB (Splunk Cloud's documented content length,
/// docs/reference/qradar.md splunk-hec.md §4), and with acknowledgement on, a send deadline long enough for the
/// POST, the acknowledgement wait and the last poll.
pub(crate) fn delivery_defaults(hec: &HecConfig) -> Vec<(&'static str, yaml::Value)> {
    let mut defaults = vec![("batch_max_bytes", yaml::Value::from(1_000_000u64))];
    if hec.use_ack {
        let ack_timeout = hec.ack_timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        defaults.push(("request_timeout", yaml::Value::from(ack_timeout + 60.0)));
    }
    defaults
}

/// Seconds from the configuration, or `default`, at most a day.
fn seconds(
    src: &str,
    key: String,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    crate::checks::seconds(src, key, value, default, 86_400)
}

fn hec_settings(
    src: &str,
    hec: &HecConfig,
    path: &str,
    delivery: &gatekit_delivery::DeliverySettings,
) -> Result<HecSettings, ConfigError> {
    let channel = match &hec.channel {
        Some(c) if is_guid(c) => c.clone(),
        Some(_) => {
            return Err(ConfigError::at(
                src,
                format!("{path}.channel"),
                "must be a GUID such as 0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57 (Splunk answers code 11 otherwise)",
            ))
        }
        None => transport::new_channel(),
    };
    let gzip = match hec.compression.as_deref() {
        None | Some("none") => false,
        Some("gzip") => true,
        Some(_) => {
            return Err(ConfigError::at(
                src,
                format!("{path}.compression"),
                "must be `none` or `gzip` (HEC answers 415 to deflate)",
            ))
        }
    };
    let ack = if hec.use_ack {
        let ack = AckSettings {
            max_poll_interval: seconds(
                src,
                format!("{path}.ack_poll_interval"),
                hec.ack_poll_interval,
                1.0,
            )?,
            timeout: seconds(
                src,
                format!("{path}.ack_timeout"),
                hec.ack_timeout,
                DEFAULT_ACK_TIMEOUT,
            )?,
        };
        if ack.timeout >= delivery.request_timeout {
            return Err(ConfigError::at(
                src,
                format!("{path}.ack_timeout"),
                format!(
                    "must be shorter than delivery.request_timeout ({:.0} s), which bounds the whole send including the acknowledgement wait",
                    delivery.request_timeout.as_secs_f64()
                ),
            ));
        }
        Some(ack)
    } else {
        None
    };
    Ok(HecSettings {
        token: hec.token.clone(),
        channel,
        ack,
        gzip,
    })
}

/// 8-4-4-4-12 hex digits.
fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
