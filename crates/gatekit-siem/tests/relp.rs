//! RELP against a real rsyslog `imrelp` (Debian's `rsyslog-relp`, installed by
//! `scripts/setup-test-peers`): a batch larger than the window is delivered and arrives once
//! each; a receiver that is down or goes away yields `Retry`, never `Delivered`, and the
//! resent batch arrives after it comes back; an answer other than 200 is never `Delivered`.
//! Fails (never skips) without rsyslog and its RELP module.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatekit_delivery::{BatchOutcome, Record, RecordId, Transport};
use gatekit_siem::connector::syslog::relp::{RelpTransport, WINDOW};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HINT: &str = "run scripts/setup-test-peers (Debian packages rsyslog and rsyslog-relp)";

/// rsyslogd in the foreground with `imrelp` on `port`, writing each message's MSG to
/// `<dir>/out.txt`; killed and reaped on drop (and bounded by `timeout` if the test dies).
struct Rsyslog {
    child: Child,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children.split_whitespace() {
            let _ = Command::new("kill").arg("-KILL").arg(c).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, port: u16) -> Rsyslog {
    assert!(
        [
            "/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so",
            "/usr/lib/aarch64-linux-gnu/rsyslog/imrelp.so"
        ]
        .iter()
        .any(|p| Path::new(p).exists()),
        "rsyslog's imrelp module is missing; {HINT}"
    );
    let d = dir.display();
    let conf = format!(
        "global(workDirectory=\"{d}\" processInternalMessages=\"on\")\n\
         module(load=\"imrelp\")\n\
         input(type=\"imrelp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"r\")\n\
         template(name=\"m\" type=\"string\" string=\"%msg%\\n\")\n\
         ruleset(name=\"r\") {{ action(type=\"omfile\" file=\"{d}/out.txt\" template=\"m\") }}\n"
    );
    let conf_path = dir.join("rsyslog.conf");
    // A killed instance leaves its pid file: rsyslog refuses to start over one it thinks alive.
    let _ = std::fs::remove_file(dir.join("rsyslog.pid"));
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("timeout")
        .args(["-s", "KILL", "300", "/usr/sbin/rsyslogd", "-n", "-f"])
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslog.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start rsyslogd: {e}; {HINT}"));
    let r = Rsyslog { child };
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not listen on {port}: {}",
            std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn batch(from: u32, n: u32) -> Vec<Record> {
    (from..from + n)
        .map(|i| {
            Record::new(
                RecordId(u128::from(i)),
                format!("<134>1 2025-11-17T09:30:00.000Z gk01 gatekit - mcp_request - record-{i}")
                    .into_bytes(),
            )
        })
        .collect()
}

/// The MSG lines rsyslog wrote, once at least `n` are there.
fn received(dir: &Path, n: usize) -> Vec<String> {
    let path: PathBuf = dir.join("out.txt");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(|l| l.trim().to_owned()).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records arrived",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_acknowledges_every_record_and_an_outage_is_retried_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let t = RelpTransport::new("127.0.0.1", port);
    // Nobody listening: a retry, not a delivery.
    assert!(matches!(
        t.send(&batch(0, 3)).await,
        BatchOutcome::Retry { .. }
    ));

    let rs = start(dir.path(), port);
    let n = WINDOW as u32 * 2 + 17;
    assert_eq!(t.send(&batch(0, n)).await, BatchOutcome::Delivered);
    let got = received(dir.path(), n as usize);
    let want: Vec<String> = (0..n).map(|i| format!("record-{i}")).collect();
    assert_eq!(got, want, "every record once, in order");

    // The receiver goes away: the next batch is not delivered...
    drop(rs);
    assert!(matches!(
        t.send(&batch(n, 5)).await,
        BatchOutcome::Retry { .. }
    ));
    // ...and is, once it is back (a new session).
    // (A freshly started rsyslog may reset the first connection while imrelp comes up: the
    // sender retries, as the delivery worker would.)
    let _rs = start(dir.path(), port);
    let mut outcomes = Vec::new();
    for _ in 0..50 {
        let o = t.send(&batch(n, 5)).await;
        let done = o == BatchOutcome::Delivered;
        outcomes.push(o);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        outcomes.last(),
        Some(&BatchOutcome::Delivered),
        "{outcomes:?}"
    );
    let got = received(dir.path(), n as usize + 5);
    let resent: Vec<String> = (n..n + 5).map(|i| format!("record-{i}")).collect();
    // Each resent record arrived; a retry after a lost answer may repeat one (at-least-once),
    // but nothing arrives that was not sent.
    for r in &resent {
        assert!(got[n as usize..].contains(r), "{r} missing: {got:?}");
    }
    assert!(
        got[n as usize..].iter().all(|g| resent.contains(g)),
        "{got:?}"
    );
    eprintln!("after the restart: {outcomes:?}");
}

/// A RELP server that opens sessions but answers every `syslog` frame with `code`.
async fn answering(code: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut pending = Vec::new();
                loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    // Frames here are small and arrive whole: answer each complete one.
                    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                        let frame: Vec<u8> = pending.drain(..=end).collect();
                        let text = String::from_utf8_lossy(&frame).into_owned();
                        let mut parts = text.split(' ');
                        let txnr = parts.next().unwrap_or("0").to_owned();
                        let cmd = parts.next().unwrap_or("");
                        let data = if cmd == "open" {
                            // The offer's other lines (it arrives in one write).
                            let tail = b"commands=syslog\n";
                            if let Some(p) = pending.windows(tail.len()).position(|w| w == tail) {
                                pending.drain(..p + tail.len());
                            }
                            "200 OK\nrelp_version=0\ncommands=syslog".to_owned()
                        } else {
                            code.to_owned()
                        };
                        let answer = format!("{txnr} rsp {} {data}\n", data.len());
                        if conn.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn an_answer_other_than_200_is_never_delivered() {
    let port = answering("500 no room").await;
    let t = RelpTransport::new("127.0.0.1", port);
    assert!(matches!(
        t.send(&batch(0, 2)).await,
        BatchOutcome::Retry { .. }
    ));
    let ok = answering("200 OK").await;
    let t = RelpTransport::new("127.0.0.1", ok);
    assert_eq!(t.send(&batch(0, 2)).await, BatchOutcome::Delivered);
}
