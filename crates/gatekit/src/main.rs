//! The `gatekit` command.

fn main() -> std::process::ExitCode {
    gatekit::cli::main()
}
