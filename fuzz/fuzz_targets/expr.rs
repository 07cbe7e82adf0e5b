//! Fuzz target `expr`: the `${{ }}` expression language on arbitrary input.
//!
//! The bytes are read as UTF-8 (invalid sequences become U+FFFD) and the
//! text goes through `parse`, `parse_template` and `parse_condition`, as is
//! and wrapped in `${{ }}` (so template and condition parsing reach the
//! expression parser with arbitrary text). Whatever parses is evaluated
//! against a small `MapContext` (`github`, `env`, `matrix` and a few more,
//! with nested objects, arrays, nulls and JSON text, `hashFiles` available),
//! under each job status.
//!
//! Besides "never panic, never hang", it checks the contracts gantry-expr
//! documents and tests: a parse error's offset lies within the text parsed,
//! and an expression's `Display` form parses back to the same form.
//!
//! Seeds: `fuzz/seeds/expr/` (one expression per file, every operator and
//! function) and `fuzz/regressions/expr/`. Run with `scripts/fuzz`.

#![no_main]

use std::sync::LazyLock;

use gantry_expr::{
    Context, MapContext, ParseError, Status, parse, parse_condition, parse_template,
};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

/// The same contexts under each status: success, failure, cancelled.
static CONTEXTS: LazyLock<[MapContext; 3]> = LazyLock::new(|| {
    let base = MapContext::new()
        .with(
            "github",
            json!({
                "ref": "refs/heads/main",
                "ref_name": "main",
                "event_name": "push",
                "repository": "octo/hello",
                "sha": "0123456789abcdef0123456789abcdef01234567",
                "run_number": 42,
                "event": {
                    "ref": "refs/tags/v1.2.3",
                    "commits": [
                        {"id": "a1", "message": "fix: it", "author": {"name": "Mona"}},
                        {"id": "b2", "message": "[skip ci]", "author": {"name": "Hubot"}}
                    ],
                    "pull_request": {"number": 7, "draft": false, "labels": [{"name": "bug"}, {"name": "ci"}]},
                    "inputs": {"debug": true, "level": "3"},
                    "b-c": null
                }
            }),
        )
        .with(
            "env",
            json!({
                "CI": "true",
                "EMPTY": "",
                "JSON": "{\"a\": [1, 2, {\"b\": null}], \"c\": \"x\"}",
                "NUM": "0x1F",
                "LIST": "[\"x\", \"y\"]"
            }),
        )
        .with(
            "matrix",
            json!({"os": "ubuntu-latest", "rust": ["stable", "beta"], "n": 1.5, "flag": false, "include": [{"os": "macos"}]}),
        )
        .with("steps", json!({"build": {"outcome": "success", "conclusion": "failure", "outputs": {"v": "1"}}}))
        .with("needs", json!({"test": {"result": "success", "outputs": {"json": "[1,2,3]"}}}))
        .with("inputs", json!({"name": "world", "count": 3, "on": true}))
        .with("vars", json!({}))
        .with("secrets", json!({"TOKEN": "***"}))
        .with("strategy", json!({"fail-fast": true, "job-index": 0, "job-total": 2}))
        .with("runner", json!({"os": "Linux", "arch": "X64", "temp": "/tmp"}))
        .with("job", json!({"status": "success", "services": {}}))
        .with_hash_files(|patterns| Ok(format!("hash:{}", patterns.join("|"))));
    [
        base.clone(),
        base.clone().with_status(Status::Failure),
        base.with_status(Status::Cancelled),
    ]
});

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let contexts = &*CONTEXTS;
    let ctx: &dyn Context = &contexts[data.len() % contexts.len()];

    match parse(&src) {
        Ok(expr) => {
            let _ = expr.evaluate(ctx);
            let _ = expr.evaluate_to_string(ctx);
            let _ = expr.evaluate_truthy(ctx);
            let _ = expr.contexts();
            let _ = expr.functions();
            let _ = expr.has_status_function();
            let shown = expr.to_string();
            match parse(&shown) {
                Ok(again) => assert_eq!(
                    again.to_string(),
                    shown,
                    "the display form of {src:?} is not stable"
                ),
                Err(e) => {
                    panic!("the display form of {src:?} is {shown:?}, which does not parse: {e}")
                }
            }
        }
        Err(e) => check_offset(&e, &src),
    }

    for text in [
        src.to_string(),
        format!("${{{{ {src} }}}}"),
        format!("a ${{{{{src}}}}} b"),
    ] {
        match parse_template(&text) {
            Ok(template) => {
                let _ = template.evaluate(ctx);
                let _ = template.evaluate_to_string(ctx);
                let _ = template.single_expr();
                let _ = template.exprs_with_offsets().count();
                let _ = template.to_string();
            }
            Err(e) => check_offset(&e, &text),
        }
        match parse_condition(&text) {
            Ok(condition) => {
                for ctx in contexts {
                    let _ = condition.evaluate(ctx);
                }
                let _ = condition.expr_offset();
                let _ = condition.to_string();
            }
            Err(e) => check_offset(&e, &text),
        }
    }
});

fn check_offset(e: &ParseError, text: &str) {
    assert!(
        e.offset <= text.len(),
        "parse error offset {} is outside the {}-byte text {text:?}: {e}",
        e.offset,
        text.len()
    );
}
