//! Streaming secret masking.
//!
//! A [`Masker`] knows the byte patterns of every secret: the value itself,
//! each line of a multi-line value, and the forms a value takes when encoded
//! (base64 in the standard and URL-safe alphabets at each of the three byte
//! alignments, percent-encoding, JSON string escaping). A [`MaskStream`]
//! replaces them with `***` in output that arrives in arbitrary pieces.
//!
//! # Algorithm
//!
//! One Aho-Corasick automaton over all patterns finds every match, overlapping
//! ones included; the bytes covered by any match are masked, and each maximal
//! run of covered bytes becomes a single `***`. So nested secrets collapse into
//! one mask, and two secrets that partly overlap are both hidden entirely
//! (leftmost-longest matching would leave the tail of the second visible).
//!
//! No pattern contains a newline: multi-line values are split into lines, and
//! the encoded forms never contain a raw newline. So whether a byte is covered
//! is final once the bytes up to the end of its line are known, or once
//! `longest pattern - 1` more bytes of the line are known — no match that is
//! still to come can reach back further than that. A stream therefore emits
//! everything up to the last newline at once and holds back at most
//! `longest pattern - 1` bytes of a partial line: output stays line-prompt and
//! memory stays bounded even for a huge line without newlines. The text is
//! searched where it lies; only the few held bytes are ever copied twice.
//!
//! An automaton over hundreds of patterns scans about 0.5 GB/s; to go faster,
//! a prefilter finds the few places where a match may start. Patterns of 16
//! bytes or more go through a Set-Horspool q-gram skip filter (it reads a few
//! bytes per window of 16 or more, in several stretches of the text side by
//! side, and checks each window it stops at against a bit set of the
//! patterns' first 8 bytes); where it stops, the patterns with those first 8
//! bytes are compared with the text directly. Shorter patterns are found by
//! SIMD packed searchers (Teddy), and the automaton runs over the few regions
//! where they may start. With 100 secrets this masks about 4 GB/s in release
//! builds.
//!
//! The output of a stream equals [`Masker::mask_str`] of the concatenated
//! input, however the input was split.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// What replaces a secret.
pub const MASK: &str = "***";

/// Values shorter than this (in bytes, after trimming whitespace) are not
/// masked: masking `a` or `true` everywhere would make logs unreadable and
/// tell more than it hides. The engine warns about them by secret name.
pub const MIN_SECRET_LEN: usize = 4;

/// Up to this many bytes of patterns, the automaton is a DFA (fastest; about
/// 400 bytes of memory per pattern byte, ~8 MB for 100 secrets); beyond, a
/// contiguous NFA (~15 bytes per pattern byte, a third slower here).
const DFA_MAX_PATTERN_BYTES: usize = 32 * 1024;

/// The result of adding a secret value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The value (and its encoded forms) will be masked. Lines of a
    /// multi-line value shorter than [`MIN_SECRET_LEN`] are not masked on
    /// their own.
    Added,
    /// The value is shorter than [`MIN_SECRET_LEN`] bytes after trimming and
    /// will NOT be masked; warn by the secret's name, never its value.
    TooShort,
    /// The value is empty or whitespace only: nothing to mask.
    Empty,
}

/// Collects secret values, then builds a [`Masker`].
#[derive(Clone, Default)]
pub struct MaskerBuilder {
    patterns: BTreeSet<Vec<u8>>,
}

impl fmt::Debug for MaskerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the patterns: they are secrets.
        f.debug_struct("MaskerBuilder")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl MaskerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a secret value: it, each of its lines, and their encoded forms.
    pub fn add(&mut self, secret: &str) -> AddOutcome {
        let trimmed = secret.trim();
        if trimmed.is_empty() {
            return AddOutcome::Empty;
        }
        if trimmed.len() < MIN_SECRET_LEN {
            return AddOutcome::TooShort;
        }
        let mut forms = Vec::new();
        // The whole value: only its encoded forms can appear on one line when
        // it spans several lines; its raw form is covered line by line.
        encoded_forms(trimmed.as_bytes(), &mut forms);
        if trimmed.contains('\n') {
            for line in trimmed.lines().map(str::trim) {
                if line.len() >= MIN_SECRET_LEN {
                    forms.push(line.as_bytes().to_vec());
                    encoded_forms(line.as_bytes(), &mut forms);
                }
            }
        } else {
            forms.push(trimmed.as_bytes().to_vec());
        }
        for form in forms {
            if form.len() >= MIN_SECRET_LEN && !form.contains(&b'\n') {
                self.patterns.insert(form);
            }
        }
        AddOutcome::Added
    }

    pub fn build(self) -> Masker {
        let patterns: Vec<Vec<u8>> = self.patterns.into_iter().collect();
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let matcher = if patterns.is_empty() {
            Matcher::Nothing
        } else {
            match Prefilter::new(&patterns) {
                // Only long patterns: the skip filter finds every match on
                // its own, and building the automaton (milliseconds for 100
                // secrets, at the start of every job) is not needed.
                Some(Prefilter {
                    long: Some(long),
                    short,
                }) if short.is_empty() => Matcher::Long(long),
                prefilter => {
                    let total: usize = patterns.iter().map(Vec::len).sum();
                    let kind = (total <= DFA_MAX_PATTERN_BYTES).then_some(AhoCorasickKind::DFA);
                    match AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .kind(kind)
                        .build(&patterns)
                    {
                        Ok(ac) => Matcher::Patterns(ac, prefilter),
                        // Only absurd pattern sets fail to build; fail closed.
                        Err(_) => Matcher::Everything,
                    }
                }
            }
        };
        Masker {
            inner: Arc::new(Inner {
                patterns,
                max_len,
                matcher,
            }),
        }
    }
}

/// The encoded forms of `value`, appended to `forms`.
fn encoded_forms(value: &[u8], forms: &mut Vec<Vec<u8>>) {
    base64_forms(value, forms);
    url_forms(value, forms);
    forms.push(json_escaped(value));
}

/// Base64 of `value` as the whole of a base64 text (padded and not), and as
/// part of a larger base64 text at each of the 3 byte alignments: only the
/// characters whose 6 bits all come from `value` are kept, the partial edge
/// characters (which mix in the neighbouring bytes) are dropped.
fn base64_forms(value: &[u8], forms: &mut Vec<Vec<u8>>) {
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(value).into_bytes());
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(value);
            let encoded = engine.encode(&shifted).into_bytes();
            // Characters before `start` carry bits of the filler bytes.
            let start = (offset * 8).div_ceil(6);
            // Characters from `end` on carry bits of the following bytes.
            let end = (shifted.len() * 8) / 6;
            if let Some(core) = encoded.get(start..end) {
                forms.push(core.to_vec());
            }
        }
    }
}

/// Percent-encoding of every byte outside the unreserved set (RFC 3986), in
/// upper- and lower-case hex, and the form encoding with `+` for spaces.
fn url_forms(value: &[u8], forms: &mut Vec<Vec<u8>>) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if value.iter().all(|&b| unreserved(b)) {
        return;
    }
    let encode = |digits: &[u8; 16], plus_for_space: bool| {
        let mut out = Vec::with_capacity(value.len() * 3);
        for &b in value {
            if unreserved(b) {
                out.push(b);
            } else if plus_for_space && b == b' ' {
                out.push(b'+');
            } else {
                out.extend_from_slice(&[
                    b'%',
                    digits[usize::from(b >> 4)],
                    digits[usize::from(b & 15)],
                ]);
            }
        }
        out
    };
    forms.push(encode(UPPER, false));
    forms.push(encode(LOWER, false));
    if value.contains(&b' ') {
        forms.push(encode(UPPER, true));
    }
}

/// `value` as it appears inside a JSON string (without the quotes).
fn json_escaped(value: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
            _ => out.push(b),
        }
    }
    out
}

enum Matcher {
    /// No secrets: output passes through.
    Nothing,
    /// Only patterns of `FILTER_MIN_WINDOW` bytes or more: the skip filter
    /// finds and checks every match itself.
    Long(SkipFilter),
    /// The automaton over all patterns, and a prefilter to run it only where
    /// a match may start (`None`: run it over all text).
    Patterns(AhoCorasick, Option<Prefilter>),
    /// The automaton could not be built: mask every line entirely.
    Everything,
}

struct Inner {
    patterns: Vec<Vec<u8>>,
    max_len: usize,
    matcher: Matcher,
}

/// Masks secrets. Immutable and cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Masker {
    inner: Arc<Inner>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the patterns: they are secrets.
        f.debug_struct("Masker")
            .field("patterns", &self.inner.patterns.len())
            .field("max_len", &self.inner.max_len)
            .finish()
    }
}

impl Default for Masker {
    fn default() -> Self {
        MaskerBuilder::new().build()
    }
}

impl Masker {
    /// A masker that masks nothing.
    pub fn empty() -> Self {
        Self::default()
    }

    /// True when nothing is masked.
    pub fn is_empty(&self) -> bool {
        matches!(self.inner.matcher, Matcher::Nothing)
    }

    /// The number of byte patterns (values, lines and encoded forms).
    pub fn pattern_count(&self) -> usize {
        self.inner.patterns.len()
    }

    /// The length of the longest pattern; a stream holds back at most one
    /// byte less of a partial line.
    pub fn max_pattern_len(&self) -> usize {
        self.inner.max_len
    }

    /// A builder holding every pattern of this masker, to add more.
    pub fn to_builder(&self) -> MaskerBuilder {
        MaskerBuilder {
            patterns: self.inner.patterns.iter().cloned().collect(),
        }
    }

    /// A new masker with `secret` added (for `::add-mask::`); this one is
    /// unchanged. Use [`Masker::to_builder`] to learn the [`AddOutcome`].
    pub fn with(&self, secret: &str) -> Masker {
        let mut builder = self.to_builder();
        match builder.add(secret) {
            AddOutcome::Added => builder.build(),
            AddOutcome::TooShort | AddOutcome::Empty => self.clone(),
        }
    }

    /// `s` with every secret replaced by [`MASK`].
    pub fn mask_str(&self, s: &str) -> String {
        if self.is_empty() {
            return s.to_owned();
        }
        let mut out = Vec::with_capacity(s.len());
        self.mask_bytes(s.as_bytes(), &mut out);
        // Patterns are whole UTF-8 strings, so matches start and end on
        // character boundaries and the result is valid UTF-8.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Append `input` with every secret replaced by [`MASK`] to `out`.
    pub fn mask_bytes(&self, input: &[u8], out: &mut Vec<u8>) {
        let mut state = RunState::default();
        self.emit(input, input.len(), &mut state, out);
    }

    /// A stream for output that arrives in pieces.
    pub fn stream(&self) -> MaskStream {
        MaskStream {
            masker: self.clone(),
            held: Vec::new(),
            state: RunState::default(),
        }
    }

    /// Bytes of a partial line that must be held back: a match still to come
    /// may start this far before the end.
    fn keep(&self) -> usize {
        self.inner.max_len.saturating_sub(1)
    }

    /// Append `text[..limit]` to `out` with covered bytes masked, where every
    /// byte of `text[..limit]` is known to be final (see the module docs).
    /// `state` carries coverage across calls: on return it describes the byte
    /// at `limit` as the start of the next text.
    fn emit(&self, text: &[u8], limit: usize, state: &mut RunState, out: &mut Vec<u8>) {
        match &self.inner.matcher {
            Matcher::Nothing => emit_runs(text, limit, std::iter::empty(), state, out),
            Matcher::Long(filter) => {
                let mut found = Vec::new();
                filter.matches(text, &mut found);
                found.sort_unstable_by_key(|&(start, end)| (end, start));
                emit_runs(text, limit, found.into_iter(), state, out);
            }
            Matcher::Patterns(ac, None) => match ac.try_find_overlapping_iter(text) {
                Ok(matches) => {
                    let found = matches.map(|m| (m.start(), m.end()));
                    emit_runs(text, limit, found, state, out);
                }
                Err(_) => emit_runs(text, limit, line_contents(text), state, out),
            },
            Matcher::Patterns(ac, Some(prefilter)) => {
                match prefiltered_matches(ac, prefilter, self.inner.max_len, text) {
                    Ok(found) => emit_runs(text, limit, found.into_iter(), state, out),
                    Err(_) => emit_runs(text, limit, line_contents(text), state, out),
                }
            }
            Matcher::Everything => emit_runs(text, limit, line_contents(text), state, out),
        }
    }
}

/// Bytes per q-gram of the skip filter.
const GRAM: usize = 4;
/// The skip filter's table has `2^SHIFT_BITS` one-byte entries (64 KiB:
/// stays in cache; fewer collisions than a smaller table).
const SHIFT_BITS: u32 = 16;
/// Patterns at least this long go through the skip filter, which looks at
/// most at `FILTER_MAX_WINDOW` leading bytes of each.
const FILTER_MIN_WINDOW: usize = 16;
const FILTER_MAX_WINDOW: usize = 24;
/// Shorter patterns are found with SIMD packed searchers (Teddy), each for
/// up to `SHORT_GROUP` patterns; with more than `SHORT_GROUPS` of them, the
/// automaton scans all text.
const SHORT_GROUP: usize = 64;
const SHORT_GROUPS: usize = 8;

/// Finds every position where some pattern may start, much faster than the
/// automaton can scan: a skip filter for long patterns, a packed (SIMD)
/// searcher for short ones.
struct Prefilter {
    long: Option<SkipFilter>,
    short: Vec<aho_corasick::packed::Searcher>,
}

impl Prefilter {
    fn new(patterns: &[Vec<u8>]) -> Option<Prefilter> {
        let (short, long): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
            patterns.iter().partition(|p| p.len() < FILTER_MIN_WINDOW);
        let long = if long.is_empty() {
            None
        } else {
            Some(SkipFilter::new(&long)?)
        };
        if short.len() > SHORT_GROUP * SHORT_GROUPS {
            return None;
        }
        let short = short
            .chunks(SHORT_GROUP)
            .map(|group| {
                aho_corasick::packed::Config::new()
                    .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                    .builder()
                    .extend(group)
                    .build()
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Prefilter { long, short })
    }

    /// Positions where a short pattern may start, in increasing order
    /// (maybe repeated), appended to `out`.
    fn short_candidates(&self, text: &[u8], out: &mut Vec<usize>) {
        for searcher in &self.short {
            out.extend(packed_candidates(searcher, text));
        }
        if self.short.len() > 1 {
            out.sort_unstable();
        }
    }
}

/// Every position where a pattern of `searcher` starts, in increasing order.
fn packed_candidates<'t>(
    searcher: &'t aho_corasick::packed::Searcher,
    text: &'t [u8],
) -> impl Iterator<Item = usize> + 't {
    let mut from = 0;
    std::iter::from_fn(move || {
        if from >= text.len() {
            return None;
        }
        let found = searcher.find_in(text, aho_corasick::Span::from(from..text.len()))?;
        // Leftmost-first skips matches that overlap the one found: search
        // again just after its start.
        from = found.start() + 1;
        Some(found.start())
    })
}

/// A Set-Horspool filter over q-grams (as in Wu-Manber): finds every position
/// where some pattern may start while looking at only a few bytes of text
/// per `window` bytes. The automaton then checks the few candidate regions.
///
/// Every pattern is at least `window` bytes long; only its first `window`
/// bytes matter. The window slides over the text; the q-gram at its end gives
/// how far it can move without passing over the end of any pattern prefix:
/// `shifts[hash]` is the smallest distance from an occurrence of a q-gram
/// with that hash to the end of a prefix (0: a prefix may end here). Hash
/// collisions only make shifts smaller, never unsafe.
struct SkipFilter {
    window: usize,
    shifts: Box<[u8]>,
    /// A second, independent check of a window where `shifts` says a prefix
    /// may end: bit `prefix_hash(first 8 bytes)` is set for every pattern.
    /// Of the windows the shift table lets through (hash collisions, common
    /// q-grams), it passes about 1 in 200 with 600 patterns, so patterns are
    /// compared with the text almost only where a secret really is.
    prefixes: Box<[u64]>,
    /// The patterns with the little-endian value of their first 8 bytes,
    /// sorted by it: a candidate is checked against the patterns that share
    /// its first 8 bytes only.
    by_prefix: Vec<(u64, Box<[u8]>)>,
}

fn gram_hash(gram: [u8; GRAM]) -> usize {
    (u32::from_le_bytes(gram).wrapping_mul(0x9E37_79B1) >> (32 - SHIFT_BITS)) as usize
}

/// Bits of the prefix set's index (`2^PREFIX_BITS` bits: 16 KiB).
const PREFIX_BITS: u32 = 17;

/// The first 8 bytes of `bytes` as a number, if it has 8.
fn prefix_value(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn prefix_hash(prefix: [u8; 8]) -> usize {
    (u64::from_le_bytes(prefix).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - PREFIX_BITS)) as usize
}

/// Independent scans run side by side by [`SkipFilter::candidates`].
const LANES: usize = 8;

impl SkipFilter {
    fn new(patterns: &[&Vec<u8>]) -> Option<SkipFilter> {
        let min_len = patterns.iter().map(|p| p.len()).min()?;
        if min_len < FILTER_MIN_WINDOW {
            return None;
        }
        let window = min_len.min(FILTER_MAX_WINDOW);
        let most = u8::try_from(window - GRAM + 1).ok()?;
        let mut shifts = vec![most; 1 << SHIFT_BITS].into_boxed_slice();
        let mut prefixes = vec![0u64; (1 << PREFIX_BITS) / 64].into_boxed_slice();
        for pattern in patterns {
            for (start, gram) in pattern.get(..window)?.windows(GRAM).enumerate() {
                let gram: [u8; GRAM] = gram.try_into().ok()?;
                let shift = u8::try_from(window - GRAM - start).ok()?;
                let slot = &mut shifts[gram_hash(gram)];
                *slot = (*slot).min(shift);
            }
            let bit = prefix_hash(pattern.get(..8)?.try_into().ok()?);
            prefixes[bit / 64] |= 1 << (bit % 64);
        }
        let mut by_prefix = patterns
            .iter()
            .map(|p| Some((prefix_value(p)?, p.as_slice().into())))
            .collect::<Option<Vec<(u64, Box<[u8]>)>>>()?;
        by_prefix.sort_unstable();
        Some(SkipFilter {
            window,
            shifts,
            prefixes,
            by_prefix,
        })
    }

    /// Appends every match of a pattern in `text`, as `(start, end)` in
    /// increasing order of start, to `out`.
    ///
    /// Fast path: the automaton is not needed here. The scan finds every
    /// position where a pattern may start, and a pattern matches there iff
    /// its bytes are the text's, so each candidate is compared with the few
    /// patterns sharing its first 8 bytes: the same matches, overlapping ones
    /// included, as the automaton would report, at a fraction of the cost of
    /// starting it once per candidate.
    fn matches(&self, text: &[u8], out: &mut Vec<(usize, usize)>) {
        let mut candidates = Vec::new();
        self.candidates(text, &mut candidates);
        for start in candidates {
            let Some(prefix) = text.get(start..).and_then(prefix_value) else {
                continue;
            };
            let first = self.by_prefix.partition_point(|(p, _)| *p < prefix);
            for (p, pattern) in &self.by_prefix[first..] {
                if *p != prefix {
                    break;
                }
                let end = start + pattern.len();
                if text.get(start..end) == Some(&pattern[..]) {
                    out.push((start, end));
                }
            }
        }
    }

    /// Appends every position of `text` where a pattern may start, in
    /// increasing order, to `out`.
    ///
    /// Fast path: the scan is a chain of dependent steps (load a q-gram,
    /// hash it, look up its shift, move), so it is bound by latency, not by
    /// work. The window starts are cut into `LANES` consecutive stretches,
    /// each scanned on its own, and one loop steps every lane in turn: the
    /// CPU overlaps the independent chains. Each lane stops once its window
    /// starts past its stretch (the next lane covers from there), so every
    /// window start is checked or skipped safely exactly as by a single scan,
    /// and the lanes' candidates, concatenated, are in increasing order.
    fn candidates(&self, text: &[u8], out: &mut Vec<usize>) {
        let window = self.window;
        if text.len() < window {
            return;
        }
        // Window starts are 0..=last.
        let starts = text.len() - window + 1;
        let stretch = starts.div_ceil(LANES);
        let mut pos = [0usize; LANES];
        let mut limit = [0usize; LANES];
        for lane in 0..LANES {
            pos[lane] = (lane * stretch).min(starts);
            limit[lane] = ((lane + 1) * stretch).min(starts);
        }
        let mut found: [Vec<usize>; LANES] = Default::default();
        let shifts = &*self.shifts;
        // The shift for the window starting at `p` (`p + window <= len`).
        let shift_at = |p: usize| -> usize {
            let end = p + window;
            let gram: [u8; GRAM] = match text.get(end - GRAM..end) {
                Some(g) => g.try_into().unwrap_or([0; GRAM]),
                // Never happens (the window lies in `text`).
                None => [0; GRAM],
            };
            usize::from(shifts[gram_hash(gram)])
        };
        loop {
            let mut active = false;
            for lane in 0..LANES {
                let p = pos[lane];
                if p >= limit[lane] {
                    continue;
                }
                active = true;
                let shift = shift_at(p);
                if shift == 0 {
                    if self.prefix_may_start(text, p) {
                        found[lane].push(p);
                    }
                    pos[lane] = p + 1;
                } else {
                    pos[lane] = p + shift;
                }
            }
            if !active {
                break;
            }
        }
        for lane in found {
            out.extend_from_slice(&lane);
        }
    }

    /// Whether the 8 bytes at `p` may begin a pattern (`p + 8 <= len`).
    fn prefix_may_start(&self, text: &[u8], p: usize) -> bool {
        let Some(prefix) = text.get(p..p + 8) else {
            return true;
        };
        let bit = prefix_hash(prefix.try_into().unwrap_or([0; 8]));
        self.prefixes[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// All matches in `text`, by increasing end: the long patterns' by the skip
/// filter and a direct comparison, the short ones by running the automaton
/// only over the regions where the packed searchers say one may start.
fn prefiltered_matches(
    ac: &AhoCorasick,
    prefilter: &Prefilter,
    max_len: usize,
    text: &[u8],
) -> Result<Vec<(usize, usize)>, aho_corasick::MatchError> {
    let mut found = Vec::new();
    if let Some(long) = &prefilter.long {
        long.matches(text, &mut found);
    }
    if !prefilter.short.is_empty() {
        let mut region: Option<(usize, usize)> = None;
        let mut search = |(start, end): (usize, usize)| -> Result<(), aho_corasick::MatchError> {
            let input = aho_corasick::Input::new(text).span(start..end);
            for m in ac.try_find_overlapping_iter(input)? {
                found.push((m.start(), m.end()));
            }
            Ok(())
        };
        let mut candidates = Vec::new();
        prefilter.short_candidates(text, &mut candidates);
        for start in candidates {
            let end = (start + max_len).min(text.len());
            region = match region {
                Some((s, e)) if start <= e => Some((s, e.max(end))),
                Some(previous) => {
                    search(previous)?;
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some(last) = region {
            search(last)?;
        }
    }
    // By end, as `emit_runs` needs; a long pattern's match inside a region
    // of the automaton is found twice.
    found.sort_unstable_by_key(|&(start, end)| (end, start));
    found.dedup();
    Ok(found)
}

/// Every maximal newline-free range of `text`, in order.
fn line_contents(text: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = 0;
    memchr::memchr_iter(b'\n', text)
        .chain(std::iter::once(text.len()))
        .filter_map(move |end| {
            let range = (start, end);
            start = end + 1;
            (range.1 > range.0).then_some(range)
        })
}

/// Coverage carried from one piece of text to the next.
#[derive(Debug, Default, Clone, Copy)]
struct RunState {
    /// This many bytes at the start of the next text are covered by a match
    /// found earlier.
    carry: usize,
    /// The byte just before the next text was covered (a `***` was emitted
    /// for its run), so a run continuing at its start adds no new `***`.
    in_run: bool,
}

/// The heart of masking: append `text[..limit]` to `out`, replacing each
/// maximal run of bytes covered by `matches` (ranges in `text`, in order of
/// their end) or by `state.carry` with one [`MASK`].
fn emit_runs(
    text: &[u8],
    limit: usize,
    matches: impl Iterator<Item = (usize, usize)>,
    state: &mut RunState,
    out: &mut Vec<u8>,
) {
    let limit = limit.min(text.len());
    // Union of the covered ranges, sorted and disjoint; ranges that touch are
    // merged. Matches come by increasing end, so a new range can only merge
    // with the ranges at the top of the stack.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut max_end = state.carry;
    if state.carry > 0 {
        runs.push((0, state.carry));
    }
    for (start, end) in matches {
        if start >= limit {
            // Not final yet: found again with the next text.
            continue;
        }
        max_end = max_end.max(end);
        let mut merged = (start, end);
        while let Some(&(s, e)) = runs.last() {
            if e < merged.0 {
                break;
            }
            merged = (s.min(merged.0), e.max(merged.1));
            runs.pop();
        }
        runs.push(merged);
    }

    let mut cursor = 0;
    let mut in_run = state.in_run;
    for (start, end) in runs {
        if start >= limit {
            break;
        }
        if start > cursor {
            out.extend_from_slice(&text[cursor..start]);
            in_run = false;
        }
        if !in_run {
            out.extend_from_slice(MASK.as_bytes());
            in_run = true;
        }
        cursor = cursor.max(end.min(limit));
    }
    if cursor < limit {
        out.extend_from_slice(&text[cursor..limit]);
        in_run = false;
    }
    if limit > 0 {
        state.in_run = in_run;
    }
    state.carry = max_end.saturating_sub(limit);
}

/// Masks output that arrives in pieces: see the module docs.
pub struct MaskStream {
    masker: Masker,
    /// Bytes of the current line not emitted yet; never contains a newline.
    held: Vec<u8>,
    /// Coverage at the start of `held`.
    state: RunState,
}

impl fmt::Debug for MaskStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the held bytes: they may be the start of a secret.
        f.debug_struct("MaskStream")
            .field("masker", &self.masker)
            .field("held", &self.held.len())
            .finish()
    }
}

impl MaskStream {
    /// Append the masked form of everything that can be decided now to
    /// `out`; hold back at most (longest pattern - 1) bytes of a partial line.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let masker = &self.masker;
        let keep = masker.keep();
        let mut rest = input;
        if !self.held.is_empty() {
            let window = rest.len().min(keep);
            if let Some(newline) = memchr::memchr(b'\n', &rest[..window]) {
                // The held line ends here: finish it.
                self.held.extend_from_slice(&rest[..=newline]);
                masker.emit(&self.held, self.held.len(), &mut self.state, out);
                self.held.clear();
                rest = &rest[newline + 1..];
            } else if rest.len() >= keep {
                // Matches that start in the held bytes end within `keep`
                // bytes of `rest`: decide the held bytes with that window,
                // then search `rest` where it lies.
                let held_len = self.held.len();
                self.held.extend_from_slice(&rest[..keep]);
                masker.emit(&self.held, held_len, &mut self.state, out);
                self.held.clear();
            } else {
                self.held.extend_from_slice(rest);
                let limit = self.held.len().saturating_sub(keep);
                masker.emit(&self.held, limit, &mut self.state, out);
                self.held.drain(..limit);
                return;
            }
        }
        let complete = memchr::memrchr(b'\n', rest).map_or(0, |i| i + 1);
        let limit = complete.max(rest.len().saturating_sub(keep));
        masker.emit(rest, limit, &mut self.state, out);
        self.held.extend_from_slice(&rest[limit..]);
    }

    /// End of output: append the held bytes, masked. The stream can then be
    /// used again as if new.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        self.masker.emit(&held, held.len(), &mut self.state, out);
        self.state = RunState::default();
    }

    /// Switch to another masker (after `::add-mask::`) without losing or
    /// leaking held bytes: they are decided with the new patterns, and bytes
    /// already known to be covered stay covered.
    pub fn set_masker(&mut self, masker: Masker) {
        self.masker = masker;
    }

    /// The masker in use.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Bytes currently held back.
    pub fn held_len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(secrets: &[&str]) -> Masker {
        let mut builder = MaskerBuilder::new();
        for secret in secrets {
            assert_eq!(builder.add(secret), AddOutcome::Added, "{secret:?}");
        }
        builder.build()
    }

    /// Push `pieces` through a fresh stream and return the output.
    fn stream_pieces(masker: &Masker, pieces: &[&[u8]]) -> Vec<u8> {
        let mut stream = masker.stream();
        let mut out = Vec::new();
        for piece in pieces {
            stream.push(piece, &mut out);
        }
        stream.flush(&mut out);
        out
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn add_outcomes() {
        let mut builder = MaskerBuilder::new();
        let cases = [
            ("", AddOutcome::Empty),
            ("  \n\t ", AddOutcome::Empty),
            ("abc", AddOutcome::TooShort),
            ("  abc \n", AddOutcome::TooShort),
            ("abcd", AddOutcome::Added),
            ("  abcd  ", AddOutcome::Added),
            ("one\ntwo", AddOutcome::Added),
        ];
        for (secret, expected) in cases {
            assert_eq!(builder.add(secret), expected, "{secret:?}");
        }
        let masker = builder.build();
        assert_eq!(masker.mask_str("abc abcd"), "abc ***");
    }

    #[test]
    fn exact_value() {
        let m = masker(&["hunter22"]);
        let cases = [
            ("password is hunter22", "password is ***"),
            ("hunter22hunter22 x", "*** x"),
            ("hunter22 and hunter22", "*** and ***"),
            ("hunter2", "hunter2"),
            ("HUNTER22", "HUNTER22"),
            ("", ""),
            ("a\nhunter22\n\nb", "a\n***\n\nb"),
        ];
        for (input, expected) in cases {
            assert_eq!(m.mask_str(input), expected, "{input:?}");
        }
    }

    #[test]
    fn surrounding_whitespace_is_not_part_of_the_secret() {
        let m = masker(&["  s3cr3t-value\n"]);
        assert_eq!(m.mask_str("x s3cr3t-value y"), "x *** y");
    }

    #[test]
    fn each_line_of_a_multi_line_value() {
        let key =
            "-----BEGIN KEY-----\r\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\nab\n-----END KEY-----\n";
        let m = masker(&[key]);
        let cases = [
            ("MIIEvQIBADANBgkq", "***"),
            ("line: hkiG9w0BAQEFAASC!", "line: ***!"),
            ("-----BEGIN KEY-----", "***"),
            // Lines shorter than the minimum are not masked on their own.
            ("ab", "ab"),
            (key, "***\r\n***\n***\nab\n***\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(m.mask_str(input), expected, "{input:?}");
        }
        // The whole value JSON-escaped sits on one line (the trailing newline
        // is not part of the secret).
        let json = serde_json::to_string(&serde_json::json!({ "key": key })).unwrap();
        assert_eq!(m.mask_str(&json), r#"{"key":"***\n"}"#);
    }

    /// `E[..start] + *** + E[end..]` where `E` is the base64 of
    /// `prefix + secret + suffix`, `start` the first character with no bit of
    /// the prefix and `end` the first character with a bit of the suffix.
    /// When the secret is aligned and ends the data, its complete encoding
    /// (with the last partial character and padding) is masked.
    fn expected_base64(encoded: &str, prefix: usize, secret: usize, suffix: usize) -> String {
        let start = (prefix * 8).div_ceil(6);
        let end = if prefix.is_multiple_of(3) && suffix == 0 {
            encoded.len()
        } else {
            ((prefix + secret) * 8) / 6
        };
        format!("{}***{}", &encoded[..start], &encoded[end..])
    }

    #[test]
    fn base64_at_every_alignment_in_both_alphabets() {
        // `?>` produce `+/` and `-_` in the two alphabets.
        let secrets = ["hunter22", "s3cr3t??>>~~value", "abcd", "abcde", "abcdef"];
        let m = masker(&secrets);
        let engines: [&base64::engine::GeneralPurpose; 4] =
            [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD];
        for secret in secrets {
            for engine in engines {
                // The value alone, as the whole base64 text.
                let whole = engine.encode(secret);
                assert_eq!(m.mask_str(&whole), "***", "{secret} {whole}");
                for prefix in ["x", "xy", "xyz", "wxyz", "vwxyz"] {
                    for suffix in ["", "Q", "QR", "QRS", "QRST"] {
                        let data = format!("{prefix}{secret}{suffix}");
                        let encoded = engine.encode(&data);
                        let expected =
                            expected_base64(&encoded, prefix.len(), secret.len(), suffix.len());
                        assert_eq!(
                            m.mask_str(&encoded),
                            expected,
                            "secret {secret:?} in {data:?} = {encoded}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn url_encoded() {
        let m = masker(&["p@ss w/rd:1&x"]);
        let cases = [
            ("?q=p%40ss%20w%2Frd%3A1%26x&y=2", "?q=***&y=2"),
            ("?q=p%40ss%20w%2frd%3a1%26x", "?q=***"),
            ("q=p%40ss+w%2Frd%3A1%26x", "q=***"),
            ("p@ss w/rd:1&x", "***"),
        ];
        for (input, expected) in cases {
            assert_eq!(m.mask_str(input), expected, "{input:?}");
        }
    }

    #[test]
    fn json_escaped() {
        let secret = "quote\" back\\slash\ttab\u{1}ctl";
        let m = masker(&[secret]);
        let json = serde_json::to_string(&serde_json::json!({ "s": secret })).unwrap();
        assert_eq!(m.mask_str(&json), r#"{"s":"***"}"#);
        assert_eq!(m.mask_str(secret), "***");
    }

    #[test]
    fn nested_secrets_become_one_mask() {
        let m = masker(&["abcd", "abcdefgh", "cdef"]);
        let cases = [
            ("xxabcdefghyy", "xx***yy"),
            ("xxabcdyy", "xx***yy"),
            ("abcdabcd", "***"),
            ("abcd abcd", "*** ***"),
            ("xcdefx", "x***x"),
        ];
        for (input, expected) in cases {
            assert_eq!(m.mask_str(input), expected, "{input:?}");
        }
    }

    #[test]
    fn partly_overlapping_secrets_are_both_hidden() {
        let m = masker(&["abcdef", "defghi"]);
        assert_eq!(m.mask_str("1abcdefghi2"), "1***2");
        assert_eq!(m.mask_str("1defghiabcdef2"), "1***2");
    }

    #[test]
    fn no_secrets_pass_through() {
        let m = Masker::empty();
        assert!(m.is_empty());
        let input = "nothing to see\nhere \u{1F600}";
        assert_eq!(m.mask_str(input), input);
        assert_eq!(
            stream_pieces(&m, &[b"nothing ", b"to see\nhere"]),
            b"nothing to see\nhere"
        );
        let m = masker(&["zzzz-not-there"]);
        assert!(!m.is_empty());
        assert_eq!(m.mask_str(input), input);
    }

    #[test]
    fn non_ascii_secrets_and_text() {
        let m = masker(&["pässwörd"]);
        assert_eq!(m.mask_str("é pässwörd ü"), "é *** ü");
    }

    #[test]
    fn every_two_way_split_of_the_input() {
        let m = masker(&["hunter22", "abcdef", "defghi", "line one\nline two"]);
        let input =
            b"a hunter22 b\nhunter2 abcdefghi\nline one\nline two\nhunter22hunter22\nend hunter22";
        let whole = m.mask_str(&text(input));
        assert!(
            !whole.contains("hunter22") && !whole.contains("line one"),
            "{whole}"
        );
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(text(&stream_pieces(&m, &[a, b])), whole, "split at {split}");
        }
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let pieces = [&input[..first], &input[first..second], &input[second..]];
                assert_eq!(
                    text(&stream_pieces(&m, &pieces)),
                    whole,
                    "splits {first} {second}"
                );
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let m = masker(&["hunter22", "aaaa"]);
        let input = b"x hunter22 aaaaaaaaa y\nhunter22\naaaa";
        let pieces: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(text(&stream_pieces(&m, &pieces)), m.mask_str(&text(input)));
        assert_eq!(text(&stream_pieces(&m, &pieces)), "x *** *** y\n***\n***");
    }

    #[test]
    fn complete_lines_are_emitted_at_once_and_partial_lines_held_briefly() {
        let m = masker(&["hunter22"]);
        let keep = m.max_pattern_len() - 1;
        let mut stream = m.stream();
        let mut out = Vec::new();
        stream.push(b"first hunter22 line\nsecond", &mut out);
        // A match could still start in the last `keep` bytes: "second" is held.
        assert_eq!(text(&out), "first *** line\n");
        assert_eq!(stream.held_len(), 6);
        stream.push(b" part of a long line without a newline", &mut out);
        assert_eq!(stream.held_len(), keep);
        stream.push(b"\n", &mut out);
        assert_eq!(stream.held_len(), 0);
        assert_eq!(
            text(&out),
            "first *** line\nsecond part of a long line without a newline\n"
        );
    }

    #[test]
    fn a_huge_line_uses_bounded_memory() {
        let m = masker(&["hunter22"]);
        let keep = m.max_pattern_len() - 1;
        let mut stream = m.stream();
        let mut out = Vec::new();
        let chunk = b"abcdefghunter2".repeat(5000);
        for _ in 0..50 {
            stream.push(&chunk, &mut out);
            assert!(stream.held_len() <= keep);
            out.clear();
        }
        stream.push(b"2", &mut out);
        stream.flush(&mut out);
        let tail = text(&out);
        assert!(tail.ends_with("g***") && !tail.contains("hunter"), "{tail}");
    }

    #[test]
    fn set_masker_mid_stream() {
        let first = masker(&["hunter22"]);
        let second = first.with("t0ken-value");
        assert!(second.pattern_count() > first.pattern_count());
        let mut stream = first.stream();
        let mut out = Vec::new();
        // "t0ken" is held (shorter than the longest pattern) when the mask is
        // added, so the new pattern still applies to it.
        stream.push(b"hunter22 ok\nvalue t0ken", &mut out);
        stream.set_masker(second.clone());
        stream.push(b"-value and hunter2", &mut out);
        stream.push(b"2\nt0ken-value\n", &mut out);
        stream.flush(&mut out);
        assert_eq!(text(&out), "*** ok\nvalue *** and ***\n***\n");
    }

    #[test]
    fn set_masker_keeps_coverage_already_known() {
        let first = masker(&["abcdefgh"]);
        let mut stream = first.stream();
        let mut out = Vec::new();
        // The match is decided (it starts more than `keep` bytes before the
        // end), but its tail is still held.
        stream.push(b"xabcdefghZZZZZ", &mut out);
        assert!(stream.held_len() > 5);
        // Switching to a masker without the secret must not leak held bytes
        // known to be covered.
        stream.set_masker(Masker::empty());
        stream.push(b"abcd\n", &mut out);
        stream.flush(&mut out);
        assert_eq!(text(&out), "x***ZZZZZabcd\n");
    }

    #[test]
    fn with_ignores_short_values() {
        let m = masker(&["hunter22"]);
        let same = m.with("ab");
        assert_eq!(same.pattern_count(), m.pattern_count());
        let mut builder = m.to_builder();
        assert_eq!(builder.add(" "), AddOutcome::Empty);
        assert_eq!(builder.add("abc"), AddOutcome::TooShort);
        assert_eq!(builder.add("abcd"), AddOutcome::Added);
        assert_eq!(builder.build().mask_str("abcd hunter22"), "*** ***");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let m = masker(&["hunter22"]);
        let mut stream = m.stream();
        let mut out = Vec::new();
        stream.push(b"hunte", &mut out);
        let debug = format!("{m:?} {stream:?} {:?}", m.to_builder());
        assert!(!debug.contains("hunte"), "{debug}");
    }

    /// Deterministic pseudo-random numbers (64-bit LCG, Knuth's constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_splits_never_leak_and_match_mask_str() {
        let mut rng = Lcg(0x5eed);
        let alphabet = b"abcdefghij \n=:\"";
        for round in 0..300 {
            // Secrets from a small alphabet, so they overlap and nest often.
            let secrets: Vec<String> = (0..1 + rng.below(4))
                .map(|_| {
                    (0..4 + rng.below(8))
                        .map(|_| char::from(b"abcdefgh"[rng.below(8)]))
                        .collect()
                })
                .collect();
            let mut builder = MaskerBuilder::new();
            for secret in &secrets {
                builder.add(secret);
            }
            let m = builder.build();

            let mut input = Vec::new();
            for _ in 0..rng.below(30) {
                if rng.below(3) == 0 {
                    input.extend_from_slice(secrets[rng.below(secrets.len())].as_bytes());
                } else {
                    for _ in 0..rng.below(12) {
                        input.push(alphabet[rng.below(alphabet.len())]);
                    }
                }
            }
            let whole = m.mask_str(&text(&input));
            for secret in &secrets {
                assert!(
                    !whole.contains(secret.as_str()),
                    "round {round}: {secret} in {whole:?}"
                );
            }
            for _ in 0..20 {
                let mut pieces = Vec::new();
                let mut at = 0;
                while at < input.len() {
                    let len = (1 + rng.below(12)).min(input.len() - at);
                    pieces.push(&input[at..at + len]);
                    at += len;
                }
                // Sometimes push empty pieces too.
                if rng.below(4) == 0 {
                    pieces.insert(rng.below(pieces.len() + 1), &[]);
                }
                let streamed = text(&stream_pieces(&m, &pieces));
                assert_eq!(
                    streamed,
                    whole,
                    "round {round}: input {:?} secrets {secrets:?}",
                    text(&input)
                );
            }
        }
    }

    /// The same masker with the automaton scanning all text.
    fn without_prefilter(m: &Masker) -> Masker {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&m.inner.patterns)
            .unwrap();
        Masker {
            inner: Arc::new(Inner {
                patterns: m.inner.patterns.clone(),
                max_len: m.inner.max_len,
                matcher: Matcher::Patterns(ac, None),
            }),
        }
    }

    #[test]
    fn prefilter_finds_every_match() {
        let mut rng = Lcg(0xf11e);
        for round in 0..200 {
            // Short and long patterns from a small alphabet: candidates,
            // overlaps and hash collisions are frequent.
            let mut patterns: Vec<Vec<u8>> = (0..1 + rng.below(40))
                .map(|_| {
                    let len = if rng.below(2) == 0 {
                        4 + rng.below(12)
                    } else {
                        16 + rng.below(30)
                    };
                    (0..len).map(|_| b"abcd"[rng.below(4)]).collect()
                })
                .collect();
            patterns.sort();
            patterns.dedup();
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .unwrap();
            let prefilter = Prefilter::new(&patterns).unwrap();
            let max_len = patterns.iter().map(Vec::len).max().unwrap();
            let mut text: Vec<u8> = Vec::new();
            while text.len() < 2000 {
                if rng.below(4) == 0 {
                    text.extend_from_slice(&patterns[rng.below(patterns.len())]);
                } else {
                    text.push(b"abcde\n"[rng.below(6)]);
                }
            }
            let mut expected: Vec<(usize, usize)> = ac
                .find_overlapping_iter(&text[..])
                .map(|m| (m.start(), m.end()))
                .collect();
            let mut found = prefiltered_matches(&ac, &prefilter, max_len, &text).unwrap();
            assert!(
                found.windows(2).all(|w| w[0].1 <= w[1].1),
                "round {round}: not by end"
            );
            expected.sort_unstable();
            found.sort_unstable();
            assert_eq!(found, expected, "round {round}");
        }
    }

    #[test]
    fn prefilter_and_full_scan_mask_alike() {
        let mut rng = Lcg(77);
        for _ in 0..50 {
            let secrets: Vec<String> = (0..1 + rng.below(6))
                .map(|_| {
                    (0..4 + rng.below(30))
                        .map(|_| char::from(b"abcdef=+/"[rng.below(9)]))
                        .collect()
                })
                .collect();
            let mut builder = MaskerBuilder::new();
            for secret in &secrets {
                builder.add(secret);
            }
            let m = builder.build();
            assert!(matches!(
                m.inner.matcher,
                Matcher::Patterns(_, Some(_)) | Matcher::Long(_)
            ));
            let plain = without_prefilter(&m);
            let mut input = String::new();
            while input.len() < 3000 {
                if rng.below(5) == 0 {
                    input.push_str(&secrets[rng.below(secrets.len())]);
                } else {
                    input.push(char::from(b"abcdef=+/ \n"[rng.below(11)]));
                }
            }
            assert_eq!(m.mask_str(&input), plain.mask_str(&input));
            let pieces: Vec<&[u8]> = input.as_bytes().chunks(1 + rng.below(50)).collect();
            assert_eq!(stream_pieces(&m, &pieces), stream_pieces(&plain, &pieces));
        }
    }

    /// Secrets like the benchmark's: every pattern is long, so only the
    /// skip filter and the direct comparison run (no automaton).
    fn long_masker() -> Masker {
        let m = masker(&[
            "sk_000_hDAEYqL62pBum9BIy2ewA5s0",
            "sk_001_2KGvdiP4TLqi58G5tLSJe44P",
            // Same first 8 bytes as the one above, and nested in it.
            "sk_001_2KGvdiP4TLqi58",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ]);
        assert!(matches!(m.inner.matcher, Matcher::Long(_)));
        m
    }

    #[test]
    fn long_secret_split_at_every_offset() {
        let m = long_masker();
        let plain = without_prefilter(&m);
        let encoded = STANDARD.encode("xsk_000_hDAEYqL62pBum9BIy2ewA5s0yz");
        let input = format!(
            "0001 token=sk_000_hDAEYqL62pBum9BIy2ewA5s0 end\nb64 {encoded}\n\
             sk_001_2KGvdiP4TLqi58G5tLSJe44Psk_001_2KGvdiP4TLqi58x\n\
             ghp_16C7e42F292c6912E7710c838347Ae178B4a"
        );
        let whole = m.mask_str(&input);
        assert_eq!(whole, plain.mask_str(&input));
        assert_eq!(
            whole,
            format!(
                "0001 token=*** end\nb64 {}\n***x\n***",
                expected_base64(&encoded, 1, 31, 2)
            )
        );
        let input = input.as_bytes();
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(text(&stream_pieces(&m, &[a, b])), whole, "split at {split}");
        }
        for size in 1..40 {
            let pieces: Vec<&[u8]> = input.chunks(size).collect();
            assert_eq!(text(&stream_pieces(&m, &pieces)), whole, "pieces of {size}");
        }
    }

    #[test]
    fn long_secret_at_every_offset_of_a_block() {
        // The skip filter scans a block in several stretches side by side:
        // a secret is found wherever it lies relative to their borders.
        let m = long_masker();
        let secret = "sk_000_hDAEYqL62pBum9BIy2ewA5s0";
        for len in [31, 40, 64, 200, 1000] {
            for at in 0..=len - secret.len() {
                let mut input = "a".repeat(len);
                input.replace_range(at..at + secret.len(), secret);
                let expected = format!("{}***{}", &input[..at], &input[at + secret.len()..]);
                assert_eq!(m.mask_str(&input), expected, "{len} {at}");
            }
        }
        // Two secrets next to each other and overlapping ones.
        let input = "sk_000_hDAEYqL62pBum9BIy2ewA5s0sk_000_hDAEYqL62pBum9BIy2ewA5s0 \
                     sk_001_2KGvdiP4TLqi58G5tLSJe44P";
        assert_eq!(m.mask_str(input), "*** ***");
    }

    /// Not a benchmark harness, but prints the throughput so a release run
    /// (`cargo test --release -p gantry-engine --lib mask::tests::throughput -- --nocapture`)
    /// shows it.
    #[test]
    fn throughput() {
        let mut rng = Lcg(42);
        let token = |rng: &mut Lcg, len: usize| -> String {
            (0..len)
                .map(|_| {
                    char::from(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            [rng.below(62)],
                    )
                })
                .collect()
        };
        let mut builder = MaskerBuilder::new();
        for _ in 0..100 {
            let len = 16 + rng.below(32);
            builder.add(&token(&mut rng, len));
        }
        let m = builder.build();
        // Log-like text: words, numbers, paths; no secrets.
        let words = [
            "Compiling",
            "serde",
            "v1.0.210",
            "warning:",
            "unused",
            "variable",
            "src/lib.rs:42:9",
            "test",
            "ok",
            "=>",
            "[INFO]",
            "Downloading",
            "https://example.com/pkg.tgz",
            "100%",
            "0.3s",
        ];
        let mut line = String::new();
        let mut input = Vec::new();
        while input.len() < 8 << 20 {
            line.clear();
            for _ in 0..3 + rng.below(12) {
                line.push_str(words[rng.below(words.len())]);
                line.push(' ');
            }
            line.push_str(&token(&mut rng, 8));
            line.push('\n');
            input.extend_from_slice(line.as_bytes());
        }
        let rounds = if cfg!(debug_assertions) { 1 } else { 8 };
        let mut out = Vec::with_capacity(input.len() + 1024);
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            out.clear();
            let mut stream = m.stream();
            for chunk in input.chunks(64 * 1024) {
                stream.push(chunk, &mut out);
            }
            stream.flush(&mut out);
        }
        let elapsed = started.elapsed();
        assert_eq!(out, input);
        let bytes = (input.len() * rounds) as f64;
        println!(
            "masking throughput: {:.0} MB/s ({} patterns from 100 secrets, {} MiB x {rounds})",
            bytes / elapsed.as_secs_f64() / 1e6,
            m.pattern_count(),
            input.len() >> 20,
        );
    }
}
