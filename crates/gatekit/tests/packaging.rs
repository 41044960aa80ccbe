//! Packaging (issue 15): shell completions and man pages come from the clap definition and
//! work in the real tools (bash's completion machinery, `man`); the systemd unit passes
//! `systemd-analyze verify` and its hardening keeps the exposure score low.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::process::Command;

use support::*;

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Completes `words` (the last one being typed) with the generated bash completion.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _gatekit gatekit '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    stdout(Command::new("bash").args(["--norc", "-c", &program]))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_offers_the_subcommands_and_their_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("gatekit.bash");
    std::fs::write(
        &script,
        stdout(Command::new(gatekit()).args(["generate", "completions", "bash"])),
    )
    .unwrap();
    let top = bash_complete(&script, &["gatekit", ""]);
    for sub in ["run", "check", "siem", "audit", "generate"] {
        assert!(top.iter().any(|w| w == sub), "{sub} not in {top:?}");
    }
    let siem = bash_complete(&script, &["gatekit", "siem", ""]);
    for sub in ["test", "load", "sample"] {
        assert!(siem.iter().any(|w| w == sub), "{sub} not in {siem:?}");
    }
    let load = bash_complete(&script, &["gatekit", "siem", "load", "--"]);
    assert!(load.iter().any(|w| w == "--yes"), "{load:?}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let text = stdout(Command::new(gatekit()).args(["generate", "completions", shell]));
        assert!(text.contains("siem") && text.contains("load"), "{shell}");
    }
}

#[test]
fn man_pages_render_with_man() {
    let page = stdout(Command::new(gatekit()).args(["generate", "man"]));
    assert!(page.contains(".TH gatekit 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    stdout(
        Command::new(gatekit())
            .args(["generate", "man", "--dir"])
            .arg(dir.path()),
    );
    for name in [
        "gatekit.1",
        "gatekit-run.1",
        "gatekit-siem-load.1",
        "gatekit-siem-sample.1",
    ] {
        assert!(dir.path().join(name).exists(), "{name}");
    }
    let rendered = stdout(
        Command::new("man")
            .args(["-l", "-E", "UTF-8"])
            .arg(dir.path().join("gatekit-siem-load.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100"),
    );
    assert!(
        rendered.contains("NAME") && rendered.contains("--yes") && rendered.contains("test_target"),
        "{rendered}"
    );
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let root = workspace_root();
    let unit =
        std::fs::read_to_string(root.join("packaging/systemd/gatekit-agent.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/gatekit agent --config /etc/gatekit/gatekit.yaml"));
    // Spool adoption reads /proc/<pid> of gateway processes owned by other users: hiding
    // them would make live gateways look dead and their spools adopted under them.
    assert!(
        !unit.lines().any(|l| l.trim() == "ProtectProc=invisible"),
        "ProtectProc=invisible hides other users' gateways"
    );
    // Verify against the binary built here (the installed path does not exist on this host).
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("gatekit-agent.service");
    std::fs::write(
        &local,
        unit.replace("/usr/bin/gatekit", &gatekit().display().to_string())
            .replace("Documentation=man:gatekit(1)\n", ""),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&local)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.trim().is_empty(), "{text}");
    let security = stdout(
        Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&local),
    );
    let score: f64 = security
        .lines()
        .find_map(|l| l.split("Overall exposure level for").nth(1))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{security}"));
    assert!(
        score <= 2.0,
        "exposure {score} (OK is below 2.0 on systemd's scale):\n{security}"
    );
}
