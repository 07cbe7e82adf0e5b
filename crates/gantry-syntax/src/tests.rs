//! Tests: data-driven parser cases (`test_data/{ok,err}/*.yml` next to
//! `.ast` / `.diag` expectations), the real-world corpus, mutated inputs that
//! must not panic, a size check, and the YAML layer on its own.
//!
//! `check` is the one place that calls the parser's API for the data cases:
//! adding a case means adding a file. A missing expectation file is
//! created; `UPDATE_EXPECT=1 cargo test -p gantry-syntax` refreshes them.

mod outline;

use std::fs;
use std::path::{Path, PathBuf};

use expect_test::expect;

use crate::diagnostic::{Diagnostic, Severity};
use crate::yaml::{self, Yaml};
use crate::{parse_action, parse_workflow, render};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|ext| ext == "yml" || ext == "yaml")
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn render_all(diags: &[Diagnostic], src: &str) -> String {
    diags
        .iter()
        .map(|d| render(d, src))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parse one test file (`*.action.yml` as an action, anything else as a
/// workflow): the outline of the AST and the diagnostics.
fn check(name: &str, src: &str) -> (String, Vec<Diagnostic>) {
    if name.ends_with(".action.yml") {
        let (action, diags) = parse_action(name, src);
        (outline::action(&action), diags)
    } else {
        let (workflow, diags) = parse_workflow(name, src);
        (outline::workflow(&workflow), diags)
    }
}

#[test]
fn data_driven() {
    let root = crate_dir().join("test_data");
    let mut n_cases = 0;
    for kind in ["ok", "err"] {
        for path in yml_files(&root.join(kind)) {
            n_cases += 1;
            let src = fs::read_to_string(&path).unwrap();
            let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
            let name = format!("{kind}/{file_name}");
            let (ast, diags) = check(&name, &src);
            let n_errors = diags.iter().filter(|d| d.is_error()).count();
            let (actual, ext) = if kind == "ok" {
                assert_eq!(
                    n_errors,
                    0,
                    "{name} should parse without errors:\n{}",
                    render_all(&diags, &src)
                );
                let mut actual = ast;
                if !diags.is_empty() {
                    actual.push('\n');
                    actual.push_str(&render_all(&diags, &src));
                }
                (actual, "ast")
            } else {
                assert!(n_errors > 0, "{name} should have errors");
                (render_all(&diags, &src), "diag")
            };
            let expect_path = path.with_extension(ext);
            if !expect_path.exists() {
                fs::write(&expect_path, &actual).unwrap();
            }
            expect_test::expect_file![expect_path].assert_eq(&actual);
        }
    }
    assert!(n_cases > 0, "no test cases under {}", root.display());
}

/// The real-world corpus: every workflow and action GitHub accepts must
/// parse without errors.
#[test]
fn corpus_parses_without_errors() {
    let root = crate_dir().join("../../../shared/corpus/gha");
    if !root.is_dir() {
        eprintln!("note: {} is absent; corpus test skipped", root.display());
        return;
    }
    let (workflows, actions) = corpus_files(&root);
    assert!(
        !workflows.is_empty(),
        "no workflows under {}",
        root.display()
    );
    let mut failures = String::new();
    for (path, is_action) in workflows
        .iter()
        .map(|p| (p, false))
        .chain(actions.iter().map(|p| (p, true)))
    {
        let src = fs::read_to_string(path).unwrap();
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let diags = if is_action {
            parse_action(&name, &src).1
        } else {
            parse_workflow(&name, &src).1
        };
        let errors: Vec<Diagnostic> = diags.into_iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            failures.push_str(&render_all(&errors, &src));
            failures.push('\n');
        }
    }
    assert!(failures.is_empty(), "corpus files with errors:\n{failures}");
}

/// Workflow files and action files of the corpus.
fn corpus_files(root: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut workflows = Vec::new();
    let mut actions = Vec::new();
    let mut repos: Vec<PathBuf> = fs::read_dir(root)
        .map(|e| e.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    repos.sort();
    for repo in repos {
        workflows.extend(yml_files(&repo.join(".github/workflows")));
        let mut stack = vec![repo];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .file_name()
                    .is_some_and(|n| n == "action.yml" || n == "action.yaml")
                {
                    actions.push(path);
                }
            }
        }
    }
    actions.sort();
    (workflows, actions)
}

/// A tiny deterministic generator (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Truncate, delete, duplicate, splice and sprinkle YAML punctuation over
/// real files; parsing and rendering must never panic.
#[test]
fn mutated_inputs_do_not_panic() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let corpus = crate_dir().join("../../../shared/corpus/gha");
    if corpus.is_dir() {
        let (workflows, actions) = corpus_files(&corpus);
        for path in workflows.iter().chain(actions.iter()) {
            seeds.extend(fs::read(path).ok());
        }
    }
    for kind in ["ok", "err"] {
        for path in yml_files(&crate_dir().join("test_data").join(kind)) {
            // Each variant of the alias bomb runs to the budget (a second
            // in debug); it has its own test.
            if !path.ends_with("yaml_billion_laughs.yml") {
                seeds.extend(fs::read(path).ok());
            }
        }
    }
    assert!(!seeds.is_empty());
    const MAX_LEN: usize = 2048;
    const PUNCTUATION: &[u8] = b":-[]{}&*!|>'\"#%@,?\n \t<\\$";
    let mut rng = Lcg(0x5eed);
    for iteration in 0..3000 {
        // A window of a seed keeps each parse small (this runs in debug).
        let seed = &seeds[rng.below(seeds.len())];
        let start = rng.below(seed.len().saturating_sub(MAX_LEN) + 1);
        let start = if rng.below(2) == 0 { 0 } else { start };
        let mut bytes = seed[start..(start + MAX_LEN).min(seed.len())].to_vec();
        for _ in 0..=rng.below(3) {
            let len = bytes.len();
            let a = rng.below(len + 1);
            let b = (a + rng.below(64)).min(len);
            match rng.below(6) {
                0 => bytes.truncate(a),
                1 => {
                    bytes.drain(a..b);
                }
                2 => {
                    let copy = bytes[a..b].to_vec();
                    let at = rng.below(bytes.len() + 1);
                    bytes.splice(at..at, copy);
                }
                3 => {
                    let other = &seeds[rng.below(seeds.len())];
                    let from = rng.below(other.len() + 1);
                    let to = (from + rng.below(256)).min(other.len());
                    bytes.splice(a..b, other[from..to].iter().copied());
                }
                4 => {
                    let c = PUNCTUATION[rng.below(PUNCTUATION.len())];
                    bytes.insert(a, c);
                }
                _ => {
                    if a < len {
                        bytes[a] = PUNCTUATION[rng.below(PUNCTUATION.len())];
                    }
                }
            }
        }
        let src = String::from_utf8_lossy(&bytes).into_owned();
        let result = std::panic::catch_unwind(|| {
            let diags = if iteration % 2 == 0 {
                parse_workflow("fuzz.yml", &src).1
            } else {
                parse_action("action.yml", &src).1
            };
            for d in &diags {
                render(d, &src);
            }
        });
        assert!(result.is_ok(), "panic on input:\n{src}");
    }
}

/// A 2,000-job workflow parses (and not in quadratic time: this would
/// take minutes if it were).
#[test]
fn large_workflow() {
    let mut src = String::from("on: push\njobs:\n");
    for i in 0..2000_u32 {
        src.push_str(&format!(
            "  job_{i}:\n    runs-on: ubuntu-latest\n    needs: [job_{}]\n    env:\n      N: {i}\n    steps:\n      - id: a\n        run: echo {i}\n      - id: b\n        uses: actions/checkout@v4\n        with:\n          fetch-depth: 0\n",
            i.saturating_sub(1)
        ));
        if i == 0 {
            src = src.replace("    needs: [job_0]\n", "");
        }
    }
    let (workflow, diags) = parse_workflow("big.yml", &src);
    assert_eq!(render_all(&diags, &src), "");
    assert_eq!(workflow.jobs.len(), 2000);
    assert_eq!(workflow.jobs["job_1999"].1.steps.len(), 2);
}

fn yaml_tree(src: &str) -> String {
    fn walk(node: &yaml::Node, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let at = format!(
            "{}:{}-{}:{}",
            node.span.start.line, node.span.start.col, node.span.end.line, node.span.end.col
        );
        match &node.value {
            Yaml::Seq(items) => {
                out.push_str(&format!("{pad}seq {at}\n"));
                for item in items {
                    walk(item, depth + 1, out);
                }
            }
            Yaml::Map(entries) => {
                out.push_str(&format!("{pad}map {at}\n"));
                for (k, v) in entries {
                    walk(k, depth + 1, out);
                    walk(v, depth + 2, out);
                }
            }
            other => out.push_str(&format!("{pad}{other:?} {at}\n")),
        }
    }
    let (node, diags) = yaml::parse("t.yml", src);
    let mut out = String::new();
    if let Some(node) = node {
        walk(&node, 0, &mut out);
        out.push_str(&format!("json {}\n", node.to_json()));
    }
    for d in diags {
        out.push_str(&render(&d, src));
    }
    out
}

#[test]
fn yaml_scalars_follow_yaml_1_2() {
    let tree = yaml_tree(
        "on: push\nyes: no\nv: 3.10\nq: \"3.10\"\no: 010\nh: 0x1F\nn: ~\ne:\ni: .inf\nb: True\nlong: 99999999999999999999\n",
    );
    expect![[r#"
        map 1:1-11:27
          String("on") 1:1-1:3
            String("push") 1:5-1:9
          String("yes") 2:1-2:4
            String("no") 2:6-2:8
          String("v") 3:1-3:2
            Float(3.1) 3:4-3:8
          String("q") 4:1-4:2
            String("3.10") 4:4-4:10
          String("o") 5:1-5:2
            Int(10) 5:4-5:7
          String("h") 6:1-6:2
            Int(31) 6:4-6:8
          String("n") 7:1-7:2
            Null 7:4-7:5
          String("e") 8:1-8:2
            Null 8:2-8:2
          String("i") 9:1-9:2
            String(".inf") 9:4-9:8
          String("b") 10:1-10:2
            Bool(true) 10:4-10:8
          String("long") 11:1-11:5
            Float(1e20) 11:7-11:27
        json {"on":"push","yes":"no","v":3.1,"q":"3.10","o":10,"h":31,"n":null,"e":null,"i":".inf","b":true,"long":1e+20}
    "#]]
    .assert_eq(&tree);
}

#[test]
fn yaml_merge_keys_and_aliases() {
    let tree = yaml_tree(
        "base: &b\n  x: 1\n  y: 2\nm:\n  <<: *b\n  y: 3\nl:\n  <<: [*b, {z: 4}]\n  x: 9\na: *b\n",
    );
    expect![[r#"
        map 1:1-10:2
          String("base") 1:1-1:5
            map 2:3-3:7
              String("x") 2:3-2:4
                Int(1) 2:6-2:7
              String("y") 3:3-3:4
                Int(2) 3:6-3:7
          String("m") 4:1-4:2
            map 5:3-6:7
              String("y") 6:3-6:4
                Int(3) 6:6-6:7
              String("x") 2:3-2:4
                Int(1) 2:6-2:7
          String("l") 7:1-7:2
            map 8:3-9:7
              String("x") 9:3-9:4
                Int(9) 9:6-9:7
              String("y") 3:3-3:4
                Int(2) 3:6-3:7
              String("z") 8:13-8:14
                Int(4) 8:16-8:17
          String("a") 10:1-10:2
            map 2:3-3:7
              String("x") 2:3-2:4
                Int(1) 2:6-2:7
              String("y") 3:3-3:4
                Int(2) 3:6-3:7
        json {"base":{"x":1,"y":2},"m":{"y":3,"x":1},"l":{"x":9,"y":2,"z":4},"a":{"x":1,"y":2}}
    "#]]
    .assert_eq(&tree);
}

#[test]
fn yaml_duplicate_keys_are_reported() {
    let tree = yaml_tree("a: 1\nb: 2\na: 3\n");
    expect![[r#"
        map 1:1-3:5
          String("a") 1:1-1:2
            Int(1) 1:4-1:5
          String("b") 2:1-2:2
            Int(2) 2:4-2:5
        json {"a":1,"b":2}
        error: duplicate key `a`
          --> t.yml:3:1
           |
         3 | a: 3
           | ^
           = help: `a` is first defined on line 1
    "#]]
    .assert_eq(&tree);
}

#[test]
fn yaml_syntax_error_is_one_diagnostic() {
    for src in [
        "a: [1, 2\nb: 3\n",
        "a: 1\n  b: 2\n",
        "a: *nope\n",
        "a: 1\n---\nb: 2\n",
    ] {
        let (node, diags) = yaml::parse("t.yml", src);
        assert!(node.is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].span.start.line > 0);
        assert_eq!(diags[0].severity, Severity::Error);
    }
    expect![[r#"
        error: invalid YAML: illegal placement of ':' indicator
          --> t.yml:2:2
           |
         2 | b: 3
           |  ^
    "#]]
    .assert_eq(&yaml_tree("a: [1, 2\nb: 3\n"));
}

#[test]
fn yaml_alias_bomb_stops_with_a_diagnostic() {
    let mut src = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        src.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    let (node, diags) = yaml::parse("bomb.yml", &src);
    assert!(node.is_none());
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0].message.contains("too large"),
        "{}",
        diags[0].message
    );
}

#[test]
fn render_handles_tabs_long_lines_and_unknown_spans() {
    use crate::span::{Pos, Span};
    let src = "jobs:\n\tbuild:\n\t\truns-of: x\n";
    let at = |line, col, len| Span {
        start: Pos {
            line,
            col,
            offset: 0,
        },
        end: Pos {
            line,
            col: col + len,
            offset: 0,
        },
    };
    let d = Diagnostic::error("t.yml", at(3, 3, 7), "unknown key `runs-of`")
        .with_hint("did you mean `runs-on`?");
    let long = format!("key: {}needle{}\n", "x".repeat(200), "y".repeat(200));
    let d_long = Diagnostic::warning("long.yml", at(1, 206, 6), "found a needle");
    let d_unknown = Diagnostic::error("t.yml", Span::default(), "something is wrong");
    let d_past_end = Diagnostic::error("t.yml", at(99, 1, 1), "past the end");
    let out = [
        render(&d, src),
        render(&d_long, &long),
        render(&d_unknown, src),
        render(&d_past_end, src),
    ]
    .join("\n");
    expect![[r#"
        error: unknown key `runs-of`
          --> t.yml:3:3
           |
         3 |         runs-of: x
           |         ^^^^^^^
           = help: did you mean `runs-on`?

        warning: found a needle
          --> long.yml:1:206
           |
         1 | ...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxneedleyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...
           |                                     ^^^^^^

        error: something is wrong
         --> t.yml

        error: past the end
         --> t.yml:99:1
    "#]]
    .assert_eq(&out);
}

#[test]
fn crlf_and_byte_order_mark() {
    let src = "\u{feff}nmae: x\r\non: push\r\njobs:\r\n  build:\r\n    runs-of: ubuntu-latest\r\n    steps:\r\n      - run: echo\r\n";
    let (workflow, diags) = parse_workflow("crlf.yml", src);
    assert_eq!(workflow.jobs.len(), 1);
    expect![[r#"
        error: unknown key `nmae` at the top level of the workflow
          --> crlf.yml:1:1
           |
         1 | nmae: x
           | ^^^^
           = help: did you mean `name`?

        error: unknown key `runs-of` in job `build`
          --> crlf.yml:5:5
           |
         5 |     runs-of: ubuntu-latest
           |     ^^^^^^^
           = help: did you mean `runs-on`?
    "#]]
    .assert_eq(&render_all(&diags, src));
}
