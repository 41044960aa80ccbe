//! The detections, written once for both SIEMs that run scheduled searches: each carries
//! its KQL (Sentinel analytics rule on the Gatekit table) and its SPL (Splunk saved search
//! on the add-on's field names), plus the hunting queries.
//!
//! Job: keep the Sentinel rules and the Splunk saved searches in step. Invariants: every
//! KQL query reads only `GatekitAudit_CL` columns (checked by the Kusto language service in
//! `tests/sentinel_kql.rs`); every SPL query uses only fields the add-on defines; ids are
//! fixed GUIDs (Sentinel keys rule updates on them).

/// A Sentinel entity mapping: entity type and (identifier, column) pairs.
pub type EntityMapping = (&'static str, &'static [(&'static str, &'static str)]);

/// One scheduled detection.
#[derive(Debug, Clone, Copy)]
pub struct Detection {
    /// File stem (`Gatekit_...`) and Splunk stanza suffix.
    pub slug: &'static str,
    /// Fixed GUID of the Sentinel rule.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it finds and what to do.
    pub description: &'static str,
    /// Sentinel severity: Informational, Low, Medium or High.
    pub severity: &'static str,
    /// MITRE ATT&CK tactics (Sentinel spelling).
    pub tactics: &'static [&'static str],
    /// MITRE ATT&CK technique ids.
    pub techniques: &'static [&'static str],
    /// Sentinel `queryFrequency` and `queryPeriod` (ISO-8601-like short form: 1h, 14d).
    pub frequency: &'static str,
    /// See `frequency`.
    pub period: &'static str,
    /// The KQL.
    pub kql: &'static str,
    /// Entity mappings on the KQL's output columns.
    pub entities: &'static [EntityMapping],
    /// The SPL.
    pub spl: &'static str,
    /// Splunk cron schedule.
    pub cron: &'static str,
    /// Splunk dispatch window (earliest; latest is now).
    pub earliest: &'static str,
}

const HOST: EntityMapping = ("Host", &[("HostName", "GatewayHost")]);
const ACCOUNT: EntityMapping = ("Account", &[("Name", "ClientUser")]);
const TOOL: EntityMapping = ("CloudApplication", &[("Name", "ToolName")]);

/// The analytics rules / saved searches.
pub const DETECTIONS: &[Detection] = &[
    Detection {
        slug: "PromptInjectionBlocked",
        id: "5b0f5c1e-7a3d-4c1b-9e52-1f7d0c6a4e01",
        name: "Gatekit - Prompt injection blocked",
        description: "A prompt injection defence plugin denied an MCP message. The client, session and tool show where the injected text came from; review the upstream server that returned it.",
        severity: "High",
        tactics: &["InitialAccess", "Execution"],
        techniques: &["T1190", "T1059"],
        frequency: "5m",
        period: "5m",
        kql: r#"GatekitAudit_CL
| where Action == "deny" and Plugin contains "prompt_injection"
| project TimeGenerated, GatewayHost, SessionId, ClientUser, ClientId, ToolName, NamespacedToolName, Plugin, Reason, RiskScore, UpstreamName, EventId"#,
        entities: &[HOST, ACCOUNT, TOOL],
        spl: r#"eventtype=gatekit_decision_denied plugin="*prompt_injection*"
| table _time gateway_host session_id user client_id tool namespaced_tool plugin reason risk_score upstream event_id"#,
        cron: "*/5 * * * *",
        earliest: "-5m@m",
    },
    Detection {
        slug: "SecretOrPiiInResponse",
        id: "5b0f5c1e-7a3d-4c1b-9e52-1f7d0c6a4e02",
        name: "Gatekit - Secret or personal data in an MCP message",
        description: "The secrets or PII filter acted on an MCP message (a denial, or a response that carried such data). A tool may be leaking credentials or personal data to the model.",
        severity: "Medium",
        tactics: &["CredentialAccess", "Exfiltration"],
        techniques: &["T1552", "T1567"],
        frequency: "15m",
        period: "15m",
        kql: r#"GatekitAudit_CL
| where Plugin contains "secret" or Plugin contains "pii"
| where Action == "deny" or EventType == "mcp_response"
| project TimeGenerated, GatewayHost, SessionId, ClientUser, ToolName, UpstreamName, Plugin, Action, Reason, RiskScore, EventId"#,
        entities: &[HOST, ACCOUNT, TOOL],
        spl: r#"eventtype=gatekit (plugin="*secret*" OR plugin="*pii*") (decision=deny OR event_type=mcp_response)
| table _time gateway_host session_id user tool upstream plugin decision reason risk_score event_id"#,
        cron: "*/15 * * * *",
        earliest: "-15m@m",
    },
    Detection {
        slug: "DeniedToolBurst",
        id: "5b0f5c1e-7a3d-4c1b-9e52-1f7d0c6a4e03",
        name: "Gatekit - Burst of denied tool calls in one session",
        description: "Five or more denied MCP calls in one session within ten minutes: an agent probing for tools or paths it is not allowed to use.",
        severity: "Medium",
        tactics: &["Discovery", "Execution"],
        techniques: &["T1083", "T1059"],
        frequency: "10m",
        period: "10m",
        kql: r#"let threshold = 5;
GatekitAudit_CL
| where Action == "deny"
| summarize Denied = count(), Tools = make_set(ToolName, 20), Plugins = make_set(Plugin, 10), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated) by SessionId, GatewayHost, ClientUser
| where Denied >= threshold"#,
        entities: &[HOST, ACCOUNT],
        spl: r#"eventtype=gatekit_decision_denied
| stats count AS denied values(tool) AS tools values(plugin) AS plugins min(_time) AS first_seen max(_time) AS last_seen BY session_id gateway_host user
| where denied >= 5"#,
        cron: "*/10 * * * *",
        earliest: "-10m@m",
    },
    Detection {
        slug: "NewTool",
        id: "5b0f5c1e-7a3d-4c1b-9e52-1f7d0c6a4e04",
        name: "Gatekit - Tool never seen before",
        description: "An upstream MCP server exposed a tool that was not called in the previous 14 days: a new or renamed tool, or a server that changed what it offers.",
        severity: "Low",
        tactics: &["Execution", "Persistence"],
        techniques: &["T1059"],
        frequency: "1h",
        period: "14d",
        kql: r#"let recent = 1h;
let known = GatekitAudit_CL
| where TimeGenerated between (ago(14d) .. ago(recent))
| where isnotempty(ToolName)
| distinct UpstreamName, ToolName;
GatekitAudit_CL
| where TimeGenerated > ago(recent)
| where isnotempty(ToolName)
| join kind=leftanti known on UpstreamName, ToolName
| summarize FirstSeen = min(TimeGenerated), Calls = count(), Sessions = dcount(SessionId), Users = make_set(ClientUser, 10) by UpstreamName, ToolName, GatewayHost"#,
        entities: &[HOST, TOOL],
        spl: r#"eventtype=gatekit tool=*
| stats min(_time) AS first_seen count AS calls dc(session_id) AS sessions values(user) AS users BY upstream tool gateway_host
| where first_seen >= relative_time(now(), "-1h")"#,
        cron: "7 * * * *",
        earliest: "-14d@h",
    },
    Detection {
        slug: "SiemAuthenticationFailure",
        id: "5b0f5c1e-7a3d-4c1b-9e52-1f7d0c6a4e05",
        name: "Gatekit - SIEM authentication failures",
        description: "A Gatekit SIEM transport was refused (bad token, expired secret, rejected client certificate). Audit events for that destination are buffered or dropped until the credential is fixed.",
        severity: "Medium",
        tactics: &["DefenseEvasion"],
        techniques: &["T1562"],
        frequency: "15m",
        period: "15m",
        kql: r#"GatekitAudit_CL
| where EventType == "system_event" and Message has "authentication failure"
| summarize Failures = count(), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated), Messages = make_set(Message, 5) by GatewayHost"#,
        entities: &[HOST],
        spl: r#"eventtype=gatekit_system "authentication failure"
| stats count AS failures min(_time) AS first_seen max(_time) AS last_seen values(message) AS messages BY gateway_host"#,
        cron: "*/15 * * * *",
        earliest: "-15m@m",
    },
    Detection {
        slug: "GatewaySilent",
        id: "5b0f5c1e-7a3d-4c1b-9e52-1f7d0c6a4e06",
        name: "Gatekit - Gateway stopped or silent",
        description: "A gateway that sent events in the last day has sent nothing for 30 minutes, or its last event says it stopped. The audit trail has a gap: check the gateway and its SIEM delivery.",
        severity: "Medium",
        tactics: &["DefenseEvasion"],
        techniques: &["T1562"],
        frequency: "15m",
        period: "1d",
        kql: r#"GatekitAudit_CL
| where TimeGenerated > ago(1d)
| summarize arg_max(TimeGenerated, EventType, Message) by GatewayHost
| extend SilentFor = now() - TimeGenerated
| where SilentFor > 30m or (EventType == "system_event" and Message has "stopped")
| project GatewayHost, LastSeen = TimeGenerated, SilentFor, LastEventType = EventType, LastMessage = Message"#,
        entities: &[HOST],
        spl: r#"eventtype=gatekit
| stats max(_time) AS last_seen latest(event_type) AS last_event_type latest(message) AS last_message BY gateway_host
| eval silent_for = now() - last_seen
| where silent_for > 1800 OR (last_event_type="system_event" AND like(last_message, "%stopped%"))"#,
        cron: "*/15 * * * *",
        earliest: "-24h@h",
    },
];

/// A hunting query (Sentinel only).
#[derive(Debug, Clone, Copy)]
pub struct Hunting {
    /// File stem.
    pub slug: &'static str,
    /// Fixed GUID.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What to look for.
    pub description: &'static str,
    /// MITRE tactics.
    pub tactics: &'static [&'static str],
    /// The KQL.
    pub kql: &'static str,
}

/// The hunting queries.
pub const HUNTING: &[Hunting] = &[
    Hunting {
        slug: "RiskiestSessions",
        id: "8c2e6b1a-3f4d-4e7a-b0c9-2d5e8f1a6b01",
        name: "Gatekit - Riskiest sessions",
        description:
            "Sessions ranked by the highest and total risk score of their security decisions.",
        tactics: &["Execution"],
        kql: r#"GatekitAudit_CL
| where TimeGenerated > ago(7d) and isnotnull(RiskScore)
| summarize MaxRisk = max(RiskScore), TotalRisk = sum(RiskScore), Denied = countif(Action == "deny"), Tools = make_set(ToolName, 20) by SessionId, ClientUser, ClientId
| top 50 by MaxRisk desc"#,
    },
    Hunting {
        slug: "ParametersWithUrls",
        id: "8c2e6b1a-3f4d-4e7a-b0c9-2d5e8f1a6b02",
        name: "Gatekit - Tool calls whose arguments carry URLs",
        description:
            "Tool arguments that contain URLs, a common path for data leaving through a tool.",
        tactics: &["Exfiltration"],
        kql: r#"GatekitAudit_CL
| where TimeGenerated > ago(7d) and EventType == "mcp_request"
| extend Args = tostring(Parameters)
| where Args matches regex @"https?://"
| project TimeGenerated, GatewayHost, SessionId, ClientUser, ToolName, UpstreamName, Args"#,
    },
    Hunting {
        slug: "UpstreamErrors",
        id: "8c2e6b1a-3f4d-4e7a-b0c9-2d5e8f1a6b03",
        name: "Gatekit - Upstream servers with the most errors and slow calls",
        description: "Error counts and 95th percentile duration per upstream MCP server.",
        tactics: &["Impact"],
        kql: r#"GatekitAudit_CL
| where TimeGenerated > ago(7d) and isnotempty(UpstreamName)
| summarize Errors = countif(EventType == "error_event"), Calls = count(), P95DurationMs = percentile(DurationUs, 95) / 1000.0 by UpstreamName
| order by Errors desc"#,
    },
];
