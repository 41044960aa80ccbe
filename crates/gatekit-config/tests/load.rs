//! Loading whole configuration files: Python Gatekit compatibility and error reporting.

use std::path::PathBuf;

use gatekit_config::{Config, ConfigErrors};

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_yaml(text, "test.yaml", PathBuf::from("/etc/gatekit"))
}

/// The realistic example of Python Gatekit 0.3's documentation, verbatim.
const PYTHON_EXAMPLE: &str = r#"
proxy:
  transport: stdio
  upstreams:
    - name: filesystem
      command: ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
    - name: github
      command: ["npx", "-y", "@modelcontextprotocol/server-github"]
  timeouts: {request_timeout: 60}
plugins:
  security:
    _global:
      - handler: basic_secrets_filter
        config: {enabled: true, action: redact, priority: 10}
      - handler: basic_pii_filter
        config: {enabled: true, action: redact, priority: 20,
                 pii_types: {ip_address: {enabled: false}}}
      - handler: basic_prompt_injection_defense
        config: {enabled: true, action: block, sensitivity: standard}
  middleware:
    filesystem:
      - handler: tool_manager
        config:
          enabled: true
          tools:
            - tool: read_text_file
            - tool: list_directory
              display_name: ls
              display_description: "List a directory under /srv/data"
  auditing:
    _global:
      - handler: audit_jsonl
        config: {enabled: true, output_file: logs/audit.jsonl,
                 include_request_body: true, max_body_size: 10240}
      - handler: audit_csv
        config: {enabled: true, output_file: logs/audit.csv, critical: false}
    _anchors:
      common: &common {enabled: true}
logging:
  level: INFO
  handlers: [file]
  file_path: logs/gatekit.log
"#;

#[test]
fn python_gatekit_example_loads_unchanged() {
    let cfg = load(PYTHON_EXAMPLE).expect("python example must load");
    let ups = &cfg.file.proxy.upstreams;
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].name.as_str(), "filesystem");
    assert_eq!(
        ups[1].command.as_ref().unwrap()[2].as_str(),
        "@modelcontextprotocol/server-github"
    );
    assert_eq!(cfg.file.plugins.security["_global"].len(), 3);
    assert_eq!(
        cfg.file.plugins.middleware["filesystem"][0].handler,
        "tool_manager"
    );
    assert!(!cfg.file.plugins.auditing.contains_key("_anchors"));
    assert_eq!(cfg.file.proxy.timeouts.request_timeout.0.as_secs(), 60);
    assert_eq!(
        cfg.resolve_path("logs/x"),
        PathBuf::from("/etc/gatekit/logs/x")
    );
}

#[test]
fn a_single_upstream_mapping_is_accepted() {
    let cfg = load("proxy:\n  transport: stdio\n  upstreams:\n    name: one\n    command: [srv]\n")
        .unwrap();
    assert_eq!(cfg.file.proxy.upstreams.len(), 1);
}

#[test]
fn unknown_key_names_path_and_line() {
    let text = "proxy:\n  transport: stdio\n  upstreams:\n    - name: a\n      command: [x]\n      comand: [y]\n";
    let errs = load(text).unwrap_err();
    let e = &errs.errors()[0];
    assert_eq!(e.path, "proxy.upstreams[0].comand", "{e}");
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("unknown field `comand`"), "{e}");
    assert!(e.to_string().starts_with("test.yaml:6:"), "{e}");
}

#[test]
fn bad_type_names_path_and_line() {
    let text = "proxy:\n  transport: stdio\n  timeouts:\n    request_timeout: soon\n  upstreams: [{name: a, command: [x]}]\n";
    let e = &load(text).unwrap_err().0[0];
    assert_eq!(e.path, "proxy.timeouts.request_timeout", "{e}");
    assert_eq!(e.line, Some(4), "{e}");
}

#[test]
fn bad_upstream_name_is_reported_where_it_is_written() {
    let text =
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: My Server.v2\n      command: [x]\n";
    let e = &load(text).unwrap_err().0[0];
    assert_eq!(e.path, "proxy.upstreams[0].name", "{e}");
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("My Server.v2"), "{e}");
}

#[test]
fn command_as_a_string_gets_a_clear_fix() {
    let text =
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: a\n      command: npx -y server\n";
    let e = &load(text).unwrap_err().0[0];
    assert!(e.message.contains(r#"["npx", "-y", "server"]"#), "{e}");
}

#[test]
fn plugins_under_proxy_get_a_hint() {
    let text =
        "proxy:\n  transport: stdio\n  upstreams: [{name: a, command: [x]}]\n  plugins: {}\n";
    let e = &load(text).unwrap_err().0[0];
    assert!(e.message.contains("top-level"), "{e}");
}

#[test]
fn semantic_errors_are_all_reported_together() {
    let text = r#"
proxy:
  transport: http
  upstreams:
    - {name: a, command: [x]}
    - {name: a, command: [y]}
    - {name: b, transport: http, url: "http://localhost"}
    - {name: c, command: [z], env: {"A=B": x}}
plugins:
  security:
    nosuch:
      - handler: basic_pi_filter
  middleware:
    _global:
      - handler: audit_jsonl
"#;
    let errs = load(text).unwrap_err();
    let all = errs.to_string();
    for needle in [
        "proxy.transport",
        "duplicate upstream name `a`",
        "proxy.upstreams[2].transport",
        "proxy.upstreams[3].env: invalid environment variable name",
        "no upstream named `nosuch`",
        "did you mean `basic_pii_filter`",
        "`audit_jsonl` is a auditing plugin",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert_eq!(errs.errors().len(), 7, "{all}");
}

// Sandboxing used to be refused ("process sandboxing is not available"); it is now provided
// (bubblewrap on Linux, sandbox-exec on macOS), so Python Gatekit's keys load.
#[test]
fn sandbox_keys_of_python_gatekit_load() {
    let text = "proxy:\n  transport: stdio\n  upstreams:\n    - name: fs\n      command: [x]\n      sandbox: {enabled: true, paths: [/srv/data, ~/projects], network: false}\n";
    let cfg = load(text).unwrap();
    let sandbox = cfg.file.proxy.upstreams[0].sandbox.as_ref().unwrap();
    assert!(sandbox.enabled && !sandbox.network);
    let paths: Vec<&str> = sandbox.paths.iter().map(|p| &**p).collect();
    assert_eq!(paths, ["/srv/data", "~/projects"]);
}

#[test]
fn glob_characters_in_sandbox_paths_are_refused_with_their_line() {
    for (path, glob) in [
        ("/srv/*", '*'),
        ("/srv/data?", '?'),
        ("/srv/[ab]", '['),
        ("/srv/{a,b}", '{'),
    ] {
        let text = format!("proxy:\n  transport: stdio\n  upstreams:\n    - name: fs\n      command: [x]\n      sandbox:\n        enabled: true\n        paths: [/ok, {path:?}]\n");
        let e = &load(&text).unwrap_err().0[0];
        assert_eq!(e.line, Some(8), "{e}");
        assert_eq!(e.path, "proxy.upstreams[0].sandbox.paths[1]", "{e}");
        assert!(
            e.message.contains(&format!("glob character `{glob}`")),
            "{e}"
        );
    }
}

#[test]
fn env_and_cwd_expand_variables() {
    std::env::set_var("GATEKIT_TEST_TOKEN", "s3cret");
    let text = "proxy:\n  transport: stdio\n  upstreams:\n    - name: a\n      command: [\"${GATEKIT_TEST_TOKEN:-x}\"]\n      env: {TOKEN: \"${GATEKIT_TEST_TOKEN}\"}\n      cwd: work\n";
    let cfg = load(text).unwrap();
    let up = &cfg.file.proxy.upstreams[0];
    assert_eq!(up.env["TOKEN"].as_str(), "s3cret");
    assert_eq!(up.command.as_ref().unwrap()[0].as_str(), "s3cret");
    assert_eq!(up.cwd.as_ref().unwrap().as_str(), "work");
}

#[test]
fn unset_variable_is_an_error_with_its_line() {
    let text = "proxy:\n  transport: stdio\n  upstreams:\n    - name: a\n      command: [x]\n      env: {T: \"${GATEKIT_TEST_SURELY_UNSET}\"}\n";
    let e = &load(text).unwrap_err().0[0];
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("GATEKIT_TEST_SURELY_UNSET"), "{e}");
}

#[test]
fn siem_section_is_reserved_not_rejected() {
    let text = "proxy:\n  transport: stdio\n  upstreams: [{name: a, command: [x]}]\nsiem:\n  enabled: true\n  splunk: {transport: hec}\n";
    let cfg = load(text).unwrap();
    assert!(cfg.file.siem.is_some());
}

#[test]
fn empty_file_is_a_clear_error() {
    let e = &load("\n").unwrap_err().0[0];
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn environment_overlays_merge_over_the_base_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("gatekit.yaml");
    std::fs::write(
        &base,
        "proxy:\n  transport: stdio\n  timeouts: {request_timeout: 60, connection_timeout: 30}\n  upstreams: [{name: a, command: [dev-server]}]\nsiem:\n  splunk: {transport: file, file: {path: dev.cef}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("gatekit.production.yaml"),
        "proxy:\n  timeouts: {request_timeout: 20}\n  upstreams: [{name: a, command: [prod-server, --strict]}]\nsiem:\n  splunk: {file: {path: /var/log/prod.cef}}\n",
    )
    .unwrap();
    let dev = Config::load_for(&base, None).unwrap();
    assert_eq!(dev.file.proxy.timeouts.request_timeout.0.as_secs(), 60);
    let prod = Config::load_for(&base, Some("production")).unwrap();
    assert_eq!(
        prod.file.proxy.timeouts.request_timeout.0.as_secs(),
        20,
        "overlay value wins"
    );
    assert_eq!(
        prod.file.proxy.timeouts.connection_timeout.0.as_secs(),
        30,
        "base value kept"
    );
    assert_eq!(
        prod.file.proxy.upstreams[0].command.as_ref().unwrap()[1].as_str(),
        "--strict",
        "lists replace"
    );
    let siem = prod.file.siem.as_ref().unwrap();
    assert_eq!(
        siem["splunk"]["file"]["path"].as_str(),
        Some("/var/log/prod.cef")
    );
    assert_eq!(
        siem["splunk"]["transport"].as_str(),
        Some("file"),
        "nested mappings merge"
    );

    let staging = Config::load_for(&base, Some("staging")).unwrap();
    assert!(staging
        .warnings
        .iter()
        .any(|w| w.message.contains("gatekit.staging.yaml")));
    std::fs::write(
        dir.path().join("gatekit.bad.yaml"),
        "proxy:\n  timeoutz: {}\n",
    )
    .unwrap();
    let err = Config::load_for(&base, Some("bad"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gatekit.bad.yaml") && err.contains("timeoutz"),
        "{err}"
    );
    assert!(
        Config::load_for(&base, Some("../etc")).is_err(),
        "environment names are plain words"
    );
}

#[test]
fn json_logs_load_quietly_and_python_format_strings_warn() {
    let base = "proxy:\n  transport: stdio\n  upstreams:\n    - name: a\n      command: [x]\n";
    let json = load(&format!("{base}logging:\n  format: json\n")).unwrap();
    assert!(
        json.warnings
            .iter()
            .all(|w| !w.to_string().contains("logging")),
        "{:?}",
        json.warnings
    );
    let python = load(&format!(
        "{base}logging:\n  format: \"%(asctime)s %(message)s\"\n  date_format: \"%H:%M\"\n"
    ))
    .unwrap();
    let text: Vec<String> = python.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        text.iter().any(|w| w.contains("logging.format")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|w| w.contains("logging.date_format")),
        "{text:?}"
    );
}
