//! Where a destination sends, as `gatekit siem load` needs to know it: on this machine (a
//! file, a loopback address) or elsewhere. Load tests push tens of thousands of synthetic
//! events; sent to a production SIEM they cost licence volume and pollute detections, so
//! `load` refuses any destination that is not local unless the file says `siem.test_target:
//! true` or the operator passes `--yes`.

use gatekit_siem::connector::ConnectorPlan;

/// `true` for `localhost`, `127.0.0.0/8` and `::1`. A name is not resolved: only these
/// spellings count, so a DNS answer cannot turn a remote SIEM into a "local" one.
pub(super) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The hosts a destination talks to (for Azure with Entra ID, the token endpoint too);
/// empty for a file.
fn hosts(connector: &ConnectorPlan) -> Vec<&str> {
    match connector {
        ConnectorPlan::File(_) => Vec::new(),
        ConnectorPlan::SyslogTcp(p) | ConnectorPlan::SyslogUdp(p) | ConnectorPlan::Relp(p) => {
            vec![&p.host]
        }
        ConnectorPlan::SyslogTls(p) => vec![&p.host],
        ConnectorPlan::Hec(p) => vec![&p.endpoint.host],
        ConnectorPlan::QRadarHttp(p) => vec![&p.endpoint.host],
        ConnectorPlan::LogsIngestion(p) => vec![&p.endpoint.host, &p.token.endpoint.host],
        ConnectorPlan::DataCollector(p) => vec![&p.endpoint.host],
        ConnectorPlan::EventHubs(p) => vec![&p.endpoint.host],
    }
}

/// The first host of `connector` that is not on this machine, if any.
pub(super) fn remote_host(connector: &ConnectorPlan) -> Option<&str> {
    hosts(connector).into_iter().find(|h| !is_loopback(h))
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_spellings_are_local() {
        for local in [
            "127.0.0.1",
            "127.1.2.3",
            "localhost",
            "LOCALHOST",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "10.0.0.1",
            "splunk.example.com",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }
}
