//! Checks that need the whole file, collecting every problem.
//!
//! Structural errors (unknown keys, wrong types, bad names) stop the YAML parser at the first
//! one; everything here runs after a successful parse and reports all problems together.
//! A feature that this build does not provide is an error, never silently skipped: a user who
//! asks for a sandbox must not get an unsandboxed server.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::{ConfigError, ConfigErrors};
use crate::model::{ClientTransport, ConfigFile, LogHandler, UpstreamTransport};
use crate::names::{closest, AUDITING_HANDLERS, MIDDLEWARE_HANDLERS, SECURITY_HANDLERS};

/// Something that loads but deserves the operator's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Dotted key path.
    pub path: String,
    /// What to know.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Validates a parsed file; returns its warnings, or every error found.
pub fn validate(file: &ConfigFile, source: &str) -> Result<Vec<Warning>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut err =
        |path: String, message: String| errors.push(ConfigError::at(source, path, message));
    let mut warn = |path: &str, message: String| {
        warnings.push(Warning {
            path: path.to_string(),
            message,
        })
    };

    let proxy = &file.proxy;
    if proxy.transport == ClientTransport::Http {
        err(
            "proxy.transport".into(),
            "`http` is not available in this version of Gatekit; use `stdio`".into(),
        );
    }
    if proxy.max_message_size < 64 * 1024 {
        err(
            "proxy.max_message_size".into(),
            format!(
                "{} bytes is too small; use at least 65536",
                proxy.max_message_size
            ),
        );
    }

    let mut names = BTreeSet::new();
    for (i, up) in proxy.upstreams.iter().enumerate() {
        let at = |key: &str| format!("proxy.upstreams[{i}].{key}");
        if !names.insert(up.name.as_str().to_string()) {
            err(at("name"), format!("duplicate upstream name `{}`", up.name));
        }
        match up.transport {
            UpstreamTransport::Http => err(
                at("transport"),
                "upstream transport `http` is not available in this version of Gatekit; use `stdio`"
                    .into(),
            ),
            UpstreamTransport::Stdio => match &up.command {
                None => err(at("command"), "a stdio upstream needs a `command` list".into()),
                Some(cmd) if cmd.is_empty() || cmd[0].is_empty() => {
                    err(at("command"), "the command list must start with a program name".into())
                }
                Some(_) => {}
            },
        }
        if up.sandbox.as_ref().is_some_and(|s| s.enabled) {
            if up.transport != UpstreamTransport::Stdio {
                err(
                    at("sandbox.enabled"),
                    "a sandbox applies to a server Gatekit starts; it needs `transport: stdio`"
                        .into(),
                );
            }
            if !cfg!(any(target_os = "linux", target_os = "macos")) {
                err(
                    at("sandbox.enabled"),
                    "process sandboxing needs Linux (bubblewrap) or macOS (sandbox-exec); \
                     refusing to run this server without the sandbox it asks for"
                        .into(),
                );
            }
        }
        for key in up.env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                err(
                    at("env"),
                    format!("invalid environment variable name {key:?}"),
                );
            }
        }
    }
    if !proxy.upstreams.iter().any(|u| u.enabled) {
        err(
            "proxy.upstreams".into(),
            "at least one enabled upstream is required".into(),
        );
    }

    let categories = [
        ("middleware", &file.plugins.middleware, MIDDLEWARE_HANDLERS),
        ("security", &file.plugins.security, SECURITY_HANDLERS),
        ("auditing", &file.plugins.auditing, AUDITING_HANDLERS),
    ];
    for (category, scopes, known) in categories {
        for (scope, entries) in scopes {
            let scope_path = format!("plugins.{category}.{scope}");
            if scope != "_global" && !names.contains(scope) {
                err(
                    scope_path.clone(),
                    format!(
                        "no upstream named `{scope}` (scopes are `_global` or an upstream name)"
                    ),
                );
            }
            for (j, entry) in entries.iter().enumerate() {
                if known.contains(&entry.handler.as_str()) {
                    continue;
                }
                let path = format!("{scope_path}[{j}].handler");
                let other = [
                    ("middleware", MIDDLEWARE_HANDLERS),
                    ("security", SECURITY_HANDLERS),
                    ("auditing", AUDITING_HANDLERS),
                ]
                .into_iter()
                .find(|(_, list)| list.contains(&entry.handler.as_str()));
                let message = match (other, closest(&entry.handler, known)) {
                    (Some((cat, _)), _) => {
                        format!(
                            "`{}` is a {cat} plugin, not a {category} plugin",
                            entry.handler
                        )
                    }
                    (None, Some(near)) => {
                        format!(
                            "unknown {category} handler `{}`; did you mean `{near}`?",
                            entry.handler
                        )
                    }
                    (None, None) => format!(
                        "unknown {category} handler `{}`; known: {}",
                        entry.handler,
                        known.join(", ")
                    ),
                };
                err(path, message);
            }
        }
    }

    let logging = &file.logging;
    if logging.handlers.contains(&LogHandler::File) && logging.file_path.is_none() {
        err(
            "logging.file_path".into(),
            "the `file` log handler needs `file_path`".into(),
        );
    }
    // `json` is Gatekit's one-object-per-line format; anything else is a Python format
    // string, which Gatekit does not interpret.
    let python_format = logging
        .format
        .as_deref()
        .is_some_and(|f| f.trim() != "json");
    if python_format {
        warn(
            "logging.format",
            "Python logging format strings are not interpreted; Gatekit writes its own text lines (or `json`)"
                .into(),
        );
    }
    if logging.date_format.is_some() {
        warn(
            "logging.date_format",
            "not interpreted: Gatekit's log lines carry RFC 3339 UTC timestamps".into(),
        );
    }

    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(ConfigErrors(errors))
    }
}
