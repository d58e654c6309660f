//! Eight bytes at a time in a `u64` ("SIMD within a register"): finding the byte that
//! ends a label value or a value token. Those are mostly shorter than a SIMD `memchr2`
//! is worth starting for, and longer than a byte loop is quick at. Lanes are
//! little-endian: the lowest set bit is the first byte.

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each lane of `v` that is zero. Borrows can also flag lanes above
/// the first zero lane, never below it, so only the lowest flag is exact: enough to
/// find the first match.
fn zero_lanes(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// The index of the first `x` or `y` at or after `i`.
pub(super) fn find_either(b: &[u8], mut i: usize, x: u8, y: u8) -> Option<usize> {
    let (xs, ys) = (u64::from_ne_bytes([x; 8]), u64::from_ne_bytes([y; 8]));
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let v = u64::from_le_bytes(*chunk);
        let found = zero_lanes(v ^ xs) | zero_lanes(v ^ ys);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = b.get(i..)?;
    rest.iter().position(|&c| c == x || c == y).map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::find_either;

    #[test]
    fn find_either_matches_a_byte_loop() {
        // Every pair of bytes, each at every place, after bytes that provoke borrows.
        for x in [0u8, 1, b'"', 0x7f, 0x80, 0xff] {
            for at in 0..20 {
                let mut hay = vec![x.wrapping_add(1); 20];
                hay[..at.min(3)].fill(x ^ 1);
                hay[at] = x;
                for from in 0..=hay.len() {
                    let want = hay[from..]
                        .iter()
                        .position(|&c| c == x || c == b'\\')
                        .map(|p| p + from);
                    assert_eq!(
                        find_either(&hay, from, x, b'\\'),
                        want,
                        "{x:#x} at {at} from {from}"
                    );
                }
            }
        }
        assert_eq!(find_either(b"", 0, b' ', b'\t'), None);
        assert_eq!(find_either(b"ab", 5, b' ', b'\t'), None);
    }
}
