//! TLS for wss:// nodes and https:// registries and consoles: rustls with
//! the web's root certificates plus `tls_ca_file`, optional pins
//! (`tls_pin_sha256`), and `tls_verify=false` to turn the checks off (for
//! tests; it logs a warning). Every TLS failure reaches the user as one
//! sentence in plain words ([`explain`]).

mod cert;
mod verify;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log;
pub use cert::utc;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{AlertDescription, CertificateError, ClientConfig, OtherError, RootCertStore};
use std::sync::Arc;
pub use verify::Refusal;

/// The client TLS settings for `config`, or `None` when nothing uses TLS.
pub fn client_config(config: &Config) -> Result<Option<Arc<ClientConfig>>> {
    let uses_tls = config.mq_protocol == "wss" || config.registry_protocol == "https";
    if !uses_tls {
        return Ok(None);
    }
    settings(config).map(Some)
}

/// The client TLS settings for `config`.
pub(crate) fn settings(config: &Config) -> Result<Arc<ClientConfig>> {
    crate::runtime::setup();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
    let listed = ca_file(config)?;
    let webpki = if config.tls_verify {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for cert in &listed {
            // A certificate webpki cannot use as an anchor is still trusted
            // as a server's own certificate by the verifier.
            let _ = roots.add(cert.clone());
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
        Some(webpki)
    } else {
        log::warn(|| {
            if config.tls_pin_sha256.is_empty() {
                "tls_verify is false: server certificates are not checked".to_string()
            } else {
                "tls_verify is false: only the pins of tls_pin_sha256 are checked".to_string()
            }
        });
        None
    };
    let verifier = verify::Verifier {
        provider,
        webpki,
        listed,
        ca_file: config.tls_ca_file.clone(),
        pins: config.tls_pin_sha256.clone(),
    };
    let tls = builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth();
    Ok(Arc::new(tls))
}

/// The certificates of `tls_ca_file` (none when it is not set).
fn ca_file(config: &Config) -> Result<Vec<CertificateDer<'static>>> {
    let Some(path) = &config.tls_ca_file else {
        return Ok(Vec::new());
    };
    let bad = |why: String| Error::invalid(format!("config key \"tls_ca_file\": {path:?}: {why}"));
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    for (i, cert) in certs.iter().enumerate() {
        if webpki::EndEntityCert::try_from(cert).is_err() {
            return Err(bad(format!("certificate {} of {} is not a valid X.509 certificate", i + 1, certs.len())));
        }
    }
    Ok(certs)
}

/// The TLS failure behind `err`, in plain words; `None` when nothing in
/// its chain of causes is about TLS. `plain` is the setting to use when the
/// server does not speak TLS at all (`mq_protocol=ws`, ...).
pub fn explain(err: &(dyn std::error::Error + 'static), plain: &str) -> Option<String> {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(words(tls, plain));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // tokio-rustls's words for a peer that hung up mid-handshake.
            if io.kind() == std::io::ErrorKind::UnexpectedEof && io.to_string() == "tls handshake eof" {
                return Some(format!(
                    "the server closed the connection during the TLS handshake: it may not serve TLS on \
                     this port (then use {plain}), or it refused kapokmq's TLS versions or ciphers"
                ));
            }
            // An io::Error's source() skips the error it wraps (which may
            // be another io::Error, around the rustls one).
            if let Some(inner) = io.get_ref() {
                cause = Some(inner);
                continue;
            }
        }
        cause = e.source();
    }
    None
}

/// One rustls error in words.
fn words(err: &rustls::Error, plain: &str) -> String {
    use rustls::Error::*;
    match err {
        InvalidCertificate(CertificateError::Other(OtherError(why))) if why.is::<Refusal>() => why.to_string(),
        InvalidCertificate(other) => format!("the server's certificate {}", verify::certificate_flaw(other)),
        InvalidMessage(_) | InappropriateMessage { .. } | InappropriateHandshakeMessage { .. } => format!(
            "the server did not answer in TLS (a plain-text server on a TLS port?): use {plain}, or the \
             port where the server serves TLS"
        ),
        AlertReceived(AlertDescription::CertificateRequired) => "the server requires a client certificate, \
             which kapokmq does not send: turn client certificate checks off on the server for this client"
            .into(),
        AlertReceived(AlertDescription::ProtocolVersion) | PeerIncompatible(_) => {
            "the server and kapokmq share no TLS version or cipher (kapokmq speaks TLS 1.2 and 1.3 with \
             modern ciphers): enable one of those on the server"
                .into()
        }
        AlertReceived(alert) => format!("the server ended the TLS handshake with the alert \"{}\"", alert_name(*alert)),
        NoCertificatesPresented => "the server presented no certificate".into(),
        PeerMisbehaved(_) | DecryptError => "the server broke the TLS protocol".into(),
        _ => "the TLS connection failed".into(),
    }
}

/// An alert's name as the TLS specification spells it, from its code.
fn alert_name(alert: AlertDescription) -> String {
    // rustls names alerts in CamelCase (HandshakeFailure): in words.
    let camel = format!("{alert:?}");
    let mut words = String::new();
    let mut after_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() && after_lower {
            words.push(' ');
        }
        after_lower = c.is_ascii_lowercase();
        words.push(c.to_ascii_lowercase());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_are_words() {
        assert_eq!(alert_name(AlertDescription::HandshakeFailure), "handshake failure");
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown ca");
    }
}
