//! `siem.azure_sentinel`: the requirements' keys load as typed blocks, the Logs Ingestion
//! block is the default path, mistakes are errors with paths, and no key shows in errors.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use gatekit_config::Config;
use gatekit_siem::connector::ConnectorPlan;

fn load(siem: &str) -> Config {
    std::env::set_var("GATEKIT_TEST_SENTINEL_SECRET", "s3cr3t");
    std::env::set_var("GATEKIT_TEST_SENTINEL_SECRET2", "s3cr3t2");
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n{siem}"
    );
    Config::from_yaml(&yaml, "t.yaml", PathBuf::from("/etc/gk")).unwrap()
}

fn plans(siem: &str) -> Vec<gatekit_siem::platform::DestinationPlan> {
    gatekit_siem::validate(&load(siem)).unwrap().plans
}

fn errors(siem: &str) -> String {
    gatekit_siem::validate(&load(siem)).unwrap_err().to_string()
}

const LOGS: &str = "  azure_sentinel:\n    logs_ingestion_api: {endpoint: \"https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com\", dcr_immutable_id: dcr-000a00a000a00000a000000aa000a0aa}\n    auth: {method: service_principal, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, client_id: app, client_secret: \"${GATEKIT_TEST_SENTINEL_SECRET}\"}\n";

#[test]
fn logs_ingestion_is_the_default_transport() {
    let p = plans(LOGS);
    let ConnectorPlan::LogsIngestion(plan) = &p[0].connector else {
        panic!("{:?}", p[0].connector)
    };
    assert_eq!(
        plan.endpoint.host,
        "my-dce-5kyl.eastus-1.ingest.monitor.azure.com"
    );
    assert_eq!(plan.settings.stream, "Custom-GatekitAudit");
    assert_eq!(plan.settings.max_request_bytes, 1_048_576);
    assert!(!plan.settings.gzip);
    assert_eq!(plan.token.scope, "https://monitor.azure.com//.default");
    assert_eq!(plan.token.endpoint.host, "login.microsoftonline.com");
    assert_eq!(p[0].framing, gatekit_format::Framing::None);
}

#[test]
fn the_requirements_data_collector_and_event_hubs_blocks_load() {
    let dc = plans("  azure_sentinel:\n    transport: data_collector_api\n    format: json\n    data_collector_api:\n      workspace_id: b9e2f1a0-1234-4cde-8f00-0123456789ab\n      shared_key: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\"\n      log_type: Gatekit\n      endpoint: \"https://b9e2f1a0-1234-4cde-8f00-0123456789ab.ods.opinsights.azure.com/api/logs\"\n    auth: {method: shared_key}\n    schema:\n      table_name: Gatekit_CL\n      timestamp_field: TimeGenerated\n      custom_fields: [RequestId_s, MCPMethod_s]\n");
    let ConnectorPlan::DataCollector(plan) = &dc[0].connector else {
        panic!("{:?}", dc[0].connector)
    };
    assert_eq!(
        plan.endpoint.prefix, "",
        "the documented /api/logs suffix is the request path"
    );
    assert_eq!(plan.settings.log_type, "Gatekit");
    assert_eq!(
        plan.settings.time_generated_field.as_deref(),
        Some("EventTime"),
        "TimeGenerated is reserved: the event time travels as EventTime"
    );
    let eh = plans("  azure_sentinel:\n    transport: event_hubs\n    event_hubs:\n      connection_string: \"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k3y=\"\n      hub_name: gatekit-events\n");
    let ConnectorPlan::EventHubs(plan) = &eh[0].connector else {
        panic!("{:?}", eh[0].connector)
    };
    assert_eq!(
        (plan.namespace.as_str(), plan.hub.as_str()),
        ("ns.servicebus.windows.net", "gatekit-events")
    );
    assert_eq!(plan.endpoint.host, "ns.servicebus.windows.net");
    assert_eq!(plan.max_batch_bytes, 1024 * 1024);
    assert!(plan.sas.is_some() && plan.entra.is_none());
}

#[test]
fn mistakes_are_errors_with_paths_and_without_secrets() {
    let e = errors("  azure_sentinel: {transport: logs_ingestion_api}\n");
    assert!(e.contains("siem.azure_sentinel.logs_ingestion_api"), "{e}");
    let e = errors(&LOGS.replace("dcr-000a00a000a00000a000000aa000a0aa", "my-rule"));
    assert!(
        e.contains("siem.azure_sentinel.logs_ingestion_api.dcr_immutable_id"),
        "{e}"
    );
    let e = errors(&LOGS.replace(
        "dcr_immutable_id:",
        "stream_name: GatekitAudit, dcr_immutable_id:",
    ));
    assert!(e.contains("stream_name") && e.contains("Custom-"), "{e}");
    let e = errors(&LOGS.replace(
        "dcr_immutable_id:",
        "max_request_bytes: 30000000, dcr_immutable_id:",
    ));
    assert!(e.contains("max_request_bytes"), "{e}");
    let e = errors(&LOGS.replace("client_id: app, ", ""));
    assert!(e.contains("siem.azure_sentinel.auth.client_id"), "{e}");
    let e = errors(&LOGS.replace("method: service_principal", "method: shared_key"));
    assert!(e.contains("siem.azure_sentinel.auth.method"), "{e}");
    let e = errors(&LOGS.replace(
        "tenant_id:",
        "scope: \"https://monitor.azure.com/user_impersonation\", tenant_id:",
    ));
    assert!(e.contains("scope") && e.contains(".default"), "{e}");
    let e = errors(&LOGS.replace("tenant_id:", "colour: blue, tenant_id:"));
    assert!(
        e.contains("siem.azure_sentinel.auth") && e.contains("colour"),
        "{e}"
    );
    let e = errors("  azure_sentinel:\n    transport: data_collector_api\n    data_collector_api: {workspace_id: b9e2f1a0-1234-4cde-8f00-0123456789ab, shared_key: \"AAAA\", log_type: Gatekit-Audit}\n");
    assert!(
        e.contains("siem.azure_sentinel.data_collector_api.log_type"),
        "{e}"
    );
    let e = errors("  azure_sentinel:\n    transport: data_collector_api\n    data_collector_api: {workspace_id: b9e2f1a0-1234-4cde-8f00-0123456789ab, shared_key: \"not base64!!\"}\n");
    assert!(
        e.contains("shared_key") && !e.contains("not base64!!"),
        "{e}"
    );
    let e = errors("  azure_sentinel:\n    transport: event_hubs\n    event_hubs: {connection_string: \"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=s3cr3tk3y\"}\n");
    assert!(e.contains("hub_name") && !e.contains("s3cr3tk3y"), "{e}");
    let e = errors("  azure_sentinel:\n    transport: event_hubs\n    event_hubs: {connection_string: \"SharedAccessKeyName=send;SharedAccessKey=s3cr3tk3y\", hub_name: h}\n");
    assert!(
        e.contains("connection_string") && e.contains("Endpoint") && !e.contains("s3cr3tk3y"),
        "{e}"
    );
    let e = errors("  azure_sentinel:\n    transport: event_hubs\n    event_hubs: {connection_string: \"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k\", hub_name: h, tier: gold}\n");
    assert!(e.contains("siem.azure_sentinel.event_hubs.tier"), "{e}");
}

#[test]
fn event_hubs_takes_tiers_and_entra() {
    let eh = plans("  azure_sentinel:\n    transport: event_hubs\n    event_hubs: {connection_string: \"Endpoint=sb://ns.servicebus.windows.net/;EntityPath=audit\", tier: basic, endpoint: \"http://127.0.0.1:9\"}\n    auth: {method: service_principal, tenant_id: t, client_id: c, client_secret: \"${GATEKIT_TEST_SENTINEL_SECRET2}\"}\n");
    let ConnectorPlan::EventHubs(plan) = &eh[0].connector else {
        panic!()
    };
    assert_eq!(plan.max_batch_bytes, 256 * 1024);
    assert_eq!(plan.hub, "audit");
    assert_eq!(plan.endpoint.port, 9);
    assert!(plan.sas.is_none());
    assert_eq!(
        plan.entra.as_ref().unwrap().scope,
        "https://eventhubs.azure.net/.default"
    );
}

#[test]
fn certificate_credentials_load_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "app.key",
            "-out",
            "app.pem",
            "-days",
            "1",
            "-subj",
            "/CN=gatekit-test",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let d = dir.path().display();
    let block = LOGS.replace(
        "client_secret: \"${GATEKIT_TEST_SENTINEL_SECRET}\"",
        &format!("certificate_file: {d}/app.pem, private_key_file: {d}/app.key"),
    );
    let p = plans(&block);
    let ConnectorPlan::LogsIngestion(plan) = &p[0].connector else {
        panic!()
    };
    assert!(matches!(
        plan.token.credential,
        gatekit_siem::azure::entra::Credential::ClientCertificate { .. }
    ));
    let both = LOGS.replace(
        "client_secret:",
        &format!("certificate_file: {d}/app.pem, private_key_file: {d}/app.key, client_secret:"),
    );
    assert!(errors(&both).contains("siem.azure_sentinel.auth.client_secret"));
    let missing = block.replace("app.key", "missing.key");
    let e = errors(&missing);
    assert!(
        e.contains("siem.azure_sentinel.auth.certificate_file") && e.contains("missing.key"),
        "{e}"
    );
}

#[test]
fn batches_are_sized_to_fit_one_request() {
    // 1,048,576 bytes of body: 1 MiB of records would overflow by the array's commas.
    let p = plans(&format!("{LOGS}    delivery: {{batch_size: 500}}\n"));
    assert_eq!(p[0].delivery.batch.max_bytes.get(), 1_048_576 - 502);
    let p = plans(&format!("{LOGS}    delivery: {{batch_max_bytes: 65536}}\n"));
    assert_eq!(
        p[0].delivery.batch.max_bytes.get(),
        65536,
        "smaller settings stay"
    );
}
