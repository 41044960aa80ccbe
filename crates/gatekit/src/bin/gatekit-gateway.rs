//! `gatekit-gateway`: the command line of Python Gatekit's gateway, so MCP client configs that
//! launch `gatekit-gateway --config FILE` keep working unchanged.

fn main() -> std::process::ExitCode {
    gatekit::cli::main_python_compat()
}
