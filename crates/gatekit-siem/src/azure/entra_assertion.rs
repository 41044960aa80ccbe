//! Entra ID certificate credentials: the signed JWT client assertion of the client-credentials
//! grant (docs/reference/sentinel.md §2.2: `client_assertion_type=
//! urn:ietf:params:oauth:client-assertion-type:jwt-bearer` with `client_assertion=<JWT>`).
//!
//! Invariants: the JWT is signed RS256 (RSASSA-PKCS1-v1_5 with SHA-256) with the application's
//! RSA key; its header names the certificate by `x5t#S256` (Base64url of the SHA-256 of the
//! certificate's DER); `aud` is the token endpoint URL, `iss` and `sub` the client id, `jti`
//! random, and it is valid for 10 minutes from `nbf`. The private key stays in memory and is
//! never printed (`Debug` shows only the thumbprint).

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

/// An application certificate and its RSA private key.
#[derive(Clone)]
pub struct ClientCertificate {
    key: Arc<RsaKeyPair>,
    x5t_s256: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Loads the certificate (PEM; the first one) and its RSA private key (PEM, PKCS#8 or
    /// PKCS#1). Errors name the file, never the key material.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<ClientCertificate, String> {
        let cert = CertificateDer::from_pem_file(cert_file).map_err(|e| {
            format!(
                "cannot read a certificate from {}: {e}",
                cert_file.display()
            )
        })?;
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| format!("cannot read a private key from {}: {e}", key_file.display()))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(format!(
                    "{}: Entra certificate credentials need an RSA key (PKCS#8 or PKCS#1 PEM)",
                    key_file.display()
                ))
            }
        }
        .map_err(|e| format!("{}: not a usable RSA key ({e})", key_file.display()))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
        Ok(ClientCertificate {
            key: Arc::new(key),
            x5t_s256: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }

    /// The certificate thumbprint as sent in `x5t#S256`.
    pub fn thumbprint(&self) -> &str {
        &self.x5t_s256
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`, issued at
    /// `now` (Unix seconds).
    pub fn assertion(&self, client_id: &str, audience: &str, now: u64) -> Result<String, String> {
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti)
            .map_err(|_| "no randomness for the assertion id".to_string())?;
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.x5t_s256});
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_string())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}
