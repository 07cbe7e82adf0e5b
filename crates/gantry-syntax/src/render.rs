//! Render a [`Diagnostic`] in rustc style, as plain text:
//!
//! ```text
//! error: unknown key `runs-of` in job `build`
//!   --> .github/workflows/ci.yml:7:5
//!    |
//!  7 |     runs-of: ubuntu-latest
//!    |     ^^^^^^^
//!    = help: did you mean `runs-on`?
//! ```
//!
//! The caret goes under the span's part on its first line. Tabs are shown
//! as four spaces and long lines are cut around the caret, so the caret
//! always lines up. An unknown span (line 0) or a line past the end of the
//! source gets no excerpt. Colour is the CLI's business.

use std::fmt::Write;

use crate::diagnostic::{Diagnostic, Severity};

/// Characters of a source line shown at most; longer lines are cut around
/// the caret.
const MAX_LINE_CHARS: usize = 100;
const TAB: &str = "    ";

pub fn render(d: &Diagnostic, source: &str) -> String {
    let mut out = String::new();
    let label = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{label}: {}", one_line(&d.message));

    let line_no = d.span.start.line;
    let line_text = if line_no == 0 {
        None
    } else {
        source
            .split('\n')
            .nth(usize::try_from(line_no - 1).unwrap_or(usize::MAX))
    };
    let gutter = if line_text.is_some() {
        line_no.to_string().len() + 1
    } else {
        1
    };
    let pad = " ".repeat(gutter);

    if line_no == 0 {
        let _ = writeln!(out, "{pad}--> {}", d.file);
    } else {
        let _ = writeln!(out, "{pad}--> {}:{}:{}", d.file, line_no, d.span.start.col);
    }

    if let Some(text) = line_text {
        let text = text.strip_suffix('\r').unwrap_or(text);
        // Columns do not count a byte order mark.
        let chars: Vec<char> = text.chars().filter(|c| *c != '\u{feff}').collect();
        // Caret range in characters on this line.
        let start = usize::try_from(d.span.start.col.max(1) - 1)
            .unwrap_or(0)
            .min(chars.len());
        let end = if d.span.end.line == d.span.start.line && d.span.end.col > d.span.start.col {
            usize::try_from(d.span.end.col - 1)
                .unwrap_or(start)
                .min(chars.len())
        } else if d.span.end.line > d.span.start.line {
            chars.len()
        } else {
            start
        };
        let end = end.max(start);
        let (shown, caret_col, caret_len) = excerpt(&chars, start, end);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line_no:>gutter$} | {shown}");
        let _ = writeln!(
            out,
            "{pad} | {}{}",
            " ".repeat(caret_col),
            "^".repeat(caret_len.max(1))
        );
    }

    if let Some(hint) = &d.hint {
        let _ = writeln!(out, "{pad} = help: {}", one_line(hint));
    }
    out
}

/// The displayed line (tabs expanded, cut when long), the caret's display
/// column and its display width.
fn excerpt(chars: &[char], start: usize, end: usize) -> (String, usize, usize) {
    let width = |c: &char| if *c == '\t' { TAB.len() } else { 1 };
    // Pick the window of characters to show.
    let total: usize = chars.iter().map(width).sum();
    let (from, to, cut_left, cut_right) = if total <= MAX_LINE_CHARS {
        (0, chars.len(), false, false)
    } else {
        let from = start.saturating_sub(MAX_LINE_CHARS / 3);
        let mut to = from;
        let mut used = 0;
        while to < chars.len() && used + width(&chars[to]) <= MAX_LINE_CHARS {
            used += width(&chars[to]);
            to += 1;
        }
        (from, to, from > 0, to < chars.len())
    };

    let mut shown = String::new();
    let mut caret_col = 0;
    let mut caret_len = 0;
    if cut_left {
        shown.push_str("...");
    }
    let mut col = shown.chars().count();
    for (i, c) in chars.iter().enumerate().take(to).skip(from) {
        if i == start {
            caret_col = col;
        }
        let w = width(c);
        if i >= start && i < end {
            caret_len += w;
        }
        if *c == '\t' {
            shown.push_str(TAB);
        } else if c.is_control() {
            shown.push(' ');
        } else {
            shown.push(*c);
        }
        col += w;
    }
    if start >= to {
        caret_col = col;
    }
    if cut_right {
        shown.push_str("...");
    }
    (shown, caret_col, caret_len)
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}
