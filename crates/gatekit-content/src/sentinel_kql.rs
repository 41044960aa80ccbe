//! The names the Sentinel solution's pieces share: the data connector's id and the shape of a
//! shipped KQL query (used by the generator and by the Kusto check).

/// Data connector id.
pub const CONNECTOR_ID: &str = "GatekitAuditLogsIngestion";

/// A KQL text the solution ships, with the schema it runs against.
#[derive(Debug, Clone)]
pub struct Query {
    /// Where it is used.
    pub label: String,
    /// The schema (key of [`crate::sentinel::schemas`]): `gatekit`, `source` (DCR transform) or `csl`.
    pub schema: &'static str,
    /// The KQL.
    pub kql: String,
}
