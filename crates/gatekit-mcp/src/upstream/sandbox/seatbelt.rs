//! The macOS launcher: a Seatbelt profile for `/usr/bin/sandbox-exec`.
//!
//! The profile expresses the same [`Plan`] as bubblewrap's mounts, as rules: in the Seatbelt
//! profile language the *last* matching rule wins, so the profile goes from broad to narrow
//! (allow everything; deny all writes; allow writes to the temporary directories; deny reads
//! of the hidden directories; allow the read-only and read-write grants; deny the credential
//! stores; deny the network when it is off).
//!
//! Honest status: the profile is generated and its text is unit-tested here; it has not been
//! run on a Mac by this project. `sandbox-exec` is deprecated by Apple but still shipped.

use std::path::{Path, PathBuf};

use super::Plan;
use crate::upstream::ProcessSpec;

/// Where macOS ships the launcher.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// Checks that `sandbox-exec` exists.
pub fn locate() -> Result<PathBuf, String> {
    let path = PathBuf::from(SANDBOX_EXEC);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "this server is configured with `sandbox: {{enabled: true}}` but {SANDBOX_EXEC} \
             is missing; Gatekit will not run the server without its sandbox"
        ))
    }
}

/// The `sandbox-exec -p PROFILE program args...` command for `process` under `plan`.
pub fn wrap(launcher: &Path, plan: &Plan, process: &ProcessSpec) -> ProcessSpec {
    let mut args = vec!["-p".to_string(), profile(plan)];
    args.push(process.program.clone());
    args.extend(process.args.iter().cloned());
    ProcessSpec {
        program: launcher.display().to_string(),
        args,
        env: process.env.clone(),
        cwd: process.cwd.clone(),
    }
}

/// The profile text for `plan`.
pub fn profile(plan: &Plan) -> String {
    let mut p = String::from("(version 1)\n(allow default)\n(deny file-write*)\n");
    // Temporary directories: /tmp is /private/tmp, and $TMPDIR lives under /private/var/folders.
    p.push_str(
        "(allow file-write* (subpath \"/private/tmp\") (subpath \"/private/var/folders\") \
         (literal \"/dev/null\") (literal \"/dev/tty\") (regex #\"^/dev/fd/\"))\n",
    );
    for hidden in plan
        .hidden
        .iter()
        .filter(|h| h.as_path() != Path::new("/tmp"))
    {
        p.push_str(&format!("(deny file-read* (subpath {}))\n", quote(hidden)));
    }
    for path in &plan.read_only {
        p.push_str(&format!("(allow file-read* {})\n", filter(path)));
    }
    for path in &plan.writable {
        p.push_str(&format!(
            "(allow file-read* file-write* {})\n",
            filter(path)
        ));
    }
    for store in &plan.denied {
        p.push_str(&format!(
            "(deny file-read* file-write* (subpath {}))\n",
            quote(store)
        ));
    }
    if !plan.network {
        p.push_str("(deny network*)\n(allow network* (remote unix-socket))\n");
    }
    p
}

/// `subpath` for directories, `literal` for files.
fn filter(path: &Path) -> String {
    if path.is_file() {
        format!("(literal {})", quote(path))
    } else {
        format!("(subpath {})", quote(path))
    }
}

/// A profile string literal: backslash and double quote escaped, so a path cannot end the
/// string and add rules of its own.
fn quote(path: &Path) -> String {
    let mut out = String::from("\"");
    for c in path.display().to_string().chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(network: bool) -> Plan {
        Plan {
            system: vec![],
            hidden: vec!["/tmp".into(), "/Users/u".into()],
            read_only: vec!["/Users/u/.nvm/versions/node/v22".into()],
            writable: vec!["/Users/u/.npm".into(), "/srv/data".into()],
            masks: vec![],
            denied: vec!["/Users/u/.ssh".into(), "/Users/u/.git-credentials".into()],
            missing: vec![],
            cwd: "/srv/data".into(),
            network,
        }
    }

    #[test]
    fn profile_goes_from_broad_to_narrow() {
        let text = profile(&plan(false));
        let expected = "(version 1)\n(allow default)\n(deny file-write*)\n\
(allow file-write* (subpath \"/private/tmp\") (subpath \"/private/var/folders\") (literal \"/dev/null\") (literal \"/dev/tty\") (regex #\"^/dev/fd/\"))\n\
(deny file-read* (subpath \"/Users/u\"))\n\
(allow file-read* (subpath \"/Users/u/.nvm/versions/node/v22\"))\n\
(allow file-read* file-write* (subpath \"/Users/u/.npm\"))\n\
(allow file-read* file-write* (subpath \"/srv/data\"))\n\
(deny file-read* file-write* (subpath \"/Users/u/.ssh\"))\n\
(deny file-read* file-write* (subpath \"/Users/u/.git-credentials\"))\n\
(deny network*)\n(allow network* (remote unix-socket))\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn network_rules_only_when_network_is_off() {
        assert!(!profile(&plan(true)).contains("network"));
    }

    #[test]
    fn quotes_cannot_escape_the_string() {
        assert_eq!(quote(Path::new("/a\"b\\c")), "\"/a\\\"b\\\\c\"");
    }

    #[test]
    fn wrap_passes_the_profile_then_the_command() {
        let process = ProcessSpec {
            program: "npx".into(),
            args: vec!["-y".into(), "srv".into()],
            env: vec![],
            cwd: None,
        };
        let wrapped = wrap(Path::new(SANDBOX_EXEC), &plan(true), &process);
        assert_eq!(wrapped.program, SANDBOX_EXEC);
        assert_eq!(wrapped.args[0], "-p");
        assert_eq!(&wrapped.args[2..], ["npx", "-y", "srv"]);
    }
}
