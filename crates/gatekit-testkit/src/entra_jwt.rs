//! Verification of Entra ID client assertions (certificate credentials, docs/reference/sentinel.md
//! §2.2), as the token endpoint does it: a compact JWT whose header says `alg: RS256` and names
//! the registered certificate by `x5t#S256`; whose RS256 signature verifies with that
//! certificate's RSA public key; whose `aud` is this tenant's token endpoint URL; whose `iss`
//! and `sub` are the client id; which has a `jti`; and whose `nbf`/`exp` cover now (5 minutes
//! of clock skew allowed).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::azure::unix_now;

/// A certificate registered on the application.
#[derive(Debug, Clone)]
pub struct RegisteredCertificate {
    /// Base64url SHA-256 of the certificate's DER (`x5t#S256`).
    pub x5t_s256: String,
    /// The RSA public key, PKCS#1 `RSAPublicKey` DER.
    pub rsa_public_key_der: Vec<u8>,
}

/// `Ok` when `jwt` is a valid assertion for `client_id`; else the AADSTS code and a text.
pub fn verify(
    jwt: &str,
    certificate: Option<&RegisteredCertificate>,
    client_id: &str,
    audience_path: &str,
) -> Result<(), (&'static str, &'static str)> {
    let Some(cert) = certificate else {
        return Err((
            "AADSTS700027",
            "No certificate is registered on the application.",
        ));
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(("AADSTS50027", "The assertion is not a compact JWT."));
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).ok();
    let json = |p: &str| decode(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let (Some(h), Some(c), Some(sig)) = (json(header), json(claims), decode(signature)) else {
        return Err(("AADSTS50027", "The assertion is not valid Base64url JSON."));
    };
    if h["alg"] != "RS256" {
        return Err(("AADSTS5002730", "The assertion must be signed RS256."));
    }
    if h["x5t#S256"] != cert.x5t_s256.as_str() {
        return Err((
            "AADSTS700027",
            "The certificate thumbprint is not registered on the application.",
        ));
    }
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &cert.rsa_public_key_der,
    );
    if key
        .verify(format!("{header}.{claims}").as_bytes(), &sig)
        .is_err()
    {
        return Err(("AADSTS700027", "The assertion's signature does not verify."));
    }
    let aud = c["aud"].as_str().unwrap_or_default();
    if !(aud.starts_with("http") && aud.ends_with(audience_path)) {
        return Err((
            "AADSTS700021",
            "The assertion's audience is not this token endpoint.",
        ));
    }
    if c["iss"] != client_id || c["sub"] != client_id {
        return Err((
            "AADSTS700021",
            "The assertion's iss and sub must be the client id.",
        ));
    }
    if c["jti"].as_str().is_none_or(str::is_empty) {
        return Err(("AADSTS700021", "The assertion needs a jti."));
    }
    let now = unix_now();
    let (Some(nbf), Some(exp)) = (c["nbf"].as_u64(), c["exp"].as_u64()) else {
        return Err(("AADSTS700024", "The assertion needs nbf and exp."));
    };
    if nbf > now + 300 || exp + 300 < now {
        return Err((
            "AADSTS700024",
            "The assertion is not within its valid time range.",
        ));
    }
    Ok(())
}
