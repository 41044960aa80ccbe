//! The `gatekit` binary's library: command line, start-up, and the bundled example server.
//!
//! * [`cli`]: argument parsing for `gatekit` and the Python-compatible `gatekit-gateway`.
//! * [`start`]: configuration → gateway settings → running gateway, and start-up failures
//!   reported to the MCP client.
//! * [`gateway_config`]: configuration → gateway settings, plugin availability, audit context.
//! * [`logs`]: Gatekit's own diagnostics (stderr or a file; never stdout); [`log_file`]: the
//!   log file's size-based rotation.
//! * [`example_server`]: a small MCP server used by the demo, the tests and the benchmarks.
//! * [`demo`]: the README's first command: a scripted MCP session through the gateway.
//! * [`siem_cmd`], [`audit_cmd`]: the `siem` tools and `audit verify`.
//! * [`agent`]: `gatekit agent`, the host service that delivers for every gateway process
//!   and serves `/metrics`, `/health` and `/ready`; [`siem_status`]: `gatekit siem status`.

pub mod agent;
pub mod audit_cmd;
pub mod cli;
pub mod demo;
pub mod example_server;
pub mod gateway_config;
pub mod log_file;
pub mod logs;
pub mod reload;
pub mod replay_cmd;
pub mod siem_cmd;
pub mod siem_status;
pub mod start;
