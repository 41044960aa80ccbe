#!/usr/bin/env bash
# Installs the real syslog receivers that gatekit-format's integration tests use as
# independent judges of its output (see crates/gatekit-format/tests/peers_*.rs).
#
# - rsyslog (Debian 12 ships mmnormalize.so inside the rsyslog package itself; other
#   releases split it into rsyslog-mmnormalize), its RELP modules (rsyslog-relp, for
#   gatekit-siem's tests/relp.rs) and liblognorm5 (CEF parsing) come from apt.
# - syslog-ng conflicts with rsyslog as a Debian package (both provide
#   system-log-daemon), so it is downloaded with `apt-get download` and unpacked with
#   `dpkg-deb -x` into a private directory; its shared-library dependencies come from apt.
#
# Idempotent and non-interactive. Run as root. Nothing here starts a daemon: the tests
# run each daemon with private config/pid/state files on 127.0.0.1 high ports.
#
# Usage: scripts/install-test-peers-syslog.sh [PREFIX]
#   PREFIX defaults to <repo>/target/test-peers; syslog-ng lands in PREFIX/syslog-ng.
#   The tests look there (or in $GATEKIT_SYSLOG_NG_ROOT).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-${repo_root}/target/test-peers}"
sng_root="${prefix}/syslog-ng"

sng_lib="${sng_root}/usr/lib/syslog-ng:${sng_root}/usr/lib/x86_64-linux-gnu"

# Fast path for repeated runs (CI runs this before every test run): everything present and
# working means nothing to do, and no network access.
if command -v rsyslogd >/dev/null 2>&1 \
    && command -v openssl >/dev/null 2>&1 \
    && ls /usr/lib/*/rsyslog/mmnormalize.so >/dev/null 2>&1 \
    && ls /usr/lib/*/rsyslog/imrelp.so >/dev/null 2>&1 \
    && LD_LIBRARY_PATH="${sng_lib}" "${sng_root}/usr/sbin/syslog-ng" --version >/dev/null 2>&1; then
    echo "install-test-peers-syslog: rsyslog, mmnormalize and syslog-ng (${sng_root}) already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "==> apt-get update"
apt-get update -q

echo "==> installing rsyslog (with mmnormalize) and liblognorm"
# --no-install-recommends: we do not want logrotate & co; the system's logging is untouched
# because the tests never use the packaged service (no systemd here anyway).
# openssl: the TLS tests make their certificates with it.
# rsyslog-relp: imrelp, the RELP receiver of gatekit-siem's tests/relp.rs.
pkgs=(rsyslog rsyslog-relp liblognorm5 openssl)
if apt-cache show rsyslog-mmnormalize >/dev/null 2>&1; then pkgs+=(rsyslog-mmnormalize); fi
apt-get install "${apt_opts[@]}" --no-install-recommends "${pkgs[@]}"
if ! ls /usr/lib/*/rsyslog/mmnormalize.so >/dev/null 2>&1; then
    echo "error: rsyslog's mmnormalize module is missing after install" >&2
    exit 1
fi

# Debian's postinst may try to start rsyslog through invoke-rc.d; in a container without an
# init that is harmless, but make sure no system rsyslog keeps running on our account.
if command -v service >/dev/null 2>&1; then service rsyslog stop >/dev/null 2>&1 || true; fi

echo "==> syslog-ng (unpacked privately into ${sng_root})"
mkdir -p "${sng_root}"
if [[ -x "${sng_root}/usr/sbin/syslog-ng" ]]; then
    echo "    already unpacked"
else
    dl="$(mktemp -d)"
    trap 'rm -rf "${dl}"' EXIT
    (cd "${dl}" && apt-get download syslog-ng-core)
    # Library dependencies of syslog-ng-core (libsyslog-ng is inside syslog-ng-core itself on
    # Debian 12; glib, ivykis, json-c, net-snmp, ... come from apt).
    deps="$(dpkg-deb -f "${dl}"/syslog-ng-core_*.deb Depends \
        | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//; s/^ +//; s/ +$//' \
        | grep -v -E '^(debconf|lsb-base|util-linux|init-system-helpers|adduser)' \
        | grep -v -E '^$' || true)"
    if [[ -n "${deps}" ]]; then
        # shellcheck disable=SC2086
        apt-get install "${apt_opts[@]}" --no-install-recommends ${deps}
    fi
    for deb in "${dl}"/*.deb; do dpkg-deb -x "${deb}" "${sng_root}"; done
fi

# The unpacked daemon finds its own libraries and modules only when told where they are;
# the tests set the same LD_LIBRARY_PATH and pass --module-path.
LD_LIBRARY_PATH="${sng_lib}" "${sng_root}/usr/sbin/syslog-ng" --version | head -n 2
rsyslogd -v | head -n 1
echo "==> done: rsyslogd=$(command -v rsyslogd) syslog-ng=${sng_root}/usr/sbin/syslog-ng"
