//! What every audit event of this process says about who and what, beyond the record itself:
//! the user the gateway acts for and the command line of each upstream server, with secrets in
//! its arguments redacted before it is ever stored.
//!
//! The user comes from `GATEKIT_USER` when set (for a service account or a wrapper that knows
//! the human behind it), else the operating-system user (`USER`, `LOGNAME`, else the numeric
//! uid). MCP's `initialize` carries no user, so there is no client-provided source.

use std::collections::HashMap;

/// Shown instead of a secret in a command line.
pub const REDACTED: &str = "[REDACTED]";

/// Who and what, for every event.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    /// `client_info.user`.
    pub user: Option<String>,
    /// Upstream name → its command line, secrets redacted (`upstream_server.command`).
    pub commands: HashMap<String, String>,
}

impl AuditContext {
    /// The user of this process: `GATEKIT_USER`, else `USER`, else `LOGNAME`, else the uid.
    pub fn process_user() -> Option<String> {
        ["GATEKIT_USER", "USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
            .or_else(|| {
                std::fs::read_to_string("/proc/self/status")
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("Uid:"))
                            .and_then(|v| {
                                v.split_whitespace().next().map(|uid| format!("uid:{uid}"))
                            })
                    })
            })
    }
}

/// Whether a flag or variable name says its value is a credential: one of its words (split on
/// `-` and `_`) names one (`--token`, `GITHUB_TOKEN`, `--api-key`, `SSH_KEY`), while
/// `--keyboard` does not.
fn names_a_secret(name: &str) -> bool {
    const WORDS: [&str; 12] = [
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "apikey",
        "key",
        "credential",
        "credentials",
        "cookie",
        "auth",
        "authorization",
    ];
    name.trim_start_matches('-')
        .split(['-', '_'])
        .any(|w| WORDS.contains(&w.to_ascii_lowercase().as_str()))
}

/// Whether a value looks like a credential by its shape (cloud keys, tokens, JWTs).
fn looks_secret(value: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "AKIA",
        "ASIA",
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "xox",
        "sk-",
        "glpat-",
    ];
    let jwt = value.starts_with("eyJ") && value.matches('.').count() == 2;
    jwt || PREFIXES
        .iter()
        .any(|p| value.starts_with(p) && value.len() >= p.len() + 16)
}

/// A URL's password (`scheme://user:password@host`) replaced.
fn redact_userinfo(arg: &str) -> Option<String> {
    let (scheme, rest) = arg.split_once("://")?;
    let (userinfo, host) = rest.split_once('@')?;
    let (user, _) = userinfo.split_once(':')?;
    Some(format!("{scheme}://{user}:{REDACTED}@{host}"))
}

/// `program args...` as one line for the audit trail, with every argument that is or carries
/// a credential replaced by [`REDACTED`]: the value after a flag named like a secret
/// (`--token X`), the value of `--token=X` and `TOKEN=X`, values shaped like keys or tokens,
/// and passwords in URLs.
pub fn display_command(program: &str, args: &[String]) -> String {
    let mut out = vec![program.to_string()];
    let mut hide_next = false;
    for arg in args {
        if hide_next {
            out.push(REDACTED.to_string());
            hide_next = false;
            continue;
        }
        if let Some((name, value)) = arg.split_once('=') {
            if names_a_secret(name) || looks_secret(value) {
                out.push(format!("{name}={REDACTED}"));
                continue;
            }
        }
        if arg.starts_with('-') && !arg.contains('=') && names_a_secret(arg) {
            out.push(arg.clone());
            hide_next = true;
            continue;
        }
        if looks_secret(arg) {
            out.push(REDACTED.to_string());
            continue;
        }
        out.push(redact_userinfo(arg).unwrap_or_else(|| arg.clone()));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> String {
        display_command(
            "server",
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn credentials_in_command_lines_are_redacted() {
        assert_eq!(
            cmd(&["--token", "abc123", "/srv"]),
            "server --token [REDACTED] /srv"
        );
        assert_eq!(cmd(&["--api-key=zzz"]), "server --api-key=[REDACTED]");
        assert_eq!(cmd(&["GITHUB_TOKEN=x"]), "server GITHUB_TOKEN=[REDACTED]");
        assert_eq!(cmd(&["AKIAIOSFODNN7EXAMPLE1234"]), "server [REDACTED]");
        assert_eq!(
            cmd(&["postgres://app:hunter2@db:5432/x"]),
            "server postgres://app:[REDACTED]@db:5432/x"
        );
        assert_eq!(
            cmd(&["-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]),
            "server -y @modelcontextprotocol/server-filesystem /srv/data"
        );
        assert_eq!(cmd(&["--keyboard", "us"]), "server --keyboard us");
    }
}
