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

/// Echo mode's token `index`: the prompt's `index`-th piece of four bytes (cut on
/// character boundaries, so pieces partition it), cycling over the prompt.
pub fn echoed(prompt: &str, index: u32) -> &str {
    if prompt.is_empty() {
        return text(index);
    }
    let pieces = prompt.len().div_ceil(BYTES_PER_TOKEN);
    let i = index as usize % pieces;
    let boundary = |mut at: usize| {
        at = at.min(prompt.len());
        while !prompt.is_char_boundary(at) {
            at += 1;
        }
        at
    };
    &prompt[boundary(i * BYTES_PER_TOKEN)..boundary((i + 1) * BYTES_PER_TOKEN)]
}
