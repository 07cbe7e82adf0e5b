//! A job log, as stored (masked bytes), rendered to HTML for the run page and the live log.
//!
//! Every line becomes `<span class="l" id="L{n}"><a href="#L{n}" class="n">{n}</a>…\n</span>`
//! (`n` counts the stored lines from 1, marker lines included, so a number always names the same
//! line of the raw log). Inside a line, ANSI SGR sequences become `<span>`s: the 16 basic colours
//! and the attributes as classes (`a-fg-1`, `a-bg-4`, `a-b`, `a-d`, `a-i`, `a-u`), 256-colour and
//! true-colour values as inline `style`. Every other escape sequence is dropped. Text before the
//! last `\r` of a line is overwritten by what follows it (progress bars), as a terminal shows it.
//!
//! Gantry's markers are whole lines: `##[group]Title` / `##[endgroup]` fold into
//! `<details class="group">` (nested; unterminated ones close at a step boundary and at the end),
//! `##[notice]`, `##[warning]`, `##[error]` and `##[debug]` are styled lines, and `##[step]N Name`
//! is a step header with the anchor `id="step-N"`.
//!
//! [`LineRenderer`] is incremental (chunks in, HTML of the complete lines out; colours and open
//! groups carry over), for the live log; [`render_log`] renders a whole log with it. The
//! concatenation of everything a renderer returns is the same HTML as [`render_log`] of the
//! concatenated input, whatever the chunk boundaries. The CSS for the classes is in
//! `templates/render.css`; the container should keep white space (`white-space: pre-wrap`).

use std::fmt::Write as _;

/// A line longer than this (without a newline) is cut and rendered as a line of its own, so a
/// stream that never ends its line cannot grow the renderer's buffer without bound.
const MAX_LINE_BYTES: usize = 1 << 20;

/// Renders a whole stored log to HTML.
pub fn render_log(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2 + 64);
    let mut renderer = LineRenderer::new();
    renderer.push_into(bytes, &mut out);
    renderer.finish_into(&mut out);
    out
}

/// Turns a log that arrives in chunks into HTML, line by line.
///
/// A chunk may end anywhere (inside a line, an escape sequence or a UTF-8 character): the
/// incomplete line waits for the next chunk. The colour state and the open groups carry across
/// lines and chunks.
#[derive(Debug, Default)]
pub struct LineRenderer {
    /// The start of a line whose newline has not arrived yet.
    pending: Vec<u8>,
    /// The number of lines rendered so far.
    lines: u64,
    /// The SGR state at the start of the next line.
    style: Style,
    /// How many `<details>` are open.
    open_groups: usize,
}

impl LineRenderer {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many lines have been rendered so far.
    pub fn line_count(&self) -> u64 {
        self.lines
    }

    /// How many groups are open (their `<details>` is emitted, their end is not).
    pub fn open_groups(&self) -> usize {
        self.open_groups
    }

    /// Feeds a chunk and returns the HTML of the lines it completed (possibly empty).
    pub fn push(&mut self, chunk: &[u8]) -> String {
        let mut out = String::with_capacity(chunk.len() + chunk.len() / 2);
        self.push_into(chunk, &mut out);
        out
    }

    /// Feeds a chunk and appends the HTML of the lines it completed to `out`.
    pub fn push_into(&mut self, mut chunk: &[u8], out: &mut String) {
        if !self.pending.is_empty() {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let mut line = std::mem::take(&mut self.pending);
                    line.extend_from_slice(&chunk[..i]);
                    self.line(&line, out);
                    line.clear();
                    self.pending = line;
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.pending.extend_from_slice(chunk);
                    self.bound_pending(out);
                    return;
                }
            }
        }
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            self.line(&chunk[..i], out);
            chunk = &chunk[i + 1..];
        }
        self.pending.extend_from_slice(chunk);
        self.bound_pending(out);
    }

    /// Renders what is left (a last line without a newline) and closes the open groups.
    /// The renderer is then ready for a new log, numbering from 1 again.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        self.finish_into(&mut out);
        out
    }

    /// [`finish`](Self::finish), appending to `out`.
    pub fn finish_into(&mut self, out: &mut String) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.line(&line, out);
        }
        self.close_groups(out);
        *self = Self::default();
    }

    fn bound_pending(&mut self, out: &mut String) {
        if self.pending.len() > MAX_LINE_BYTES {
            let line = std::mem::take(&mut self.pending);
            self.line(&line, out);
        }
    }

    fn close_groups(&mut self, out: &mut String) {
        for _ in 0..self.open_groups {
            out.push_str("</details>");
        }
        self.open_groups = 0;
    }

    /// Renders one line (without its `\n`).
    fn line(&mut self, raw: &[u8], out: &mut String) {
        self.lines += 1;
        let n = self.lines;
        let mut raw = raw;
        while let [rest @ .., b'\r'] = raw {
            raw = rest;
        }
        let decoded = String::from_utf8_lossy(raw);
        let mut text: &str = &decoded;
        if let Some(cr) = text.rfind('\r') {
            // Overwritten text still changes the colours.
            self.style.apply_all(&text[..cr]);
            text = &text[cr + 1..];
        }
        if let Some(rest) = text.strip_prefix("##[") {
            if let Some(title) = rest.strip_prefix("group]") {
                out.push_str("<details class=\"group\"><summary>");
                self.plain_line(n, "", title, out);
                out.push_str("</summary>");
                self.open_groups += 1;
                return;
            }
            if rest.starts_with("endgroup]") {
                if self.open_groups > 0 {
                    self.open_groups -= 1;
                    out.push_str("</details>");
                }
                return;
            }
            if let Some(step) = rest.strip_prefix("step]") {
                let (number, name) = step.split_once(' ').unwrap_or((step, ""));
                if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
                    self.close_groups(out);
                    let _ = write!(out, "<h3 class=\"step\" id=\"step-{number}\">");
                    self.plain_line(n, "", name, out);
                    out.push_str("</h3>");
                    return;
                }
            }
            for (marker, class, tag) in [
                ("notice]", " l-notice", "Notice: "),
                ("warning]", " l-warning", "Warning: "),
                ("error]", " l-error", "Error: "),
                ("debug]", " l-debug", "Debug: "),
            ] {
                if let Some(message) = rest.strip_prefix(marker) {
                    let _ = write!(
                        out,
                        "<span class=\"l{class}\" id=\"L{n}\"><a href=\"#L{n}\" class=\"n\">{n}</a><span class=\"tag\">{tag}</span>"
                    );
                    self.text(message, out);
                    out.push_str("\n</span>");
                    return;
                }
            }
        }
        let _ = write!(
            out,
            "<span class=\"l\" id=\"L{n}\"><a href=\"#L{n}\" class=\"n\">{n}</a>"
        );
        self.text(text, out);
        out.push_str("\n</span>");
    }

    /// A line whose text is rendered with the current colours (group titles, step names).
    fn plain_line(&mut self, n: u64, class: &str, text: &str, out: &mut String) {
        let _ = write!(
            out,
            "<span class=\"l{class}\" id=\"L{n}\"><a href=\"#L{n}\" class=\"n\">{n}</a>"
        );
        self.text(text, out);
        out.push_str("\n</span>");
    }

    /// Renders the text of a line: escapes, SGR spans, dropped controls.
    fn text(&mut self, text: &str, out: &mut String) {
        let bytes = text.as_bytes();
        let mut open = false;
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let special = matches!(b, 0x1b | b'&' | b'<' | b'>' | b'"' | b'\'')
                || (b < 0x20 && b != b'\t')
                || b == 0x7f;
            if !special {
                i += 1;
                continue;
            }
            if start < i {
                self.emit(&text[start..i], &mut open, out);
            }
            match b {
                0x1b => {
                    let (len, sgr) = escape_len(&bytes[i..]);
                    if let Some(params) = sgr {
                        let before = self.style;
                        self.style.apply(&text[i + 2..i + 2 + params]);
                        if open && self.style != before {
                            out.push_str("</span>");
                            open = false;
                        }
                    }
                    i += len;
                }
                b'&' => {
                    self.emit("&amp;", &mut open, out);
                    i += 1;
                }
                b'<' => {
                    self.emit("&lt;", &mut open, out);
                    i += 1;
                }
                b'>' => {
                    self.emit("&gt;", &mut open, out);
                    i += 1;
                }
                b'"' => {
                    self.emit("&quot;", &mut open, out);
                    i += 1;
                }
                b'\'' => {
                    self.emit("&#39;", &mut open, out);
                    i += 1;
                }
                _ => i += 1, // other control characters are not shown
            }
            start = i;
        }
        if start < bytes.len() {
            self.emit(&text[start..], &mut open, out);
        }
        if open {
            out.push_str("</span>");
        }
    }

    /// Appends already-escaped text, opening the span of the current style first if needed.
    fn emit(&self, html: &str, open: &mut bool, out: &mut String) {
        if !*open && !self.style.is_plain() {
            self.style.open_span(out);
            *open = true;
        }
        out.push_str(html);
    }
}

/// The length of the escape sequence at the start of `bytes` (which starts with ESC), and for an
/// SGR sequence (`ESC [ params m`) the length of its parameters. An unterminated sequence runs to
/// the end of the line.
fn escape_len(bytes: &[u8]) -> (usize, Option<usize>) {
    match bytes.get(1) {
        None => (1, None),
        Some(b'[') => {
            let mut j = 2;
            while j < bytes.len() && (0x30..=0x3f).contains(&bytes[j]) {
                j += 1;
            }
            let params_end = j;
            while j < bytes.len() && (0x20..=0x2f).contains(&bytes[j]) {
                j += 1;
            }
            match bytes.get(j) {
                Some(&f) if (0x40..=0x7e).contains(&f) => {
                    let plain_params = bytes[2..params_end]
                        .iter()
                        .all(|b| b.is_ascii_digit() || *b == b';' || *b == b':');
                    let sgr = f == b'm' && params_end == j && plain_params;
                    (j + 1, sgr.then_some(params_end - 2))
                }
                _ => (j, None),
            }
        }
        Some(b']' | b'P' | b'_' | b'^' | b'X') => {
            // OSC and the other string sequences: up to BEL or ST (ESC \).
            let mut j = 2;
            while j < bytes.len() {
                if bytes[j] == 0x07 {
                    return (j + 1, None);
                }
                if bytes[j] == 0x1b && bytes.get(j + 1) == Some(&b'\\') {
                    return (j + 2, None);
                }
                j += 1;
            }
            (j, None)
        }
        Some(b'(' | b')' | b'*' | b'+' | b'#' | b'%') => (bytes.len().min(3), None),
        Some(_) => (2, None),
    }
}

/// A colour of the text or its background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Colour {
    #[default]
    Default,
    /// One of the 16 colours a theme defines (0–7 normal, 8–15 bright): a class.
    Basic(u8),
    /// An exact colour (from the 256-colour palette or true colour): an inline style.
    Rgb(u8, u8, u8),
}

/// The SGR state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Style {
    fg: Colour,
    bg: Colour,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
}

impl Style {
    fn is_plain(&self) -> bool {
        *self == Style::default()
    }

    /// Applies every SGR sequence of `text` (whose other content is ignored).
    fn apply_all(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == 0x1b {
                let (len, sgr) = escape_len(&bytes[i..]);
                if let Some(params) = sgr {
                    self.apply(&text[i + 2..i + 2 + params]);
                }
                i += len;
            } else {
                i += 1;
            }
        }
    }

    /// Applies the parameters of one SGR sequence (`1;31`, empty for a reset).
    fn apply(&mut self, params: &str) {
        let mut codes = params.split([';', ':']).map(|p| {
            if p.is_empty() {
                0
            } else {
                p.parse::<u32>().unwrap_or(u32::MAX)
            }
        });
        while let Some(code) = codes.next() {
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                30..=37 => self.fg = Colour::Basic((code - 30) as u8),
                39 => self.fg = Colour::Default,
                40..=47 => self.bg = Colour::Basic((code - 40) as u8),
                49 => self.bg = Colour::Default,
                90..=97 => self.fg = Colour::Basic((code - 90 + 8) as u8),
                100..=107 => self.bg = Colour::Basic((code - 100 + 8) as u8),
                38 | 48 => {
                    let colour = match codes.next() {
                        Some(5) => codes.next().and_then(|n| u8::try_from(n).ok()).map(palette),
                        Some(2) => {
                            let mut channel = || codes.next().and_then(|v| u8::try_from(v).ok());
                            match (channel(), channel(), channel()) {
                                (Some(r), Some(g), Some(b)) => Some(Colour::Rgb(r, g, b)),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    match colour {
                        Some(c) if code == 38 => self.fg = c,
                        Some(c) => self.bg = c,
                        // A malformed colour ends the sequence, as terminals do.
                        None => return,
                    }
                }
                _ => {}
            }
        }
    }

    fn open_span(&self, out: &mut String) {
        out.push_str("<span");
        let mut classes = Vec::<&str>::new();
        let mut numbered = String::new();
        if let Colour::Basic(n) = self.fg {
            let _ = write!(numbered, "a-fg-{n}");
        }
        if let Colour::Basic(n) = self.bg {
            if !numbered.is_empty() {
                numbered.push(' ');
            }
            let _ = write!(numbered, "a-bg-{n}");
        }
        if !numbered.is_empty() {
            classes.push(&numbered);
        }
        for (on, class) in [
            (self.bold, "a-b"),
            (self.dim, "a-d"),
            (self.italic, "a-i"),
            (self.underline, "a-u"),
        ] {
            if on {
                classes.push(class);
            }
        }
        if !classes.is_empty() {
            out.push_str(" class=\"");
            out.push_str(&classes.join(" "));
            out.push('"');
        }
        let fg = match self.fg {
            Colour::Rgb(r, g, b) => Some((r, g, b)),
            _ => None,
        };
        let bg = match self.bg {
            Colour::Rgb(r, g, b) => Some((r, g, b)),
            _ => None,
        };
        if fg.is_some() || bg.is_some() {
            out.push_str(" style=\"");
            if let Some((r, g, b)) = fg {
                let _ = write!(out, "color:#{r:02x}{g:02x}{b:02x}");
            }
            if let Some((r, g, b)) = bg {
                if fg.is_some() {
                    out.push(';');
                }
                let _ = write!(out, "background-color:#{r:02x}{g:02x}{b:02x}");
            }
            out.push('"');
        }
        out.push('>');
    }
}

/// Colour `n` of the 256-colour palette: 0–15 are the theme's, 16–231 a 6×6×6 cube, 232–255
/// a grey ramp.
fn palette(n: u8) -> Colour {
    match n {
        0..=15 => Colour::Basic(n),
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let i = n - 16;
            Colour::Rgb(level(i / 36), level(i / 6 % 6), level(i % 6))
        }
        _ => {
            let v = 8 + 10 * (n - 232);
            Colour::Rgb(v, v, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inner HTML of the single line `input` renders to (number anchor and span stripped).
    fn line(input: &str) -> String {
        let html = render_log(input.as_bytes());
        let prefix = "<span class=\"l\" id=\"L1\"><a href=\"#L1\" class=\"n\">1</a>";
        let inner = html
            .strip_prefix(prefix)
            .and_then(|h| h.strip_suffix("\n</span>"))
            .unwrap_or_else(|| panic!("not one plain line: {html}"));
        inner.to_string()
    }

    #[test]
    fn plain_lines_are_numbered_and_linkable() {
        let html = render_log(b"one\ntwo\n");
        assert_eq!(
            html,
            "<span class=\"l\" id=\"L1\"><a href=\"#L1\" class=\"n\">1</a>one\n</span>\
             <span class=\"l\" id=\"L2\"><a href=\"#L2\" class=\"n\">2</a>two\n</span>"
        );
        // A last line without a newline is still shown; an empty log is empty.
        assert!(render_log(b"a\nb").contains("id=\"L2\""));
        assert_eq!(render_log(b""), "");
    }

    #[test]
    fn everything_is_escaped() {
        assert_eq!(
            line("<script>alert('x' & \"y\")</script>"),
            "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
        // Also in group titles, markers and step names.
        let html = render_log(b"##[group]<b>\n##[error]<i>\n##[step]1 <u>\n");
        assert!(!html.contains("<b>") && !html.contains("<i>") && !html.contains("<u>"));
        assert!(html.contains("&lt;b&gt;") && html.contains("&lt;i&gt;"));
        assert!(html.contains("&lt;u&gt;"));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let html = render_log(b"ok \xff\xfe end\n");
        assert!(html.contains("ok \u{fffd}\u{fffd} end"), "{html}");
    }

    #[test]
    fn basic_colours_and_attributes_are_classes() {
        let cases = [
            ("\x1b[31mred", "<span class=\"a-fg-1\">red</span>"),
            ("\x1b[37mx", "<span class=\"a-fg-7\">x</span>"),
            ("\x1b[90mx", "<span class=\"a-fg-8\">x</span>"),
            ("\x1b[97mx", "<span class=\"a-fg-15\">x</span>"),
            ("\x1b[44mx", "<span class=\"a-bg-4\">x</span>"),
            ("\x1b[107mx", "<span class=\"a-bg-15\">x</span>"),
            ("\x1b[1mx", "<span class=\"a-b\">x</span>"),
            ("\x1b[2mx", "<span class=\"a-d\">x</span>"),
            ("\x1b[3mx", "<span class=\"a-i\">x</span>"),
            ("\x1b[4mx", "<span class=\"a-u\">x</span>"),
            (
                "\x1b[1;4;32;41mx",
                "<span class=\"a-fg-2 a-bg-1 a-b a-u\">x</span>",
            ),
            ("\x1b[38;5;3mx", "<span class=\"a-fg-3\">x</span>"),
            ("\x1b[48;5;12mx", "<span class=\"a-bg-12\">x</span>"),
        ];
        for (input, want) in cases {
            assert_eq!(line(input), want, "{input:?}");
        }
    }

    #[test]
    fn extended_colours_are_inline_styles() {
        let cases = [
            ("\x1b[38;5;196mx", "<span style=\"color:#ff0000\">x</span>"),
            ("\x1b[38;5;16mx", "<span style=\"color:#000000\">x</span>"),
            ("\x1b[38;5;110mx", "<span style=\"color:#87afd7\">x</span>"),
            ("\x1b[38;5;231mx", "<span style=\"color:#ffffff\">x</span>"),
            ("\x1b[38;5;232mx", "<span style=\"color:#080808\">x</span>"),
            ("\x1b[38;5;255mx", "<span style=\"color:#eeeeee\">x</span>"),
            (
                "\x1b[48;5;244mx",
                "<span style=\"background-color:#808080\">x</span>",
            ),
            (
                "\x1b[38;2;1;2;255mx",
                "<span style=\"color:#0102ff\">x</span>",
            ),
            (
                "\x1b[1;38;2;10;20;30;48;2;0;0;0mx",
                "<span class=\"a-b\" style=\"color:#0a141e;background-color:#000000\">x</span>",
            ),
            ("\x1b[38:5:196mx", "<span style=\"color:#ff0000\">x</span>"),
        ];
        for (input, want) in cases {
            assert_eq!(line(input), want, "{input:?}");
        }
    }

    #[test]
    fn resets_end_spans() {
        let cases = [
            ("\x1b[31ma\x1b[0mb", "<span class=\"a-fg-1\">a</span>b"),
            ("\x1b[31ma\x1b[mb", "<span class=\"a-fg-1\">a</span>b"),
            ("\x1b[1ma\x1b[22mb", "<span class=\"a-b\">a</span>b"),
            ("\x1b[2ma\x1b[22mb", "<span class=\"a-d\">a</span>b"),
            ("\x1b[3ma\x1b[23mb", "<span class=\"a-i\">a</span>b"),
            ("\x1b[4ma\x1b[24mb", "<span class=\"a-u\">a</span>b"),
            ("\x1b[32ma\x1b[39mb", "<span class=\"a-fg-2\">a</span>b"),
            ("\x1b[42ma\x1b[49mb", "<span class=\"a-bg-2\">a</span>b"),
            (
                "\x1b[1;31ma\x1b[39mb",
                "<span class=\"a-fg-1 a-b\">a</span><span class=\"a-b\">b</span>",
            ),
            // A sequence that changes nothing keeps the span open.
            ("\x1b[31ma\x1b[31mb", "<span class=\"a-fg-1\">ab</span>"),
            // No text, no span.
            ("\x1b[31m\x1b[0mplain", "plain"),
        ];
        for (input, want) in cases {
            assert_eq!(line(input), want, "{input:?}");
        }
    }

    #[test]
    fn colours_carry_over_to_the_next_line() {
        let html = render_log(b"\x1b[33ma\nb\x1b[0m\nc\n");
        assert!(html.contains("1</a><span class=\"a-fg-3\">a</span>\n</span>"));
        assert!(html.contains("2</a><span class=\"a-fg-3\">b</span>\n</span>"));
        assert!(html.contains("3</a>c\n</span>"));
    }

    #[test]
    fn other_escapes_and_controls_are_dropped() {
        assert_eq!(line("a\x1b[2Kb\x1b[1Ac\x1b[?25ld"), "abcd");
        assert_eq!(line("a\x1b]0;title\x07b\x1b]8;;http://x\x1b\\c"), "abc");
        assert_eq!(line("a\x1b(Bb\x1b7c"), "abc");
        assert_eq!(line("a\x07\x08b\tc"), "ab\tc");
        // A private-marker sequence ending in m is not SGR.
        assert_eq!(line("\x1b[>4;2mx"), "x");
        // Unterminated at the end of a line.
        assert_eq!(line("ab\x1b["), "ab");
    }

    #[test]
    fn carriage_returns_keep_the_last_text() {
        assert_eq!(line("10%\r50%\r100%"), "100%");
        assert_eq!(line("done\r\n"), "done");
        assert_eq!(line("a\r"), "a");
        // Colours set in overwritten text still apply.
        assert_eq!(
            line("\x1b[32m10%\r100%"),
            "<span class=\"a-fg-2\">100%</span>"
        );
        let html = render_log(b"x\r\ny\r\n");
        assert!(html.contains("1</a>x\n") && html.contains("2</a>y\n"));
    }

    #[test]
    fn groups_fold_and_nest() {
        let html =
            render_log(b"##[group]Outer\na\n##[group]Inner\nb\n##[endgroup]\n##[endgroup]\nc\n");
        assert_eq!(
            html,
            "<details class=\"group\"><summary><span class=\"l\" id=\"L1\"><a href=\"#L1\" class=\"n\">1</a>Outer\n</span></summary>\
             <span class=\"l\" id=\"L2\"><a href=\"#L2\" class=\"n\">2</a>a\n</span>\
             <details class=\"group\"><summary><span class=\"l\" id=\"L3\"><a href=\"#L3\" class=\"n\">3</a>Inner\n</span></summary>\
             <span class=\"l\" id=\"L4\"><a href=\"#L4\" class=\"n\">4</a>b\n</span>\
             </details></details>\
             <span class=\"l\" id=\"L7\"><a href=\"#L7\" class=\"n\">7</a>c\n</span>"
        );
    }

    #[test]
    fn unterminated_groups_close_at_the_end_and_stray_ends_are_ignored() {
        let html = render_log(b"##[endgroup]\n##[group]A\n##[group]B\nx");
        assert_eq!(html.matches("<details").count(), 2);
        assert_eq!(html.matches("</details>").count(), 2);
        assert!(html.ends_with("</details></details>"));
    }

    #[test]
    fn steps_are_anchored_headers_that_close_groups() {
        let html = render_log(b"##[group]G\n##[step]2 Build it\nx\n##[step]x y\n");
        assert!(html.contains(
            "</details><h3 class=\"step\" id=\"step-2\"><span class=\"l\" id=\"L2\"><a href=\"#L2\" class=\"n\">2</a>Build it\n</span></h3>"
        ));
        // A step marker without a number is an ordinary line.
        assert!(html.contains("4</a>##[step]x y\n"));
    }

    #[test]
    fn notices_are_styled() {
        for (marker, class, tag) in [
            ("notice", "l-notice", "Notice: "),
            ("warning", "l-warning", "Warning: "),
            ("error", "l-error", "Error: "),
            ("debug", "l-debug", "Debug: "),
        ] {
            let html = render_log(format!("##[{marker}]it <happened>\n").as_bytes());
            assert_eq!(
                html,
                format!(
                    "<span class=\"l {class}\" id=\"L1\"><a href=\"#L1\" class=\"n\">1</a><span class=\"tag\">{tag}</span>it &lt;happened&gt;\n</span>"
                )
            );
        }
        // Not a marker: rendered as text.
        assert_eq!(line("##[unknown]x"), "##[unknown]x");
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_html() {
        let log = "plain\n\x1b[1;38;2;1;2;3mbold rgb\x1b[0m \u{e9}t\u{e9}\n##[group]G \u{1f600}\n\
                   10%\r\x1b[31m100%\r\n##[endgroup]\n##[step]3 S\n##[warning]w\nlast"
            .as_bytes();
        let whole = render_log(log);
        for size in 1..=7 {
            let mut renderer = LineRenderer::new();
            let mut html = String::new();
            for chunk in log.chunks(size) {
                html.push_str(&renderer.push(chunk));
            }
            html.push_str(&renderer.finish());
            assert_eq!(html, whole, "chunk size {size}");
        }
        // Every split point of the escape sequence, singly.
        for cut in 0..log.len() {
            let mut renderer = LineRenderer::new();
            let mut html = renderer.push(&log[..cut]);
            html.push_str(&renderer.push(&log[cut..]));
            html.push_str(&renderer.finish());
            assert_eq!(html, whole, "cut at {cut}");
        }
    }

    #[test]
    fn incremental_output_covers_complete_lines_only() {
        let mut renderer = LineRenderer::new();
        assert_eq!(
            renderer.push(b"##[group]G\npart"),
            "<details class=\"group\"><summary><span class=\"l\" id=\"L1\"><a href=\"#L1\" class=\"n\">1</a>G\n</span></summary>"
        );
        assert_eq!(renderer.open_groups(), 1);
        assert_eq!(renderer.line_count(), 1);
        let html = renderer.push(b"ial\n");
        assert!(html.contains("2</a>partial\n</span>"), "{html}");
        assert_eq!(renderer.finish(), "</details>");
    }

    #[test]
    fn an_endless_line_is_cut() {
        let mut renderer = LineRenderer::new();
        let html = renderer.push(&vec![b'x'; MAX_LINE_BYTES + 10]);
        assert!(html.contains("id=\"L1\""));
        assert!(renderer.pending.is_empty());
    }

    #[test]
    fn ten_megabytes_render_quickly() {
        let mut log = Vec::new();
        let mut i = 0u32;
        while log.len() < 10 << 20 {
            match i % 50 {
                0 => log.extend_from_slice(b"##[group]Compiling <stuff> & more\n"),
                49 => log.extend_from_slice(b"##[endgroup]\n"),
                7 => log.extend_from_slice(
                    b"\x1b[1m\x1b[32m   Compiling\x1b[0m gantry v0.1.0 (/work/crates/gantry)\n",
                ),
                _ => log.extend_from_slice(
                    b"test tests::something_long_enough_to_be_typical ... ok 'quoted' \"x\"\n",
                ),
            }
            i += 1;
        }
        let start = std::time::Instant::now();
        let html = render_log(&log);
        let took = start.elapsed();
        assert!(html.len() > log.len());
        // Well under a second in release; the unoptimised test build gets more room.
        let limit = if cfg!(debug_assertions) { 10.0 } else { 0.5 };
        assert!(took.as_secs_f64() < limit, "took {took:?}");
    }
}
