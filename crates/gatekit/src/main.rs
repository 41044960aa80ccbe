//! The `gatekit` command.

/// mimalloc rather than the C library's malloc: see docs/decisions/0646-mimalloc.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gatekit::cli::main()
}
