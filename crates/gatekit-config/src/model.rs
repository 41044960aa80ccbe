//! The serde shape of the configuration file.
//!
//! The shape is Python Gatekit 0.3's (`proxy`, `plugins`, `logging`) plus Gatekit's additions
//! (per-upstream `env` and `cwd`, `proxy.max_message_size`, and the `siem` section). Every struct
//! denies unknown keys: Python Gatekit silently ignored typos such as `env:` under an upstream,
//! which hides misconfiguration in a security product.
//!
//! Defaults are named functions so that each one is documented where it is defined.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::{ConfigError, ConfigErrors};
use crate::expand::ConfigString;
use crate::names::UpstreamName;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// How clients reach Gatekit and which MCP servers it fronts.
    pub proxy: ProxyConfig,
    /// Middleware, security and auditing plugins.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// Gatekit's own diagnostic log (not the audit trail).
    #[serde(default)]
    pub logging: LoggingConfig,
    /// SIEM delivery, as specified in the SIEM requirements. Parsed by the SIEM connector layer;
    /// kept as YAML here so the gateway core does not depend on it.
    #[serde(default)]
    pub siem: Option<serde_norway::Value>,
}

/// The `proxy` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Transport towards the MCP client.
    pub transport: ClientTransport,
    /// Listener for `transport: http` (accepted for compatibility; see validation).
    #[serde(default)]
    pub http: Option<HttpListen>,
    /// Apply configuration file changes without a restart.
    #[serde(default)]
    pub hot_reload: HotReload,
    /// Upstream timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// The MCP servers behind the gateway: a list, or a single mapping as Python Gatekit allowed.
    #[serde(deserialize_with = "one_or_many")]
    pub upstreams: Vec<UpstreamConfig>,
    /// Largest JSON-RPC message accepted from the client or an upstream, in bytes.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
}

/// Default for `proxy.max_message_size`: 64 MiB. Python Gatekit failed on lines over 64 KiB;
/// tool results with images or file contents routinely exceed that.
pub fn default_max_message_size() -> usize {
    64 * 1024 * 1024
}

/// Transport between the MCP client and Gatekit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientTransport {
    /// The client launches Gatekit and talks over stdin/stdout.
    Stdio,
    /// Streamable HTTP listener.
    Http,
}

/// `proxy.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpListen {
    /// Listen address.
    #[serde(default = "default_http_host", deserialize_with = "non_empty_host")]
    pub host: String,
    /// Listen port.
    #[serde(default = "default_http_port", deserialize_with = "non_zero_port")]
    pub port: u16,
}

/// A host name or address: not empty, no whitespace. Checked while parsing, so the error
/// carries the key's line.
fn non_empty_host<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let host = String::deserialize(deserializer)?;
    if host.trim().is_empty() {
        return Err(de::Error::custom("the host must not be empty"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(de::Error::custom(
            "the host must not contain whitespace or control characters",
        ));
    }
    Ok(host)
}

/// A TCP port: 0 would mean "any free port", never what a configuration means.
fn non_zero_port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    match u16::deserialize(deserializer)? {
        0 => Err(de::Error::custom(
            "port 0 is not a usable port; use 1-65535",
        )),
        port => Ok(port),
    }
}

/// An optional URL that, when given, is not empty.
fn non_empty_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ConfigString>, D::Error> {
    let url = Option::<ConfigString>::deserialize(deserializer)?;
    if url.as_ref().is_some_and(|u| u.as_str().trim().is_empty()) {
        return Err(de::Error::custom("the url must not be empty"));
    }
    Ok(url)
}

fn default_http_host() -> String {
    "127.0.0.1".into()
}

fn default_http_port() -> u16 {
    8080
}

/// `proxy.hot_reload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HotReload {
    /// Reload for clients known to handle `list_changed` notifications.
    Auto,
    /// Always reload.
    Enabled,
    /// Never reload (default).
    #[default]
    Disabled,
}

/// `proxy.timeouts`, in seconds.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Time allowed for an upstream to start and answer `initialize`.
    #[serde(default = "default_timeout")]
    pub connection_timeout: Seconds,
    /// Time allowed for an upstream to answer one request.
    #[serde(default = "default_timeout")]
    pub request_timeout: Seconds,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connection_timeout: default_timeout(),
            request_timeout: default_timeout(),
        }
    }
}

/// Default for both timeouts: 60 seconds, as in Python Gatekit.
fn default_timeout() -> Seconds {
    Seconds(Duration::from_secs(60))
}

/// A positive number of seconds (integer or fraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
            // The value is not repeated: no config error echoes what was written.
            return Err(de::Error::custom(
                "must be a number of seconds greater than 0 and at most 86400",
            ));
        }
        Ok(Seconds(Duration::from_secs_f64(secs)))
    }
}

/// One upstream MCP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Unique name; also the namespace prefix of its tools (`name__tool`).
    pub name: UpstreamName,
    /// A disabled upstream is not started.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How Gatekit reaches the server.
    #[serde(default)]
    pub transport: UpstreamTransport,
    /// Program and arguments for a stdio server, run without a shell.
    #[serde(default, deserialize_with = "command")]
    pub command: Option<Vec<ConfigString>>,
    /// URL of an HTTP server.
    #[serde(default, deserialize_with = "non_empty_url")]
    pub url: Option<ConfigString>,
    /// Verify the HTTP server's certificate.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// Restart the server when it exits unexpectedly.
    #[serde(default = "yes")]
    pub restart_on_failure: bool,
    /// Consecutive failed starts after which Gatekit stops restarting the server.
    #[serde(default = "default_max_restart_attempts")]
    pub max_restart_attempts: u32,
    /// Last known `serverInfo.name` (used by configuration tools).
    #[serde(default)]
    pub server_identity: Option<String>,
    /// Process sandbox.
    #[serde(default)]
    pub sandbox: Option<SandboxConfig>,
    /// Extra environment variables for the server process (Gatekit addition).
    #[serde(default)]
    pub env: BTreeMap<String, ConfigString>,
    /// Working directory of the server process, relative to the config file (Gatekit addition).
    #[serde(default)]
    pub cwd: Option<ConfigString>,
}

fn yes() -> bool {
    true
}

/// Default for `max_restart_attempts`: 3, as in Python Gatekit (where it was never used).
fn default_max_restart_attempts() -> u32 {
    3
}

/// Transport towards one upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamTransport {
    /// A child process over stdin/stdout (default).
    #[default]
    Stdio,
    /// MCP streamable HTTP.
    Http,
}

/// `upstreams[].sandbox`, Python Gatekit 0.3's keys (stdio upstreams only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Run the server inside a sandbox.
    #[serde(default)]
    pub enabled: bool,
    /// Paths mounted read-write inside the sandbox (`~/` is the home directory; relative paths
    /// are resolved against the config file's directory).
    #[serde(default)]
    pub paths: Vec<SandboxPath>,
    /// Allow network access.
    #[serde(default = "yes")]
    pub network: bool,
}

/// One `sandbox.paths` entry: a literal path. Glob characters are refused at load (with the
/// entry's line), because the sandbox grants exactly the paths written and a pattern would
/// either grant nothing or, expanded, more than the operator meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPath(pub ConfigString);

impl std::ops::Deref for SandboxPath {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl<'de> Deserialize<'de> for SandboxPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = ConfigString::deserialize(deserializer)?;
        if path.is_empty() {
            return Err(de::Error::custom("a sandbox path must not be empty"));
        }
        if let Some(c) = path
            .chars()
            .find(|c| matches!(c, '*' | '?' | '[' | ']' | '{' | '}'))
        {
            return Err(de::Error::custom(format!(
                "sandbox path {:?} contains the glob character `{c}`; list each directory \
                 literally (patterns are not expanded)",
                path.as_str()
            )));
        }
        if path.contains('\0') {
            return Err(de::Error::custom(
                "a sandbox path must not contain a NUL byte",
            ));
        }
        Ok(SandboxPath(path))
    }
}

/// The `plugins` section: per category, a map from scope (`_global` or an upstream name) to
/// the plugin entries of that scope.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Middleware plugins.
    #[serde(default, deserialize_with = "scopes")]
    pub middleware: BTreeMap<String, Vec<PluginEntry>>,
    /// Security plugins.
    #[serde(default, deserialize_with = "scopes")]
    pub security: BTreeMap<String, Vec<PluginEntry>>,
    /// Auditing plugins.
    #[serde(default, deserialize_with = "scopes")]
    pub auditing: BTreeMap<String, Vec<PluginEntry>>,
}

/// One plugin entry: a handler and its options. `enabled`, `priority` and `critical` live
/// inside `config`, as in Python Gatekit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// Built-in handler name.
    pub handler: String,
    /// Handler options; checked by the plugin itself.
    #[serde(default)]
    pub config: serde_norway::Mapping,
}

/// The `logging` section: Gatekit's own diagnostics, never the audit trail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Minimum level.
    #[serde(default)]
    pub level: LogLevel,
    /// Where to write.
    #[serde(default = "default_log_handlers")]
    pub handlers: Vec<LogHandler>,
    /// Log file for the `file` handler, relative to the config file.
    #[serde(default)]
    pub file_path: Option<ConfigString>,
    /// Rotate the log file at this size.
    #[serde(default = "default_max_file_size_mb")]
    pub max_file_size_mb: u64,
    /// Rotated files kept.
    #[serde(default = "default_backup_count")]
    pub backup_count: u32,
    /// `json` for one JSON object per log line; other values are Python logging format
    /// strings, accepted for compatibility and not interpreted (plain text lines).
    #[serde(default)]
    pub format: Option<String>,
    /// Python date format string (accepted for compatibility, not interpreted).
    #[serde(default)]
    pub date_format: Option<String>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: LogLevel::default(),
            handlers: default_log_handlers(),
            file_path: None,
            max_file_size_mb: default_max_file_size_mb(),
            backup_count: default_backup_count(),
            format: None,
            date_format: None,
        }
    }
}

fn default_log_handlers() -> Vec<LogHandler> {
    vec![LogHandler::Stderr]
}

fn default_max_file_size_mb() -> u64 {
    10
}

fn default_backup_count() -> u32 {
    5
}

/// Log level names as Python writes them (either case is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum LogLevel {
    /// Everything, including per-message tracing.
    #[serde(alias = "debug", rename = "DEBUG")]
    Debug,
    /// Start-up, shutdown, upstream lifecycle (default).
    #[default]
    #[serde(alias = "info", rename = "INFO")]
    Info,
    /// Problems Gatekit recovered from.
    #[serde(alias = "warning", alias = "warn", alias = "WARN", rename = "WARNING")]
    Warning,
    /// Failures.
    #[serde(alias = "error", rename = "ERROR")]
    Error,
    /// Python's highest level; treated as ERROR.
    #[serde(alias = "critical", rename = "CRITICAL")]
    Critical,
}

/// Log destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogHandler {
    /// Standard error (stdout carries the MCP protocol and is never used for logs).
    Stderr,
    /// `logging.file_path`.
    File,
}

/// Parses configuration text into the file shape, with the path and line of the first
/// structural error.
pub fn parse(text: &str, source: &str) -> Result<ConfigFile, ConfigErrors> {
    if text.trim().is_empty() {
        return Err(ConfigErrors::single(ConfigError::file(
            source,
            "the file is empty; it needs at least a `proxy` section",
        )));
    }
    check_depth(text, source)?;
    let deserializer = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let location = inner.location();
        let message = strip_path_prefix(&strip_location_suffix(&inner.to_string()), &path);
        // The value that failed may be a secret typed into the wrong place: never echo it.
        let mut message = crate::error::without_values(&message);
        if let Some(hint) = hint_for(&path, &message) {
            message = format!("{message} ({hint})");
        }
        ConfigErrors::single(ConfigError {
            source: source.to_string(),
            path: if path == "." { String::new() } else { path },
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        })
    })
}

/// Refuses text nested deeper than [`crate::depth`] allows, before the YAML parser (whose
/// cost grows faster than linearly with depth) sees it.
pub fn check_depth(text: &str, source: &str) -> Result<(), ConfigErrors> {
    crate::depth::check(text).map_err(|e| {
        ConfigErrors::single(ConfigError {
            source: source.to_string(),
            path: String::new(),
            line: Some(e.line),
            column: Some(e.column),
            message: e.message,
        })
    })
}

/// serde_norway appends " at line L column C" to messages; the location is reported in its
/// own fields, so drop the duplicate.
fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(pos) if message[pos..].contains(" column ") => message[..pos].to_string(),
        _ => message.to_string(),
    }
}

/// serde_norway starts messages with the parent key's path (`proxy: unknown field ...`);
/// the full path is reported separately.
fn strip_path_prefix(message: &str, path: &str) -> String {
    match message.split_once(": ") {
        Some((prefix, rest)) if !prefix.contains(' ') && path.starts_with(prefix) => {
            rest.to_string()
        }
        _ => message.to_string(),
    }
}

fn hint_for(path: &str, message: &str) -> Option<&'static str> {
    if (path == "proxy.plugins" || path == "proxy.logging") && message.contains("unknown field") {
        return Some("`plugins` and `logging` are top-level sections, not part of `proxy`");
    }
    if message.contains("unknown field `siem`") {
        return Some("`siem` is a top-level section");
    }
    None
}

fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<UpstreamConfig>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<UpstreamConfig>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of upstream servers, or a single upstream mapping")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let one = UpstreamConfig::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(vec![one])
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

fn command<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<ConfigString>>, D::Error> {
    struct Command;
    impl<'de> Visitor<'de> for Command {
        type Value = Option<Vec<ConfigString>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(arg) = seq.next_element::<ConfigString>()? {
                out.push(arg);
            }
            Ok(Some(out))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Err(E::custom(format!(
                "must be a list of strings, not one string; write it as {:?}",
                v.split_whitespace().collect::<Vec<_>>()
            )))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(Command)
}

/// Scope maps: `_global` and upstream names hold plugin lists; other keys starting with `_`
/// are ignored, as Python Gatekit ignores them (they hold YAML anchors).
fn scopes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<PluginEntry>>, D::Error> {
    struct Scopes;
    impl<'de> Visitor<'de> for Scopes {
        type Value = BTreeMap<String, Vec<PluginEntry>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping from scope (`_global` or an upstream name) to a list of plugins")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if key.starts_with('_') && key != "_global" {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                let entries: Vec<PluginEntry> = map.next_value()?;
                out.insert(key, entries);
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
    }
    deserializer.deserialize_any(Scopes)
}
