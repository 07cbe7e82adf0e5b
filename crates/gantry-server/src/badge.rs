//! Status badges: a small flat SVG (label on grey, status on its colour) that a README embeds
//! to show a workflow's latest result.
//!
//! The SVG uses no ids (no clip paths or gradients), so several badges can be inlined in one
//! page. Text widths come from an approximate table of Verdana's advance widths at 11 px; each
//! text also carries `textLength`, so a viewer without Verdana still fits it in its part.

use std::fmt::Write as _;

/// What a badge says about the latest run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeStatus {
    Success,
    Failure,
    Cancelled,
    Running,
    Queued,
    /// No run yet.
    None,
}

impl BadgeStatus {
    /// The text and the background colour of the status part.
    pub fn look(self) -> (&'static str, &'static str) {
        match self {
            BadgeStatus::Success => ("passing", "#2da44e"),
            BadgeStatus::Failure => ("failing", "#cf222e"),
            BadgeStatus::Cancelled => ("cancelled", "#6e7781"),
            BadgeStatus::Running => ("running", "#bf8700"),
            BadgeStatus::Queued => ("queued", "#0969da"),
            BadgeStatus::None => ("no runs", "#8c959f"),
        }
    }
}

const LABEL_COLOUR: &str = "#555555";
const HEIGHT: u32 = 20;
/// Space left and right of each text, in pixels.
const PADDING: f64 = 6.0;

/// A badge for `label` (a workflow or repository name) and `status`.
pub fn badge(label: &str, status: BadgeStatus) -> String {
    let (text, colour) = status.look();
    let label_text = text_width(label);
    let status_text = text_width(text);
    let left = (label_text + 2.0 * PADDING).ceil() as u32;
    let right = (status_text + 2.0 * PADDING).ceil() as u32;
    let total = left + right;
    let mut label_html = String::with_capacity(label.len());
    escape_into(label, &mut label_html);

    let mut out = String::with_capacity(1024 + 3 * label_html.len());
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"{HEIGHT}\" viewBox=\"0 0 {total} {HEIGHT}\" role=\"img\" aria-label=\"{label_html}: {text}\">\
         <title>{label_html}: {text}</title>\
         <rect width=\"{total}\" height=\"{HEIGHT}\" rx=\"3\" fill=\"{LABEL_COLOUR}\"/>\
         <rect x=\"{left}\" width=\"{right}\" height=\"{HEIGHT}\" rx=\"3\" fill=\"{colour}\"/>\
         <rect x=\"{left}\" width=\"4\" height=\"{HEIGHT}\" fill=\"{colour}\"/>\
         <g fill=\"#ffffff\" text-anchor=\"middle\" font-family=\"Verdana, Geneva, DejaVu Sans, sans-serif\" font-size=\"11\">"
    );
    for (centre, width, content) in [
        (f64::from(left) / 2.0, label_text, label_html.as_str()),
        (f64::from(left) + f64::from(right) / 2.0, status_text, text),
    ] {
        // A faint shadow one pixel down, then the text.
        let _ = write!(
            out,
            "<text x=\"{centre:.1}\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\" textLength=\"{width:.1}\" lengthAdjust=\"spacingAndGlyphs\">{content}</text>\
             <text x=\"{centre:.1}\" y=\"14\" textLength=\"{width:.1}\" lengthAdjust=\"spacingAndGlyphs\">{content}</text>"
        );
    }
    out.push_str("</g></svg>");
    out
}

/// The width of `text` in Verdana at 11 px, approximately.
fn text_width(text: &str) -> f64 {
    text.chars().map(|c| char_em(c) * 11.0).sum()
}

/// A character's advance width in ems (Verdana, approximate); other characters count as one em.
fn char_em(c: char) -> f64 {
    match c {
        ' ' => 0.35,
        'i' | 'l' => 0.27,
        'j' => 0.34,
        'f' => 0.35,
        't' => 0.39,
        'r' => 0.43,
        'I' => 0.42,
        'J' => 0.46,
        'c' | 's' => 0.52,
        'z' => 0.53,
        'L' => 0.56,
        'F' => 0.58,
        'e' => 0.6,
        'a' | 'o' | 'P' => 0.6,
        'k' | 'v' | 'x' | 'y' => 0.59,
        'b' | 'd' | 'g' | 'p' | 'q' => 0.62,
        'h' | 'n' | 'u' => 0.63,
        'T' | 'Y' => 0.62,
        'E' => 0.63,
        'A' | 'B' | 'S' | 'X' | 'Z' | 'V' => 0.68,
        'K' | 'R' => 0.7,
        'C' => 0.7,
        'U' => 0.73,
        'N' | 'H' => 0.75,
        'D' => 0.77,
        'G' => 0.78,
        'O' | 'Q' => 0.79,
        'w' => 0.82,
        'M' => 0.84,
        'm' => 0.97,
        'W' => 0.99,
        '0'..='9' | '$' | '*' | '_' | '`' | '{' | '}' => 0.64,
        '.' | ',' => 0.36,
        '\'' => 0.27,
        '"' => 0.46,
        '!' => 0.39,
        ':' | ';' | '-' | '(' | ')' | '[' | ']' | '/' | '\\' | '|' => 0.45,
        '?' => 0.55,
        '&' => 0.73,
        '#' | '+' | '<' | '=' | '>' | '^' | '~' => 0.82,
        '%' => 1.08,
        '@' => 1.0,
        _ => 1.0,
    }
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `width` attribute of the badge's `<svg>`.
    fn width(svg: &str) -> u32 {
        let rest = svg.split_once(" width=\"").expect("a width").1;
        rest.split_once('"').unwrap().0.parse().unwrap()
    }

    #[test]
    fn text_is_escaped() {
        let svg = badge("<script>&\"x\"'</script>", BadgeStatus::Success);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(">&lt;script&gt;&amp;&quot;x&quot;&#39;&lt;/script&gt;</text>"));
        assert!(svg.contains(
            "aria-label=\"&lt;script&gt;&amp;&quot;x&quot;&#39;&lt;/script&gt;: passing\""
        ));
        assert!(!badge("a\u{7}b", BadgeStatus::Success).contains('\u{7}'));
    }

    #[test]
    fn width_grows_with_the_text() {
        let narrow = width(&badge("ci", BadgeStatus::Success));
        let wider = width(&badge("continuous integration", BadgeStatus::Success));
        assert!(wider > narrow + 80, "{narrow} {wider}");
        // Wide letters take more room than narrow ones, and unknown characters a full em.
        assert!(
            width(&badge("WWWW", BadgeStatus::Success))
                > width(&badge("iiii", BadgeStatus::Success)) + 25
        );
        assert_eq!(
            width(&badge("日本", BadgeStatus::None)) - width(&badge("", BadgeStatus::None)),
            22
        );
        // Parts: label "build" is about 26.5 px + 12 padding; "passing" about 41.6 px + 12.
        let svg = badge("build", BadgeStatus::Success);
        assert_eq!(width(&svg), 39 + 54);
        assert!(svg.contains("<rect x=\"39\" width=\"54\""));
    }

    #[test]
    fn each_status_has_its_text_and_colour() {
        for (status, text, colour) in [
            (BadgeStatus::Success, "passing", "#2da44e"),
            (BadgeStatus::Failure, "failing", "#cf222e"),
            (BadgeStatus::Cancelled, "cancelled", "#6e7781"),
            (BadgeStatus::Running, "running", "#bf8700"),
            (BadgeStatus::Queued, "queued", "#0969da"),
            (BadgeStatus::None, "no runs", "#8c959f"),
        ] {
            let svg = badge("ci", status);
            assert!(svg.contains(&format!("<title>ci: {text}</title>")), "{svg}");
            assert!(svg.contains(&format!("fill=\"{colour}\"")), "{svg}");
            assert!(svg.contains(&format!(">{text}</text>")), "{svg}");
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.ends_with("</svg>"));
        }
    }
}
