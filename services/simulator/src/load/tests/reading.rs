//! Reading responses: SSE split anywhere, and what one request measured.

use super::*;
use crate::load::response::{Chunk, Measure, Payload, SseDecoder, Usage, whole};

const STREAM: &str = concat!(
    ": keep-alive\n\n",
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hé\"}}]}\r\n\r\n",
    "event: message\n",
    "data:{\"choices\":[{\"text\":\" there\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n",
    "data: [DONE]\n\n",
);

fn decode(parts: &[&[u8]]) -> Vec<Payload> {
    let mut d = SseDecoder::default();
    let mut out = Vec::new();
    for p in parts {
        d.push(p, &mut out);
    }
    d.finish(&mut out);
    out
}

#[test]
fn sse_payloads() {
    let text = |t| {
        Payload::Chunk(Chunk {
            text: t,
            ..Chunk::default()
        })
    };
    let usage = Payload::Chunk(Chunk {
        usage: Some(Usage {
            prompt_tokens: Some(7),
            completion_tokens: Some(2),
        }),
        ..Chunk::default()
    });
    assert_eq!(
        decode(&[STREAM.as_bytes()]),
        [text(false), text(true), text(true), usage, Payload::Done]
    );
}

#[test]
fn sse_split_anywhere() {
    let bytes = STREAM.as_bytes();
    let want = decode(&[bytes]);
    // Every split point, including inside the two-byte `é`.
    for i in 0..=bytes.len() {
        assert_eq!(decode(&[&bytes[..i], &bytes[i..]]), want, "split at {i}");
    }
    let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode(&one_by_one), want);
}

#[test]
fn sse_last_line_without_newline_and_garbage() {
    assert_eq!(decode(&[b"data: [DONE]"]), [Payload::Done]);
    assert_eq!(decode(&[b"data: {oops\n"]), [Payload::Malformed]);
    let err = decode(&[b"data: {\"error\":{\"message\":\"boom\"}}\n\n"]);
    assert!(matches!(
        &err[..],
        [Payload::Chunk(Chunk { error: true, .. })]
    ));
}

fn measured(parts: &[(u64, &str)], end: u64) -> Sample {
    let mut m = Measure::default();
    let mut d = SseDecoder::default();
    let mut out = Vec::new();
    for (at, text) in parts {
        d.push(text.as_bytes(), &mut out);
        for p in out.drain(..) {
            m.on(ms(*at), p);
        }
    }
    d.finish(&mut out);
    for p in out.drain(..) {
        m.on(ms(end), p);
    }
    m.finish(ms(end), 99)
}

#[test]
fn measure_timings_and_usage() {
    let lines: Vec<&str> = STREAM.split_inclusive('\n').collect();
    let at = [5, 5, 10, 10, 20, 20, 35, 35, 35, 50, 50, 70, 70];
    assert_eq!(lines.len(), at.len());
    let parts: Vec<(u64, &str)> = at.into_iter().zip(lines).collect();
    let Sample::Completed(c) = measured(&parts, 200) else {
        panic!("completed");
    };
    // The role-only delta at 10 ms carries no text; [DONE] at 70 ms ends it.
    assert_eq!(c.ttft, ms(20));
    assert_eq!(c.itl, [ms(15)]);
    assert_eq!(c.e2e, ms(70));
    assert_eq!((c.input_tokens, c.output_tokens), (7, 2));
}

#[test]
fn measure_fallbacks_and_failures() {
    let t = "data: {\"choices\":[{\"text\":\"a\"}]}\n\n";
    let Sample::Completed(c) = measured(&[(10, t), (30, t), (60, t)], 80) else {
        panic!("completed");
    };
    assert_eq!((c.ttft, c.e2e), (ms(10), ms(80)));
    assert_eq!(c.itl, [ms(20), ms(30)]);
    assert_eq!((c.input_tokens, c.output_tokens), (99, 3));
    assert_eq!(
        measured(&[(10, t), (20, "data: nope\n")], 30),
        Sample::Failed("stream".into())
    );
    assert_eq!(
        measured(&[(10, "data: {\"error\":\"overloaded\"}\n")], 30),
        Sample::Failed("stream".into())
    );
}

#[test]
fn whole_bodies() {
    let body =
        br#"{"choices":[{"text":"abcdefghi"}],"usage":{"prompt_tokens":4,"completion_tokens":6}}"#;
    let Sample::Completed(c) = whole(body, ms(40), 1) else {
        panic!("completed");
    };
    assert_eq!(
        (c.ttft, c.e2e, c.input_tokens, c.output_tokens),
        (ms(40), ms(40), 4, 6)
    );
    let chat = br#"{"choices":[{"message":{"role":"assistant","content":"abcdefghi"}}]}"#;
    let Sample::Completed(c) = whole(chat, ms(40), 12) else {
        panic!("completed");
    };
    assert_eq!((c.input_tokens, c.output_tokens), (12, 3));
    assert_eq!(whole(b"<html>", ms(1), 1), Sample::Failed("stream".into()));
}
