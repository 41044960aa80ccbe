//! Command-line interface.
//!
//! `gatekit run --config FILE` is what an MCP client launches. `gatekit-gateway --config FILE`
//! is the same thing under Python Gatekit's name and flags (`-v`, `--validate-only`,
//! `--version`), so existing client configurations keep working.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::start;

/// Gatekit: an MCP security gateway with an audit trail for your SIEM.
#[derive(Debug, Parser)]
#[command(name = "gatekit", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway on stdin/stdout (what an MCP client launches).
    Run {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Debug logging on stderr.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Check a configuration file; print every problem found.
    Check {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Run a scripted MCP session through the gateway against the bundled example server.
    Demo {
        /// Debug logging from the gateway on stderr.
        #[arg(short, long)]
        verbose: bool,
        /// Directory for the demo's configuration and audit trail (default: a new directory
        /// under the system's temporary directory, kept for inspection).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the host agent: deliver the SIEM backlog of every gateway process on this host,
    /// serve /metrics, /health and /ready (siem.agent.listen); SIGHUP reloads the `siem`
    /// section, SIGTERM flushes and stops.
    Agent {
        /// Configuration file (YAML), the same the gateways use.
        #[arg(short, long)]
        config: PathBuf,
        /// Debug logging.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run the bundled example MCP server on stdin/stdout.
    ExampleServer,
    /// SIEM tools.
    Siem {
        #[command(subcommand)]
        command: SiemCommand,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of a JSONL audit trail or of a SIEM stream received as JSON lines
    /// (files in order, oldest rotated file first); lists every changed, removed, reordered or
    /// duplicated record.
    Verify {
        /// The files, oldest first.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum SiemCommand {
    /// Print sample events (one of each event type, plus a hostile one) in a SIEM format, so
    /// parsers can be built and tested before any traffic flows.
    Sample {
        /// cef, leef, leef2, json, hec, sentinel, syslog5424, syslog3164, syslog (key=value) or syslog3164kv.
        #[arg(short, long)]
        format: String,
    },
    /// Show per destination and per gateway process the backlog, oldest event age, breaker
    /// state, last error and last success (from the status files in the spool directory;
    /// works with or without the agent).
    Status {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send one test event to every enabled SIEM platform and report the result of each.
    Test {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Push synthetic events through the configured SIEM pipelines and report throughput,
    /// delivery latency, CPU and memory.
    Load {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Number of events.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Offered events per second (0: as fast as the pipeline takes them).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
}

/// Entry point of `gatekit`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config, verbose } => start::run_gateway(&config, verbose),
        Command::Check { config } => start::check(&config),
        Command::Agent { config, verbose } => crate::agent::run(&config, verbose),
        Command::Demo { verbose, dir } => crate::demo::run(verbose, dir),
        Command::ExampleServer => {
            crate::example_server::serve_stdio();
            ExitCode::SUCCESS
        }
        Command::Audit {
            command: AuditCommand::Verify { files },
        } => crate::audit_cmd::verify(&files),
        Command::Siem { command } => match command {
            SiemCommand::Sample { format } => siem_sample(&format),
            SiemCommand::Test { config } => crate::siem_cmd::test(&config),
            SiemCommand::Status { config, json } => crate::siem_status::run(&config, json),
            SiemCommand::Load {
                config,
                events,
                rate,
            } => crate::siem_cmd::load(&config, events, rate),
        },
    }
}

/// Python Gatekit's gateway flags.
#[derive(Debug, Parser)]
#[command(
    name = "gatekit-gateway",
    version,
    about = "Gatekit MCP gateway (Python Gatekit compatible command line)"
)]
struct PythonCompat {
    /// Configuration file (YAML).
    #[arg(long)]
    config: PathBuf,
    /// Debug logging.
    #[arg(short, long)]
    verbose: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    validate_only: bool,
}

/// Entry point of `gatekit-gateway`.
pub fn main_python_compat() -> ExitCode {
    let args = PythonCompat::parse();
    if args.validate_only {
        start::check(&args.config)
    } else {
        start::run_gateway(&args.config, args.verbose)
    }
}

fn siem_sample(format: &str) -> ExitCode {
    use std::io::Write;
    let rendered = format
        .parse::<gatekit_format::FormatKind>()
        .and_then(gatekit_format::render_samples);
    match rendered {
        Ok(bytes) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
