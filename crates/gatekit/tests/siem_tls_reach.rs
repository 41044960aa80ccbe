//! TLS that runs anywhere (issue 15): the operating system's trust store when no `ca_file` is
//! set (found through `rustls-native-certs`, here via `SSL_CERT_FILE`), HTTPS through a forward
//! proxy with `CONNECT` (from `HTTPS_PROXY`/`NO_PROXY` or `siem.https_proxy`, against an
//! in-test proxy), a CA option for the Entra token endpoint, and client-certificate errors that
//! name the real cause (a v1 certificate, an expired one). Each fails on the code before.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use gatekit_testkit::hec::{HecOptions, HecReceiver};
use gatekit_testkit::pki::Pki;
use support::*;

const TOKEN: &str = "0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57";
const PROXY: &str = "proxy:\n  transport: stdio\n  upstreams: [{name: ex, command: [x]}]\n";

/// A forward proxy that answers `CONNECT` and relays bytes both ways; records each request
/// line. Stops with the test process (its threads only block on sockets of this test).
struct ConnectProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let log = Arc::clone(&log);
                std::thread::spawn(move || tunnel(client, &log));
            }
        });
        ConnectProxy { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn tunnel(client: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut request = String::new();
    reader.read_line(&mut request).unwrap();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
            break;
        }
    }
    log.lock().unwrap().push(request.trim_end().to_string());
    let target = request
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut client = client;
    let Ok(upstream) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
    let mut down_write = client.try_clone().unwrap();
    // The BufReader may hold bytes the client sent after the head (its TLS hello).
    let buffered = reader.buffer().to_vec();
    up_write.write_all(&buffered).unwrap();
    let mut client_read = reader.into_inner();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut up_write);
        let _ = up_write.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut up_read, &mut down_write);
    let _ = down_write.shutdown(std::net::Shutdown::Write);
}

fn https_hec(dir: &Path) -> (Pki, HecReceiver) {
    let pki = Pki::generate(dir, "hec").unwrap();
    let rx = HecReceiver::start_with(
        HecOptions::new(TOKEN),
        Some(pki.server_config(false).unwrap()),
    );
    (pki, rx)
}

fn siem_test(config: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(gatekit());
    cmd.args(["siem", "test", "--config"]).arg(config);
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn without_ca_file_the_system_trust_store_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, rx) = https_hec(dir.path());
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  splunk: {{transport: hec, hec: {{endpoint: \"https://localhost:{}\", token: \"{TOKEN}\"}}}}\n", rx.port()),
    );
    // SSL_CERT_FILE is how a system store is pointed elsewhere (and how this test's CA
    // becomes "the system's"); the old code read only a fixed Debian path.
    let ca = pki.file("ca.pem").display().to_string();
    let (ok, out) = siem_test(&config, &[("SSL_CERT_FILE", &ca)]);
    assert!(ok, "{out}");
    assert!(out.contains("delivered via hec:localhost"), "{out}");
    assert_eq!(rx.event_count(), 1);
    // Without it the test CA is unknown and the handshake is refused by name.
    let (ok, out) = siem_test(&config, &[]);
    assert!(!ok && out.contains("UnknownIssuer"), "{out}");
}

#[test]
fn https_goes_through_the_proxy_unless_no_proxy_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, rx) = https_hec(dir.path());
    let proxy = ConnectProxy::start();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  splunk: {{transport: hec, hec: {{endpoint: \"https://localhost:{}\", token: \"{TOKEN}\", tls: {{ca_file: {:?}}}}}}}\n", rx.port(), pki.file("ca.pem")),
    );
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let (ok, out) = siem_test(&config, &[("HTTPS_PROXY", &proxy_url)]);
    assert!(ok, "{out}");
    // The health check and the send each open a tunnel.
    let tunnels = proxy.requests();
    assert!(!tunnels.is_empty(), "{out}");
    assert!(
        tunnels
            .iter()
            .all(|t| *t == format!("CONNECT localhost:{} HTTP/1.1", rx.port())),
        "{tunnels:?}"
    );
    assert_eq!(rx.event_count(), 1, "the event went through the tunnel");
    // NO_PROXY names the host: straight there.
    let (ok, out) = siem_test(
        &config,
        &[
            ("HTTPS_PROXY", &proxy_url),
            ("NO_PROXY", "example.com,localhost"),
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(proxy.requests(), tunnels, "no new tunnel");
    assert_eq!(rx.event_count(), 2);
}

#[test]
fn the_configuration_key_sets_the_proxy_and_a_refusal_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (pki, rx) = https_hec(dir.path());
    let proxy = ConnectProxy::start();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  https_proxy: \"http://127.0.0.1:{}\"\n  splunk: {{transport: hec, hec: {{endpoint: \"https://localhost:{}\", token: \"{TOKEN}\", tls: {{ca_file: {:?}}}}}}}\n", proxy.port, rx.port(), pki.file("ca.pem")),
    );
    let (ok, out) = siem_test(&config, &[]);
    assert!(ok, "{out}");
    assert!(!proxy.requests().is_empty(), "{out}");
    // A proxy that refuses the tunnel: its status line is in the error.
    let refusing = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = refusing.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in refusing.incoming().flatten() {
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut c = c;
            let _ = c.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
        }
    });
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  https_proxy: \"http://127.0.0.1:{port}\"\n  splunk: {{transport: hec, hec: {{endpoint: \"https://localhost:{}\", token: \"{TOKEN}\", tls: {{ca_file: {:?}}}}}}}\n", rx.port(), pki.file("ca.pem")),
    );
    let (ok, out) = siem_test(&config, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("407 Proxy Authentication Required") && out.contains("user:password"),
        "{out}"
    );
}

fn check(config: &Path) -> String {
    let out = Command::new(gatekit())
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Signs the PKI's client request again with `extra` openssl arguments (no extensions).
fn resign(dir: &Path, pki: &Pki, out: &str, extra: &[&str]) -> std::path::PathBuf {
    let pem = dir.join(out);
    let status = Command::new("openssl")
        .args(["x509", "-req", "-in"])
        .arg(pki.file("client.csr"))
        .arg("-CA")
        .arg(pki.file("ca.pem"))
        .arg("-CAkey")
        .arg(pki.file("ca.key"))
        .arg("-out")
        .arg(&pem)
        .args(extra)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    pem
}

fn qradar_with_client_cert(dir: &Path, cert: &Path, key: &Path) -> std::path::PathBuf {
    write_config(
        dir,
        &format!("{PROXY}siem:\n  qradar:\n    transport: rest_api\n    rest_api: {{endpoint: \"https://127.0.0.1:12469\", tls: {{cert_file: {cert:?}, key_file: {key:?}}}}}\n"),
    )
}

#[test]
fn client_certificate_errors_name_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "qr").unwrap();
    let key = pki.file("client.key");
    // `openssl x509 -req` without an extensions file makes an X.509 v1 certificate.
    let v1 = resign(dir.path(), &pki, "v1.pem", &["-days", "2"]);
    let text = String::from_utf8(
        Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&v1)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("Version: 1"),
        "this openssl made no v1 certificate:\n{text}"
    );
    let out = check(&qradar_with_client_cert(dir.path(), &v1, &key));
    assert!(out.contains("X.509 v1 certificate"), "{out}");
    assert!(!out.contains("do not match"), "{out}");
    // Expired yesterday.
    let ext = pki.file("client.ext").display().to_string();
    let expired = resign(
        dir.path(),
        &pki,
        "expired.pem",
        &["-days", "-1", "-extfile", &ext],
    );
    let out = check(&qradar_with_client_cert(dir.path(), &expired, &key));
    assert!(out.contains("expired on"), "{out}");
    // A key of another certificate: that one really does not match.
    let out = check(&qradar_with_client_cert(
        dir.path(),
        &pki.file("client.pem"),
        &pki.file("server.key"),
    ));
    assert!(out.contains("do not match"), "{out}");
    // The good pair passes.
    let out = check(&qradar_with_client_cert(
        dir.path(),
        &pki.file("client.pem"),
        &key,
    ));
    assert!(!out.contains("error"), "{out}");
}

#[test]
fn the_entra_token_endpoint_takes_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  azure_sentinel:\n    transport: logs_ingestion_api\n    logs_ingestion_api: {{endpoint: \"https://dce.example.com\", dcr_immutable_id: dcr-000a00a000a00000a000000aa000a0aa}}\n    auth:\n      method: service_principal\n      tenant_id: 00000000-0000-0000-0000-000000000000\n      client_id: 00000000-0000-0000-0000-000000000001\n      client_secret: \"${{NO_SUCH_SECRET_FOR_TEST:-x-secret-value}}\"\n      tls: {{ca_file: missing-ca.pem}}\n"),
    );
    let out = check(&config);
    assert!(
        out.contains("auth.tls") && out.contains("cannot read CA file"),
        "the token endpoint's own CA file is read: {out}"
    );
}
