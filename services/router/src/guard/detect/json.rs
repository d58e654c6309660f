//! Allocation-free base64url decoding and JSON syntax check, used to validate JWT segments.

/// True when `segment` (unpadded base64url) decodes to a syntactically valid JSON object.
pub(super) fn b64url_is_json_object(segment: &str) -> bool {
    if segment.len() % 4 == 1 {
        return false;
    }
    let mut p = Parser {
        bytes: B64Url::new(segment.as_bytes()).peekable(),
        depth: 0,
    };
    p.ws();
    p.peek() == Some(b'{') && p.value().is_some() && {
        p.ws();
        p.peek().is_none()
    }
}

/// Iterator over the bytes decoded from unpadded base64url; stops at the first invalid char.
struct B64Url<'a> {
    input: &'a [u8],
    acc: u32,
    bits: u32,
}

impl<'a> B64Url<'a> {
    fn new(input: &'a [u8]) -> Self {
        B64Url {
            input,
            acc: 0,
            bits: 0,
        }
    }
}

impl Iterator for B64Url<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        while self.bits < 8 {
            let (&c, rest) = self.input.split_first()?;
            self.input = rest;
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            };
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
        }
        self.bits -= 8;
        Some((self.acc >> self.bits) as u8)
    }
}

/// Nesting limit for the syntax check.
const MAX_DEPTH: u32 = 32;

/// Recursive-descent JSON syntax check over a byte iterator. Each method returns `None` on
/// a syntax error.
struct Parser<I: Iterator<Item = u8>> {
    bytes: std::iter::Peekable<I>,
    depth: u32,
}

impl<I: Iterator<Item = u8>> Parser<I> {
    fn peek(&mut self) -> Option<u8> {
        self.bytes.peek().copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bytes.next();
        }
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.bytes.next()? == want).then_some(())
    }

    fn value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'{' => self.container(b'}', true),
            b'[' => self.container(b']', false),
            b'"' => self.string(),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn container(&mut self, close: u8, keyed: bool) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.bytes.next();
        self.ws();
        if self.peek() == Some(close) {
            self.bytes.next();
        } else {
            loop {
                if keyed {
                    self.ws();
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                }
                self.value()?;
                self.ws();
                match self.bytes.next()? {
                    b',' => continue,
                    c if c == close => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.bytes.next()? {
                b'"' => return Some(()),
                b'\\' => {
                    let hex_digits = if self.bytes.next()? == b'u' { 4 } else { 0 };
                    for _ in 0..hex_digits {
                        self.bytes.next().filter(u8::is_ascii_hexdigit)?;
                    }
                }
                c if c < 0x20 => return None,
                _ => {}
            }
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        w.iter().try_for_each(|&c| self.eat(c))
    }

    fn number(&mut self) -> Option<()> {
        let mut digits = 0;
        if self.peek() == Some(b'-') {
            self.bytes.next();
        }
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
        ) {
            digits += usize::from(self.peek().is_some_and(|c| c.is_ascii_digit()));
            self.bytes.next();
        }
        (digits > 0).then_some(())
    }
}
