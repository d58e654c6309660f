//! Stable hashes: the same bytes hash the same in every process and build, so a key
//! keeps its partition and a prompt prefix its block hashes.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a of `bytes`, continuing from `seed` (use [`fnv1a`] to start).
pub fn fnv1a_from(seed: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(seed, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(OFFSET, bytes)
}

/// Chained hashes of the full `block`-byte blocks of `text`: hash `i` covers bytes
/// `0..(i+1)*block`, so equal hashes mean equal prefixes. A trailing partial block is
/// not hashed (as vLLM's prefix cache and the endpoint picker's prefix scorer do).
pub fn prefix_blocks(text: &[u8], block: usize) -> Vec<u64> {
    let mut h = OFFSET;
    text.chunks_exact(block.max(1))
        .map(|chunk| {
            h = fnv1a_from(h, chunk);
            h
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn equal_prefixes_share_leading_blocks() {
        let a = prefix_blocks(b"0123456789abcdefXYZ", 4);
        let b = prefix_blocks(b"0123456789abZZZZ", 4);
        assert_eq!(a.len(), 4);
        assert_eq!(a[..3], b[..3]);
        assert_ne!(a[3], b[3]);
    }
}
