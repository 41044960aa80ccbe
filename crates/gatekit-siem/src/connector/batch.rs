//! How the stream connectors put a batch on the wire.

/// The batch's records back to back, as one buffer: how every stream transport (file, TCP,
/// TLS, HEC, the QRadar HTTP Receiver) puts a batch on the wire in a single write.
pub fn concatenated(batch: &[gatekit_delivery::Record]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(batch.iter().map(|r| r.payload.len()).sum());
    for record in batch {
        buf.extend_from_slice(&record.payload);
    }
    buf
}
