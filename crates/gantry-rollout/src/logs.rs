//! An instance's recent output: a bounded ring of timestamped lines (stdout, stderr and the
//! supervisor's own notes about exits and restarts), so a failed health check can show what the
//! failing instance said. Memory stays bounded whatever the application prints: the ring keeps
//! at most a number of lines and of bytes, and one line is cut at [`MAX_LINE`] bytes.

use std::collections::VecDeque;
use std::fmt;

/// The longest line kept; the rest of a longer line is dropped and the line marked `[…]`.
pub const MAX_LINE: usize = 8 * 1024;

/// Where a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// Written by the supervisor itself (exits, restarts, spawn failures).
    Gantry,
}

impl Stream {
    fn label(self) -> &'static str {
        match self {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
            Stream::Gantry => "gantry",
        }
    }
}

/// One line of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: jiff::Timestamp,
    pub stream: Stream,
    pub text: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.3} {:>6} | {}",
            self.at,
            self.stream.label(),
            self.text
        )
    }
}

/// The last lines of an instance, bounded by count and by total bytes of text.
#[derive(Debug)]
pub struct LogRing {
    lines: VecDeque<LogLine>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
}

impl LogRing {
    pub fn new(max_lines: usize, max_bytes: usize) -> LogRing {
        LogRing {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    /// Adds a line now, dropping the oldest ones beyond the bounds.
    pub fn push(&mut self, stream: Stream, text: String) {
        self.push_at(jiff::Timestamp::now(), stream, text);
    }

    fn push_at(&mut self, at: jiff::Timestamp, stream: Stream, mut text: String) {
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("[…]");
        }
        self.bytes += text.len();
        self.lines.push_back(LogLine { at, stream, text });
        while self.lines.len() > self.max_lines
            || (self.bytes > self.max_bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.text.len();
            }
        }
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.lines.iter()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The bytes of text kept (without timestamps).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Splits a byte stream into lines, keeping at most [`MAX_LINE`] bytes of a line in memory
/// however long the line is. Invalid UTF-8 is replaced, a trailing `\r` removed.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    overflowed: bool,
}

impl LineSplitter {
    /// Feeds a chunk and calls `line` for every line it completes.
    pub fn feed(&mut self, mut chunk: &[u8], mut line: impl FnMut(String)) {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            self.keep(&chunk[..end]);
            line(self.take());
            chunk = &chunk[end + 1..];
        }
        self.keep(chunk);
    }

    /// The last, unterminated line, if any (at end of stream).
    pub fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty() || self.overflowed).then(|| self.take())
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = (MAX_LINE + 1).saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.overflowed = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn take(&mut self) -> String {
        if self.partial.last() == Some(&b'\r') && !self.overflowed {
            self.partial.pop();
        }
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        self.overflowed = false;
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(ring: &LogRing) -> Vec<&str> {
        ring.lines().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn the_ring_keeps_only_the_last_lines_and_bytes() {
        // (max lines, max bytes, lines pushed, lines expected)
        let cases: &[(usize, usize, &[&str], &[&str])] = &[
            (3, 1000, &["a", "b", "c", "d", "e"], &["c", "d", "e"]),
            (100, 6, &["aa", "bb", "cc", "dd"], &["bb", "cc", "dd"]),
            (100, 3, &["aaaaa"], &["aaaaa"]),
            (100, 3, &["aaaaa", "b"], &["b"]),
        ];
        for (max_lines, max_bytes, pushed, expected) in cases {
            let mut ring = LogRing::new(*max_lines, *max_bytes);
            for text in *pushed {
                ring.push(Stream::Stdout, text.to_string());
            }
            assert_eq!(
                texts(&ring),
                *expected,
                "{max_lines} lines, {max_bytes} bytes"
            );
            assert_eq!(
                ring.bytes(),
                expected.iter().map(|t| t.len()).sum::<usize>()
            );
        }
    }

    #[test]
    fn a_huge_line_is_cut_at_the_line_limit() {
        let mut ring = LogRing::new(10, 1 << 20);
        ring.push(Stream::Stderr, "é".repeat(MAX_LINE));
        let kept = &texts(&ring)[0];
        assert!(kept.len() <= MAX_LINE + "[…]".len());
        assert!(kept.ends_with("[…]"));
    }

    #[test]
    fn a_line_renders_with_its_time_and_stream() {
        let mut ring = LogRing::new(10, 100);
        ring.push_at(
            "2026-01-02T03:04:05.678Z".parse().unwrap(),
            Stream::Stderr,
            "boom".into(),
        );
        assert_eq!(
            ring.lines().next().unwrap().to_string(),
            "2026-01-02T03:04:05.678Z    err | boom"
        );
    }

    #[test]
    fn the_splitter_joins_chunks_and_bounds_long_lines() {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        splitter.feed(b"one\r\ntw", |l| out.push(l));
        splitter.feed(b"o\nthr", |l| out.push(l));
        assert_eq!(out, ["one", "two"]);
        let long = vec![b'x'; 3 * MAX_LINE];
        splitter.feed(&long, |l| out.push(l));
        splitter.feed(b"\nlast", |l| out.push(l));
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].len(), MAX_LINE + 1, "'thr' plus x up to the limit");
        assert!(out[2].starts_with("thrxxx"));
        assert_eq!(splitter.finish().as_deref(), Some("last"));
        assert_eq!(splitter.finish(), None);
    }
}
