//! GitHub's filter patterns for `branches`, `tags` and `paths`.
//!
//! `*` matches any run of characters except `/`, `**` any run at all, `?`
//! makes the preceding character optional, `+` repeats it, `[a-z0-9]` is a
//! character class, `\` escapes, and a leading `!` negates. In a list of
//! patterns the last one that matches decides: a negative match excludes, a
//! later positive match includes again.

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    negated: bool,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Char(char),
    AnyButSlash,
    Any,
    /// `**/`: nothing, or any run of characters ending in `/`.
    DirPrefix,
    Class(Vec<(char, char)>),
}

#[derive(Debug, Clone, PartialEq)]
struct Piece {
    atom: Atom,
    min: usize,
    /// `None` is unbounded.
    max: Option<usize>,
}

impl Pattern {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn new(src: &str) -> Result<Pattern, String> {
        let (negated, body) = match src.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, src),
        };
        if body.is_empty() {
            return Err("empty pattern".to_string());
        }
        let chars: Vec<char> = body.chars().collect();
        let mut pieces: Vec<Piece> = Vec::new();
        let mut idx = 0;
        while idx < chars.len() {
            let ch = chars[idx];
            match ch {
                '*' => {
                    if chars.get(idx + 1) == Some(&'*') && chars.get(idx + 2) == Some(&'/') {
                        // `**/` also matches no directory at all.
                        pieces.push(Piece {
                            atom: Atom::DirPrefix,
                            min: 0,
                            max: None,
                        });
                        idx += 3;
                    } else if chars.get(idx + 1) == Some(&'*') {
                        pieces.push(Piece {
                            atom: Atom::Any,
                            min: 0,
                            max: None,
                        });
                        idx += 2;
                    } else {
                        pieces.push(Piece {
                            atom: Atom::AnyButSlash,
                            min: 0,
                            max: None,
                        });
                        idx += 1;
                    }
                }
                '?' | '+' => {
                    let Some(last) = pieces.last_mut() else {
                        return Err(format!("`{ch}` must follow a character"));
                    };
                    if last.min != 1 || last.max != Some(1) {
                        return Err(format!(
                            "`{ch}` cannot follow a wildcard or another quantifier"
                        ));
                    }
                    if ch == '?' {
                        last.min = 0;
                    } else {
                        last.max = None;
                    }
                    idx += 1;
                }
                '[' => {
                    let close = chars[idx + 1..]
                        .iter()
                        .position(|c| *c == ']')
                        .map(|p| p + idx + 1)
                        .ok_or_else(|| "unclosed `[`".to_string())?;
                    let inner = &chars[idx + 1..close];
                    if inner.is_empty() {
                        return Err("empty character class `[]`".to_string());
                    }
                    let mut ranges = Vec::new();
                    let mut pos = 0;
                    while pos < inner.len() {
                        if pos + 2 < inner.len() && inner[pos + 1] == '-' {
                            let (lo, hi) = (inner[pos], inner[pos + 2]);
                            if lo > hi {
                                return Err(format!("bad range `{lo}-{hi}` in `[...]`"));
                            }
                            ranges.push((lo, hi));
                            pos += 3;
                        } else {
                            ranges.push((inner[pos], inner[pos]));
                            pos += 1;
                        }
                    }
                    pieces.push(Piece {
                        atom: Atom::Class(ranges),
                        min: 1,
                        max: Some(1),
                    });
                    idx = close + 1;
                }
                '\\' => {
                    let Some(next) = chars.get(idx + 1) else {
                        return Err("trailing `\\`".to_string());
                    };
                    pieces.push(Piece {
                        atom: Atom::Char(*next),
                        min: 1,
                        max: Some(1),
                    });
                    idx += 2;
                }
                _ => {
                    pieces.push(Piece {
                        atom: Atom::Char(ch),
                        min: 1,
                        max: Some(1),
                    });
                    idx += 1;
                }
            }
        }
        Ok(Pattern { negated, pieces })
    }

    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// Whether the pattern body (ignoring `!`) matches the whole text.
    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        // reachable[i] = the pieces matched so far can end at char i.
        let mut reachable = vec![false; chars.len() + 1];
        reachable[0] = true;
        for piece in &self.pieces {
            let mut next = vec![false; chars.len() + 1];
            for start in 0..=chars.len() {
                if !reachable[start] {
                    continue;
                }
                if piece.min == 0 {
                    next[start] = true;
                }
                if piece.atom == Atom::DirPrefix {
                    for end in start + 1..=chars.len() {
                        if chars[end - 1] == '/' {
                            next[end] = true;
                        }
                    }
                    continue;
                }
                let mut count = 0;
                let mut pos = start;
                while pos < chars.len() && piece.max.is_none_or(|max| count < max) {
                    if !piece.atom.accepts(chars[pos]) {
                        break;
                    }
                    pos += 1;
                    count += 1;
                    if count >= piece.min {
                        next[pos] = true;
                    }
                }
            }
            reachable = next;
            if !reachable.iter().any(|r| *r) {
                return false;
            }
        }
        reachable[chars.len()]
    }
}

impl Atom {
    fn accepts(&self, ch: char) -> bool {
        match self {
            Atom::Char(c) => *c == ch,
            Atom::AnyButSlash => ch != '/',
            Atom::Any | Atom::DirPrefix => true,
            Atom::Class(ranges) => ranges.iter().any(|(lo, hi)| *lo <= ch && ch <= *hi),
        }
    }
}

/// A compiled list of patterns with GitHub's "last match decides" rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternList {
    patterns: Vec<Pattern>,
}

impl PatternList {
    pub fn new<'a>(srcs: impl IntoIterator<Item = &'a str>) -> Result<PatternList, String> {
        let patterns = srcs
            .into_iter()
            .map(|s| Pattern::new(s).map_err(|e| format!("bad filter pattern `{s}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatternList { patterns })
    }

    /// True when the text is included: some positive pattern matched and no
    /// later negative one excluded it again.
    pub fn includes(&self, text: &str) -> bool {
        let mut included = false;
        for pattern in &self.patterns {
            if pattern.negated == included && pattern.matches(text) {
                included = !pattern.negated;
            }
        }
        included
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(text)
    }

    #[test]
    fn github_cheat_sheet() {
        // Cases from GitHub's filter pattern cheat sheet.
        let cases: &[(&str, &str, bool)] = &[
            ("feature/*", "feature/my-branch", true),
            ("feature/*", "feature/your-branch", true),
            ("feature/*", "feature/a/b", false),
            ("feature/**", "feature/beta-a/my-branch", true),
            ("feature/**", "feature/mona/the/octocat", true),
            ("main", "main", true),
            ("main", "mainline", false),
            (
                "releases/mona-the-octocat",
                "releases/mona-the-octocat",
                true,
            ),
            ("*", "main", true),
            ("*", "releases/v1", false),
            ("**", "all/the/branches", true),
            ("*feature", "mona-feature", true),
            ("*feature", "feature", true),
            ("v2*", "v2", true),
            ("v2*", "v2.0", true),
            ("v[12].[0-9]+.[0-9]+", "v1.10.1", true),
            ("v[12].[0-9]+.[0-9]+", "v2.0.0", true),
            ("v[12].[0-9]+.[0-9]+", "v3.0.0", false),
            ("v1.?", "v1.", true),
            ("v1.?", "v1", true),
            ("v1.?", "v1.0", false),
            ("*.jsx?", "page.js", true),
            ("*.jsx?", "page.jsx", true),
            ("*.jsx?", "dir/page.js", false),
            ("**.js", "index.js", true),
            ("**.js", "js/index.js", true),
            ("**.js", "src/js/app.js", true),
            ("docs/*", "docs/README.md", true),
            ("docs/*", "docs/file.txt", true),
            ("docs/*", "docs/a/b.md", false),
            ("docs/**", "docs/mona/octocat.txt", true),
            ("docs/**/*.md", "docs/a/markdown/file.md", true),
            ("docs/**/*.md", "docs/file.md", true),
            ("**/docs/**", "docs/hello.md", true),
            ("**/docs/**", "dir/docs/my-file.txt", true),
            ("**/README.md", "README.md", true),
            ("**/README.md", "js/README.md", true),
            ("**/*src/**", "a/src/app.js", true),
            ("**/*-post.md", "my-post.md", true),
            ("**/*-post.md", "path/their-post.md", true),
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("v+", "vvv", true),
            ("v+", "", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(m(pattern, text), *want, "{pattern} vs {text}");
        }
    }

    #[test]
    fn last_match_decides() {
        let list = PatternList::new(["releases/**", "!releases/**-alpha"]).unwrap();
        assert!(list.includes("releases/10"));
        assert!(!list.includes("releases/10-alpha"));
        assert!(!list.includes("main"));
        let list = PatternList::new([
            "sub-project/**",
            "!sub-project/docs/**",
            "sub-project/docs/keep.md",
        ])
        .unwrap();
        assert!(list.includes("sub-project/a.rs"));
        assert!(!list.includes("sub-project/docs/x.md"));
        assert!(list.includes("sub-project/docs/keep.md"));
    }

    #[test]
    fn bad_patterns_say_why() {
        assert_eq!(Pattern::new("").unwrap_err(), "empty pattern");
        assert_eq!(Pattern::new("[a").unwrap_err(), "unclosed `[`");
        assert_eq!(
            Pattern::new("+a").unwrap_err(),
            "`+` must follow a character"
        );
        assert_eq!(
            Pattern::new("*?").unwrap_err(),
            "`?` cannot follow a wildcard or another quantifier"
        );
        assert!(
            PatternList::new(["ok", "[z-a]"])
                .unwrap_err()
                .contains("`[z-a]`")
        );
    }
}
