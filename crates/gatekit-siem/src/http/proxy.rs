//! HTTPS through a forward proxy with HTTP `CONNECT` (RFC 9110 §9.3.6), as corporate networks
//! require for Splunk Cloud and Azure.
//!
//! Which proxy: `siem.https_proxy` when the configuration sets it (an empty string: no proxy,
//! whatever the environment says), else `HTTPS_PROXY` / `https_proxy`. Which hosts bypass it:
//! `siem.no_proxy` when set, else `NO_PROXY` / `no_proxy`: comma-separated (or a YAML list)
//! names, each matching the host itself and its subdomains (`example.com` and `.example.com`
//! both match `hec.example.com`), IP addresses matching exactly, `*` matching everything.
//! Only `https://` endpoints use the proxy: the tunnel carries TLS end to end, so the proxy
//! sees the host name and nothing else. Plain `http://` endpoints (local receivers, the
//! instance metadata service) are always reached directly, and `HTTP_PROXY` is not read.
//!
//! The proxy URL is `http://[user:password@]host[:port]` (port 3128 when absent, a common
//! default of forward proxies); credentials go in `Proxy-Authorization: Basic`. A TLS
//! connection to the proxy itself (`https://` proxy URL) is refused at load.
//!
//! Invariant: the tunnel is used only after the proxy answered `200` to `CONNECT`; any other
//! answer is a connection error naming the proxy's status line (never its body).

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::SiemError;

/// A forward proxy for one endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Proxy host.
    pub host: String,
    /// Proxy port.
    pub port: u16,
    /// `Basic ...` for `Proxy-Authorization`, when the URL carries credentials.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.authorization.is_some())
            .finish()
    }
}

/// Longest proxy answer head read before giving up on it.
const MAX_HEAD: usize = 16 * 1024;

impl Proxy {
    /// Parses `http://[user:password@]host[:port][/]`.
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("HTTP://"))
            .ok_or_else(|| {
                if url.starts_with("https://") {
                    "a TLS connection to the proxy (https:// proxy URL) is not supported; use http://host:port (the tunnel inside still carries TLS end to end)".to_string()
                } else {
                    "the proxy URL must look like http://host:port".to_string()
                }
            })?;
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err("the proxy URL must not have a path".into());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or("bad port in the proxy URL")?,
            ),
            None => (hostport, 3128),
        };
        if host.is_empty() {
            return Err("no host in the proxy URL".into());
        }
        let authorization = userinfo.map(|u| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(percent_decode(u))
            )
        });
        Ok(Proxy {
            host: host.to_string(),
            port,
            authorization,
        })
    }

    /// A TCP stream to `host:port` tunnelled through the proxy.
    pub async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, SiemError> {
        let proxy = format!("{}:{}", self.host, self.port);
        let mut tcp = TcpStream::connect(&proxy)
            .await
            .map_err(|e| SiemError::Connect {
                addr: format!("proxy {proxy}"),
                reason: e.to_string(),
            })?;
        let mut head = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
        if let Some(auth) = &self.authorization {
            head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        head.push_str("\r\n");
        let failed = |why: String| {
            SiemError::Connection(format!("proxy {proxy} tunnel to {host}:{port}: {why}"))
        };
        tcp.write_all(head.as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
        // Read the answer head byte by byte: nothing after its blank line may be consumed,
        // it belongs to the TLS handshake.
        let mut answer = Vec::with_capacity(256);
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() >= MAX_HEAD {
                return Err(failed("answer head too long".into()));
            }
            let byte = tcp
                .read_u8()
                .await
                .map_err(|e| failed(format!("the proxy closed the connection ({e})")))?;
            answer.push(byte);
        }
        let status_line = String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let status = status_line.split_whitespace().nth(1).unwrap_or_default();
        if status != "200" {
            let hint = if status == "407" {
                " (proxy authentication required: put user:password in the proxy URL)"
            } else {
                ""
            };
            return Err(failed(format!(
                "the proxy answered {}{hint}",
                crate::secret::log_safe(&status_line)
            )));
        }
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// `%XX` escapes in URL credentials decoded (a password may hold `@` or `:`).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `true` when `host` is matched by one of the `no_proxy` entries.
pub fn bypassed(host: &str, no_proxy: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        // A port in the entry is ignored: the host decides.
        let entry = match entry.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => {
                h.to_string()
            }
            _ => entry,
        };
        let entry = entry.trim_start_matches("*.").trim_start_matches('.');
        !entry.is_empty()
            && (entry == "*"
                || host == entry
                || host.strip_suffix(entry).is_some_and(|p| p.ends_with('.')))
    })
}

/// The proxy for an `https://` endpoint on `host`: from the configuration's `https_proxy` and
/// `no_proxy` when set, else from the environment.
pub fn for_host(
    host: &str,
    configured: Option<&str>,
    configured_no_proxy: Option<Vec<String>>,
) -> Result<Option<Proxy>, String> {
    let env = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
    };
    let url = match configured {
        Some(url) => Some(url.trim().to_string()).filter(|u| !u.is_empty()),
        None => env(["HTTPS_PROXY", "https_proxy"]),
    };
    let Some(url) = url else {
        return Ok(None);
    };
    let no_proxy = configured_no_proxy.unwrap_or_else(|| {
        env(["NO_PROXY", "no_proxy"])
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    });
    if bypassed(host, &no_proxy) {
        return Ok(None);
    }
    Proxy::parse(&url).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse() {
        let p = Proxy::parse("http://proxy.corp:8080/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.host.as_str(), p.port, p.authorization),
            ("proxy.corp", 8080, None)
        );
        let p = Proxy::parse("http://u%40x:p%3Aw@proxy.corp").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.port, 3128);
        // base64("u@x:p:w")
        assert_eq!(p.authorization.as_deref(), Some("Basic dUB4OnA6dw=="));
        assert!(Proxy::parse("https://proxy.corp:443").is_err());
        assert!(Proxy::parse("proxy.corp:3128").is_err());
        assert!(Proxy::parse("http://:3128").is_err());
        assert!(
            !format!("{p:?}").contains("dUB4"),
            "credentials never in Debug"
        );
    }

    #[test]
    fn no_proxy_matches_hosts_and_subdomains() {
        let list: Vec<String> = [".example.com", "10.1.2.3", "splunk.local:8088"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(bypassed("hec.example.com", &list));
        assert!(bypassed("example.com", &list));
        assert!(!bypassed("badexample.com", &list));
        assert!(bypassed("10.1.2.3", &list));
        assert!(bypassed("SPLUNK.local", &list));
        assert!(!bypassed("login.microsoftonline.com", &list));
        assert!(bypassed("anything", &["*".to_string()]));
    }
}
