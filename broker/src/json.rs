//! JSON exactly as the Go server reads and writes it: `encoding/json` string escaping (HTML
//! characters and U+2028/U+2029 escaped) and `json.Unmarshal` of the producer's
//! `{"MessageData":..,"DelayTime":..}` frame (case-insensitive keys, strict types).

/// Appends `s` as a JSON string the way Go's `encoding/json` does (escapeHTML on).
pub fn go_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            let esc: Option<&[u8]> = match c {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                c if c < 0x20 || c == b'<' || c == b'>' || c == b'&' => Some(b""),
                _ => None,
            };
            if let Some(e) = esc {
                out.extend_from_slice(&b[start..i]);
                if e.is_empty() {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(c >> 4) as usize]);
                    out.push(HEX[(c & 15) as usize]);
                } else {
                    out.extend_from_slice(e);
                }
                start = i + 1;
            }
            i += 1;
        } else {
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9.
            if c == 0xE2 && i + 2 < b.len() && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9) {
                out.extend_from_slice(&b[start..i]);
                out.extend_from_slice(if b[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                i += 3;
                start = i;
            } else {
                i += 1;
            }
        }
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

pub fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut p = buf.len();
    loop {
        p -= 1;
        buf[p] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[p..]);
}

/// A stored message as the server's `model.Message` encodes (field order matters).
pub struct MsgView<'a> {
    pub code: u128,
    pub data: &'a str,
    pub topic: &'a str,
    pub create: i64,
    pub consumed: i64,
    pub delay: i64,
    pub status: i8,
}

pub fn write_message(out: &mut Vec<u8>, m: &MsgView<'_>) {
    out.extend_from_slice(b"{\"MessageCode\":\"");
    crate::util::push_hex32(out, m.code);
    out.extend_from_slice(b"\",\"MessageData\":");
    go_str(out, m.data);
    out.extend_from_slice(b",\"Topic\":");
    go_str(out, m.topic);
    out.extend_from_slice(b",\"CreateTime\":");
    push_int(out, m.create);
    out.extend_from_slice(b",\"ConsumedTime\":");
    push_int(out, m.consumed);
    out.extend_from_slice(b",\"DelayTime\":");
    push_int(out, m.delay);
    out.extend_from_slice(b",\"Status\":");
    push_int(out, m.status as i64);
    out.push(b'}');
}

// ---------------------------------------------------------------- producer frame

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

type R<T> = Result<T, ()>;

impl<'a> P<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(())
        }
    }
    fn lit(&mut self, s: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(s) {
            self.i += s.len();
            Ok(())
        } else {
            Err(())
        }
    }
    fn hex4(&mut self) -> R<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.peek().ok_or(())?;
            let d = (c as char).to_digit(16).ok_or(())?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    /// Parses a string (cursor on the opening quote); decodes it when `out` is given.
    fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> R<()> {
        self.eat(b'"')?;
        loop {
            let start = self.i;
            while self.i < self.b.len() && self.b[self.i] != b'"' && self.b[self.i] != b'\\' && self.b[self.i] >= 0x20 {
                self.i += 1;
            }
            if let Some(o) = out.as_deref_mut() {
                o.extend_from_slice(&self.b[start..self.i]);
            }
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or(())?;
                    self.i += 1;
                    let ch: char = match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let u = self.hex4()?;
                            if (0xD800..0xE000).contains(&u) {
                                // A valid pair combines; anything else becomes U+FFFD and the
                                // following escape is read on its own (as Go does).
                                let save = self.i;
                                let mut pair = None;
                                if u < 0xDC00 && self.b[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    match self.hex4() {
                                        Ok(lo) if (0xDC00..0xE000).contains(&lo) => {
                                            pair = char::from_u32(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
                                        }
                                        _ => {}
                                    }
                                    if pair.is_none() {
                                        self.i = save;
                                    }
                                }
                                pair.unwrap_or('\u{FFFD}')
                            } else {
                                char::from_u32(u).unwrap_or('\u{FFFD}')
                            }
                        }
                        _ => return Err(()),
                    };
                    if let Some(o) = out.as_deref_mut() {
                        let mut tmp = [0u8; 4];
                        o.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                    }
                }
                _ => return Err(()), // control character or end of input
            }
        }
    }

    /// Validates a number and returns its text.
    fn number(&mut self) -> R<&'a [u8]> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(()),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(());
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(());
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        Ok(&self.b[start..self.i])
    }

    fn skip_value(&mut self, depth: u32) -> R<()> {
        if depth > 10000 {
            return Err(());
        }
        self.ws();
        match self.peek().ok_or(())? {
            b'"' => self.string(None),
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.string(None)?;
                    self.ws();
                    self.eat(b':')?;
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(()),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(()),
                    }
                }
            }
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            _ => self.number().map(|_| ()),
        }
    }
}

/// Case-insensitive key match as Go's decoder does it (ASCII folding, plus the two non-ASCII
/// letters that fold to ASCII: U+017F ſ → s and U+212A K → k).
fn key_is(key: &[u8], want_lower: &str) -> bool {
    let Ok(k) = std::str::from_utf8(key) else {
        return false;
    };
    let mut w = want_lower.chars();
    for c in k.chars() {
        let f = match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        };
        if w.next() != Some(f) {
            return false;
        }
    }
    w.next().is_none()
}

/// `json.Unmarshal(frame, &SendMessage{MessageData string; DelayTime int64})`.
/// `None` where Go returns an error (the server then drops the connection).
pub fn parse_send(frame: &[u8]) -> Option<(String, i64)> {
    let mut p = P { b: frame, i: 0 };
    let mut data: Vec<u8> = Vec::new();
    let mut delay: i64 = 0;
    p.ws();
    match p.peek()? {
        b'n' => {
            p.lit(b"null").ok()?;
        }
        b'{' => {
            p.i += 1;
            p.ws();
            if p.peek() == Some(b'}') {
                p.i += 1;
            } else {
                let mut key = Vec::new();
                loop {
                    p.ws();
                    key.clear();
                    p.string(Some(&mut key)).ok()?;
                    p.ws();
                    p.eat(b':').ok()?;
                    p.ws();
                    let is_data = key_is(&key, "messagedata");
                    let is_delay = !is_data && key_is(&key, "delaytime");
                    if is_data || is_delay {
                        match p.peek()? {
                            b'n' => p.lit(b"null").ok()?,
                            b'"' if is_data => {
                                data.clear();
                                p.string(Some(&mut data)).ok()?;
                            }
                            b'-' | b'0'..=b'9' if is_delay => {
                                let t = p.number().ok()?;
                                // Go: strconv.ParseInt on the literal; fractions, exponents and
                                // overflow are type errors.
                                delay = std::str::from_utf8(t).ok()?.parse::<i64>().ok()?;
                            }
                            _ => return None,
                        }
                    } else {
                        p.skip_value(0).ok()?;
                    }
                    p.ws();
                    match p.peek()? {
                        b',' => p.i += 1,
                        b'}' => {
                            p.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
        }
        _ => return None,
    }
    p.ws();
    if p.i != frame.len() {
        return None;
    }
    Some((crate::util::go_lossy(data), delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        let mut v = Vec::new();
        go_str(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn go_escaping() {
        assert_eq!(
            enc("a<b>&\"\\\n\u{1}\u{7f}é\u{2028}"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\u{7f}é\\u2028\""
        );
    }

    #[test]
    fn send_frames() {
        assert_eq!(parse_send(br#"{"MessageData":"hello","DelayTime":0}"#), Some(("hello".into(), 0)));
        assert_eq!(parse_send(br#"{"messagedata":"x","delaytime":5}"#), Some(("x".into(), 5)));
        assert_eq!(
            parse_send(br#" {"MessageData":"x","Other":[1,{"a":null}],"DelayTime":-3} "#),
            Some(("x".into(), -3))
        );
        assert_eq!(parse_send(br#"{"MessageData":"x"}"#), Some(("x".into(), 0)));
        assert_eq!(parse_send(b"null"), Some(("".into(), 0)));
        assert_eq!(parse_send(br#"{"MessageData":"\ud83d\ude00\ud800x"}"#), Some(("\u{1F600}\u{FFFD}x".into(), 0)));
        assert_eq!(parse_send(b"{\"MessageData\":\"a\xff\xfeb\"}"), Some(("a\u{FFFD}\u{FFFD}b".into(), 0)));
        assert_eq!(parse_send(br#"{"MessageData":5,"DelayTime":0}"#), None);
        assert_eq!(parse_send(br#"{"MessageData":"x","DelayTime":1.5}"#), None);
        assert_eq!(parse_send(br#"{"MessageData":"x","DelayTime":1e3}"#), None);
        assert_eq!(parse_send(br#"{"MessageData":"x","DelayTime":"1"}"#), None);
        assert_eq!(parse_send(br#"{"MessageData":"x"} x"#), None);
        assert_eq!(parse_send(b"hello"), None);
        assert_eq!(parse_send(b""), None);
        assert_eq!(parse_send(b"[]"), None);
        assert_eq!(parse_send(b"{\"MessageData\":\"a\nb\"}"), None);
    }
}
