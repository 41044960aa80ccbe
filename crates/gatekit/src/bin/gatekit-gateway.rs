//! `gatekit-gateway`: the command line of Python Gatekit's gateway, so MCP client configs that
//! launch `gatekit-gateway --config FILE` keep working unchanged.

/// mimalloc rather than the C library's malloc: see docs/decisions/0646-mimalloc.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gatekit::cli::main_python_compat()
}
