//! A throw-away PKI for TLS tests, made with the `openssl` command (installed by
//! `scripts/install-test-peers-syslog.sh`): a CA, a server certificate for 127.0.0.1 and
//! `localhost`, and a client certificate, all P-256 and valid for two days; plus the rustls
//! server configuration the receivers use with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The files of one PKI, named `<name>-ca.pem`, `<name>-server.pem`, ... in its directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    name: String,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| {
            format!("cannot run openssl (scripts/install-test-peers-syslog.sh installs it): {e}")
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

impl Pki {
    /// Makes a CA and a server and a client certificate signed by it in `dir`.
    pub fn generate(dir: &Path, name: &str) -> Result<Pki, String> {
        let pki = Pki {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        };
        let (ca_key, ca_pem) = (pki.file("ca.key"), pki.file("ca.pem"));
        let mut args = vec!["req", "-x509"];
        args.extend(EC);
        let (ca_key_s, ca_pem_s) = (ca_key.display().to_string(), ca_pem.display().to_string());
        args.extend([
            "-keyout",
            &ca_key_s,
            "-out",
            &ca_pem_s,
            "-days",
            "2",
            "-subj",
            "/CN=gatekit test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &args)?;
        for (who, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            let key = pki.file(&format!("{who}.key")).display().to_string();
            let csr = pki.file(&format!("{who}.csr")).display().to_string();
            let pem = pki.file(&format!("{who}.pem")).display().to_string();
            let ext = pki.file(&format!("{who}.ext"));
            std::fs::write(
                &ext,
                format!("basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"),
            )
            .map_err(|e| e.to_string())?;
            let ext = ext.display().to_string();
            let mut args = vec!["req"];
            args.extend(EC);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
            openssl(dir, &args)?;
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca_pem_s,
                    "-CAkey",
                    &ca_key_s,
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                ],
            )?;
        }
        Ok(pki)
    }

    /// `<dir>/<name>-<suffix>`, for example `file("client.pem")`.
    pub fn file(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}-{suffix}", self.name))
    }

    /// A rustls server configuration with the server certificate; when `require_client_cert`,
    /// clients must present a certificate signed by this CA (mutual TLS).
    pub fn server_config(&self, require_client_cert: bool) -> Result<rustls::ServerConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(self.file("server.pem"))
                .map_err(|e| e.to_string())?
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
        let key =
            PrivateKeyDer::from_pem_file(self.file("server.key")).map_err(|e| e.to_string())?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            for c in
                CertificateDer::pem_file_iter(self.file("ca.pem")).map_err(|e| e.to_string())?
            {
                roots
                    .add(c.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        builder
            .with_single_cert(certs, key)
            .map_err(|e| e.to_string())
    }
}
