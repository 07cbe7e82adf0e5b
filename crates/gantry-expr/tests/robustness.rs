//! Robustness: thousands of pseudo-random inputs built from expression
//! tokens (a simple LCG, no extra dependencies) must parse or fail cleanly,
//! evaluate without panicking, keep error offsets inside the input, and
//! print (`Display`) to text that parses back to the same form. Also checks
//! pathological inputs (deep nesting, huge strings) fail fast.

use gantry_expr::{Context, MapContext, Status, Value, parse, parse_condition, parse_template};
use serde_json::json;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "github",
    "ref",
    "event",
    "v",
    "a",
    "b-c",
    "_x",
    "fruits",
    "matrix",
    "needs",
    "steps",
    "env",
    "unknown",
    ".",
    ".",
    "*",
    "[",
    "]",
    "(",
    ")",
    ",",
    ",",
    "'a'",
    "'It''s'",
    "'}}'",
    "'{0}'",
    "'{{'",
    "'{1}'",
    "'[1,[2,{\"k\":3}]]'",
    "'true'",
    "''",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "1",
    "-1",
    "0",
    "0xff",
    ".5",
    "1e3",
    "1e400",
    "-0",
    "NaN",
    "Infinity",
    "-Infinity",
    "null",
    "true",
    "false",
    "contains(",
    "startsWith(",
    "endsWith(",
    "format(",
    "join(",
    "toJSON(",
    "fromJSON(",
    "hashFiles(",
    "success(",
    "always(",
    "failure(",
    "cancelled(",
    "case(",
    "${{",
    "}}",
    " ",
    " ",
    "'",
    "\"",
    "=",
    "&",
    "|",
    "é",
    "日本",
    "\n",
    "-",
    "+",
    "$",
    "{",
    "}",
    "?",
    "\u{0}",
    "ς",
];

fn context() -> MapContext {
    MapContext::new()
        .with(
            "github",
            json!({"ref": "refs/heads/main", "event": {"ref": [1, {"ref": "x"}], "b-c": null}}),
        )
        .with(
            "v",
            json!({"a": [1, 2, [3]], "ref": {"A": 1}, "_x": "0x10", "event": [[], {}]}),
        )
        .with("fruits", json!([{"name": "apple"}, "x", null, [1]]))
        .with("matrix", json!({"a": 1}))
        .with("needs", json!({}))
        .with("steps", json!({}))
        .with("env", json!({"a": "{\"x\": [1]}"}))
        .with_hash_files(|p| Ok(p.join(",")))
}

fn random_input(rng: &mut Lcg, max_tokens: usize) -> String {
    let len = 1 + rng.below(max_tokens);
    let mut s = String::new();
    for _ in 0..len {
        s.push_str(TOKENS[rng.below(TOKENS.len())]);
        if rng.below(3) == 0 {
            s.push(' ');
        }
    }
    s
}

fn exercise(src: &str, ctx: &dyn Context) {
    match parse(src) {
        Ok(expr) => {
            let _ = expr.evaluate(ctx);
            let _ = expr.evaluate_to_string(ctx);
            let _ = expr.contexts();
            let _ = expr.functions();
            let shown = expr.to_string();
            match parse(&shown) {
                Ok(again) => {
                    assert_eq!(again.to_string(), shown, "display of {src:?} is not stable")
                }
                Err(e) => panic!("display of {src:?} is {shown:?}, which does not parse: {e}"),
            }
        }
        Err(e) => assert!(e.offset <= src.len(), "offset {} outside {src:?}", e.offset),
    }
    for text in [
        src.to_string(),
        format!("${{{{ {src} }}}}"),
        format!("x ${{{{{src}}}}} y"),
    ] {
        match parse_template(&text) {
            Ok(t) => {
                let _ = t.evaluate(ctx);
                let _ = t.evaluate_to_string(ctx);
                let _ = t.to_string();
            }
            Err(e) => assert!(
                e.offset <= text.len(),
                "offset {} outside {text:?}",
                e.offset
            ),
        }
        match parse_condition(&text) {
            Ok(c) => {
                let _ = c.evaluate(ctx);
                let _ = c.has_status_function();
            }
            Err(e) => assert!(
                e.offset <= text.len(),
                "offset {} outside {text:?}",
                e.offset
            ),
        }
    }
}

#[test]
fn random_token_soup_never_panics() {
    let ctxs = [
        context(),
        context().with_status(Status::Failure),
        context().with_status(Status::Cancelled),
    ];
    let mut rng = Lcg(0x5eed);
    let mut parsed = 0;
    for i in 0..6000 {
        let src = random_input(&mut rng, if i % 2 == 0 { 5 } else { 24 });
        if parse(&src).is_ok() {
            parsed += 1;
        }
        exercise(&src, &ctxs[i % ctxs.len()]);
    }
    // The generator must reach the evaluator often enough to be useful.
    assert!(parsed > 300, "only {parsed} inputs parsed");
}

#[test]
fn random_characters_never_panic() {
    let alphabet: Vec<char> = "ab.*[](),'\"=!<>&|{}$ 0x1e-+é日\u{0}\t\n_"
        .chars()
        .collect();
    let ctx = context();
    let mut rng = Lcg(42);
    for _ in 0..3000 {
        let len = rng.below(40);
        let src: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        exercise(&src, &ctx);
    }
}

#[test]
fn well_formed_random_expressions_evaluate() {
    // Grammar-directed generation reaches deeper into the evaluator.
    fn generate(rng: &mut Lcg, depth: u32) -> String {
        if depth == 0 || rng.below(4) == 0 {
            let leaves = [
                "github.ref",
                "github.event.ref[1].ref",
                "v.a.*",
                "fruits.*.name",
                "v.ref.a",
                "v['_x']",
                "env.a",
                "1",
                "'abc'",
                "null",
                "true",
                "NaN",
                "matrix",
                "v.event.*",
                "fruits[3][0]",
                "-2.5e3",
            ];
            return leaves[rng.below(leaves.len())].to_string();
        }
        let a = generate(rng, depth - 1);
        let b = generate(rng, depth - 1);
        match rng.below(16) {
            0 => format!("{a} == {b}"),
            1 => format!("{a} < {b}"),
            2 => format!("{a} && {b}"),
            3 => format!("{a} || {b}"),
            4 => format!("!{a}"),
            5 => format!("contains({a}, {b})"),
            6 => format!("startsWith({a}, {b})"),
            7 => format!("format('{{0}}-{{1}}', {a}, {b})"),
            8 => format!("join({a}, {b})"),
            9 => format!("toJSON({a})"),
            10 => format!("fromJSON(toJSON({a}))"),
            11 => format!("case({a} == {b}, {a}, {b})"),
            12 => format!("({a})[{b}]"),
            13 => format!("({a}).*"),
            14 => format!("hashFiles({a}, {b})"),
            _ => format!("fromJSON({a})"),
        }
    }
    let ctx = context();
    let mut rng = Lcg(7);
    let mut ok = 0;
    for _ in 0..2000 {
        let src = generate(&mut rng, 4);
        match parse(&src) {
            Ok(expr) => {
                if expr.evaluate(&ctx).is_ok() {
                    ok += 1;
                }
                let shown = expr.to_string();
                let again = parse(&shown).map(|e| e.to_string());
                assert_eq!(
                    again.as_deref(),
                    Ok(shown.as_str()),
                    "display round trip of {src:?}"
                );
            }
            Err(e) => panic!("generated expression {src:?} does not parse: {e}"),
        }
    }
    assert!(ok > 500, "only {ok} evaluations succeeded");
}

#[test]
fn pathological_inputs_fail_cleanly() {
    let ctx = context();
    let cases = [
        "(".repeat(100_000),
        "!".repeat(100_000),
        "[".repeat(100_000),
        format!("a{}", ".b".repeat(50_000)),
        format!("a{}", "[0]".repeat(50_000)),
        vec!["a"; 20_000].join(" == "),
        format!("{}1{}", "contains(".repeat(5_000), ", 1)".repeat(5_000)),
        format!("'{}'", "x".repeat(100_000)),
        "${{".repeat(50_000),
        "${{ 1 }}".repeat(20_000),
        "'".repeat(100_001),
    ];
    for src in &cases {
        exercise(src, &ctx);
    }
    // Doubling format nested 40 deep would build 2^40 bytes: it must stop at the size limit.
    let mut doubling = "'ab'".to_string();
    for _ in 0..40 {
        doubling = format!("format('{{0}}{{0}}', {doubling})");
    }
    let err = parse(&doubling).map(|e| e.evaluate(&ctx));
    match err {
        Ok(Err(e)) => assert!(e.message.contains("maximum allowed string size"), "{e}"),
        other => panic!("expected a size error, got {other:?}"),
    }
    // A long but flat `||` chain is fine.
    let flat = vec!["false"; 2_000].join(" || ");
    assert_eq!(
        parse(&flat).map(|e| e.evaluate(&ctx)),
        Ok(Ok(Value::Bool(false)))
    );
}

#[test]
fn deepest_expressions_fit_in_a_small_stack() {
    // MAX_DEPTH bounds recursion; even unoptimised builds need well under
    // 512 KiB for the deepest accepted expressions.
    let worker = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let ctx = context();
            let n = gantry_expr::MAX_DEPTH as usize - 2;
            let sources = [
                format!("{}v{}", "(".repeat(n), ")".repeat(n)),
                format!("{}v", "!".repeat(n)),
                format!("{}v{}", "toJSON(".repeat(n), ")".repeat(n)),
                format!(
                    "{}true{}",
                    "case(true, ".repeat(n / 2),
                    ", 1)".repeat(n / 2)
                ),
                format!("v{}", "[v".repeat(n)) + &"]".repeat(n),
                format!("{}v{}", "format('{0}', ".repeat(n), ")".repeat(n)),
            ];
            let mut evaluated = 0;
            for src in &sources {
                match parse(src) {
                    Ok(expr) => {
                        let _ = expr.evaluate(&ctx);
                        let _ = expr.to_string();
                        drop(expr.clone());
                        evaluated += 1;
                    }
                    Err(e) => panic!("{src:?} should parse: {e}"),
                }
            }
            evaluated
        });
    match worker.map(|w| w.join()) {
        Ok(Ok(evaluated)) => assert_eq!(evaluated, 6),
        other => panic!("worker failed: {other:?}"),
    }
}
