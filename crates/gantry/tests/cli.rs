//! Integration tests of the `plan` and `validate` commands and of the user
//! errors every command reports, through the real `gantry` binary on
//! fixture repositories (and the real-world corpus in `shared/corpus/gha`).

mod repo;

use std::path::Path;

use repo::{TestRepo, corpus, gantry_in};

const CI: &str = r#"name: CI
on:
  push:
    branches: [main]
    paths-ignore: ['docs/**']
  pull_request:
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [a, b]
        v: [1, 2, 3]
    steps:
      - run: echo build
  test:
    needs: build
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    steps:
      - run: echo test
  deploy:
    needs: [build, test]
    if: ${{ success() && github.ref == 'refs/heads/main' }}
    runs-on: ubuntu-latest
    steps:
      - run: echo deploy
  mac:
    runs-on: macos-latest
    steps:
      - run: echo mac
  call:
    uses: ./.github/workflows/reusable.yml
"#;

const REUSABLE: &str = r#"name: Reusable
on: workflow_call
jobs:
  inner:
    runs-on: ubuntu-latest
    steps:
      - run: echo inner
"#;

/// A repository with several workflows and filters, whose last commit
/// touched `src/` (so `paths` filters on `docs/**` do not match).
fn planned_repo() -> TestRepo {
    TestRepo::with(&[
        ("src/lib.txt", "code\n"),
        (".github/workflows/ci.yml", CI),
        (".github/workflows/reusable.yml", REUSABLE),
        (
            ".github/workflows/release.yml",
            "name: Release\non:\n  push:\n    tags: ['v*']\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo publish\n",
        ),
        (
            ".github/workflows/docs.yml",
            "name: Docs\non:\n  push:\n    paths: ['docs/**']\njobs:\n  site:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo site\n",
        ),
        (
            ".github/workflows/dev.yml",
            "name: Dev\non:\n  push:\n    branches: [develop]\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo d\n",
        ),
    ])
}

#[test]
fn plan_shows_the_push_tree_and_why_workflows_are_skipped() {
    let repo = planned_repo();
    let out = repo.gantry(&["plan"]);
    out.expect_code(0);
    let head = repo.git(&["rev-parse", "--short=12", "HEAD"]);
    out.expect_text(&format!("push of refs/heads/main at {head}"))
        .expect_text("▶ CI (.github/workflows/ci.yml)")
        .expect_text("├─ build ×6")
        .expect_text("build (a, 1)")
        .expect_text("build (b, 3)")
        .expect_text("├─ test needs: build\n")
        .expect_text("deploy needs: build, test if: ${{ success() && github.ref == 'refs/heads/main' }}")
        .expect_text("mac — skipped: no runner for `macos-latest` here")
        .expect_text("calls Reusable (.github/workflows/reusable.yml)")
        .expect_text("inner")
        .expect_text("⊘ Dev (.github/workflows/dev.yml): branch `main` does not match ['develop']")
        .expect_text("⊘ Docs (.github/workflows/docs.yml): no changed file matches `paths` ['docs/**']")
        .expect_text("⊘ Release (.github/workflows/release.yml): branch `main` pushed, but `push` filters tags only");
    // Nothing runs: plan has no side effects on the Gantry home.
    assert!(!repo.home().join("runs").exists());
}

#[test]
fn plan_follows_paths_filters_of_the_pushed_commit() {
    let repo = planned_repo();
    repo.write("docs/guide.md", "# Guide\n");
    repo.commit("docs only");
    let out = repo.gantry(&["plan"]);
    out.expect_code(0)
        .expect_text("▶ Docs (.github/workflows/docs.yml)")
        .expect_text("└─ site")
        .expect_text("⊘ CI (.github/workflows/ci.yml): every changed file matches `paths-ignore` ['docs/**']")
        .refute_text("▶ CI");
}

#[test]
fn plan_for_tags_and_pull_requests() {
    let repo = planned_repo();
    repo.git(&["tag", "v1.2.0"]);
    let out = repo.gantry(&["plan", "--event", "tag", "--ref", "v1.2.0"]);
    out.expect_code(0)
        .expect_text("push of refs/tags/v1.2.0")
        .expect_text("▶ Release (.github/workflows/release.yml)")
        .expect_text("└─ publish")
        .expect_text("⊘ CI (.github/workflows/ci.yml): tag `v1.2.0` pushed, but `push` filters branches only")
        .expect_text("⊘ Dev (.github/workflows/dev.yml): tag `v1.2.0` pushed, but `push` filters branches only");
    // HEAD is tagged, so `--event tag` alone finds the tag.
    repo.gantry(&["plan", "--event", "tag"])
        .expect_code(0)
        .expect_text("push of refs/tags/v1.2.0");

    let out = repo.gantry(&["plan", "--event", "pull_request"]);
    out.expect_code(0)
        .expect_text("pull_request of refs/pull/1/merge")
        .expect_text("▶ CI (.github/workflows/ci.yml)")
        .expect_text("test needs: build — skipped: its `if` is false")
        .expect_text("⊘ Release (.github/workflows/release.yml): does not listen to `pull_request` (listens to: push)")
        .refute_text("▶ Release");
}

#[test]
fn plan_json_has_workflows_jobs_and_skipped() {
    let repo = planned_repo();
    let out = repo.gantry(&["plan", "--json"]);
    out.expect_code(0);
    let events = out.events();
    assert_eq!(events.len(), 1, "one JSON document: {}", out.stdout);
    let plan = &events[0];
    assert_eq!(plan["event"], "push");
    assert_eq!(plan["ref"], "refs/heads/main");
    assert_eq!(plan["sha"], repo.git(&["rev-parse", "HEAD"]));
    let workflows = plan["workflows"].as_array().expect("workflows");
    assert_eq!(workflows.len(), 1, "{plan:#}");
    let ci = &workflows[0];
    assert_eq!(ci["file"], ".github/workflows/ci.yml");
    assert_eq!(ci["name"], "CI");
    let jobs = ci["jobs"].as_array().expect("jobs");
    let job = |id: &str| {
        jobs.iter()
            .find(|j| j["id"] == id)
            .unwrap_or_else(|| panic!("job {id} in {ci:#}"))
    };
    assert_eq!(job("build")["matrix"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        job("build")["matrix"][0],
        serde_json::json!({"os": "a", "v": 1})
    );
    assert_eq!(job("build")["if"], serde_json::Value::Null);
    assert_eq!(job("test")["needs"], serde_json::json!(["build"]));
    assert_eq!(job("test")["matrix"], serde_json::Value::Null);
    assert_eq!(
        job("deploy")["if"],
        "${{ success() && github.ref == 'refs/heads/main' }}"
    );
    let calls = &job("call")["calls"];
    assert_eq!(calls["file"], ".github/workflows/reusable.yml");
    assert_eq!(calls["jobs"][0]["id"], "inner");
    let skipped = plan["skipped"].as_array().expect("skipped");
    let files: Vec<&str> = skipped.iter().filter_map(|s| s["file"].as_str()).collect();
    assert!(
        files.contains(&".github/workflows/docs.yml")
            && files.contains(&".github/workflows/release.yml"),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .all(|s| s["reason"].as_str().is_some_and(|r| !r.is_empty()) && s["name"].is_string())
    );
}

#[test]
fn plan_job_selects_the_job_and_what_it_needs() {
    let repo = planned_repo();
    let out = repo.gantry(&["plan", "--job", "test"]);
    out.expect_code(0)
        .expect_text("├─ build ×6")
        .expect_text("└─ test needs: build")
        .refute_text("deploy")
        .refute_text("mac");
    let out = repo.gantry(&["plan", "--json", "--job", "deploy"]);
    out.expect_code(0);
    let plan = &out.events()[0];
    let ids: Vec<&str> = plan["workflows"][0]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert_eq!(ids, ["build", "test", "deploy"]);
    let out = repo.gantry(&["plan", "--job", "tset"]);
    out.expect_code(2).expect_text("has a job `tset`");
}

#[test]
fn plan_of_a_matrix_call_in_nameless_workflows() {
    let repo = TestRepo::with(&[
        (
            ".github/workflows/each.yml",
            "on:\n  workflow_call:\n    inputs:\n      v:\n        type: string\n        required: true\njobs:\n  inner:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
        ),
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  call:\n    strategy:\n      matrix:\n        v: [one, two]\n    uses: ./.github/workflows/each.yml\n    with:\n      v: ${{ matrix.v }}\n",
        ),
    ]);
    // A workflow without `name:` is shown by its file, once.
    repo.gantry(&["plan"])
        .expect_code(0)
        .expect_text("▶ .github/workflows/ci.yml\n")
        .expect_text("└─ call ×2")
        .expect_text("call (one)")
        .expect_text("call (two)")
        .expect_text("calls .github/workflows/each.yml\n")
        .expect_text(
            "⊘ .github/workflows/each.yml: does not listen to `push` (listens to: workflow_call)",
        );
}

const BROKEN: &str = r#"name: Broken
on:
  push:
  schedule:
    - cron: '61 * * * *'
jobs:
  a:
    runs-on: ubuntu-latest
    needs: b
    steps:
      - id: s1
        run: echo ${{ github.sha == }}
      - id: s1
        run: echo hi
      - run: echo ${{ foo.bar }}
  b:
    runs-on: ubuntu-latest
    needs: a
    stesp:
      - run: echo
    steps:
      - run: echo
"#;

#[test]
fn validate_lists_every_problem_with_location_excerpt_and_hint() {
    let repo = TestRepo::with(&[(".github/workflows/broken.yml", BROKEN)]);
    let out = repo.gantry(&["validate"]);
    out.expect_code(1);
    let expected: [(&str, &str); 6] = [
        (
            "error: bad cron `61 * * * *`",
            "--> .github/workflows/broken.yml:5:13",
        ),
        (
            "error: `needs` form a cycle",
            "--> .github/workflows/broken.yml:9:12",
        ),
        (
            "error: bad expression",
            "--> .github/workflows/broken.yml:12:37",
        ),
        (
            "error: duplicate step id `s1` in job `a`",
            "--> .github/workflows/broken.yml:13:13",
        ),
        (
            "error: unknown context `foo`",
            "--> .github/workflows/broken.yml:15:23",
        ),
        (
            "error: unknown key `stesp` in job `b`",
            "--> .github/workflows/broken.yml:19:5",
        ),
    ];
    let mut last = 0;
    for (message, location) in expected {
        let at = out
            .stdout
            .find(message)
            .unwrap_or_else(|| panic!("{message:?} in\n{}", out.stdout));
        assert!(
            at >= last,
            "diagnostics are in file order: {message:?}\n{}",
            out.stdout
        );
        last = at;
        assert!(
            out.stdout[at..]
                .lines()
                .nth(1)
                .is_some_and(|l| l.trim() == location),
            "{location:?} after {message:?}\n{}",
            out.stdout
        );
    }
    // An excerpt with a caret under the problem, and hints.
    out.expect_text(" 19 |     stesp:\n    |     ^^^^^\n")
        .expect_text("= help: did you mean `steps`?")
        .expect_text("= help: the first step with id `s1` is on line 11")
        .expect_text("= help: GitHub cron lines have five fields")
        .expect_text("= help: remove one of these `needs`")
        .expect_text("6 errors, 0 warnings in 1 file");
    // `run` refuses the workflow, showing the same problems.
    let out = repo.gantry(&["run"]);
    out.expect_code(2)
        .expect_text("`needs` form a cycle")
        .expect_text("invalid workflow .github/workflows/broken.yml");
}

#[test]
fn validate_json_gives_structured_diagnostics() {
    let repo = TestRepo::with(&[(".github/workflows/broken.yml", BROKEN)]);
    let out = repo.gantry(&["validate", "--json"]);
    out.expect_code(1);
    let report = &out.events()[0];
    assert_eq!(report["files"], 1);
    assert_eq!(report["errors"], 6);
    assert_eq!(report["warnings"], 0);
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), 6);
    let stesp = diagnostics
        .iter()
        .find(|d| d["message"] == "unknown key `stesp` in job `b`")
        .expect("the stesp diagnostic");
    assert_eq!(
        stesp,
        &serde_json::json!({
            "file": ".github/workflows/broken.yml",
            "line": 19,
            "col": 5,
            "end_line": 19,
            "end_col": 10,
            "severity": "error",
            "message": "unknown key `stesp` in job `b`",
            "hint": "did you mean `steps`?",
        })
    );
    assert!(
        diagnostics
            .iter()
            .all(|d| d["severity"] == "error" && d["line"].as_u64().is_some_and(|l| l > 0))
    );
}

#[test]
fn validate_clean_repository_and_relative_paths_under_dash_c() {
    let repo = TestRepo::with(&[
        (".github/workflows/ci.yml", CI),
        (".github/workflows/reusable.yml", REUSABLE),
    ]);
    repo.gantry(&["validate"])
        .expect_code(0)
        .expect_text("0 errors, 0 warnings in 2 files");
    // With -C, relative paths are relative to that directory (like git -C).
    let out = repo.gantry(&["validate", ".github/workflows/ci.yml"]);
    out.expect_code(0)
        .expect_text("0 errors, 0 warnings in 1 file");
    let out = repo.gantry(&["validate", "--json", ".github/workflows/reusable.yml"]);
    out.expect_code(0);
    assert_eq!(
        out.events()[0],
        serde_json::json!({"files": 1, "errors": 0, "warnings": 0, "diagnostics": []})
    );
}

#[test]
fn validate_checks_calls_to_local_reusable_workflows() {
    let repo = TestRepo::with(&[
        (
            ".github/workflows/lib.yml",
            r#"on:
  workflow_call:
    inputs:
      target:
        type: string
        required: true
      level:
        type: number
        default: 1
    secrets:
      token:
        required: true
jobs:
  go:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ inputs.target }}
"#,
        ),
        (
            ".github/workflows/plain.yml",
            "on: push\njobs:\n  p:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  typo:
    uses: ./.github/workflows/lib.yml
    with:
      target: x
      levle: 2
    secrets: inherit
  bare:
    uses: ./.github/workflows/lib.yml
  fine:
    uses: ./.github/workflows/lib.yml
    with:
      target: y
    secrets:
      token: ${{ secrets.T }}
  not-callable:
    uses: ./.github/workflows/plain.yml
  missing:
    uses: ./.github/workflows/gone.yml
"#,
        ),
    ]);
    let out = repo.gantry(&["validate"]);
    out.expect_code(1)
        .expect_text("error: unknown input `levle` of `.github/workflows/lib.yml`\n  --> .github/workflows/ci.yml:7:7")
        .expect_text("= help: did you mean `level`?")
        .expect_text("error: job `bare` does not pass the required input `target` of `.github/workflows/lib.yml`")
        .expect_text("error: job `bare` does not pass the required secret `token` of `.github/workflows/lib.yml`")
        .expect_text("error: `.github/workflows/plain.yml` cannot be called: it has no `on: workflow_call`")
        .expect_text("warning: reusable workflow `./.github/workflows/gone.yml` not found")
        .expect_text("4 errors, 1 warning in 3 files")
        .refute_text("job `fine`");
    // `run` refuses it with the same problems, before anything runs.
    repo.gantry(&["run", "ci.yml"])
        .expect_code(2)
        .expect_text("does not pass the required input `target`")
        .expect_text("invalid workflow .github/workflows/ci.yml");
    assert!(!repo.home().join("runs").exists());
    // A call of a workflow that does not exist fails that workflow's plan
    // (exit 1), saying what to do; `run` refuses it (exit 2).
    let missing = TestRepo::with(&[(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  missing:\n    uses: ./.github/workflows/gone.yml\n",
    )]);
    missing
        .gantry(&["plan"])
        .expect_code(1)
        .expect_text("reusable workflow `./.github/workflows/gone.yml` does not exist: create `.github/workflows/gone.yml`");
    missing
        .gantry(&["run"])
        .expect_code(2)
        .expect_text("cannot run: job `missing`");
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn validate_real_world_corpus_has_no_errors() {
    let corpus = corpus().expect("the corpus in shared/corpus/gha");
    let mut files = Vec::new();
    for repo_dir in std::fs::read_dir(&corpus).unwrap().flatten() {
        let Ok(entries) = std::fs::read_dir(repo_dir.path().join(".github/workflows")) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 40, "the corpus has its workflows: {files:?}");
    // Every file at once, named on the command line, from outside any repository.
    let outside = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["validate", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = gantry_in(outside.path(), home.path(), &args);
    out.expect_code(0);
    let report = &out.events()[0];
    // The local actions the workflows use are checked too.
    assert!(
        report["files"]
            .as_u64()
            .is_some_and(|n| n as usize >= files.len()),
        "{report:#}"
    );
    assert_eq!(report["errors"], 0, "{report:#}");
    // A few corpus repositories copied into real repositories: validated
    // with their local actions, and planned for a push.
    for name in [
        "casey__just",
        "cargo-bins__cargo-binstall",
        "tokio-rs__tokio",
    ] {
        let repo = TestRepo::new();
        copy_tree(&corpus.join(name), repo.path());
        repo.commit("import");
        let out = repo.gantry(&["validate"]);
        out.expect_code(0).expect_text("0 errors");
        repo.gantry(&["plan"])
            .expect_code(0)
            .expect_text("push of refs/heads/main");
    }
}

#[test]
fn user_errors_exit_2_and_say_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    // Not a git repository.
    let plain = tempfile::tempdir().unwrap();
    for command in ["run", "plan"] {
        gantry_in(plain.path(), home.path(), &[command])
            .expect_code(2)
            .expect_text("is not inside a git repository")
            .expect_text("-C DIR");
    }
    gantry_in(plain.path(), home.path(), &["validate"])
        .expect_code(2)
        .expect_text("no workflows");
    // -C to a directory that does not exist.
    gantry_in(&plain.path().join("nope"), home.path(), &["plan"])
        .expect_code(2)
        .expect_text("cannot change to");

    // A repository without workflows.
    let empty = TestRepo::with(&[("README.md", "hi\n")]);
    empty
        .gantry(&["run"])
        .expect_code(2)
        .expect_text("no workflows in")
        .expect_text("add one under .github/workflows/");

    // A repository without commits.
    let fresh = TestRepo::new();
    fresh.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
    );
    for command in ["run", "plan"] {
        fresh
            .gantry(&[command])
            .expect_code(2)
            .expect_text("no commits yet")
            .expect_text("git commit");
    }

    let repo = TestRepo::with(&[(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
    )]);
    repo.gantry(&["run", "cii"])
        .expect_code(2)
        .expect_text("no workflow `cii` (did you mean `ci`?)")
        .expect_text(".github/workflows/ci.yml");
    repo.gantry(&["run", "--event", "pushh"])
        .expect_code(2)
        .expect_text("unknown event `pushh` (did you mean `push`?)")
        .expect_text("use push, pull_request, tag, schedule or workflow_dispatch");
    repo.gantry(&["run", "--input", "level=debug"])
        .expect_code(2)
        .expect_text("--input is for workflow_dispatch: add `--event workflow_dispatch`");
    repo.gantry(&["run", "--ref", "mian"])
        .expect_code(2)
        .expect_text("`mian` is neither a branch nor a tag")
        .expect_text("did you mean `main`?")
        .expect_text("--ref");
    repo.gantry(&["plan", "--event", "tag"])
        .expect_code(2)
        .expect_text("HEAD is not tagged, pass `--ref");
    repo.gantry(&["plan", "--event", "tag", "--ref", "v9"])
        .expect_code(2)
        .expect_text("create it with `git tag v9`");
    repo.gantry(&["run", "--secret", "=x"])
        .expect_code(2)
        .expect_text("must look like NAME=VALUE");
    // None of these started a run.
    assert!(!repo.home().join("runs").exists());
}

/// `--fold-groups` shows one line per group, and a failed step's folded
/// lines after all; the stored log keeps everything.
#[test]
fn fold_groups_hides_group_lines_unless_the_step_fails() {
    let repo = TestRepo::with(&[(
        ".github/workflows/g.yml",
        r#"on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "::group::Install"
          echo quiet-line-one; echo quiet-line-two
          echo "::endgroup::"
          echo visible-line
      - run: |
          echo "::group::Build"
          echo loud-line
          echo "::endgroup::"
          exit 1
"#,
    )]);
    repo.gantry(&["run", "--fold-groups"])
        .expect_code(1)
        .expect_text("▸ Install (2 lines folded)")
        .expect_text("visible-line")
        .refute_text("quiet-line-one")
        .expect_text("▸ Build (1 lines folded)")
        .expect_text("folded output of the failed step")
        .expect_text("loud-line");
    repo.gantry(&["logs", "--job", "a"])
        .expect_code(0)
        .expect_text("quiet-line-one")
        .expect_text("##[group]Install");
}
