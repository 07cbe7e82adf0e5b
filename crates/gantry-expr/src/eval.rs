//! The evaluator: walks an [`Expr`] against a [`Context`], borrowing context
//! data, and implements the built-in functions.

use std::borrow::Cow;
use std::rc::Rc;

use serde_json::Value;

use crate::ast::{CmpOp, Expr, ExprKind};
use crate::coerce::fold_string;
use crate::context::{Context, Status};
use crate::error::EvalError;
use crate::functions::Function;
use crate::val::{Key, Val, compare, index, loose_eq, wildcard};

/// Largest string an expression may build (`format`, `join`, `toJSON`,
/// templates), so nested `format` calls cannot grow without bound.
pub const MAX_STRING_BYTES: usize = 10 * 1024 * 1024;

pub(crate) fn check_size(len: usize) -> Result<(), EvalError> {
    if len > MAX_STRING_BYTES {
        return Err(EvalError::new(format!(
            "The maximum allowed string size of {MAX_STRING_BYTES} bytes was exceeded while evaluating the expression"
        )));
    }
    Ok(())
}

impl Expr {
    /// Evaluates the expression; numbers that JSON cannot hold (NaN,
    /// ±Infinity) come back as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn evaluate(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        Ok(eval(self, ctx)?.into_value())
    }

    /// Evaluates and converts to GitHub's string form (see [`crate::to_string`]).
    pub fn evaluate_to_string(&self, ctx: &dyn Context) -> Result<String, EvalError> {
        Ok(eval(self, ctx)?.to_str().into_owned())
    }

    /// Evaluates and converts to a boolean (see [`crate::truthy`]), without
    /// the implicit `success()` of conditions (use [`crate::Condition`] for that).
    pub fn evaluate_truthy(&self, ctx: &dyn Context) -> Result<bool, EvalError> {
        Ok(eval(self, ctx)?.truthy())
    }
}

fn lookup_context<'a>(ctx: &'a dyn Context, name: &str) -> Option<&'a Value> {
    ctx.context(name).or_else(|| {
        let lower = name.to_ascii_lowercase();
        if lower == name {
            None
        } else {
            ctx.context(&lower)
        }
    })
}

// Evaluation recurses through `eval` and the per-kind helpers below. In
// unoptimised builds every local of a function takes stack space, so `eval`
// and `call` only dispatch and the work lives in separate small functions.

pub(crate) fn eval<'a>(e: &'a Expr, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    match &e.kind {
        ExprKind::Null => Ok(Val::Null),
        ExprKind::Bool(b) => Ok(Val::Bool(*b)),
        ExprKind::Number(n) => Ok(Val::Num(*n)),
        ExprKind::String(s) => Ok(Val::Str(Cow::Borrowed(s))),
        ExprKind::Context(name) => eval_context(name, ctx),
        ExprKind::Property(base, name) => eval_property(base, name, ctx),
        ExprKind::Index(base, idx) => eval_index(base, idx, ctx),
        ExprKind::Wildcard(base) => eval_wildcard(base, ctx),
        ExprKind::Not(operand) => eval_not(operand, ctx),
        ExprKind::Compare(op, l, r) => eval_compare(*op, l, r, ctx),
        ExprKind::And(items) => eval_logical(items, false, ctx),
        ExprKind::Or(items) => eval_logical(items, true, ctx),
        ExprKind::Call(func, args) => call(*func, args, ctx),
    }
}

#[inline(never)]
fn eval_context<'a>(name: &str, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    match lookup_context(ctx, name) {
        Some(v) => Ok(Val::Ref(v)),
        None => Err(EvalError::new(format!(
            "Unrecognized named-value: '{name}'"
        ))),
    }
}

#[inline(never)]
fn eval_property<'a>(
    base: &'a Expr,
    name: &'a str,
    ctx: &'a dyn Context,
) -> Result<Val<'a>, EvalError> {
    Ok(index(eval(base, ctx)?, &Key::name(name)))
}

#[inline(never)]
fn eval_index<'a>(
    base: &'a Expr,
    idx: &'a Expr,
    ctx: &'a dyn Context,
) -> Result<Val<'a>, EvalError> {
    let base = eval(base, ctx)?;
    let idx = eval(idx, ctx)?;
    Ok(index(base, &Key::from_val(&idx)))
}

#[inline(never)]
fn eval_wildcard<'a>(base: &'a Expr, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    Ok(wildcard(eval(base, ctx)?))
}

#[inline(never)]
fn eval_not<'a>(operand: &'a Expr, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    Ok(Val::Bool(!eval(operand, ctx)?.truthy()))
}

#[inline(never)]
fn eval_compare<'a>(
    op: CmpOp,
    l: &'a Expr,
    r: &'a Expr,
    ctx: &'a dyn Context,
) -> Result<Val<'a>, EvalError> {
    let l = eval(l, ctx)?;
    let r = eval(r, ctx)?;
    Ok(Val::Bool(compare(op, &l, &r)))
}

/// `&&` (stops at the first falsy operand) and `||` (stops at the first
/// truthy one); either way the result is the last operand evaluated.
#[inline(never)]
fn eval_logical<'a>(
    items: &'a [Expr],
    stop_when: bool,
    ctx: &'a dyn Context,
) -> Result<Val<'a>, EvalError> {
    let mut last = Val::Null;
    for item in items {
        last = eval(item, ctx)?;
        if last.truthy() == stop_when {
            break;
        }
    }
    Ok(last)
}

fn arg<'a>(args: &'a [Expr], i: usize, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    match args.get(i) {
        Some(e) => eval(e, ctx),
        None => Ok(Val::Null),
    }
}

#[inline(never)]
fn call<'a>(func: Function, args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    match func {
        Function::Success => Ok(Val::Bool(ctx.status() == Status::Success)),
        Function::Failure => Ok(Val::Bool(ctx.status() == Status::Failure)),
        Function::Cancelled => Ok(Val::Bool(ctx.status() == Status::Cancelled)),
        Function::Always => Ok(Val::Bool(true)),
        Function::Contains => fn_contains(args, ctx),
        Function::StartsWith => fn_affix(args, ctx, true),
        Function::EndsWith => fn_affix(args, ctx, false),
        Function::Format => fn_format(args, ctx),
        Function::Join => fn_join(args, ctx),
        Function::ToJson => fn_to_json(args, ctx),
        Function::FromJson => from_json(&arg(args, 0, ctx)?),
        Function::HashFiles => fn_hash_files(args, ctx),
        Function::Case => fn_case(args, ctx),
    }
}

#[inline(never)]
fn fn_contains<'a>(args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let search = arg(args, 0, ctx)?;
    let item = arg(args, 1, ctx)?;
    Ok(Val::Bool(contains(&search, &item)))
}

/// `startsWith` / `endsWith`: case-insensitive on string forms; false when
/// either side is an array or object.
#[inline(never)]
fn fn_affix<'a>(
    args: &'a [Expr],
    ctx: &'a dyn Context,
    starts: bool,
) -> Result<Val<'a>, EvalError> {
    let text = arg(args, 0, ctx)?;
    let affix = arg(args, 1, ctx)?;
    if !text.is_primitive() || !affix.is_primitive() {
        return Ok(Val::Bool(false));
    }
    let (text, affix) = (text.to_str(), affix.to_str());
    let (text, affix) = (fold_string(&text), fold_string(&affix));
    Ok(Val::Bool(if starts {
        text.starts_with(&*affix)
    } else {
        text.ends_with(&*affix)
    }))
}

#[inline(never)]
fn fn_format<'a>(args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let fmt = arg(args, 0, ctx)?;
    let values = args
        .get(1..)
        .unwrap_or_default()
        .iter()
        .map(|a| eval(a, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    let strings: Vec<Cow<'_, str>> = values.iter().map(Val::to_str).collect();
    Ok(Val::Str(Cow::Owned(format(&fmt.to_str(), &strings)?)))
}

#[inline(never)]
fn fn_join<'a>(args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let items = arg(args, 0, ctx)?;
    let separator = args.get(1).map(|s| eval(s, ctx)).transpose()?;
    join(&items, separator)
}

#[inline(never)]
fn fn_to_json<'a>(args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let v = arg(args, 0, ctx)?;
    let text = v
        .to_json()
        .map_err(|e| EvalError::new(format!("toJSON failed: {e}")))?;
    check_size(text.len())?;
    Ok(Val::Str(Cow::Owned(text)))
}

#[inline(never)]
fn fn_hash_files<'a>(args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let mut patterns = Vec::with_capacity(args.len());
    for a in args {
        patterns.push(eval(a, ctx)?.to_str().into_owned());
    }
    match ctx.hash_files(&patterns) {
        Ok(hash) => Ok(Val::Str(Cow::Owned(hash))),
        Err(e) => {
            let list: Vec<String> = patterns
                .iter()
                .map(|p| format!("'{}'", p.replace('\'', "''")))
                .collect();
            Err(EvalError::new(format!(
                "hashFiles({}) failed: {e}",
                list.join(", ")
            )))
        }
    }
}

/// `case(pred1, val1, …, default)`: the value after the first true
/// predicate, else the default; only the chosen value is evaluated, and
/// every predicate evaluated must be a boolean.
#[inline(never)]
fn fn_case<'a>(args: &'a [Expr], ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
    let mut i = 0;
    while let (Some(pred), Some(value)) = (args.get(i), args.get(i + 1)) {
        let pred = eval(pred, ctx)?;
        if !pred.is_bool() {
            return Err(EvalError::new(format!(
                "case predicate must evaluate to a boolean value, got {}",
                describe(&pred)
            )));
        }
        if pred.truthy() {
            return eval(value, ctx);
        }
        i += 2;
    }
    arg(args, i, ctx)
}

/// A short description of a value's type for error messages.
fn describe(v: &Val<'_>) -> &'static str {
    let kind = match v {
        Val::Null => return "null",
        Val::Bool(_) => return "a boolean",
        Val::Num(_) => return "a number",
        Val::Str(_) => return "a string",
        Val::Filtered(_) => return "an array",
        Val::Ref(j) => *j,
        Val::Own(j) => &**j,
    };
    match kind {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `contains`: in an array, any item loosely equal to `item`; otherwise a
/// case-insensitive substring test on the string forms. An object search
/// (or any other non-primitive) finds nothing.
fn contains(search: &Val<'_>, item: &Val<'_>) -> bool {
    if search.is_primitive() {
        let haystack = search.to_str();
        let needle = item.to_str();
        return fold_string(&haystack).contains(&*fold_string(&needle));
    }
    search.any_item(|candidate| loose_eq(candidate, item))
}

/// `join`: array items' string forms joined by the separator (`,` unless a
/// primitive separator is given); a primitive joins to its own string form;
/// an object joins to the empty string.
fn join<'a>(items: &Val<'a>, separator: Option<Val<'_>>) -> Result<Val<'a>, EvalError> {
    if items.is_primitive() {
        return Ok(Val::Str(Cow::Owned(items.to_str().into_owned())));
    }
    if !items.is_array() {
        return Ok(Val::Str(Cow::Borrowed("")));
    }
    let separator = match &separator {
        Some(s) if s.is_primitive() => s.to_str(),
        _ => Cow::Borrowed(","),
    };
    let mut out = String::new();
    let mut first = true;
    let mut too_big = false;
    items.any_item(|item| {
        if !first {
            out.push_str(&separator);
        }
        first = false;
        out.push_str(&item.to_str());
        too_big = out.len() > MAX_STRING_BYTES;
        too_big
    });
    check_size(out.len())?;
    Ok(Val::Str(Cow::Owned(out)))
}

fn from_json(v: &Val<'_>) -> Result<Val<'static>, EvalError> {
    let text = v.to_str();
    match serde_json::from_str::<Value>(&text) {
        Ok(value) => Ok(Val::Own(Rc::new(value))),
        Err(e) => {
            let shown: String = text.chars().take(60).collect();
            let ellipsis = if shown.len() < text.len() { "…" } else { "" };
            Err(EvalError::new(format!(
                "fromJSON: invalid JSON in '{shown}{ellipsis}': {e}"
            )))
        }
    }
}

/// One piece of a format string.
enum Piece<'f> {
    Text(&'f str),
    Arg(usize),
}

/// Splits a format string into literal text and `{N}` placeholders; `{{`
/// and `}}` stand for single braces. Errors use GitHub's wording.
fn format_pieces(fmt: &str) -> Result<Vec<Piece<'_>>, String> {
    let invalid = || format!("The following format string is invalid: '{fmt}'");
    let b = fmt.as_bytes();
    let mut pieces = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => {
                pieces.push(Piece::Text(&fmt[text_start..=i]));
                i += 2;
                text_start = i;
            }
            b'{' => {
                let digits_end = (i + 1..b.len())
                    .find(|&j| !b[j].is_ascii_digit())
                    .unwrap_or(b.len());
                if digits_end == i + 1 || b.get(digits_end) != Some(&b'}') {
                    return Err(invalid());
                }
                pieces.push(Piece::Text(&fmt[text_start..i]));
                pieces.push(Piece::Arg(
                    fmt[i + 1..digits_end].parse().unwrap_or(usize::MAX),
                ));
                i = digits_end + 1;
                text_start = i;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                pieces.push(Piece::Text(&fmt[text_start..=i]));
                i += 2;
                text_start = i;
            }
            b'}' => return Err(invalid()),
            _ => i += 1,
        }
    }
    pieces.push(Piece::Text(&fmt[text_start..]));
    Ok(pieces)
}

fn too_few_args(fmt: &str) -> String {
    format!("The following format string references more arguments than were supplied: '{fmt}'")
}

/// Checks a format string against the number of arguments (also used by the
/// parser when the format string is a literal).
pub(crate) fn check_format(fmt: &str, arg_count: usize) -> Result<(), String> {
    let pieces = format_pieces(fmt)?;
    if pieces
        .iter()
        .any(|p| matches!(p, Piece::Arg(n) if *n >= arg_count))
    {
        return Err(too_few_args(fmt));
    }
    Ok(())
}

fn format(fmt: &str, args: &[Cow<'_, str>]) -> Result<String, EvalError> {
    let pieces = format_pieces(fmt).map_err(EvalError::new)?;
    let mut out = String::with_capacity(fmt.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Arg(n) => match args.get(n) {
                Some(a) => {
                    check_size(out.len() + a.len())?;
                    out.push_str(a);
                }
                None => return Err(EvalError::new(too_few_args(fmt))),
            },
        }
    }
    Ok(out)
}
