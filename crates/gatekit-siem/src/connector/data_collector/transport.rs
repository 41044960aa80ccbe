//! Log Analytics HTTP Data Collector API (legacy: Microsoft retires it on 2026-09-14;
//! docs/reference/sentinel.md §3, platform-facts.md §12, §16).
//!
//! Job: POST a batch of flat records as one JSON array to `/api/logs?api-version=2016-04-01`
//! signed with the workspace key, and classify the answer.
//!
//! Invariants:
//! * the signature covers the byte length of exactly the body sent (never a character
//!   count), `Content-Type` exactly `application/json` (no charset: it breaks the signature),
//!   the `x-ms-date` header sent, and `/api/logs`; the key is Base64-decoded before use;
//! * the body is never compressed (not documented for this API) and at most 30 MB: larger
//!   batches are [`BatchOutcome::TooLarge`] before sending;
//! * 200 is the only success; 403 (`InvalidAuthorization`) is an authentication failure
//!   retried slowly; 429, 500 and 503 retry; other 4xx are permanent.

use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};

use crate::auth::AuthReporter;
use crate::azure::body::{answer, json_array, refused};
use crate::azure::signature::{data_collector_authorization, rfc1123};
use crate::http::client::HttpClient;
use crate::http::status::classify;
use crate::secret::Secret;

/// The documented per-post limit.
pub const MAX_REQUEST_BYTES: usize = 30 * 1024 * 1024;
/// The request path, which is also the signed resource.
pub const PATH: &str = "/api/logs";
/// The API version.
pub const API_VERSION: &str = "2016-04-01";

/// What a Data Collector transport needs besides its client.
#[derive(Debug, Clone)]
pub struct DataCollectorSettings {
    /// Workspace id.
    pub workspace_id: String,
    /// Workspace key (Base64).
    pub shared_key: Secret,
    /// `Log-Type` (validated at load).
    pub log_type: String,
    /// `time-generated-field`, when set.
    pub time_generated_field: Option<String>,
    /// `x-ms-AzureResourceId`, when set.
    pub azure_resource_id: Option<String>,
    /// Delay before retrying after an authentication failure.
    pub auth_retry: Duration,
}

/// `Log-Type`: letters, digits and `_`, 1 to 100 characters.
pub fn valid_log_type(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One workspace and log type.
#[derive(Debug)]
pub struct DataCollectorTransport {
    name: String,
    client: HttpClient,
    settings: DataCollectorSettings,
    auth: AuthReporter,
}

impl DataCollectorTransport {
    /// A transport posting through `client`.
    pub fn new(client: HttpClient, settings: DataCollectorSettings, auth: AuthReporter) -> Self {
        let e = client.endpoint();
        let name = format!("data_collector:{}:{}", e.host, e.port);
        DataCollectorTransport {
            name,
            client,
            settings,
            auth,
        }
    }
}

impl Transport for DataCollectorTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = json_array(batch);
            if body.len() > MAX_REQUEST_BYTES {
                return BatchOutcome::TooLarge;
            }
            let s = &self.settings;
            let date = rfc1123(gatekit_core::Timestamp::now());
            let authorization = match data_collector_authorization(
                &s.workspace_id,
                s.shared_key.expose(),
                body.len(),
                &date,
            ) {
                Ok(a) => a,
                Err(e) => {
                    // Checked at load; a key that stopped decoding is a configuration fault.
                    self.auth.failed(&e.to_string());
                    return BatchOutcome::Reject {
                        reason: e.to_string(),
                    };
                }
            };
            let mut headers = vec![
                ("authorization", authorization),
                ("content-type", "application/json".to_string()),
                ("log-type", s.log_type.clone()),
                ("x-ms-date", date),
            ];
            if let Some(field) = &s.time_generated_field {
                headers.push(("time-generated-field", field.clone()));
            }
            if let Some(id) = &s.azure_resource_id {
                headers.push(("x-ms-azureresourceid", id.clone()));
            }
            let path = format!("{PATH}?api-version={API_VERSION}");
            match self.client.post(&path, &headers, body).await {
                Ok(response) => {
                    let a = answer(
                        response.status,
                        response.retry_after.as_deref(),
                        &response.body,
                    );
                    match a.status {
                        200 => {
                            self.auth.succeeded();
                            BatchOutcome::Delivered
                        }
                        401 | 403 => {
                            refused("the Data Collector API", &a, &self.auth, s.auth_retry)
                        }
                        _ => classify(&a, &[200], batch.len()),
                    }
                }
                Err(error) => self.auth.connection_failed(&error),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_types_are_checked() {
        assert!(valid_log_type("Gatekit_Audit2"));
        assert!(!valid_log_type("Gatekit-Audit"));
        assert!(!valid_log_type(""));
        assert!(!valid_log_type(&"a".repeat(101)));
    }
}
