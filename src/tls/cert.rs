//! The few facts about an X.509 certificate that the verifier and its
//! error messages need and webpki does not hand out: the validity dates,
//! whether it is self-signed, its common name, and its SHA-256 fingerprint.
//! A small DER reader for the fixed start of `TBSCertificate` (RFC 5280
//! §4.1); anything it cannot read is `None`, never a panic.

/// What the verifier reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// notBefore and notAfter, in seconds since 1970 (UTC).
    pub not_before: i64,
    pub not_after: i64,
    /// Issuer and subject are the same name.
    pub self_issued: bool,
    /// The subject's common name, for messages.
    pub common_name: Option<String>,
}

/// One DER element: its tag, its content, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// The OID of commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

impl CertFacts {
    /// Reads a DER certificate; `None` when it is not one.
    pub fn read(der: &[u8]) -> Option<CertFacts> {
        let (SEQUENCE, cert, _) = element(der)? else {
            return None;
        };
        let (SEQUENCE, tbs, _) = element(cert)? else {
            return None;
        };
        // [0] EXPLICIT version, absent in v1 certificates.
        let mut rest = tbs;
        if rest.first() == Some(&0xa0) {
            rest = element(rest)?.2;
        }
        let (_serial, _, rest) = element(rest)?;
        let (_signature, _, rest) = element(rest)?;
        let (SEQUENCE, issuer, rest) = element(rest)? else {
            return None;
        };
        let (SEQUENCE, validity, rest) = element(rest)? else {
            return None;
        };
        let (SEQUENCE, subject, _) = element(rest)? else {
            return None;
        };
        let (t1, before, validity) = element(validity)?;
        let (t2, after, _) = element(validity)?;
        Some(CertFacts {
            not_before: time(t1, before)?,
            not_after: time(t2, after)?,
            self_issued: issuer == subject,
            common_name: common_name(subject),
        })
    }
}

/// The first commonName in a Name (a SEQUENCE of SETs of SEQUENCEs).
fn common_name(mut name: &[u8]) -> Option<String> {
    while let Some((SET, mut rdn, rest)) = element(name) {
        while let Some((SEQUENCE, pair, more)) = element(rdn) {
            if let Some((OID, COMMON_NAME, value)) = element(pair) {
                let (_, text, _) = element(value)?;
                return Some(String::from_utf8_lossy(text).into_owned());
            }
            rdn = more;
        }
        name = rest;
    }
    None
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`) as seconds since 1970.
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let (year, rest) = match tag {
        UTC_TIME if text.len() == 13 => {
            let yy = digits(&text[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        GENERALIZED_TIME if text.len() == 15 => (digits(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    let field = |i: usize| digits(&rest[i..i + 2]);
    let (month, day, hour, minute, second) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as i64))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `secs` since 1970 as `YYYY-MM-DD hh:mm:ss` in UTC (H. Hinnant's
/// `civil_from_days`), so that no time zone database is needed.
pub fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The SHA-256 of a certificate's DER, the value `tls_pin_sha256` holds.
pub fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Lowercase hex, as `tls_pin_sha256` accepts it.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for (text, secs) in
            [("1970-01-01 00:00:00", 0), ("2000-02-29 12:34:56", 951_827_696), ("2049-12-31 23:59:59", 2_524_607_999)]
        {
            assert_eq!(utc(secs), text);
        }
        assert_eq!(utc(-1), "1969-12-31 23:59:59");
        assert_eq!(time(UTC_TIME, b"000229123456Z"), Some(951_827_696));
        assert_eq!(time(GENERALIZED_TIME, b"20000229123456Z"), Some(951_827_696));
        assert_eq!(time(UTC_TIME, b"500101000000Z"), Some(-631_152_000));
        assert_eq!(time(UTC_TIME, b"0002291234Z"), None);
        assert_eq!(time(UTC_TIME, b"001329123456Z"), None);
        assert_eq!(time(GENERALIZED_TIME, b"20000229123456+"), None);
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        for bad in [&b""[..], b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x30\x01", b"\x30\x80"] {
            assert_eq!(CertFacts::read(bad), None);
        }
    }
}
