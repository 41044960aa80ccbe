//! The Sentinel solution: every KQL text (rules, hunting, workbook, connector queries, the
//! DCR transform, the CEF parser) parsed and semantically checked by Microsoft's Kusto
//! language service against the declared table schemas; the deployment template's table
//! and stream columns equal the Sentinel formatter's; the resource types are the required
//! ones; every CEF key has a CommonSecurityLog column.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::process::Command;

use gatekit_content::schema::FIELDS;
use gatekit_content::sentinel::{self, CEF_TO_CSL};
use gatekit_format::SENTINEL_COLUMNS;
use serde_json::{json, Value};

#[test]
fn every_kql_query_passes_the_kusto_language_service() {
    let pkg = support::kusto_dir();
    let node = support::has_program("node", "--version");
    if !support::require(
        "node and @kusto/language-service-next (target/test-node)",
        node && pkg.exists(),
    ) {
        return;
    }
    let schemas: Vec<Value> = sentinel::schemas()
        .into_iter()
        .map(|(name, table, cols)| json!({"name": name, "table": table, "columns": cols}))
        .collect();
    let queries = sentinel::queries();
    let mut input: Vec<Value> = queries
        .iter()
        .map(|q| json!({"label": q.label, "schema": q.schema, "kql": q.kql}))
        .collect();
    // A canary: the checker must report an unknown column, or it is not checking anything.
    input.push(json!({"label": "canary", "schema": "gatekit", "kql": "GatekitAudit_CL | where NoSuchColumn == 1"}));
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("kql.json");
    std::fs::write(
        &spec,
        json!({"schemas": schemas, "queries": input}).to_string(),
    )
    .unwrap();
    let out = support::run(
        Command::new("node")
            .arg(support::peers().join("kql_check.js"))
            .arg(&pkg)
            .arg(&spec),
    );
    let results: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(results.len(), queries.len() + 1);
    let (canary, results) = results.split_last().unwrap();
    assert!(
        !canary["diagnostics"].as_array().unwrap().is_empty(),
        "the Kusto language service did not flag an unknown column"
    );
    let mut problems = Vec::new();
    for r in results {
        for d in r["diagnostics"].as_array().unwrap() {
            problems.push(format!(
                "{}: {} {}",
                r["label"], d["severity"], d["message"]
            ));
        }
    }
    eprintln!(
        "Kusto: {} queries, {} diagnostics",
        results.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_template_declares_the_formatter_columns() {
    let path = support::root().join(format!("{}/Deploy/azuredeploy.json", sentinel::ROOT));
    let t: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let want: Vec<(String, String)> = SENTINEL_COLUMNS
        .iter()
        .map(|c| (c.name.to_owned(), c.kind.as_str().to_owned()))
        .collect();
    let cols = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let resources = t["resources"].as_array().unwrap();
    let of = |ty: &str| {
        resources
            .iter()
            .find(|r| r["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty}"))
    };
    assert_eq!(
        cols(
            &of("Microsoft.OperationalInsights/workspaces/tables")["properties"]["schema"]
                ["columns"]
        ),
        want
    );
    let dcr = of("Microsoft.Insights/dataCollectionRules");
    assert_eq!(
        cols(&dcr["properties"]["streamDeclarations"][gatekit_format::SENTINEL_STREAM]["columns"]),
        want
    );
    let flow = &dcr["properties"]["dataFlows"][0];
    assert_eq!(
        flow["outputStream"],
        format!("Custom-{}", gatekit_format::SENTINEL_TABLE)
    );
    assert_eq!(flow["transformKql"], sentinel::TRANSFORM_KQL);
    of("Microsoft.Insights/dataCollectionEndpoints");
    of("Microsoft.Authorization/roleAssignments");
}

#[test]
fn every_cef_key_has_a_common_security_log_column() {
    for f in FIELDS {
        if let Some(k) = f.cef {
            assert!(
                CEF_TO_CSL.iter().any(|(c, _)| *c == k),
                "no CommonSecurityLog column for {k}"
            );
        }
    }
}

#[test]
fn rules_have_entities_tactics_and_severity() {
    for d in gatekit_content::detections::DETECTIONS {
        assert!(
            !d.entities.is_empty() && !d.tactics.is_empty(),
            "{}",
            d.slug
        );
        assert!(["Informational", "Low", "Medium", "High"].contains(&d.severity));
        for (_, fields) in d.entities {
            for (_, col) in *fields {
                assert!(
                    d.kql.contains(col),
                    "{}: entity column {col} not in the query",
                    d.slug
                );
            }
        }
    }
}

#[test]
fn rule_hunting_and_parser_yaml_parse_and_carry_the_checked_queries() {
    let python = support::venv_bin().join("python");
    if !support::require("the test Python (target/test-venv)", python.exists()) {
        return;
    }
    let root = support::root().join(sentinel::ROOT);
    let mut files = Vec::new();
    for dir in ["Analytic Rules", "Hunting Queries", "Parsers"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    let out = support::run(
        Command::new(&python)
            .arg(support::peers().join("yaml_load.py"))
            .args(&files),
    );
    let docs: serde_json::Map<String, Value> = serde_json::from_str(&out).unwrap();
    let kql: Vec<String> = sentinel::queries().into_iter().map(|q| q.kql).collect();
    for (path, doc) in &docs {
        let query = doc["query"]
            .as_str()
            .or(doc["FunctionQuery"].as_str())
            .unwrap_or_else(|| panic!("{path}: no query"));
        assert!(
            kql.iter().any(|k| k.trim_end() == query.trim_end()),
            "{path}: its query is not one of the checked queries"
        );
        if path.contains("Analytic Rules") {
            for key in [
                "id",
                "name",
                "severity",
                "tactics",
                "entityMappings",
                "queryFrequency",
                "queryPeriod",
            ] {
                assert!(!doc[key].is_null(), "{path}: no {key}");
            }
        }
    }
    assert_eq!(docs.len(), files.len());
}
