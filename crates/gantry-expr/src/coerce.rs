//! GitHub's coercions between JSON values: to string, to number and to a
//! boolean, plus number text parsing/formatting and case-insensitive string
//! comparison (ordinal, ignoring case) shared by the evaluator.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

/// The string form of a value, as GitHub produces it for `format()`, `join()`,
/// templates and environment variables.
///
/// `null` → `""`, booleans → `"true"`/`"false"`, numbers without a needless
/// fraction (`1`, not `1.0`; `-0` → `"0"`; non-integers rounded to 15
/// significant digits like GitHub), arrays → `"Array"`, objects → `"Object"`.
pub fn to_string(v: &Value) -> String {
    to_str(v).into_owned()
}

/// [`to_string`] without copying strings.
pub(crate) fn to_str(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Null => Cow::Borrowed(""),
        Value::Bool(true) => Cow::Borrowed("true"),
        Value::Bool(false) => Cow::Borrowed("false"),
        Value::Number(n) => Cow::Owned(json_number_to_string(n)),
        Value::String(s) => Cow::Borrowed(s),
        Value::Array(_) => Cow::Borrowed("Array"),
        Value::Object(_) => Cow::Borrowed("Object"),
    }
}

/// Integers stored as integers print exactly (a 19-digit id stays intact);
/// floating point values use [`format_number`].
fn json_number_to_string(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        format_number(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Truthiness: `false`, `0`, `-0`, `NaN`, `""` and `null` are falsy; every
/// other value, including `[]` and `{}`, is truthy.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => number_truthy(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

pub(crate) fn number_truthy(n: f64) -> bool {
    n != 0.0 && !n.is_nan()
}

/// Number form of a value: `null` → 0, booleans → 1/0, strings are trimmed
/// and parsed (`""` → 0; decimal, exponent, `0x`/`0o`/`0b` integers and
/// `Infinity` are accepted; anything else → NaN), arrays and objects → NaN.
pub fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => bool_number(*b),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => string_to_number(s),
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

pub(crate) fn bool_number(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// String to number coercion (see [`to_number`]).
pub(crate) fn string_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    parse_number_text(t).unwrap_or(f64::NAN)
}

/// Parses untrimmed number text: `[+-]digits[.digits][e[+-]digits]` (either
/// side of the point may be empty, not both), `0x`/`0o`/`0b` followed by
/// digits of that base, or `[+-]Infinity`. `None` when it is not a number.
pub(crate) fn parse_number_text(t: &str) -> Option<f64> {
    match t {
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let b = t.as_bytes();
    if b.len() > 2 && b[0] == b'0' {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            return parse_radix(&b[2..], radix);
        }
    }
    if !is_decimal(b) {
        return None;
    }
    t.parse::<f64>().ok()
}

fn parse_radix(digits: &[u8], radix: u32) -> Option<f64> {
    let mut value = 0f64;
    for &d in digits {
        let digit = char::from(d).to_digit(radix)?;
        value = value * f64::from(radix) + f64::from(digit);
    }
    Some(value)
}

fn is_decimal(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// GitHub's string form of a number: `NaN`, `Infinity`, `-Infinity`;
/// integers (below 1e21) in full without a fraction; other values rounded to
/// 15 significant digits, then printed in their shortest form (plain
/// notation from 1e-6 up, exponent notation like `1.5e-7` below).
pub(crate) fn format_number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return special_number(v);
    }
    if v.fract() == 0.0 && v.abs() < 1e21 {
        // Display for f64 never uses an exponent and prints no fraction here.
        return format!("{v}");
    }
    let rounded = format!("{v:.14e}").parse::<f64>().unwrap_or(v);
    shortest_number(rounded)
}

fn special_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Infinity".into()
    } else if v == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        "0".into()
    }
}

/// The shortest text that reads back as `v`, laid out like JavaScript's
/// `Number.prototype.toString` (used for [`std::fmt::Display`] of literals).
pub(crate) fn shortest_number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return special_number(v);
    }
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i64;
    let n = exp + 1; // the decimal point sits after `n` digits
    let body = if k <= n && n <= 21 {
        let mut s = digits;
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
        s
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e >= 0 { '+' } else { '-' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    };
    if v < 0.0 { format!("-{body}") } else { body }
}

/// A float as a JSON value: integral values become JSON integers (so `1.0`
/// serialises as `1` and `-0` as `0`); NaN and infinities, which JSON cannot
/// hold, become the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
pub(crate) fn number_value(v: f64) -> Value {
    if !v.is_finite() {
        return Value::String(special_number(v));
    }
    if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        return Value::from(v as i64);
    }
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Simple upper-case mapping used for ordinal ignore-case comparison: only
/// one-to-one mappings apply, and a non-ASCII letter never folds onto an
/// ASCII one (so `ı` and `I` differ, as on GitHub).
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if !u.is_ascii() => u,
        _ => c,
    }
}

/// Case-insensitive ordinal ordering of two strings.
pub(crate) fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.chars().map(fold).cmp(b.chars().map(fold))
}

/// Case-insensitive ordinal equality.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        cmp_ignore_case(a, b) == Ordering::Equal
    }
}

/// The folded form of a string, for case-insensitive substring tests.
pub(crate) fn fold_string(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(s.to_ascii_uppercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.chars().map(fold).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_format_like_github() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (-2.0, "-2"),
            (123456.789, "123456.789"),
            (0.845_512_408_225_570_1, "0.84551240822557"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (0.1 + 0.2, "0.3"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(format_number(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn shortest_round_trips() {
        for v in [
            0.1,
            1.0 / 3.0,
            1e-7,
            123.456,
            1e300,
            -5e-324,
            9.007_199_254_740_993e15,
        ] {
            assert_eq!(shortest_number(v).parse::<f64>().ok(), Some(v));
        }
    }

    #[test]
    fn string_to_number_rules() {
        let cases: &[(&str, f64)] = &[
            ("", 0.0),
            ("  12  ", 12.0),
            ("+1", 1.0),
            ("-.5", -0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("0xff", 255.0),
            ("0XFF", 255.0),
            ("0o17", 15.0),
            ("0b101", 5.0),
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ];
        for (s, want) in cases {
            assert_eq!(string_to_number(s), *want, "{s:?}");
        }
        for s in [
            "abc", "1e", ".", "-", "0x", "0x1g", "1_000", "--1", "1.2.3", "infinity", "NaN",
            "-0x1", "e5",
        ] {
            assert!(string_to_number(s).is_nan(), "{s:?}");
        }
    }

    #[test]
    fn value_coercions() {
        assert_eq!(to_string(&json!(null)), "");
        assert_eq!(
            to_string(&json!(12345678901234567890u64)),
            "12345678901234567890"
        );
        assert_eq!(to_string(&json!([1])), "Array");
        assert_eq!(to_string(&json!({})), "Object");
        assert!(!truthy(&json!(-0.0)));
        assert!(truthy(&json!([])));
        assert!(to_number(&json!({})).is_nan());
        assert_eq!(number_value(-0.0), json!(0));
        assert_eq!(number_value(f64::NAN), json!("NaN"));
    }

    #[test]
    fn ignore_case_is_ordinal() {
        assert!(eq_ignore_case("ς", "Σ"));
        assert!(eq_ignore_case("ü", "Ü"));
        assert!(!eq_ignore_case("ı", "I"));
        assert!(!eq_ignore_case("i", "İ"));
        assert_eq!(cmp_ignore_case("a", "["), Ordering::Less);
        assert_eq!(fold_string("aBc"), "ABC");
    }
}
