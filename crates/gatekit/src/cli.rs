//! Command-line interface.
//!
//! `gatekit run --config FILE` is what an MCP client launches. `gatekit-gateway --config FILE`
//! is the same thing under Python Gatekit's name and flags (`-v`, `--validate-only`,
//! `--version`), so existing client configurations keep working.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Print shell completions or the man page, generated from this command line's definition.
    Generate {
        #[command(subcommand)]
        what: GenerateCommand,
    },
}

#[derive(Debug, Subcommand)]
enum GenerateCommand {
    /// Shell completions on stdout (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The man page gatekit(1) in roff on stdout; with --dir, gatekit.1 and one page per
    /// subcommand (gatekit-run.1, gatekit-siem-test.1, ...) written into DIR.
    Man {
        /// Write every page into this directory instead.
        #[arg(long)]
        dir: Option<PathBuf>,
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
        /// cef, leef (LEEF 2.0, as `format: leef` sends), leef2, leef1, json, hec, sentinel,
        /// syslog5424, syslog3164, syslog (key=value) or syslog3164kv.
        #[arg(
            short,
            long,
            required_unless_present = "config",
            conflicts_with = "config"
        )]
        format: Option<String>,
        /// Render exactly as each destination of this configuration would send (headers on
        /// stderr, the bytes on stdout).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// With --config: only this platform (splunk, qradar or azure_sentinel).
        #[arg(long, requires = "config")]
        platform: Option<String>,
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
    /// Send one test event to every enabled SIEM platform; report the result of each and what
    /// it can and cannot confirm for that transport.
    Test {
        /// Configuration file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Push synthetic events through the configured SIEM pipelines and report throughput,
    /// delivery latency, CPU and memory. Only to local destinations or a configuration marked
    /// `siem.test_target: true`, unless --yes; fails when any event is dropped or
    /// dead-lettered.
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
        /// Send even to destinations that are not on this machine and not marked
        /// `siem.test_target: true`.
        #[arg(long)]
        yes: bool,
    },
    /// Send again what a dead-letter file, a disk buffer or spool directory, or a JSONL audit
    /// trail (audit_jsonl lines or canonical events) holds, to the configured SIEM
    /// destinations. Event ids are kept, so a SIEM can de-duplicate. Inputs are read
    /// completely first and never modified; a line that cannot be read refuses the replay
    /// (file and line are named). Progress on stderr, the final count on stdout; exit status
    /// 1 unless every record was delivered.
    #[command(verbatim_doc_comment)]
    Replay {
        /// Configuration file (YAML) with the destinations.
        #[arg(short, long)]
        config: PathBuf,
        /// Only this platform (splunk, qradar, azure_sentinel); records rendered for another
        /// platform are skipped and counted. Required for a disk buffer outside every
        /// configured disk.path.
        #[arg(long)]
        destination: Option<String>,
        /// Where records that still cannot be delivered go (default: the destination's
        /// dead-letter file; never one of the inputs).
        #[arg(long)]
        dead_letter: Option<PathBuf>,
        /// Also replay the records a buffer or spool already acknowledged.
        #[arg(long)]
        include_acknowledged: bool,
        /// Skip damaged regions of a buffer or spool (reported, exit status 1) instead of
        /// refusing it.
        #[arg(long)]
        skip_damaged: bool,
        /// Dead-letter files, disk buffer or spool directories, JSONL audit trails.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
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
        Command::Generate { what } => generate(what),
        Command::Siem { command } => match command {
            SiemCommand::Sample {
                format,
                config,
                platform,
            } => match (format, config) {
                (_, Some(config)) => crate::siem_cmd::sample_config(&config, platform.as_deref()),
                (Some(format), None) => crate::siem_cmd::sample_format(&format),
                (None, None) => {
                    eprintln!("error: give --format NAME or --config FILE");
                    ExitCode::FAILURE
                }
            },
            SiemCommand::Test { config } => crate::siem_cmd::test(&config),
            SiemCommand::Status { config, json } => crate::siem_status::run(&config, json),
            SiemCommand::Load {
                config,
                events,
                rate,
                yes,
            } => crate::siem_cmd::load(&config, events, rate, yes),
            SiemCommand::Replay {
                config,
                destination,
                dead_letter,
                include_acknowledged,
                skip_damaged,
                inputs,
            } => crate::replay_cmd::run(crate::replay_cmd::Args {
                config,
                inputs,
                destination,
                dead_letter,
                include_acknowledged,
                skip_damaged,
            }),
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

/// `gatekit generate ...`: written from the same clap definition that parses the arguments, so
/// completions and the man page cannot drift from the binary.
fn generate(what: GenerateCommand) -> ExitCode {
    use std::io::Write;
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    let written = match what {
        GenerateCommand::Completions { shell } => {
            clap_complete::generate(shell, &mut cmd, "gatekit", &mut out);
            Ok(())
        }
        GenerateCommand::Man { dir: None } => clap_mangen::Man::new(cmd).render(&mut out),
        GenerateCommand::Man { dir: Some(dir) } => clap_mangen::generate_to(cmd, dir),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
