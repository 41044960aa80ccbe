//! The Microsoft Sentinel solution: deployment template (custom table, data collection
//! endpoint, data collection rule, optional role assignment), the DCR-based data connector
//! definition and the CEF route into `CommonSecurityLog`.
//!
//! Job: turn [`gatekit_format::SENTINEL_COLUMNS`] into the table schema and the DCR stream
//! declaration (same names, types and order), and [`crate::schema::FIELDS`] into the CEF
//! column mapping. Analytics rules, hunting queries, the workbook and the playbook are in
//! `sentinel_content`. Invariants: every KQL text the solution ships is returned by
//! [`queries`], which the Kusto language service test checks against [`schemas`].

use serde_json::{json, Value};

use gatekit_format::{SENTINEL_COLUMNS, SENTINEL_STREAM, SENTINEL_TABLE};

use crate::schema::FIELDS;
pub use crate::sentinel_kql::{Query, CONNECTOR_ID};
use crate::text;
use crate::File;

/// Solution folder, in the layout of Microsoft's Azure-Sentinel `Solutions/<Name>`.
pub const ROOT: &str = "integrations/sentinel/Gatekit";
/// The DCR transform: keeps every declared column; stamps ingestion time when an event
/// arrives without one.
pub const TRANSFORM_KQL: &str = "source | extend TimeGenerated = coalesce(TimeGenerated, now())";
/// Role that lets a principal send to a DCR (Monitoring Metrics Publisher).
pub const METRICS_PUBLISHER_ROLE: &str = "3913510d-42f4-4e42-8a64-420c390055eb";

/// Name of the KQL parser function for Gatekit CEF in `CommonSecurityLog`.
pub const CEF_PARSER: &str = "GatekitCEF";

/// `CommonSecurityLog` column for each Gatekit CEF key (Sentinel's CEF mapping).
pub const CEF_TO_CSL: &[(&str, &str)] = &[
    ("rt", "ReceiptTime"),
    ("cat", "DeviceEventCategory"),
    ("act", "DeviceAction"),
    ("outcome", "EventOutcome"),
    ("reason", "Reason"),
    ("app", "ApplicationProtocol"),
    ("requestMethod", "RequestMethod"),
    ("requestClientApplication", "RequestClientApplication"),
    ("suser", "SourceUserName"),
    ("destinationServiceName", "DestinationServiceName"),
    ("dproc", "DestinationProcessName"),
    ("dvchost", "DeviceName"),
    ("deviceExternalId", "DeviceExternalID"),
    ("msg", "Message"),
    ("cs1", "DeviceCustomString1"),
    ("cs2", "DeviceCustomString2"),
    ("cs3", "DeviceCustomString3"),
    ("cs4", "DeviceCustomString4"),
    ("cs5", "DeviceCustomString5"),
    ("cs6", "DeviceCustomString6"),
    ("cn1", "DeviceCustomNumber1"),
    ("cn2", "FieldDeviceCustomNumber2"),
    ("cn3", "FieldDeviceCustomNumber3"),
    ("externalId", "ExternalID"),
    ("GatekitToolNs", "AdditionalExtensions"),
    ("GatekitErrorMessage", "AdditionalExtensions"),
    ("GatekitPrevHash", "AdditionalExtensions"),
    ("GatekitHash", "AdditionalExtensions"),
    ("GatekitTruncated", "AdditionalExtensions"),
];

/// The `CommonSecurityLog` columns the parser reads, with their types.
pub const CSL_COLUMNS: &[(&str, &str)] = &[
    ("TimeGenerated", "datetime"),
    ("DeviceVendor", "string"),
    ("DeviceProduct", "string"),
    ("DeviceVersion", "string"),
    ("DeviceEventClassID", "string"),
    ("Activity", "string"),
    ("LogSeverity", "string"),
    ("ReceiptTime", "string"),
    ("DeviceEventCategory", "string"),
    ("DeviceAction", "string"),
    ("EventOutcome", "string"),
    ("Reason", "string"),
    ("ApplicationProtocol", "string"),
    ("RequestMethod", "string"),
    ("RequestClientApplication", "string"),
    ("SourceUserName", "string"),
    ("DestinationServiceName", "string"),
    ("DestinationProcessName", "string"),
    ("DeviceName", "string"),
    ("DeviceExternalID", "string"),
    ("Message", "string"),
    ("DeviceCustomString1", "string"),
    ("DeviceCustomString2", "string"),
    ("DeviceCustomString3", "string"),
    ("DeviceCustomString4", "string"),
    ("DeviceCustomString5", "string"),
    ("DeviceCustomString6", "string"),
    ("DeviceCustomNumber1", "int"),
    ("FieldDeviceCustomNumber2", "long"),
    ("FieldDeviceCustomNumber3", "long"),
    ("ExternalID", "int"),
    ("AdditionalExtensions", "string"),
    ("Computer", "string"),
];

/// Where the CEF parser finds each Gatekit column in `CommonSecurityLog`.
fn cef_parser_kql() -> String {
    let mut lines = vec![
        "CommonSecurityLog".to_owned(),
        "| where DeviceVendor == \"Gatekit\" and DeviceProduct == \"Gatekit MCP Gateway\""
            .to_owned(),
    ];
    let mut assigns = vec![
        "SignatureId = DeviceEventClassID".to_owned(),
        "SeverityLevel = toint(LogSeverity)".to_owned(),
        "GatewayVersion = DeviceVersion".to_owned(),
    ];
    for f in FIELDS {
        let (Some(col), Some(key)) = (f.sentinel, f.cef) else {
            continue;
        };
        let Some((_, csl)) = CEF_TO_CSL.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let value = match (*csl, f.sentinel) {
            ("AdditionalExtensions", _) => {
                format!("extract(@\"(?:^|;){key}=([^;]*)\", 1, AdditionalExtensions)")
            }
            ("ReceiptTime", _) => format!("unixtime_milliseconds_todatetime(tolong({csl}))"),
            (_, Some("Parameters")) => format!("todynamic({csl})"),
            (_, Some("Sequence")) => format!("tolong({csl})"),
            _ => (*csl).to_owned(),
        };
        let name = if col == "TimeGenerated" {
            "EventTime"
        } else {
            col
        };
        assigns.push(format!("{name} = {value}"));
    }
    lines.push(format!("| extend {}", assigns.join(", ")));
    lines.join("\n")
}

fn columns_json() -> Value {
    Value::Array(
        SENTINEL_COLUMNS
            .iter()
            .map(|c| json!({"name": c.name, "type": c.kind.as_str(), "description": c.description}))
            .collect(),
    )
}

fn stream_columns_json() -> Value {
    Value::Array(
        SENTINEL_COLUMNS
            .iter()
            .map(|c| json!({"name": c.name, "type": c.kind.as_str()}))
            .collect(),
    )
}

/// The deployment template: table, DCE, DCR and (when a principal is given) the role.
pub fn deploy_template() -> Value {
    let table_id = format!(
        "[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), '{SENTINEL_TABLE}')]"
    );
    let dce_id = "[resourceId('Microsoft.Insights/dataCollectionEndpoints', parameters('dataCollectionEndpointName'))]";
    let dcr_id = "[resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName'))]";
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {
            "description": format!("Gatekit MCP gateway audit events in Microsoft Sentinel: the {SENTINEL_TABLE} table, a data collection endpoint and a data collection rule with the stream {SENTINEL_STREAM}. Generated by gatekit-content; do not edit.")
        },
        "parameters": {
            "workspaceName": {"type": "string", "metadata": {"description": "Log Analytics workspace with Microsoft Sentinel (same resource group)."}},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]", "metadata": {"description": "Region of the workspace."}},
            "dataCollectionEndpointName": {"type": "string", "defaultValue": "gatekit-dce"},
            "dataCollectionRuleName": {"type": "string", "defaultValue": "gatekit-dcr"},
            "retentionInDays": {"type": "int", "defaultValue": 90, "minValue": 4, "maxValue": 730},
            "senderPrincipalId": {"type": "string", "defaultValue": "", "metadata": {"description": "Object id of the service principal (or managed identity) Gatekit authenticates as; when set, it gets Monitoring Metrics Publisher on the DCR."}}
        },
        "variables": {
            "workspaceId": "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
            "metricsPublisherRoleId": METRICS_PUBLISHER_ROLE
        },
        "resources": [
            {
                "type": "Microsoft.OperationalInsights/workspaces/tables",
                "apiVersion": "2022-10-01",
                "name": format!("[concat(parameters('workspaceName'), '/{SENTINEL_TABLE}')]"),
                "properties": {
                    "plan": "Analytics",
                    "retentionInDays": "[parameters('retentionInDays')]",
                    "schema": {"name": SENTINEL_TABLE, "description": "Gatekit MCP gateway audit events", "columns": columns_json()}
                }
            },
            {
                "type": "Microsoft.Insights/dataCollectionEndpoints",
                "apiVersion": "2022-06-01",
                "name": "[parameters('dataCollectionEndpointName')]",
                "location": "[parameters('location')]",
                "properties": {"networkAcls": {"publicNetworkAccess": "Enabled"}}
            },
            {
                "type": "Microsoft.Insights/dataCollectionRules",
                "apiVersion": "2022-06-01",
                "name": "[parameters('dataCollectionRuleName')]",
                "location": "[parameters('location')]",
                "dependsOn": [table_id, dce_id],
                "properties": {
                    "dataCollectionEndpointId": dce_id,
                    "streamDeclarations": {SENTINEL_STREAM: {"columns": stream_columns_json()}},
                    "destinations": {"logAnalytics": [{"workspaceResourceId": "[variables('workspaceId')]", "name": "gatekitWorkspace"}]},
                    "dataFlows": [{
                        "streams": [SENTINEL_STREAM],
                        "destinations": ["gatekitWorkspace"],
                        "transformKql": TRANSFORM_KQL,
                        "outputStream": format!("Custom-{SENTINEL_TABLE}")
                    }]
                }
            },
            {
                "condition": "[not(empty(parameters('senderPrincipalId')))]",
                "type": "Microsoft.Authorization/roleAssignments",
                "apiVersion": "2022-04-01",
                "scope": "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dataCollectionRuleName'))]",
                "name": "[guid(resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName')), parameters('senderPrincipalId'), variables('metricsPublisherRoleId'))]",
                "dependsOn": [dcr_id],
                "properties": {
                    "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('metricsPublisherRoleId'))]",
                    "principalId": "[parameters('senderPrincipalId')]",
                    "principalType": "ServicePrincipal"
                }
            }
        ],
        "outputs": {
            "logsIngestionEndpoint": {"type": "string", "value": format!("[reference({}).logsIngestion.endpoint]", &dce_id[1..dce_id.len() - 1])},
            "dcrImmutableId": {"type": "string", "value": format!("[reference({}).immutableId]", &dcr_id[1..dcr_id.len() - 1])},
            "streamName": {"type": "string", "value": SENTINEL_STREAM}
        }
    })
}

const LAST_DATA: &str =
    "GatekitAudit_CL\n| summarize Time = max(TimeGenerated)\n| where isnotempty(Time)";
const CONNECTED: &str = "GatekitAudit_CL\n| summarize LastLogReceived = max(TimeGenerated)\n| project IsConnected = LastLogReceived > ago(7d)";
const SAMPLE: &str = "GatekitAudit_CL\n| where Action == \"deny\"\n| project TimeGenerated, GatewayHost, SessionId, ClientUser, ToolName, Plugin, Reason\n| take 20";
const GRAPH: &str = "GatekitAudit_CL";

/// The data connector definition (Sentinel's `dataConnectorDefinitions`, kind Customizable):
/// Gatekit pushes through the Logs Ingestion API, so there is no poller.
pub fn connector_definition() -> Value {
    json!({
        "name": CONNECTOR_ID,
        "apiVersion": "2022-09-01-preview",
        "type": "Microsoft.SecurityInsights/dataConnectorDefinitions",
        "kind": "Customizable",
        "properties": {
            "connectorUiConfig": {
                "id": CONNECTOR_ID,
                "title": "Gatekit MCP Gateway (Logs Ingestion API)",
                "publisher": "Gatekit",
                "descriptionMarkdown": "Gatekit, a security gateway for the Model Context Protocol, sends its audit events (tool calls, security decisions, errors, gateway health) to the `GatekitAudit_CL` table through the Azure Monitor Logs Ingestion API and a data collection rule.",
                "graphQueries": [{"metricName": "Events received", "legend": SENTINEL_TABLE, "baseQuery": GRAPH}],
                "sampleQueries": [{"description": "Latest denied MCP calls", "query": SAMPLE}],
                "dataTypes": [{"name": SENTINEL_TABLE, "lastDataReceivedQuery": LAST_DATA}],
                "connectivityCriteria": [{"type": "IsConnectedQuery", "value": [CONNECTED]}],
                "availability": {"status": 1, "isPreview": true},
                "permissions": {
                    "resourceProvider": [{
                        "provider": "Microsoft.OperationalInsights/workspaces",
                        "permissionsDisplayText": "Read and write permissions on the workspace.",
                        "providerDisplayName": "Workspace",
                        "scope": "Workspace",
                        "requiredPermissions": {"read": true, "write": true, "delete": true}
                    }],
                    "customs": [{"name": "Microsoft Entra application", "description": "An app registration (client secret or certificate) or a managed identity for Gatekit, granted Monitoring Metrics Publisher on the data collection rule."}]
                },
                "instructionSteps": [
                    {"title": "1. Deploy the table, the data collection endpoint and the rule", "description": "Deploy `Deploy/azuredeploy.json` into the workspace's resource group. Pass the object id of Gatekit's service principal as `senderPrincipalId` to grant it Monitoring Metrics Publisher on the rule. Note the outputs `logsIngestionEndpoint` and `dcrImmutableId`."},
                    {"title": "2. Configure Gatekit", "description": "In gatekit.yaml, under `siem.azure_sentinel`, set `transport: logs_ingestion_api`, `logs_ingestion_api: {endpoint, dcr_immutable_id}` from the outputs, and `auth: {method: service_principal, tenant_id, client_id, client_secret}` (or a certificate, or `method: managed_identity`). See docs/siem/sentinel.md."},
                    {"title": "3. Verify", "description": "Run `gatekit siem test --config gatekit.yaml`, then query `GatekitAudit_CL | take 10` (ingestion takes a few minutes the first time)."}
                ]
            }
        }
    })
}

/// The table definition on its own (Azure-Sentinel CCP layout keeps it beside the DCR).
fn table_json() -> Value {
    json!({
        "name": SENTINEL_TABLE,
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "apiVersion": "2022-10-01",
        "properties": {"schema": {"name": SENTINEL_TABLE, "columns": columns_json()}}
    })
}

/// The DCR on its own.
fn dcr_json() -> Value {
    let t = deploy_template();
    t["resources"][2].clone()
}

/// Every KQL text in the solution.
pub fn queries() -> Vec<Query> {
    let q = |label: &str, schema: &'static str, kql: &str| Query {
        label: label.to_owned(),
        schema,
        kql: kql.to_owned(),
    };
    let mut out = vec![
        q("DCR transformKql", "source", TRANSFORM_KQL),
        q("connector lastDataReceivedQuery", "gatekit", LAST_DATA),
        q("connector IsConnectedQuery", "gatekit", CONNECTED),
        q("connector sampleQuery", "gatekit", SAMPLE),
        q("connector graphQuery", "gatekit", GRAPH),
        q("CEF parser", "csl", &cef_parser_kql()),
    ];
    out.extend(crate::sentinel_content::queries());
    out
}

/// A table schema: key, table name, columns with their types.
pub type Schema = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// Table schemas the queries are checked against.
pub fn schemas() -> Vec<Schema> {
    let gatekit: Vec<_> = SENTINEL_COLUMNS
        .iter()
        .map(|c| (c.name, c.kind.as_str()))
        .collect();
    vec![
        ("gatekit", SENTINEL_TABLE, gatekit.clone()),
        ("source", "source", gatekit),
        ("csl", "CommonSecurityLog", CSL_COLUMNS.to_vec()),
    ]
}

fn cef_mapping_md() -> String {
    let mut s = String::from(
        "# Gatekit CEF in CommonSecurityLog\n\n\
Generated by gatekit-content; do not edit.\n\n\
CEF sent through a Linux forwarder with the Azure Monitor Agent (CEF via AMA data connector)\n\
lands in `CommonSecurityLog`. Header: vendor `Gatekit` -> `DeviceVendor`, product\n\
`Gatekit MCP Gateway` -> `DeviceProduct`, version -> `DeviceVersion`, event id ->\n\
`DeviceEventClassID`, name -> `Activity`, severity -> `LogSeverity`. Keys without a column\n\
are kept in `AdditionalExtensions`. The parser function `GatekitCEF`\n\
(`Parsers/GatekitCEF.yaml`) gives these rows the column names of `GatekitAudit_CL`, so the\n\
analytics rules can be pointed at it.\n\n\
| Gatekit column | CEF key | CommonSecurityLog column |\n|---|---|---|\n",
    );
    for f in FIELDS {
        let Some(key) = f.cef else { continue };
        let csl = CEF_TO_CSL
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("-", |(_, c)| c);
        s.push_str(&format!(
            "| {} | `{key}` | `{csl}` |\n",
            f.sentinel.unwrap_or("-")
        ));
    }
    s.push_str(
        "\nType notes: `ExternalID` is an int column (Gatekit's sequence number fits until 2^31; \
later values land only in `ExtID`); `DeviceCustomNumber1` is int; the duration and error code \
use the long `FieldDeviceCustomNumber` columns; `ReceiptTime` is a string of epoch milliseconds.\n",
    );
    s
}

fn parser_yaml() -> String {
    format!(
        "id: 2f6c1d0e-4b7a-4e3c-9a1d-6e5b8c7f0a10\nFunction:\n  Title: Gatekit CEF events with Gatekit column names\n  Version: '1.0.0'\n  LastUpdated: '2026-01-01'\nCategory: Microsoft Sentinel Parser\nFunctionName: {CEF_PARSER}\nFunctionAlias: {CEF_PARSER}\nFunctionQuery: {}",
        text::yaml_block(&cef_parser_kql(), 2)
    )
}

/// Every file of the solution.
pub fn files() -> Vec<File> {
    let mut out = vec![
        File::new(
            format!("{ROOT}/Deploy/azuredeploy.json"),
            text::json(&deploy_template()),
        ),
        File::new(
            format!(
                "{ROOT}/Data Connectors/GatekitAudit_ccp/GatekitAudit_DataConnectorDefinition.json"
            ),
            text::json(&connector_definition()),
        ),
        File::new(
            format!("{ROOT}/Data Connectors/GatekitAudit_ccp/GatekitAudit_DCR.json"),
            text::json(&dcr_json()),
        ),
        File::new(
            format!("{ROOT}/Data Connectors/GatekitAudit_ccp/GatekitAudit_Table.json"),
            text::json(&table_json()),
        ),
        File::new(format!("{ROOT}/Parsers/{CEF_PARSER}.yaml"), parser_yaml()),
        File::new(format!("{ROOT}/CEF-CommonSecurityLog.md"), cef_mapping_md()),
    ];
    out.extend(crate::sentinel_content::files(ROOT));
    out
}
