//! The Sentinel solution's detection content: analytics rules and hunting queries (YAML in
//! the Azure-Sentinel layout), the workbook, the Logic App playbook and the solution's
//! data and metadata files.
//!
//! Job: render [`crate::detections`] and the workbook panels; list every KQL text for the
//! Kusto check. Invariant: YAML is written with [`crate::text`] quoting only (single-quoted
//! scalars, literal blocks for queries), JSON with `serde_json`.

use serde_json::{json, Value};

use crate::detections::{Detection, Hunting, DETECTIONS, HUNTING};
use crate::sentinel_kql::{Query, CONNECTOR_ID};
use crate::text::{json as json_text, yaml_block, yaml_str};
use crate::File;

const PLAYBOOK: &str = "Gatekit-NotifyDeniedTool";

fn yaml_list(key: &str, items: &[&str]) -> String {
    let mut s = format!("{key}:\n");
    for i in items {
        s.push_str(&format!("  - {i}\n"));
    }
    s
}

fn connectors_yaml() -> String {
    format!("requiredDataConnectors:\n  - connectorId: {CONNECTOR_ID}\n    dataTypes:\n      - GatekitAudit_CL\n")
}

fn rule_yaml(d: &Detection) -> String {
    let mut s = format!(
        "id: {}\nname: {}\ndescription: {}\nseverity: {}\nstatus: Available\n",
        d.id,
        yaml_str(d.name),
        yaml_str(d.description),
        d.severity
    );
    s.push_str(&connectors_yaml());
    s.push_str(&format!(
        "queryFrequency: {}\nqueryPeriod: {}\ntriggerOperator: gt\ntriggerThreshold: 0\n",
        d.frequency, d.period
    ));
    s.push_str(&yaml_list("tactics", d.tactics));
    s.push_str(&yaml_list("relevantTechniques", d.techniques));
    s.push_str(&format!("query: {}", yaml_block(d.kql, 2)));
    s.push_str("entityMappings:\n");
    for (entity, fields) in d.entities {
        s.push_str(&format!("  - entityType: {entity}\n    fieldMappings:\n"));
        for (identifier, column) in *fields {
            s.push_str(&format!(
                "      - identifier: {identifier}\n        columnName: {column}\n"
            ));
        }
    }
    s.push_str("version: 1.0.0\nkind: Scheduled\n");
    s
}

fn hunting_yaml(h: &Hunting) -> String {
    let mut s = format!(
        "id: {}\nname: {}\ndescription: {}\n",
        h.id,
        yaml_str(h.name),
        yaml_str(h.description)
    );
    s.push_str(&connectors_yaml());
    s.push_str(&yaml_list("tactics", h.tactics));
    s.push_str(&format!("query: {}", yaml_block(h.kql, 2)));
    s.push_str("version: 1.0.0\n");
    s
}

/// Workbook panels: (title, KQL, visualization).
const PANELS: &[(&str, &str, &str)] = &[
    (
        "Events by type",
        "GatekitAudit_CL\n| summarize Events = count() by bin(TimeGenerated, 1h), EventType",
        "timechart",
    ),
    (
        "Denied calls by plugin",
        "GatekitAudit_CL\n| where Action == \"deny\"\n| summarize Denied = count() by Plugin\n| order by Denied desc",
        "barchart",
    ),
    (
        "Top tools",
        "GatekitAudit_CL\n| where isnotempty(ToolName)\n| summarize Calls = count(), Denied = countif(Action == \"deny\") by UpstreamName, ToolName\n| top 20 by Calls desc",
        "table",
    ),
    (
        "Riskiest sessions",
        "GatekitAudit_CL\n| where isnotnull(RiskScore)\n| summarize MaxRisk = max(RiskScore), Events = count() by SessionId, ClientUser, ClientId\n| top 20 by MaxRisk desc",
        "table",
    ),
    (
        "Gateways",
        "GatekitAudit_CL\n| summarize LastSeen = max(TimeGenerated), Events = count(), Errors = countif(EventType == \"error_event\") by GatewayHost, GatewayVersion",
        "table",
    ),
    (
        "System events",
        "GatekitAudit_CL\n| where EventType == \"system_event\"\n| project TimeGenerated, GatewayHost, Severity, Message\n| order by TimeGenerated desc",
        "table",
    ),
];

fn workbook() -> Value {
    let mut items = vec![json!({
        "type": 1,
        "content": {"json": "## Gatekit MCP gateway\nTool calls, security decisions and gateway health from `GatekitAudit_CL`."},
        "name": "title"
    })];
    for (i, (title, kql, viz)) in PANELS.iter().enumerate() {
        items.push(json!({
            "type": 3,
            "content": {
                "version": "KqlItem/1.0",
                "query": kql,
                "size": 0,
                "title": title,
                "timeContext": {"durationMs": 86_400_000},
                "queryType": 0,
                "resourceType": "microsoft.operationalinsights/workspaces",
                "visualization": viz
            },
            "customWidth": "50",
            "name": format!("panel{}", i + 1)
        }));
    }
    json!({
        "version": "Notebook/1.0",
        "items": items,
        "fallbackResourceIds": [],
        "fromTemplateId": "sentinel-Gatekit",
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
    })
}

/// A Logic App run on a Sentinel incident: posts the incident and its tools to a webhook
/// (Teams, Slack or a ticketing system) and comments on the incident with the step that
/// disables the tool in Gatekit (a `tool_manager` deny entry; Gatekit has no remote API
/// for it).
fn playbook() -> Value {
    let connection = "[variables('SentinelConnectionName')]";
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {
            "title": "Gatekit - notify on an incident and say how to disable the tool",
            "description": "Runs on a Microsoft Sentinel incident from a Gatekit analytics rule: posts the incident title, severity, link and tool names to a webhook, and adds a comment telling the responder how to disable the tool in Gatekit's tool_manager. Generated by gatekit-content.",
            "prerequisites": "An incoming webhook URL (Teams, Slack or a ticketing system). After deployment, authorize the Microsoft Sentinel API connection and give the Logic App's managed identity Microsoft Sentinel Responder on the workspace.",
            "tags": ["Notification", "Gatekit"],
            "support": {"tier": "community"},
            "author": {"name": "Gatekit"}
        },
        "parameters": {
            "PlaybookName": {"type": "string", "defaultValue": PLAYBOOK},
            "WebhookUrl": {"type": "securestring", "metadata": {"description": "Incoming webhook that receives the notification."}}
        },
        "variables": {"SentinelConnectionName": "[concat('azuresentinel-', parameters('PlaybookName'))]"},
        "resources": [
            {
                "type": "Microsoft.Web/connections",
                "apiVersion": "2016-06-01",
                "name": connection,
                "location": "[resourceGroup().location]",
                "kind": "V1",
                "properties": {
                    "displayName": connection,
                    "customParameterValues": {},
                    "parameterValueType": "Alternative",
                    "api": {"id": "[concat('/subscriptions/', subscription().subscriptionId, '/providers/Microsoft.Web/locations/', resourceGroup().location, '/managedApis/azuresentinel')]"}
                }
            },
            {
                "type": "Microsoft.Logic/workflows",
                "apiVersion": "2017-07-01",
                "name": "[parameters('PlaybookName')]",
                "location": "[resourceGroup().location]",
                "identity": {"type": "SystemAssigned"},
                "dependsOn": ["[resourceId('Microsoft.Web/connections', variables('SentinelConnectionName'))]"],
                "properties": {
                    "state": "Enabled",
                    "definition": {
                        "$schema": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#",
                        "contentVersion": "1.0.0.0",
                        "parameters": {
                            "$connections": {"defaultValue": {}, "type": "Object"},
                            "WebhookUrl": {"defaultValue": "", "type": "SecureString"}
                        },
                        "triggers": {
                            "Microsoft_Sentinel_incident": {
                                "type": "ApiConnectionWebhook",
                                "inputs": {
                                    "body": {"callback_url": "@{listCallbackUrl()}"},
                                    "host": {"connection": {"name": "@parameters('$connections')['azuresentinel']['connectionId']"}},
                                    "path": "/incident-creation"
                                }
                            }
                        },
                        "actions": {
                            "Notify": {
                                "type": "Http",
                                "runAfter": {},
                                "inputs": {
                                    "method": "POST",
                                    "uri": "@parameters('WebhookUrl')",
                                    "headers": {"Content-Type": "application/json"},
                                    "body": {
                                        "text": "Gatekit incident: @{triggerBody()?['object']?['properties']?['title']} (severity @{triggerBody()?['object']?['properties']?['severity']}) @{triggerBody()?['object']?['properties']?['incidentUrl']}",
                                        "entities": "@triggerBody()?['object']?['properties']?['relatedEntities']"
                                    }
                                }
                            },
                            "Comment_on_incident": {
                                "type": "ApiConnection",
                                "runAfter": {"Notify": ["Succeeded", "Failed"]},
                                "inputs": {
                                    "host": {"connection": {"name": "@parameters('$connections')['azuresentinel']['connectionId']"}},
                                    "method": "post",
                                    "path": "/Incidents/Comment",
                                    "body": {
                                        "incidentArmId": "@triggerBody()?['object']?['id']",
                                        "message": "<p>Notification sent. To disable the tool, add it to the <code>tool_manager</code> plugin's deny list in gatekit.yaml on the gateway host and restart Gatekit.</p>"
                                    }
                                }
                            }
                        },
                        "outputs": {}
                    },
                    "parameters": {
                        "$connections": {"value": {"azuresentinel": {
                            "connectionId": "[resourceId('Microsoft.Web/connections', variables('SentinelConnectionName'))]",
                            "connectionName": connection,
                            "id": "[concat('/subscriptions/', subscription().subscriptionId, '/providers/Microsoft.Web/locations/', resourceGroup().location, '/managedApis/azuresentinel')]",
                            "connectionProperties": {"authentication": {"type": "ManagedServiceIdentity"}}
                        }}},
                        "WebhookUrl": {"value": "[parameters('WebhookUrl')]"}
                    }
                }
            }
        ]
    })
}

fn rule_path(d: &Detection) -> String {
    format!("Analytic Rules/Gatekit_{}.yaml", d.slug)
}

fn hunting_path(h: &Hunting) -> String {
    format!("Hunting Queries/Gatekit_{}.yaml", h.slug)
}

fn solution_data() -> Value {
    let rules: Vec<String> = DETECTIONS.iter().map(rule_path).collect();
    let hunting: Vec<String> = HUNTING.iter().map(hunting_path).collect();
    json!({
        "Name": "Gatekit",
        "Author": "Gatekit",
        "Logo": "",
        "Description": "Audit events from Gatekit, the security gateway for the Model Context Protocol: a custom table fed by the Logs Ingestion API, analytics rules, hunting queries, a workbook, a playbook and a parser for Gatekit CEF in CommonSecurityLog.",
        "Data Connectors": ["Data Connectors/GatekitAudit_ccp/GatekitAudit_DataConnectorDefinition.json"],
        "Parsers": ["Parsers/GatekitCEF.yaml"],
        "Workbooks": ["Workbooks/Gatekit.json"],
        "Analytic Rules": rules,
        "Hunting Queries": hunting,
        "Playbooks": [format!("Playbooks/{PLAYBOOK}/azuredeploy.json")],
        "BasePath": ".",
        "Version": "1.0.0",
        "Metadata": "SolutionMetadata.json",
        "TemplateSpec": true,
        "Is1PConnector": false
    })
}

fn solution_metadata() -> Value {
    json!({
        "publisherId": "gatekit",
        "offerId": "gatekit-mcp-gateway",
        "firstPublishDate": "2026-01-01",
        "providers": ["Gatekit"],
        "categories": {"domains": ["Security - Others", "Application"]},
        "support": {"name": "Gatekit", "tier": "Community", "link": "https://github.com/gatekit/gatekit"}
    })
}

/// Files under the solution root.
pub(crate) fn files(root: &str) -> Vec<File> {
    let mut out = vec![
        File::new(
            format!("{root}/Workbooks/Gatekit.json"),
            json_text(&workbook()),
        ),
        File::new(
            format!("{root}/Playbooks/{PLAYBOOK}/azuredeploy.json"),
            json_text(&playbook()),
        ),
        File::new(
            format!("{root}/Data/Solution_Gatekit.json"),
            json_text(&solution_data()),
        ),
        File::new(
            format!("{root}/SolutionMetadata.json"),
            json_text(&solution_metadata()),
        ),
    ];
    for d in DETECTIONS {
        out.push(File::new(format!("{root}/{}", rule_path(d)), rule_yaml(d)));
    }
    for h in HUNTING {
        out.push(File::new(
            format!("{root}/{}", hunting_path(h)),
            hunting_yaml(h),
        ));
    }
    out
}

/// The rule, hunting and workbook queries.
pub(crate) fn queries() -> Vec<Query> {
    let mut out = Vec::new();
    for d in DETECTIONS {
        out.push(Query {
            label: format!("rule {}", d.slug),
            schema: "gatekit",
            kql: d.kql.to_owned(),
        });
    }
    for h in HUNTING {
        out.push(Query {
            label: format!("hunting {}", h.slug),
            schema: "gatekit",
            kql: h.kql.to_owned(),
        });
    }
    for (title, kql, _) in PANELS {
        out.push(Query {
            label: format!("workbook {title}"),
            schema: "gatekit",
            kql: (*kql).to_owned(),
        });
    }
    out
}
