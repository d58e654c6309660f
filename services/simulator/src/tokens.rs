//! Tokens without a tokenizer: one token is about four bytes of text, the rule of
//! thumb for English with Llama-style tokenizers. Block hashes cover `block_size`
//! tokens (`4 × block_size` bytes), so two prompts share cached blocks exactly when
//! they share that many leading bytes.

/// Bytes per token.
pub const BYTES_PER_TOKEN: usize = 4;

/// Prompt tokens of `text`: at least one.
pub fn count(text: &str) -> u32 {
    (text.len().div_ceil(BYTES_PER_TOKEN)).max(1) as u32
}

/// The prefix-cache hashes of `text`'s full blocks.
pub fn block_hashes(text: &str, block_size: u32) -> Vec<u64> {
    shared::hash::prefix_blocks(text.as_bytes(), block_size as usize * BYTES_PER_TOKEN)
}

const WORDS: [&str; 8] = [
    " the", " pool", " is", " warm", " and", " the", " cache", " hits",
];

/// The text of generated token `index`: deterministic, four bytes.
pub fn text(index: u32) -> &'static str {
    WORDS[index as usize % WORDS.len()]
}
