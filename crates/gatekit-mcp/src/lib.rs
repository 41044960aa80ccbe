//! Gatekit's MCP gateway core.
//!
//! * [`framing`]: bounded newline-delimited frames (MCP stdio transport).
//! * [`jsonrpc`]: the JSON-RPC 2.0 envelope, parsed just enough to route.
//! * [`upstream`]: one supervised child process per upstream server.
//! * [`gateway`]: the router between one client and many upstreams: handshake, namespacing,
//!   aggregation, id remapping, cancellation, server-to-client requests.
//! * [`audit`]: what the gateway tells the audit trail; [`audit_event`]: the one canonical
//!   event per record; [`audit_fanout`]: the sinks as one; [`audit_context`]: the user and the upstreams' command lines.
//! * [`hooks`]: where plugins inspect, modify or refuse traffic; [`list_kind`]: the list methods.
//! * [`client`]: the client side over stdin/stdout.

pub mod audit;
pub mod audit_context;
pub mod audit_event;
pub mod audit_fanout;
pub mod client;
pub mod framing;
pub mod gateway;
pub mod handshake;
pub mod hooks;
pub mod jsonrpc;
pub mod list_kind;
pub mod namespace;
pub mod upstream;
