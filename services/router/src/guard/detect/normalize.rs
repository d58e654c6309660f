//! Text normalisation for phrase matching, with a byte map back to the original text.
//!
//! The normalised text is case-folded; leetspeak (`0 1 3 4 5 7 @ $`, and `! |` inside words),
//! Cyrillic/Greek look-alikes, fullwidth, circled and mathematical letters and Unicode tag
//! characters are mapped to ASCII; Latin accents are stripped; zero-width, bidi and other
//! format characters are removed; runs of whitespace/punctuation/symbols become one space;
//! runs of ≥ 3 single letters separated by single separators ("i g n o r e", "i.g.n.o.r.e")
//! are joined. `l` and `1` both fold to `i` (the phrase list goes through the same function,
//! so this only widens matching). Everything except case folding, accent stripping and
//! separator collapsing marks the produced bytes as *obfuscated*.

/// Base letter of U+00E0..=U+00FF (`.` = none).
const LATIN1_BASE: &[u8; 32] = b"aaaaaa.ceeeeiiiidnooooo.ouuuuy.y";
/// Base letter of lowercased U+0100..=U+017F (`.` = none).
#[rustfmt::skip]
const LATIN_EXT_A_BASE: &[u8; 128] = b"aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii..jjkkkllllllllllnnnnnnnnnoooooo..rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/// Cyrillic and Greek lower-case look-alikes of ASCII letters, and a few Latin ones.
#[rustfmt::skip]
const CONFUSABLES: &[(char, char)] = &[
    ('а', 'a'), ('в', 'b'), ('е', 'e'), ('ё', 'e'), ('к', 'k'), ('м', 'm'), ('н', 'h'), ('о', 'o'),
    ('р', 'p'), ('с', 'c'), ('т', 't'), ('у', 'y'), ('х', 'x'), ('і', 'i'), ('ї', 'i'), ('ј', 'j'),
    ('ѕ', 's'), ('ԁ', 'd'), ('ԛ', 'q'), ('ԝ', 'w'), ('һ', 'h'), ('ӏ', 'l'), ('ү', 'y'), ('ѵ', 'v'),
    ('α', 'a'), ('β', 'b'), ('ε', 'e'), ('η', 'n'), ('ι', 'i'), ('κ', 'k'), ('ν', 'v'), ('ο', 'o'),
    ('ρ', 'p'), ('τ', 't'), ('υ', 'u'), ('χ', 'x'), ('ω', 'w'), ('ı', 'i'), ('ɩ', 'i'), ('ɡ', 'g'),
    ('ℓ', 'l'),
];

/// Flag: the byte was produced by an obfuscation mapping.
const OBF: u8 = 1;
/// Flag (spaces): the separator run was exactly one original char.
const NARROW: u8 = 2;
/// Flag (spaces): removed by letter-spacing joining.
const REMOVE: u8 = 4;
/// Flag: the byte belongs to a joined letter-spaced run.
const JOINED: u8 = 8;

/// What one original char becomes.
enum Unit {
    Letter(char, bool),
    Sep,
    Drop { obf: bool },
}

/// Reusable normalisation buffers.
#[derive(Default)]
pub(super) struct Normalized {
    /// The normalised text (UTF-8): letters and single spaces.
    pub text: Vec<u8>,
    /// Per byte of `text`: start of the original char it came from.
    src: Vec<u32>,
    /// Per byte of `text`: `OBF | NARROW | REMOVE | JOINED` bits.
    flags: Vec<u8>,
    /// Byte ranges of `text` that were letter-spaced in the original.
    pub joined: Vec<(usize, usize)>,
}

impl Normalized {
    /// Normalises `input` into the buffers (previous contents are discarded). Offsets are
    /// kept as `u32`: only the first 4 GiB of a larger input are normalised.
    pub fn run(&mut self, input: &str) {
        let mut limit = input.len().min(u32::MAX as usize);
        while !input.is_char_boundary(limit) {
            limit -= 1;
        }
        let input = &input[..limit];
        self.joined.clear();
        // Output is at most 2 bytes per input byte (a few 2-byte capitals lower-case to 3
        // bytes) plus one separator per tag boundary.
        let cap = 2 * input.len() + 1;
        for buf in [&mut self.text, &mut self.flags] {
            buf.clear();
            buf.resize(cap, 0);
        }
        self.src.clear();
        self.src.resize(cap, 0);
        let mut w = Writer {
            text: &mut self.text,
            src: &mut self.src,
            flags: &mut self.flags,
            len: 0,
        };
        w.collect(input);
        let len = w.len;
        self.text.truncate(len);
        self.src.truncate(len);
        self.flags.truncate(len);
        self.join_letter_spacing();
    }

    /// Original byte range of the normalised bytes `a..b` (`a < b`).
    pub fn original_range(&self, input: &str, a: usize, b: usize) -> (usize, usize) {
        let last = self.src[b - 1] as usize;
        let last_len = input[last..].chars().next().map_or(0, char::len_utf8);
        (self.src[a] as usize, last + last_len)
    }

    /// True when any byte in `a..b` came from an obfuscation mapping.
    pub fn obfuscated(&self, a: usize, b: usize) -> bool {
        self.flags[a..b].iter().any(|f| f & OBF != 0)
    }

    /// Pass 2: join runs of ≥ 3 single-char tokens separated by narrow spaces, in place.
    fn join_letter_spacing(&mut self) {
        let b = &self.text;
        let mut run: Option<(usize, usize, usize)> = None; // (start, end, tokens)
        let mut removed = false;
        let mut i = 0;
        while i <= b.len() {
            let tok_start = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            let tok_end = i;
            let single = tok_end > tok_start && utf8_len(b[tok_start]) == tok_end - tok_start;
            let narrow_before = tok_start > 0 && self.flags[tok_start - 1] & NARROW != 0;
            run = match run {
                Some((s, _, n)) if single && narrow_before => Some((s, tok_end, n + 1)),
                other => {
                    if let Some((s, e, _)) = other.filter(|r| r.2 >= 3) {
                        removed = true;
                        mark_joined(&mut self.flags[s..e], &b[s..e]);
                    }
                    single.then_some((tok_start, tok_end, 1))
                }
            };
            i += 1;
        }
        if let Some((s, e, _)) = run.filter(|r| r.2 >= 3) {
            removed = true;
            mark_joined(&mut self.flags[s..e], &b[s..e]);
        }
        if !removed {
            return;
        }
        let flags = &self.flags;
        let mut k = 0;
        self.text.retain(|_| {
            k += 1;
            flags[k - 1] & REMOVE == 0
        });
        let mut k = 0;
        self.src.retain(|_| {
            k += 1;
            flags[k - 1] & REMOVE == 0
        });
        self.flags.retain(|f| f & REMOVE == 0);
        let mut k = 0;
        while k < self.flags.len() {
            if self.flags[k] & JOINED != 0 {
                let s = k;
                while k < self.flags.len() && self.flags[k] & JOINED != 0 {
                    k += 1;
                }
                self.joined.push((s, k));
            }
            k += 1;
        }
    }
}

/// Cursor over the pre-sized output buffers (indexing slices keeps the hot loop free of
/// `Vec` length reloads).
struct Writer<'a> {
    text: &'a mut [u8],
    src: &'a mut [u32],
    flags: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    /// Pass 1: classify chars into the buffers, collapsing separator runs into one space.
    fn collect(&mut self, input: &str) {
        let b = input.as_bytes();
        let mut pending_obf = false;
        let (mut prev_alnum, mut prev_tag) = (false, false);
        let mut i = 0;
        while i < b.len() {
            let byte = b[i];
            if byte.is_ascii() && !prev_tag {
                // Fast path: table lookup, no char decoding.
                let (mapped, obf) = ASCII_MAP[usize::from(byte)];
                let next_alnum = || {
                    input[i + 1..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)
                };
                if mapped != SEP_BYTE {
                    self.push_letter(char::from(mapped), i, obf || pending_obf);
                    pending_obf = false;
                } else if matches!(byte, b'!' | b'|') && prev_alnum && next_alnum() {
                    self.push_letter('i', i, true);
                    pending_obf = false;
                } else {
                    self.push_sep(i, true);
                }
                prev_alnum = byte.is_ascii_alphanumeric();
                i += 1;
                continue;
            }
            let c = input[i..].chars().next().unwrap_or(' ');
            let end = i + c.len_utf8();
            // Tag-smuggled text is a separate word from the visible text around it.
            let tag = is_tag(c);
            if i > 0 && tag != prev_tag {
                self.push_sep(i, false);
            }
            let next_alnum = || {
                input[end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric)
            };
            match classify(c, prev_alnum, next_alnum) {
                Unit::Drop { obf } => pending_obf |= obf,
                Unit::Sep => self.push_sep(i, true),
                Unit::Letter(ch, obf) => {
                    self.push_letter(ch, i, obf || pending_obf);
                    pending_obf = false;
                }
            }
            prev_alnum = c.is_alphanumeric();
            prev_tag = tag;
            i = end;
        }
    }

    /// Appends one byte produced by the original char at `start`.
    fn push(&mut self, byte: u8, start: usize, flag: u8) {
        self.text[self.len] = byte;
        self.src[self.len] = start as u32;
        self.flags[self.len] = flag;
        self.len += 1;
    }

    /// Appends a letter produced by the original char at `start`.
    fn push_letter(&mut self, ch: char, start: usize, obf: bool) {
        let flag = if obf { OBF } else { 0 };
        if ch.is_ascii() {
            self.push(ch as u8, start, flag);
        } else {
            let mut buf = [0; 4];
            for &b in ch.encode_utf8(&mut buf).as_bytes() {
                self.push(b, start, flag);
            }
        }
    }

    /// Adds a separator (one original char; `narrow` unless it marks a tag boundary),
    /// merging with a preceding one; leading separators are dropped.
    fn push_sep(&mut self, start: usize, narrow: bool) {
        match self.len.checked_sub(1).map(|last| (last, self.text[last])) {
            None => {}
            Some((last, b' ')) => self.flags[last] &= !NARROW,
            Some(_) => self.push(b' ', start, if narrow { NARROW } else { 0 }),
        }
    }
}

/// Marks a letter-spaced run: spaces removed, letters joined and obfuscated.
fn mark_joined(flags: &mut [u8], bytes: &[u8]) {
    for (f, &c) in flags.iter_mut().zip(bytes) {
        *f |= if c == b' ' { REMOVE } else { OBF | JOINED };
    }
}

/// Length of the UTF-8 sequence starting with `lead`.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

fn is_tag(c: char) -> bool {
    !c.is_ascii() && matches!(u32::from(c), 0xE0000..=0xE007F)
}

/// Maps one original char; `prev_alnum`/`next_alnum` describe its neighbours.
fn classify(c: char, prev_alnum: bool, next_alnum: impl Fn() -> bool) -> Unit {
    let cp = u32::from(c);
    match cp {
        0..=0x7F => classify_ascii(c, prev_alnum, next_alnum),
        // Tag characters spell ASCII invisibly.
        0xE0020..=0xE007E => obfuscated(classify_ascii(ascii(cp - 0xE0000), false, || false)),
        0xE0000..=0xE007F => Unit::Drop { obf: true },
        // Zero-width, bidi and other invisible format characters.
        0x00AD
        | 0x061C
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x2069
        | 0xFEFF => Unit::Drop { obf: true },
        // Variation selectors and combining diacritics carry no letter.
        0x0300..=0x036F | 0xFE00..=0xFE0F => Unit::Drop { obf: false },
        0x3000 => Unit::Sep,
        0xFF01..=0xFF5E => obfuscated(classify_ascii(ascii(cp - 0xFEE0), prev_alnum, next_alnum)),
        0x24B6..=0x24CF => Unit::Letter(fold_ascii(ascii(u32::from(b'a') + cp - 0x24B6)), true),
        0x24D0..=0x24E9 => Unit::Letter(fold_ascii(ascii(u32::from(b'a') + cp - 0x24D0)), true),
        0x1D400..=0x1D6A3 => {
            let k = (cp - 0x1D400) % 52;
            Unit::Letter(fold_ascii(ascii(u32::from(b'a') + k % 26)), true)
        }
        _ => classify_other(c),
    }
}

fn ascii(cp: u32) -> char {
    char::from_u32(cp).unwrap_or(' ')
}

fn obfuscated(u: Unit) -> Unit {
    match u {
        Unit::Letter(c, _) => Unit::Letter(c, true),
        other => other,
    }
}

/// Lower-cases and folds `l` to `i`.
fn fold_ascii(c: char) -> char {
    match c.to_ascii_lowercase() {
        'l' => 'i',
        other => other,
    }
}

/// [`ASCII_MAP`] value of a separator.
const SEP_BYTE: u8 = 0;

/// ASCII byte → (normalised byte or [`SEP_BYTE`], obfuscated): letters folded, leetspeak
/// digits and `@ $` mapped. `! |` are separators here; inside a word they are leet `i`.
static ASCII_MAP: [(u8, bool); 128] = {
    let mut map = [(SEP_BYTE, false); 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        map[c] = match b {
            b'l' | b'L' => (b'i', false),
            b'a'..=b'z' => (b, false),
            b'A'..=b'Z' => (b.to_ascii_lowercase(), false),
            b'0' => (b'o', true),
            b'1' => (b'i', true),
            b'3' => (b'e', true),
            b'4' | b'@' => (b'a', true),
            b'5' | b'$' => (b's', true),
            b'7' => (b't', true),
            b'2'..=b'9' => (b, false),
            _ => (SEP_BYTE, false),
        };
        c += 1;
    }
    map
};

fn classify_ascii(c: char, prev_alnum: bool, next_alnum: impl Fn() -> bool) -> Unit {
    let (mapped, obf) = ASCII_MAP[usize::from(c as u8 & 0x7F)];
    if mapped != SEP_BYTE {
        Unit::Letter(char::from(mapped), obf)
    } else if matches!(c, '!' | '|') && prev_alnum && next_alnum() {
        Unit::Letter('i', true)
    } else {
        Unit::Sep
    }
}

fn classify_other(c: char) -> Unit {
    let lower = c.to_lowercase().next().unwrap_or(c);
    if let Some(&(_, a)) = CONFUSABLES.iter().find(|&&(k, _)| k == lower) {
        return Unit::Letter(fold_ascii(a), true);
    }
    let base = match u32::from(lower) {
        cp @ 0xE0..=0xFF => LATIN1_BASE[(cp - 0xE0) as usize],
        cp @ 0x100..=0x17F => LATIN_EXT_A_BASE[(cp - 0x100) as usize],
        _ => b'.',
    };
    if base != b'.' {
        Unit::Letter(fold_ascii(char::from(base)), false)
    } else if lower.is_alphanumeric() {
        Unit::Letter(lower, false)
    } else {
        Unit::Sep
    }
}
