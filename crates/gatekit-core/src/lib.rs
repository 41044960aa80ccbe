//! Gatekit's canonical audit event model.
//!
//! Job: define the one event that every part of Gatekit records and that every SIEM
//! formatter renders ([`AuditEvent`]), its identifiers ([`EventId`]), its clock-free
//! timestamp type ([`Timestamp`]) and a small [`EventFactory`] the gateway uses to stamp
//! events with identity, sequence and time.
//!
//! Invariants:
//! - Pure data. No I/O, no async runtime; the only clock reads are in
//!   [`Timestamp::now`], [`EventId::new_v7`] and [`EventFactory::event`], which the
//!   gateway calls when an event is born. Formatters never read the clock.
//! - The JSON form (serde) uses exactly the field names of the requirements' "Core Event
//!   Structure" (`timestamp`, `event_type`, `severity`, `source`, `version`,
//!   `correlation_id`, `session_id`, `client_info`, `mcp_data`, `security_decision`,
//!   `upstream_server`), plus the additions of docs/reference/targets.md §2.
//! - `event_id` is created once and never changes, so receivers can de-duplicate
//!   re-sent events (delivery is at-least-once).

pub mod chain;
mod event;
mod factory;
mod time;

pub use event::{
    AuditEvent, ClientInfo, ErrorDetails, EventId, EventIdError, EventType, HashChain, McpData,
    SecurityDecision, Severity, UnknownName, UpstreamServer, EVENT_VERSION, SCHEMA_VERSION, SOURCE,
};
pub use factory::EventFactory;
pub use time::{Civil, Timestamp, TimestampParseError};
