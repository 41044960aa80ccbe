//! `gatekit-content [--check] [ROOT]`: writes the SIEM content under `ROOT/integrations`
//! (default: the current directory, which should be the repository root), or with
//! `--check` lists the files that differ and exits 1.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(".");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: gatekit-content [--check] [REPOSITORY_ROOT]");
                return ExitCode::SUCCESS;
            }
            other => root = PathBuf::from(other),
        }
    }
    if check {
        let stale = gatekit_content::stale(&root);
        for p in &stale {
            println!("stale: {p}");
        }
        return if stale.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match gatekit_content::write(&root) {
        Ok(n) => {
            println!(
                "wrote {n} files under {}",
                root.join("integrations").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
