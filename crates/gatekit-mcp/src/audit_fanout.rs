//! The audit fan-out the gateway holds: one canonical event per record, handed to every sink
//! (the audit files, the SIEM), so they all carry the same `event_id` and `sequence`.

use gatekit_core::EventFactory;

use crate::audit::{AuditRecord, AuditSink, SystemRecord, SystemSeverity};

/// Several sinks as one, and the one place events are made: a record becomes one canonical
/// event, which goes to each sink; the first critical failure is reported after every sink had
/// its chance to record.
#[derive(Debug)]
pub struct Fanout {
    factory: std::sync::Arc<EventFactory>,
    context: crate::audit_context::AuditContext,
    sinks: Vec<std::sync::Arc<dyn AuditSink>>,
}

impl Fanout {
    /// The sinks, with events stamped by `factory` (host, version, sequence).
    pub fn new(
        factory: std::sync::Arc<EventFactory>,
        sinks: Vec<std::sync::Arc<dyn AuditSink>>,
    ) -> Self {
        Fanout {
            factory,
            context: crate::audit_context::AuditContext::default(),
            sinks,
        }
    }

    /// Stamps every event with the process's user and the upstreams' command lines.
    pub fn with_context(mut self, context: crate::audit_context::AuditContext) -> Self {
        self.context = context;
        self
    }

    /// Whether every critical destination can record; the reason when not.
    pub fn check(&self) -> Result<(), String> {
        self.sinks.iter().try_for_each(|s| s.check())
    }

    /// Records `record` in every sink as one canonical event.
    pub fn record(&self, record: &AuditRecord<'_>) -> Result<(), String> {
        let event = std::sync::Arc::new(crate::audit_event::to_event_in(
            &self.factory,
            record,
            &self.context,
        ));
        let mut result = Ok(());
        for sink in &self.sinks {
            if let Err(e) = sink.record(record, &event) {
                result = result.and(Err(e));
            }
        }
        result
    }

    /// Whether request records should carry the request's params.
    pub fn wants_bodies(&self) -> bool {
        self.sinks.iter().any(|s| s.wants_bodies())
    }

    /// Whether response records should carry the result.
    pub fn wants_response_bodies(&self) -> bool {
        self.sinks.iter().any(|s| s.wants_response_bodies())
    }

    /// Records a system event in every sink as one canonical `system_event`.
    pub fn system(&self, record: &SystemRecord<'_>) -> Result<(), String> {
        let severity = match record.severity {
            SystemSeverity::Info => gatekit_core::Severity::Info,
            SystemSeverity::Error => gatekit_core::Severity::Error,
        };
        let event = std::sync::Arc::new(
            self.factory
                .event(gatekit_core::EventType::SystemEvent, severity)
                .with_message(record.message),
        );
        let mut result = Ok(());
        for sink in &self.sinks {
            if let Err(e) = sink.system(record, &event) {
                result = result.and(Err(e));
            }
        }
        result
    }
}
