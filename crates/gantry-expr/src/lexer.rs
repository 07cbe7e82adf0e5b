//! Lexer: turns expression text into tokens with byte spans.

use crate::coerce::parse_number_text;
use crate::error::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'s> {
    Number(f64),
    String(String),
    /// A word: a keyword (`true`, `null`, …), a context, a property or a function name.
    Ident(&'s str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
    Not,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub start: usize,
    pub end: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Characters that continue a number token (so `1.2.3` or `12ab` is one bad token).
fn is_number_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')
}

/// Tokenises `src`; the last token is always [`Tok::Eof`] at `src.len()`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let mut tokens: Vec<Token<'_>> = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let next_char = src[start + c.len_utf8()..].chars().next();
        let simple = match c {
            '(' => Some((Tok::LParen, 1)),
            ')' => Some((Tok::RParen, 1)),
            '[' => Some((Tok::LBracket, 1)),
            ']' => Some((Tok::RBracket, 1)),
            ',' => Some((Tok::Comma, 1)),
            '*' => Some((Tok::Star, 1)),
            '!' if next_char == Some('=') => Some((Tok::Ne, 2)),
            '!' => Some((Tok::Not, 1)),
            '<' if next_char == Some('=') => Some((Tok::Le, 2)),
            '<' => Some((Tok::Lt, 1)),
            '>' if next_char == Some('=') => Some((Tok::Ge, 2)),
            '>' => Some((Tok::Gt, 1)),
            '=' if next_char == Some('=') => Some((Tok::Eq, 2)),
            '&' if next_char == Some('&') => Some((Tok::And, 2)),
            '|' if next_char == Some('|') => Some((Tok::Or, 2)),
            '.' if ends_value(tokens.last()) || !next_char.is_some_and(|n| n.is_ascii_digit()) => {
                Some((Tok::Dot, 1))
            }
            _ => None,
        };
        if let Some((tok, len)) = simple {
            chars.next();
            if len == 2 {
                chars.next();
            }
            tokens.push(Token {
                tok,
                start,
                end: start + len,
            });
            continue;
        }
        let token = match c {
            '=' => {
                return Err(ParseError::new(
                    start,
                    "Unexpected symbol: '=' (use '==' to compare)",
                ));
            }
            '&' => return Err(ParseError::new(start, "Unexpected symbol: '&' (use '&&')")),
            '|' => return Err(ParseError::new(start, "Unexpected symbol: '|' (use '||')")),
            '"' => {
                return Err(ParseError::new(
                    start,
                    "Unexpected symbol: '\"' (use single quotes for strings, e.g. 'text')",
                ));
            }
            '\'' => lex_string(src, start)?,
            c if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => lex_number(src, start)?,
            c if is_ident_start(c) => {
                let end = scan(src, start, is_ident_char);
                Token {
                    tok: Tok::Ident(&src[start..end]),
                    start,
                    end,
                }
            }
            other => {
                return Err(ParseError::new(
                    start,
                    format!("Unexpected symbol: '{other}'"),
                ));
            }
        };
        while chars.peek().is_some_and(|&(i, _)| i < token.end) {
            chars.next();
        }
        tokens.push(token);
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

/// Whether a `.` after this token is a property dereference rather than the
/// start of a number like `.5`.
fn ends_value(last: Option<&Token<'_>>) -> bool {
    matches!(
        last.map(|t| &t.tok),
        Some(
            Tok::Ident(_)
                | Tok::Number(_)
                | Tok::String(_)
                | Tok::RParen
                | Tok::RBracket
                | Tok::Star
        )
    )
}

/// End (exclusive) of the run of characters satisfying `keep` starting at `start`.
fn scan(src: &str, start: usize, keep: fn(char) -> bool) -> usize {
    src[start..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(src.len(), |(i, _)| start + i)
}

fn lex_number(src: &str, start: usize) -> Result<Token<'_>, ParseError> {
    let end = scan(src, start, is_number_char);
    let text = &src[start..end];
    match parse_number_text(text) {
        Some(n) => Ok(Token {
            tok: Tok::Number(n),
            start,
            end,
        }),
        None if text == "-" || text == "+" => Err(ParseError::new(
            start,
            format!("Unexpected symbol: '{text}' (expressions have no arithmetic)"),
        )),
        None => Err(ParseError::new(
            start,
            format!("Unexpected symbol: '{text}' (not a valid number)"),
        )),
    }
}

/// A single-quoted string; `''` stands for one quote.
fn lex_string(src: &str, start: usize) -> Result<Token<'_>, ParseError> {
    let mut value = String::new();
    let mut iter = src[start + 1..].char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c == '\'' {
            if iter.peek().is_some_and(|&(_, n)| n == '\'') {
                iter.next();
                value.push('\'');
            } else {
                let end = start + 1 + i + 1;
                return Ok(Token {
                    tok: Tok::String(value),
                    start,
                    end,
                });
            }
        } else {
            value.push(c);
        }
    }
    Err(ParseError::new(
        start,
        "Unterminated string literal (missing closing ')",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        lex(src)
            .map(|t| t.into_iter().map(|t| t.tok).collect())
            .unwrap_or_default()
    }

    fn err(src: &str) -> (usize, String) {
        match lex(src) {
            Ok(t) => panic!("expected an error for {src:?}, got {t:?}"),
            Err(e) => (e.offset, e.message),
        }
    }

    #[test]
    fn tokens_and_spans() {
        let toks = lex("a.b['c'] <= 1.5").unwrap_or_default();
        let spans: Vec<(usize, usize)> = toks.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 1),
                (1, 2),
                (2, 3),
                (3, 4),
                (4, 7),
                (7, 8),
                (9, 11),
                (12, 15),
                (15, 15)
            ]
        );
        assert_eq!(
            kinds("!a != b && c || d"),
            vec![
                Tok::Not,
                Tok::Ident("a"),
                Tok::Ne,
                Tok::Ident("b"),
                Tok::And,
                Tok::Ident("c"),
                Tok::Or,
                Tok::Ident("d"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds("-1"), vec![Tok::Number(-1.0), Tok::Eof]);
        assert_eq!(kinds(".5"), vec![Tok::Number(0.5), Tok::Eof]);
        assert_eq!(kinds("(.5)")[1], Tok::Number(0.5));
        assert_eq!(kinds("0xff"), vec![Tok::Number(255.0), Tok::Eof]);
        assert_eq!(kinds("-2.99e-2"), vec![Tok::Number(-0.0299), Tok::Eof]);
        assert_eq!(
            kinds("-Infinity"),
            vec![Tok::Number(f64::NEG_INFINITY), Tok::Eof]
        );
        // After a value, `.` is a dereference.
        assert_eq!(kinds("a.5")[1], Tok::Dot);
    }

    #[test]
    fn strings() {
        assert_eq!(kinds("'It''s'"), vec![Tok::String("It's".into()), Tok::Eof]);
        assert_eq!(kinds("''"), vec![Tok::String(String::new()), Tok::Eof]);
        assert_eq!(kinds("'é}}'"), vec![Tok::String("é}}".into()), Tok::Eof]);
    }

    #[test]
    fn errors_point_at_the_symbol() {
        assert_eq!(err("a == \"x\"").0, 5);
        assert!(err("a == \"x\"").1.contains("single quotes"));
        assert_eq!(
            err("a = b"),
            (2, "Unexpected symbol: '=' (use '==' to compare)".into())
        );
        assert_eq!(err("a & b").0, 2);
        assert_eq!(err("a | b").0, 2);
        assert_eq!(err("x == 'abc").0, 5);
        assert_eq!(
            err("1.2.3"),
            (0, "Unexpected symbol: '1.2.3' (not a valid number)".into())
        );
        assert_eq!(err("a - b").0, 2);
        assert_eq!(err("é").0, 0);
        assert_eq!(err("ab $").0, 3);
    }
}
