//! Table-driven tests: each line of `test_data/eval.txt` is one case,
//! `CASE ⇒ RESULT`, evaluated against `test_data/context.json`.
//!
//! A case is an expression, optionally prefixed by a status (`[failure]`,
//! `[cancelled]`) and a mode:
//! - (none): `parse` + `Expr::evaluate`, result as compact JSON;
//! - `template:` `parse_template` + `Template::evaluate`;
//! - `string:` `parse_template` + `Template::evaluate_to_string`;
//! - `if:` `parse_condition` + `Condition::evaluate`;
//! - `status:` `Condition::has_status_function`;
//! - `display:` the normalised `Display` form;
//! - `contexts:` / `functions:` the static queries.
//!
//! Errors print as `parse error at OFFSET: MESSAGE` or `error: MESSAGE`.
//! To add a case, add a line (the `⇒ RESULT` part may be left out) and run
//! `UPDATE_EXPECT=1 cargo test -p gantry-expr --test eval_table`, then
//! review the diff.

use std::fmt::Display;

use expect_test::expect_file;
use gantry_expr::{MapContext, Status, Value, parse, parse_condition, parse_template};

fn context(status: Status) -> MapContext {
    let text = include_str!("../test_data/context.json");
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("test_data/context.json: {e}"),
    };
    let mut ctx = MapContext::new()
        .with_status(status)
        .with_hash_files(|patterns| {
            if patterns.iter().any(|p| p.starts_with("missing")) {
                Err("no files matched".to_string())
            } else {
                Ok(format!("hash({})", patterns.join("|")))
            }
        });
    if let Value::Object(map) = root {
        for (name, value) in map {
            ctx.insert(name, value);
        }
    }
    ctx
}

fn json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("<unserialisable: {e}>"))
}

fn list<T: Into<Value>>(items: Vec<T>) -> String {
    json(&Value::Array(items.into_iter().map(Into::into).collect()))
}

fn show<T, E: Display>(r: Result<T, E>, ok: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => format!("error: {e}"),
    }
}

fn parse_error(e: gantry_expr::ParseError) -> String {
    format!("parse error at {}: {}", e.offset, e.message)
}

fn run(case: &str) -> String {
    let (status, rest) = if let Some(rest) = case.strip_prefix("[failure] ") {
        (Status::Failure, rest)
    } else if let Some(rest) = case.strip_prefix("[cancelled] ") {
        (Status::Cancelled, rest)
    } else {
        (Status::Success, case)
    };
    let ctx = context(status);
    let (mode, src) = match rest.split_once(": ") {
        Some((
            m @ ("template" | "string" | "if" | "status" | "display" | "contexts" | "functions"),
            src,
        )) => (m, src),
        _ => ("expr", rest),
    };
    match mode {
        "template" => match parse_template(src) {
            Ok(t) => show(t.evaluate(&ctx), |v| json(&v)),
            Err(e) => parse_error(e),
        },
        "string" => match parse_template(src) {
            Ok(t) => show(t.evaluate_to_string(&ctx), |v| json(&Value::String(v))),
            Err(e) => parse_error(e),
        },
        "if" => match parse_condition(src) {
            Ok(c) => show(c.evaluate(&ctx), |v| v.to_string()),
            Err(e) => parse_error(e),
        },
        "status" => match parse_condition(src) {
            Ok(c) => c.has_status_function().to_string(),
            Err(e) => parse_error(e),
        },
        _ => match parse(src) {
            Ok(e) => match mode {
                "display" => json(&Value::String(e.to_string())),
                "contexts" => list(
                    e.contexts()
                        .into_iter()
                        .map(|(n, o)| Value::from(vec![Value::from(n), Value::from(o)]))
                        .collect(),
                ),
                "functions" => list(
                    e.functions()
                        .into_iter()
                        .map(|(n, o, a)| {
                            Value::from(vec![Value::from(n), Value::from(o), Value::from(a)])
                        })
                        .collect(),
                ),
                _ => show(e.evaluate(&ctx), |v| json(&v)),
            },
            Err(e) => parse_error(e),
        },
    }
}

#[test]
fn eval_table() {
    let text = include_str!("../test_data/eval.txt");
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let case = match line.split_once(" ⇒ ") {
            Some((case, _)) => case,
            None => line.trim_end().trim_end_matches('⇒').trim_end(),
        };
        out.push_str(case);
        out.push_str(" ⇒ ");
        out.push_str(&run(case));
        out.push('\n');
    }
    expect_file!["../test_data/eval.txt"].assert_eq(&out);
}
