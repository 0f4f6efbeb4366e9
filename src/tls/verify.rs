//! The server certificate check. Three ways a certificate is trusted:
//! - it chains to a CA of `tls_ca_file` or of the web's roots (webpki);
//! - it is itself one of the certificates of `tls_ca_file`: the usual
//!   self-signed development certificate is its own trust anchor, as
//!   OpenSSL, Go and curl treat it (webpki refuses a CA certificate as a
//!   server's own, `CaUsedAsEndEntity`);
//! - its SHA-256 is in `tls_pin_sha256`: with pins set, only a pinned
//!   certificate is accepted, whatever CA signed it.
//!
//! Either of the last two still checks the validity dates and the host
//! name. A refusal carries one sentence in plain words (see [`Refusal`]).

use super::cert::{self, CertFacts};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use std::fmt;
use std::sync::Arc;

/// Why a server's certificate was refused, as one sentence for the user.
/// It travels inside rustls's error as `CertificateError::Other`, and
/// [`super::explain`] takes it out again.
#[derive(Debug)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse(sentence: String) -> rustls::Error {
    CertificateError::Other(OtherError(Arc::new(Refusal(sentence)))).into()
}

#[derive(Debug)]
pub struct Verifier {
    pub provider: Arc<CryptoProvider>,
    /// The chain check; `None` with `tls_verify=false`.
    pub webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The certificates of `tls_ca_file`, each trusted as a server's own.
    pub listed: Vec<CertificateDer<'static>>,
    /// `tls_ca_file`'s path, for messages.
    pub ca_file: Option<String>,
    /// `tls_pin_sha256`: when not empty, the only certificates accepted.
    pub pins: Vec<[u8; 32]>,
}

/// The certificate being judged, for the words of a refusal.
struct Seen<'a> {
    facts: Option<CertFacts>,
    digest: [u8; 32],
    host: String,
    ca_file: Option<&'a str>,
    now: UnixTime,
}

impl Seen<'_> {
    /// `(CN=..., SHA-256 ...)`, or what of it is known.
    fn label(&self) -> String {
        match self.facts.as_ref().and_then(|f| f.common_name.as_deref()) {
            Some(cn) => format!("CN={cn}, SHA-256 {}", cert::hex(&self.digest)),
            None => format!("SHA-256 {}", cert::hex(&self.digest)),
        }
    }

    fn ca_file(&self) -> String {
        match self.ca_file {
            Some(path) => format!("tls_ca_file ({path})"),
            None => "tls_ca_file (not set)".into(),
        }
    }

    fn self_signed(&self) -> bool {
        self.facts.as_ref().is_some_and(|f| f.self_issued)
    }

    /// Expired or not valid yet, with the date passed (from rustls, else
    /// read from the certificate) and the time now.
    fn dates_words(&self, err: &CertificateError) -> String {
        use CertificateError::*;
        let facts = self.facts.as_ref();
        let (when, expired) = match err {
            ExpiredContext { not_after, .. } => (Some(not_after.as_secs() as i64), true),
            NotValidYetContext { not_before, .. } => (Some(not_before.as_secs() as i64), false),
            Expired => (facts.map(|f| f.not_after), true),
            _ => (facts.map(|f| f.not_before), false),
        };
        let when = when.map_or_else(|| "the date it names".to_string(), |t| format!("{} UTC", cert::utc(t)));
        let now = cert::utc(self.now.as_secs() as i64);
        if expired {
            format!(
                "the server's certificate ({}) expired on {when} (it is now {now} UTC): renew it on the server",
                self.label()
            )
        } else {
            format!(
                "the server's certificate ({}) is not valid before {when} (it is now {now} UTC): check the clocks \
                 of this machine and of the server",
                self.label()
            )
        }
    }

    /// A certificate error in words, with what to do about it.
    fn words(&self, err: &rustls::Error) -> String {
        let rustls::Error::InvalidCertificate(err) = err else {
            return format!("the server's certificate ({}) was refused: {}", self.label(), super::words(err, ""));
        };
        let is_ca = matches!(err, CertificateError::Other(OtherError(e))
            if matches!(e.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)));
        use CertificateError::*;
        match err {
            _ if is_ca || matches!(err, UnknownIssuer | BadSignature) => {
                if self.self_signed() {
                    format!(
                        "the server's certificate is self-signed ({}) and not listed in {}: add that \
                         certificate's PEM file to tls_ca_file, or pin it with tls_pin_sha256",
                        self.label(),
                        self.ca_file()
                    )
                } else if is_ca {
                    format!(
                        "the server presents a CA certificate as its own ({}): list that certificate in \
                         tls_ca_file to trust it as it is",
                        self.label()
                    )
                } else {
                    // BadSignature: a CA of the issuer's name is known, but
                    // its key did not sign this certificate.
                    let namesake = match err {
                        BadSignature => " (one of the same name is, but its key did not sign it)",
                        _ => "",
                    };
                    format!(
                        "the server's certificate ({}) is not signed by a CA in {} or the public web roots \
                         built into kapokmq{namesake}: set tls_ca_file to the PEM file of the CA that signed it",
                        self.label(),
                        self.ca_file()
                    )
                }
            }
            Expired | ExpiredContext { .. } | NotValidYet | NotValidYetContext { .. } => self.dates_words(err),
            NotValidForName | NotValidForNameContext { .. } => {
                let names = match err {
                    NotValidForNameContext { presented, .. } => {
                        presented.iter().filter_map(|n| san_name(n)).collect::<Vec<_>>().join(", ")
                    }
                    _ => String::new(),
                };
                if names.is_empty() {
                    format!(
                        "the server's certificate ({}) names no host in its subjectAltName, so it is not valid \
                         for {}: make one with subjectAltName=IP:... or DNS:...",
                        self.label(),
                        self.host
                    )
                } else {
                    format!(
                        "the server's certificate ({}) is for {names}, not for {}: connect to one of those \
                         names, or give the server a certificate for {}",
                        self.label(),
                        self.host,
                        self.host
                    )
                }
            }
            InvalidPurpose | InvalidPurposeContext { .. } => format!(
                "the server's certificate ({}) is not made for TLS servers (its extendedKeyUsage lacks \
                 serverAuth): give the server a server certificate",
                self.label()
            ),
            _ => format!("the server's certificate ({}) {}", self.label(), certificate_flaw(err)),
        }
    }
}

/// A subjectAltName as webpki reports it (`DnsName("a.example")`,
/// `IpAddress(10.0.0.1)`, ...) as the name alone; `None` for kinds that
/// name no host.
fn san_name(presented: &str) -> Option<String> {
    let inner = |prefix: &str| presented.strip_prefix(prefix)?.strip_suffix(')').map(|n| n.trim_matches('"'));
    inner("DnsName(").or_else(|| inner("IpAddress(")).map(str::to_owned)
}

/// What is wrong with a certificate, for the cases no user meets on a
/// working setup.
pub fn certificate_flaw(err: &CertificateError) -> &'static str {
    use CertificateError::*;
    match err {
        BadEncoding => "cannot be read (bad DER encoding)",
        UnhandledCriticalExtension => "has a critical extension kapokmq does not understand",
        Revoked => "has been revoked",
        UnsupportedSignatureAlgorithmContext { .. } | UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "is signed with an algorithm kapokmq does not support"
        }
        _ => "was refused by the certificate check",
    }
}

impl Verifier {
    /// The check for a certificate trusted as it is (listed or pinned):
    /// its dates, then the host name.
    fn check_own(
        &self,
        end_entity: &CertificateDer<'_>,
        name: &ServerName<'_>,
        seen: &Seen,
    ) -> Result<(), rustls::Error> {
        let Some(facts) = &seen.facts else {
            return Err(CertificateError::BadEncoding.into());
        };
        let now = seen.now.as_secs() as i64;
        if now < facts.not_before {
            return Err(CertificateError::NotValidYet.into());
        }
        if now > facts.not_after {
            return Err(CertificateError::Expired.into());
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, name)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Seen {
            facts: CertFacts::read(end_entity),
            digest: cert::sha256(end_entity),
            host: server_name.to_str().into_owned(),
            ca_file: self.ca_file.as_deref(),
            now,
        };
        if !self.pins.is_empty() && !self.pins.contains(&seen.digest) {
            return Err(refuse(format!(
                "the server's certificate ({}) matches no value of tls_pin_sha256: pin the new one if the \
                 server's certificate was replaced on purpose",
                seen.label()
            )));
        }
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        let result = if !self.pins.is_empty() || self.listed.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            self.check_own(end_entity, server_name, &seen)
        } else {
            webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now).map(|_| ())
        };
        result.map(|_| ServerCertVerified::assertion()).map_err(|e| refuse(seen.words(&e)))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn san_names_lose_their_debug_dress() {
        assert_eq!(super::san_name("DnsName(\"example.com\")").as_deref(), Some("example.com"));
        assert_eq!(super::san_name("IpAddress(127.0.0.1)").as_deref(), Some("127.0.0.1"));
        assert_eq!(super::san_name("IpAddress(::1)").as_deref(), Some("::1"));
        assert_eq!(super::san_name("DirectoryName"), None);
        assert_eq!(super::san_name("UniformResourceIdentifier(\"spiffe://x\")"), None);
    }
}
