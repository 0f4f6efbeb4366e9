//! kcat's output habits: `-f` format strings with `%` tokens and `-D`
//! delimiters, both with backslash escapes.

use crate::fail::{CliError, CliResult};
use kapokmq::Message;

/// The tokens `-f` knows, as `kmq consume --help` lists them.
pub const FORMAT_HELP: &str = "\
%s data, %S data length in bytes, %k message code, %t topic,
%T create time (Unix seconds: KapokMQ keeps seconds), %d delay (seconds),
%u status (-1 waiting, 0 delayed, 1 consumed), %% a percent sign;
escapes \\n \\r \\t \\0 \\\\ \\xNN. Nothing is added after each message: end
the format with \\n for lines.";

/// `\n`, `\r`, `\t`, `\0`, `\\` and `\xNN` in `s`, as bytes. `what` names
/// the flag in errors.
pub fn unescape(what: &str, s: &str) -> CliResult<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = match bytes.next() {
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'0') => 0,
            Some(b'\\') => b'\\',
            Some(b'x') => {
                let hex = [bytes.next(), bytes.next()];
                let digits: Option<Vec<u8>> = hex.into_iter().collect();
                digits
                    .and_then(|d| std::str::from_utf8(&d).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
                    .ok_or_else(|| CliError::usage(format!("{what} {s:?}: \\x needs two hex digits")))?
            }
            Some(other) => {
                return Err(CliError::usage(format!(
                    "{what} {s:?}: unknown escape \\{} (known: \\n \\r \\t \\0 \\\\ \\xNN)",
                    other as char
                )))
            }
            None => return Err(CliError::usage(format!("{what} {s:?}: ends with a lone backslash"))),
        };
        out.push(escaped);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Data,
    DataLen,
    Code,
    Topic,
    CreateTime,
    Delay,
    Status,
}

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Field(Field),
}

/// A parsed `-f` format: checked once, before anything is consumed.
#[derive(Debug)]
pub struct Format(Vec<Piece>);

impl Format {
    pub fn parse(fmt: &str) -> CliResult<Format> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                text.push(c);
                continue;
            }
            let field = match chars.next() {
                Some('%') => {
                    text.push('%');
                    continue;
                }
                Some('s') => Field::Data,
                Some('S') => Field::DataLen,
                Some('k') => Field::Code,
                Some('t') => Field::Topic,
                Some('T') => Field::CreateTime,
                Some('d') => Field::Delay,
                Some('u') => Field::Status,
                Some(other) => {
                    return Err(CliError::usage(format!(
                        "-f {fmt:?}: unknown token %{other} (known: %s %S %k %t %T %d %u %%)"
                    )))
                }
                None => return Err(CliError::usage(format!("-f {fmt:?}: ends with a lone %"))),
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(unescape("-f", &std::mem::take(&mut text))?));
            }
            pieces.push(Piece::Field(field));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(unescape("-f", &text)?));
        }
        Ok(Format(pieces))
    }

    /// Appends `m` as this format says to `out`.
    pub fn render(&self, m: &Message, out: &mut Vec<u8>) {
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Field(f) => {
                    let value = match f {
                        Field::Data => {
                            out.extend_from_slice(m.data.as_bytes());
                            continue;
                        }
                        Field::DataLen => m.data.len().to_string(),
                        Field::Code => m.code.clone(),
                        Field::Topic => m.topic.clone(),
                        Field::CreateTime => m.create_time.to_string(),
                        Field::Delay => m.delay_time.to_string(),
                        Field::Status => m.status.to_string(),
                    };
                    out.extend_from_slice(value.as_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            code: "8c01b728ef82ba754a63e61daa43e83c".into(),
            data: "héllo".into(),
            topic: "orders".into(),
            create_time: 1_640_975_470,
            consumed_time: 0,
            delay_time: 60,
            status: -1,
        }
    }

    fn render(fmt: &str) -> String {
        let mut out = Vec::new();
        Format::parse(fmt).unwrap().render(&message(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tokens_and_escapes() {
        assert_eq!(render("%k %s\\n"), "8c01b728ef82ba754a63e61daa43e83c héllo\n");
        assert_eq!(render("%t|%T|%d|%u|%S|100%%"), "orders|1640975470|60|-1|6|100%");
        assert_eq!(render("\\t%s\\x21\\\\"), "\théllo!\\");
        assert_eq!(render(""), "");
    }

    #[test]
    fn bad_formats_name_the_problem() {
        for (fmt, says) in
            [("%q", "unknown token %q"), ("50%", "lone %"), ("\\q", "unknown escape"), ("\\x4", "two hex")]
        {
            let e = Format::parse(fmt).unwrap_err();
            assert_eq!(e.code, crate::fail::code::USAGE);
            assert!(e.message.contains(says), "{fmt}: {}", e.message);
        }
        assert_eq!(unescape("-D", "\\r\\n").unwrap(), b"\r\n");
        assert!(unescape("-D", "x\\").is_err());
    }
}
