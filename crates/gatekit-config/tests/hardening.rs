//! Hostile or careless configuration files: deep nesting, secrets in the wrong type, port 0,
//! empty hosts and non-finite numbers. Each is refused with the key's path and line, and no
//! error repeats the value that was wrong.

use std::path::PathBuf;

use gatekit_config::{Config, ConfigError, ConfigErrors};

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_yaml(text, "test.yaml", PathBuf::from("/etc/gatekit"))
}

fn first_error(text: &str) -> ConfigError {
    match load(text) {
        Ok(_) => panic!("loaded: {text}"),
        Err(e) => e.errors()[0].clone(),
    }
}

const UPSTREAM: &str = "  upstreams: [{name: a, command: [x]}]\n";

#[test]
fn deeply_nested_yaml_is_refused_before_parsing() {
    let n = 100_000;
    for (text, line) in [
        (
            format!(
                "proxy:\n{UPSTREAM}  x: {}{}\n",
                "[".repeat(n),
                "]".repeat(n)
            ),
            3,
        ),
        (
            format!(
                "proxy:\n{UPSTREAM}  x: {}1{}\n",
                "{a: ".repeat(n),
                "}".repeat(n)
            ),
            3,
        ),
        (format!("proxy:\n{UPSTREAM}  x:\n{}1\n", "- ".repeat(n)), 4),
    ] {
        let e = first_error(&text);
        assert_eq!(e.line, Some(line), "{e}");
        assert!(e.message.contains("nested more than"), "{e}");
    }
}

#[test]
fn a_numeric_secret_in_the_wrong_type_is_not_echoed() {
    let secret = "918273645546372819";
    let texts = [
        // A number where a string is expected.
        format!("proxy:\n  upstreams:\n    - name: a\n      command: [x]\n      env: {{API_TOKEN: [{secret}]}}\n"),
        format!("proxy:\n  upstreams:\n    - name: a\n      command: [x, {{token: {secret}}}]\n"),
        // A secret pasted as the value of an enum or a number.
        format!("proxy:\n  transport: sk{secret}\n{UPSTREAM}"),
        format!("proxy:\n  max_message_size: sk{secret}\n{UPSTREAM}"),
        format!("proxy:\n{UPSTREAM}logging:\n  level: {secret}\n"),
        format!("proxy:\n{UPSTREAM}  timeouts: {{request_timeout: {secret}}}\n"),
    ];
    for text in texts {
        let errs = load(&text).unwrap_err();
        let shown = errs.to_string();
        assert!(!shown.contains(secret), "secret echoed: {shown}");
        assert!(errs.errors()[0].line.is_some(), "{shown}");
    }
}

#[test]
fn plugin_option_errors_do_not_echo_values_either() {
    // Plugin options are parsed by gatekit-plugins with gatekit_config::error::without_values;
    // here the shared function itself on serde's wording for a plugin's enum option.
    let shown = gatekit_config::error::without_values(
        "unknown variant `sk-918273645546372819`, expected one of `block`, `redact`, `audit_only`",
    );
    assert_eq!(
        shown,
        "unknown variant, expected one of `block`, `redact`, `audit_only`"
    );
}

#[test]
fn port_zero_and_empty_hosts_are_refused_with_path_and_line() {
    let cases = [
        (
            "proxy:\n  http: {host: 127.0.0.1, port: 0}\n",
            "proxy.http.port",
            2,
            "port 0",
        ),
        (
            "proxy:\n  http:\n    host: \"\"\n    port: 8080\n",
            "proxy.http.host",
            3,
            "must not be empty",
        ),
        (
            "proxy:\n  http:\n    host: \"  \"\n",
            "proxy.http.host",
            3,
            "must not be empty",
        ),
        (
            "proxy:\n  http:\n    host: \"a b\"\n",
            "proxy.http.host",
            3,
            "whitespace",
        ),
        (
            "proxy:\n  upstreams:\n    - name: a\n      transport: http\n      url: \"\"\n",
            "proxy.upstreams[0].url",
            3, // the upstream entry's line: upstreams are read through a buffered value
            "must not be empty",
        ),
    ];
    for (text, path, line, message) in cases {
        let text = format!(
            "{text}{}",
            if text.contains("upstreams") {
                ""
            } else {
                UPSTREAM
            }
        );
        let e = first_error(&text);
        assert_eq!(e.path, path, "{e}");
        assert_eq!(e.line, Some(line), "{e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn non_finite_numbers_are_refused_with_path_and_line() {
    for value in [".nan", ".NaN", ".inf", "-.inf", "+.inf", "0", "-1", "1e400"] {
        let text = format!("proxy:\n{UPSTREAM}  timeouts:\n    request_timeout: {value}\n");
        let e = first_error(&text);
        assert_eq!(e.path, "proxy.timeouts.request_timeout", "{value}: {e}");
        assert_eq!(e.line, Some(4), "{value}: {e}");
    }
}
