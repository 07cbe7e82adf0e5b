//! Integration tests of actions and reusable workflows through the real
//! `gantry` binary: composite and JavaScript actions (inputs, outputs,
//! nesting, pre/post, state), vendored remote actions, Docker refusals, the
//! built-in `actions/*` (checkout, cache, artifacts, setup-*) and
//! `uses: ./.github/workflows/…` calls with typed inputs, secrets and outputs.

mod repo;

use repo::{TestRepo, job_errors, job_output, job_result, job_steps};

/// The value after `prefix` on the first line that starts with it.
#[track_caller]
fn line_value(lines: &[String], prefix: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {lines:#?}"))
        .to_string()
}

/// The index of the first line equal to `line`.
#[track_caller]
fn position(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no line {line:?} in {lines:#?}"))
}

const GREET_ACTION: &str = r#"name: Greet
description: Says hello
inputs:
  who:
    description: whom to greet
    default: world
  where:
    description: an expression default
    default: ${{ github.ref_name }}
  word:
    description: the greeting
    required: true
outputs:
  message:
    description: what was said
    value: ${{ steps.say.outputs.message }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: |
        echo "said: ${{ inputs.word }} ${{ inputs.who }} on ${{ inputs.where }}"
        echo "given env: ${GIVEN:-none}"
        echo "ctx path: ${{ github.action_path }}"
        echo "env path: $GITHUB_ACTION_PATH"
        echo "message=${{ inputs.word }}-${{ inputs.who }}" >> "$GITHUB_OUTPUT"
"#;

#[test]
fn composite_action_after_checkout_gets_inputs_defaults_env_and_outputs() {
    let repo = TestRepo::with(&[
        (".github/actions/greet/action.yml", GREET_ACTION),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: greet
        uses: ./.github/actions/greet
        env:
          GIVEN: from-the-step
        with:
          word: hello
      - run: |
          echo "output: ${{ steps.greet.outputs.message }}"
          echo "workspace: $GITHUB_WORKSPACE"
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(0);
    let events = out.events();
    let lines = job_output(&events, "use");
    assert!(
        lines.contains(&"said: hello world on main".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"given env: from-the-step".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"output: hello-world".to_string()),
        "{lines:#?}"
    );
    // After checkout the action is found in the workspace, and both
    // `github.action_path` and `$GITHUB_ACTION_PATH` point at it.
    let workspace = line_value(&lines, "workspace: ");
    let expected = format!("{workspace}/.github/actions/greet");
    assert_eq!(line_value(&lines, "ctx path: "), expected);
    assert_eq!(line_value(&lines, "env path: "), expected);
    // The composite's own step is shown under the action's name.
    let steps = job_steps(&events, "use");
    assert!(
        steps
            .iter()
            .any(|(name, outcome)| name.starts_with("Greet › ") && outcome == "success"),
        "{steps:?}"
    );
}

#[test]
fn nested_composite_action_is_found_in_the_repository_without_checkout() {
    let repo = TestRepo::with(&[
        (".github/actions/greet/action.yml", GREET_ACTION),
        (
            ".github/actions/outer/action.yml",
            r#"name: Outer
inputs:
  name:
    default: nobody
outputs:
  relayed:
    value: ${{ steps.inner.outputs.message }}
runs:
  using: composite
  steps:
    - id: inner
      uses: ./.github/actions/greet
      with:
        word: nested
        who: ${{ inputs.name }}
"#,
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  nest:
    runs-on: ubuntu-latest
    steps:
      - id: outer
        uses: ./.github/actions/outer
        with:
          name: ada
      - run: |
          echo "relayed: ${{ steps.outer.outputs.relayed }}"
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(0);
    let events = out.events();
    let lines = job_output(&events, "nest");
    assert!(
        lines.contains(&"said: nested ada on main".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"relayed: nested-ada".to_string()),
        "{lines:#?}"
    );
    // No checkout: the action comes from the repository itself.
    let root = std::fs::canonicalize(repo.path()).unwrap();
    let expected = root
        .join(".github/actions/greet")
        .to_string_lossy()
        .into_owned();
    assert_eq!(line_value(&lines, "ctx path: "), expected);
    assert_eq!(line_value(&lines, "env path: "), expected);
    let steps = job_steps(&events, "nest");
    assert!(
        steps
            .iter()
            .any(|(name, _)| name.starts_with("Outer › Greet › ")),
        "{steps:?}"
    );
}

#[test]
fn composite_action_missing_a_required_input_fails_the_step_clearly() {
    let repo = TestRepo::with(&[
        (".github/actions/greet/action.yml", GREET_ACTION),
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  miss:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./.github/actions/greet\n      - run: echo never\n",
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    let errors = job_errors(&events, "miss");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("input `word` is required") && e.contains("with:")),
        "{errors:?}"
    );
    let steps = job_steps(&events, "miss");
    assert_eq!(steps[0].1, "failure", "{steps:?}");
    assert_eq!(steps[1].1, "skipped", "{steps:?}");
    assert!(!job_output(&events, "miss").contains(&"never".to_string()));
}

#[test]
fn composite_run_step_without_shell_is_an_error_naming_the_action_file() {
    let repo = TestRepo::with(&[
        (
            ".github/actions/noshell/action.yml",
            "name: No shell\nruns:\n  using: composite\n  steps:\n    - run: echo hi\n",
        ),
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./.github/actions/noshell\n",
        ),
    ]);
    let out = repo.gantry(&["run"]);
    out.expect_code(1)
        .expect_text("needs `shell`")
        .expect_text("action.yml");
    // `gantry validate` finds it too, before anything runs.
    let out = repo.gantry(&["validate"]);
    out.expect_code(1)
        .expect_text("needs `shell`")
        .expect_text(".github/actions/noshell/action.yml:5:");
}

#[test]
fn failing_inner_step_fails_the_composite_step_and_the_job() {
    let repo = TestRepo::with(&[
        (
            ".github/actions/boom/action.yml",
            r#"name: Boom
runs:
  using: composite
  steps:
    - run: exit 4
      shell: bash
    - run: echo inner-after
      shell: bash
    - run: echo inner-always
      if: always()
      shell: bash
"#,
        ),
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./.github/actions/boom\n      - run: echo outer-after\n",
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    let lines = job_output(&events, "a");
    assert!(lines.contains(&"inner-always".to_string()), "{lines:#?}");
    assert!(!lines.contains(&"inner-after".to_string()), "{lines:#?}");
    assert!(!lines.contains(&"outer-after".to_string()), "{lines:#?}");
    let steps = job_steps(&events, "a");
    let outer = steps
        .iter()
        .find(|(n, _)| n == "Run ./.github/actions/boom")
        .expect("the action step");
    assert_eq!(outer.1, "failure", "{steps:?}");
    assert!(
        job_errors(&events, "a")
            .iter()
            .any(|e| e.contains("exit code 4"))
    );
    assert_eq!(job_result(&events, "a"), "failure");
}

const NODE_MAIN: &str = r#"const fs = require('fs');
const env = process.env;
console.log(`main: name=${env['INPUT_NAME']} dashed=${env['INPUT_MY-FLAG']} spaced=${env['INPUT_SOME_THING']} default=${env['INPUT_WITH-DEFAULT']} pre-state=${env['STATE_from_pre']}`);
fs.appendFileSync(env.GITHUB_OUTPUT, `greeting=hi ${env['INPUT_NAME']}\n`);
fs.appendFileSync(env.GITHUB_STATE, `from_main=m1\n`);
console.log(`main path: ${env.GITHUB_ACTION_PATH}`);
"#;

#[test]
fn node_action_reads_inputs_writes_outputs_and_runs_pre_and_post() {
    let repo = TestRepo::with(&[
        (
            "tools/hello/action.yml",
            r#"name: Hello JS
inputs:
  name:
    required: true
  my-flag:
    default: "off"
  some thing:
    required: false
  with-default:
    default: ${{ github.event_name }}
outputs:
  greeting:
    description: the greeting
runs:
  using: node20
  pre: pre.js
  main: index.js
  post: post.js
"#,
        ),
        ("tools/hello/index.js", NODE_MAIN),
        (
            "tools/hello/pre.js",
            "require('fs').appendFileSync(process.env.GITHUB_STATE, 'from_pre=p1\\n');\nconsole.log('pre ran');\n",
        ),
        (
            "tools/hello/post.js",
            "const e = process.env;\nconsole.log(`post ran: main-state=${e.STATE_from_main} pre-state=${e.STATE_from_pre}`);\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  js:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: hello
        uses: ./tools/hello
        with:
          name: ada
          my-flag: "on"
          some thing: spaced out
      - run: echo "greeting=${{ steps.hello.outputs.greeting }}"
      - run: echo last-step
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(0);
    let events = out.events();
    let lines = job_output(&events, "js");
    let main = "main: name=ada dashed=on spaced=spaced out default=push pre-state=p1";
    let post = "post ran: main-state=m1 pre-state=p1";
    // pre, then main, then the later steps, then post at the end of the job.
    assert!(position(&lines, "pre ran") < position(&lines, main));
    assert!(position(&lines, main) < position(&lines, "greeting=hi ada"));
    assert!(position(&lines, "greeting=hi ada") < position(&lines, "last-step"));
    assert!(position(&lines, "last-step") < position(&lines, post));
    assert!(
        line_value(&lines, "main path: ").ends_with("/tools/hello"),
        "{lines:#?}"
    );
    let steps = job_steps(&events, "js");
    assert_eq!(
        steps.last().map(|(n, o)| (n.as_str(), o.as_str())),
        Some(("Post ./tools/hello", "success")),
        "{steps:?}"
    );
}

#[test]
fn node_action_pre_if_and_post_if_decide_whether_they_run() {
    let repo = TestRepo::with(&[
        (
            ".github/actions/cleanup/action.yml",
            "name: Cleanup\nruns:\n  using: node20\n  main: main.js\n  post: post.js\n  post-if: failure()\n",
        ),
        (
            ".github/actions/cleanup/main.js",
            "console.log('cleanup main');\n",
        ),
        (
            ".github/actions/cleanup/post.js",
            "console.log('cleanup post');\n",
        ),
        (
            ".github/actions/prepared/action.yml",
            r#"name: Prepared
inputs:
  os:
    required: true
runs:
  using: node20
  pre: pre.js
  pre-if: runner.os == 'Linux'
  main: main.js
"#,
        ),
        (
            ".github/actions/prepared/pre.js",
            "console.log('prepared pre');\n",
        ),
        (
            ".github/actions/prepared/main.js",
            "console.log('prepared main');\n",
        ),
        (
            ".github/actions/windows-only/action.yml",
            "name: Windows only\nruns:\n  using: node20\n  pre: pre.js\n  pre-if: runner.os == 'Windows'\n  main: main.js\n",
        ),
        (
            ".github/actions/windows-only/pre.js",
            "console.log('windows pre');\n",
        ),
        (
            ".github/actions/windows-only/main.js",
            "console.log('windows main');\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  green:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/cleanup
      - uses: ./.github/actions/prepared
        with:
          os: linux
      - uses: ./.github/actions/windows-only
      - run: echo fine
  red:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/cleanup
      - run: exit 1
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    let green = job_output(&events, "green");
    for expected in [
        "cleanup main",
        "prepared pre",
        "prepared main",
        "windows main",
    ] {
        assert!(
            green.contains(&expected.to_string()),
            "{expected:?} in {green:#?}"
        );
    }
    assert!(
        !green.contains(&"windows pre".to_string()),
        "pre-if false skips pre: {green:#?}"
    );
    assert!(
        !green.contains(&"cleanup post".to_string()),
        "post-if: failure() on a green job: {green:#?}"
    );
    let red = job_output(&events, "red");
    assert!(
        red.contains(&"cleanup post".to_string()),
        "post-if: failure() on a red job: {red:#?}"
    );
    assert_eq!(job_result(&events, "green"), "success");
    assert_eq!(job_result(&events, "red"), "failure");
}

const VENDORED: &str = r#"name: Thing
inputs:
  x:
    default: dx
outputs:
  r:
    value: ${{ steps.a.outputs.r }}
runs:
  using: composite
  steps:
    - id: a
      shell: bash
      run: |
        echo "thing x=${{ inputs.x }}"
        echo "r=thing-${{ inputs.x }}" >> "$GITHUB_OUTPUT"
"#;

#[test]
fn vendored_remote_actions_resolve_from_the_repository_and_actions_dir() {
    let extra = tempfile::tempdir().unwrap();
    let tool = extra.path().join("acme/tool@v2");
    std::fs::create_dir_all(&tool).unwrap();
    std::fs::write(
        tool.join("action.yml"),
        "name: Tool\ninputs:\n  a: {}\nruns:\n  using: node20\n  main: m.js\n",
    )
    .unwrap();
    std::fs::write(
        tool.join("m.js"),
        "console.log('tool ran with ' + process.env.INPUT_A);\n",
    )
    .unwrap();
    let repo = TestRepo::with(&[
        (".gantry/actions/someone/thing@v1/action.yml", VENDORED),
        (
            ".gantry/actions/someone/thing@v1/sub/action.yml",
            "name: Sub\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo \"sub at $GITHUB_ACTION_PATH\"\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  v:
    runs-on: ubuntu-latest
    steps:
      - id: t
        uses: someone/thing@v1
        with:
          x: X
      - run: echo "r=${{ steps.t.outputs.r }}"
      - uses: someone/thing/sub@v1
      - uses: acme/tool@v2
        with:
          a: aa
"#,
        ),
    ]);
    let dir = extra.path().to_string_lossy().into_owned();
    let out = repo.gantry(&["run", "--json", "--actions-dir", &dir]);
    out.expect_code(0);
    let events = out.events();
    let lines = job_output(&events, "v");
    assert!(lines.contains(&"thing x=X".to_string()), "{lines:#?}");
    assert!(lines.contains(&"r=thing-X".to_string()), "{lines:#?}");
    assert!(
        line_value(&lines, "sub at ").ends_with(".gantry/actions/someone/thing@v1/sub"),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"tool ran with aa".to_string()),
        "{lines:#?}"
    );

    // Without --actions-dir the third action is missing, and the error says
    // which action and how to vendor it.
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let errors = job_errors(&out.events(), "v");
    assert!(
        errors.iter().any(|e| e.contains("`acme/tool@v2`")
            && e.contains(".gantry/actions/acme/tool@v2")
            && e.contains("git clone")
            && e.contains("--actions-dir")),
        "{errors:?}"
    );
}

#[test]
fn missing_actions_and_unavailable_images_fail_with_clear_messages() {
    let repo = TestRepo::with(&[
        (
            ".gantry/actions/someone/thing@v1/docker/action.yml",
            "name: In a box\nruns:\n  using: docker\n  image: Dockerfile\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  missing:
    runs-on: ubuntu-latest
    steps:
      - uses: nobody/missing/deep@v3
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: docker://alpine:3.19
  dockerfile:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/thing/docker@v1
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    let missing = job_errors(&events, "missing").join("\n");
    assert!(
        missing.contains("`nobody/missing/deep@v3` is not built in and not vendored"),
        "{missing}"
    );
    assert!(
        missing.contains(".gantry/actions/nobody/missing@v3/deep"),
        "{missing}"
    );
    assert!(missing.contains("--actions-dir"), "{missing}");
    let image = job_errors(&events, "image").join("\n");
    // Nothing can be pulled here: the error names the image and says what to do.
    assert!(
        image.contains("image `alpine:3.19` is not on this machine and cannot be pulled")
            && image.contains("docker build -t alpine:3.19"),
        "{image}"
    );
    let dockerfile = job_errors(&events, "dockerfile").join("\n");
    assert!(
        dockerfile.contains("image build") && dockerfile.contains("Dockerfile"),
        "{dockerfile}"
    );
    for job in ["missing", "image", "dockerfile"] {
        assert_eq!(job_result(&events, job), "failure", "{job}");
    }
}

#[test]
fn checkout_gives_the_commit_with_path_and_full_history_but_not_local_changes() {
    let repo = TestRepo::with(&[
        ("a.txt", "one\n"),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  co:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo "a=$(cat a.txt)"
          echo "b=$(cat b.txt)"
          echo "shallow=$(git log --oneline | wc -l)"
          echo "head=$(git rev-parse HEAD)"
          test -e dirty.txt && echo "dirty present" || echo "dirty absent"
      - uses: actions/checkout@v4
        with:
          path: full
          fetch-depth: 0
      - run: |
          echo "full a=$(cat full/a.txt)"
          echo "full=$(git -C full log --oneline | wc -l)"
"#,
        ),
    ]);
    repo.write("b.txt", "two\n");
    let head = repo.commit("second");
    // Local changes: a modified tracked file and a new file, not committed.
    repo.write("a.txt", "changed locally\n");
    repo.write("dirty.txt", "x\n");
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(0);
    let events = out.events();
    let lines = job_output(&events, "co");
    for expected in [
        "a=one",
        "b=two",
        "shallow=1",
        "dirty absent",
        "full a=one",
        "full=2",
    ] {
        assert!(
            lines.contains(&expected.to_string()),
            "{expected:?} in {lines:#?}"
        );
    }
    assert_eq!(line_value(&lines, "head="), head);
    let warned = events.iter().any(|e| {
        e["type"] == "warning"
            && e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("uncommitted changes")
    });
    assert!(warned, "{events:#?}");
}

#[test]
fn cache_hits_on_the_second_run_and_restore_keys_match_a_changed_key() {
    let repo = TestRepo::with(&[
        ("deps.lock", "v1\n"),
        ("nested/more.lock", "n1\n"),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: cache
        uses: actions/cache@v4
        with:
          path: store
          key: deps-${{ hashFiles('**/*.lock') }}
          restore-keys: |
            deps-
      - run: |
          echo "hit=${{ steps.cache.outputs.cache-hit }}"
          echo "key=deps-${{ hashFiles('**/*.lock') }}"
          echo "store=$(cat store/data 2>/dev/null || echo empty)"
          mkdir -p store && echo "run-$GITHUB_RUN_NUMBER" > store/data
"#,
        ),
    ]);
    let run = || {
        let out = repo.gantry(&["run", "--json"]);
        out.expect_code(0);
        job_output(&out.events(), "c")
    };
    let first = run();
    assert_eq!(line_value(&first, "hit="), "false");
    assert_eq!(line_value(&first, "store="), "empty");
    let key = line_value(&first, "key=deps-");
    assert_eq!(key.len(), 64, "hashFiles gives a SHA-256: {key}");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));

    let second = run();
    assert_eq!(line_value(&second, "hit="), "true");
    assert_eq!(line_value(&second, "key=deps-"), key);
    assert_eq!(line_value(&second, "store="), "run-1");

    // A changed lock file changes the key; restore-keys still restore the
    // latest entry, but it is not a hit.
    repo.write("nested/more.lock", "n2\n");
    repo.commit("bump");
    let third = run();
    assert_ne!(line_value(&third, "key=deps-"), key);
    assert_eq!(line_value(&third, "hit="), "false");
    assert_eq!(line_value(&third, "store="), "run-1");
}

#[test]
fn artifacts_flow_from_a_job_to_the_job_that_needs_it() {
    let repo = TestRepo::with(&[(
        ".github/workflows/ci.yml",
        r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: mkdir -p out/deep && echo built > out/result.txt && echo inner > out/deep/x.txt
      - uses: actions/upload-artifact@v4
        with:
          name: results
          path: out/
  use:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: results
          path: got
      - run: |
          echo "result=$(cat got/result.txt)"
          echo "deep=$(cat got/deep/x.txt)"
"#,
    )]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(0);
    let lines = job_output(&out.events(), "use");
    assert!(lines.contains(&"result=built".to_string()), "{lines:#?}");
    assert!(lines.contains(&"deep=inner".to_string()), "{lines:#?}");
}

#[test]
fn setup_actions_use_installed_tools_or_say_what_is_missing() {
    let installed = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .expect("python3 is installed");
    let installed = String::from_utf8_lossy(&installed.stdout)
        .trim()
        .to_string();
    let version = installed
        .strip_prefix("Python ")
        .expect("a python version")
        .to_string();
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let workflow = format!(
        r#"on: push
jobs:
  py:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v5
        with:
          python-version: "{minor}"
      - run: python3 --version
  old-node:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-node@v4
        with:
          node-version: 4
      - run: echo never
"#
    );
    let repo = TestRepo::with(&[(".github/workflows/ci.yml", &workflow)]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    assert_eq!(job_result(&events, "py"), "success");
    assert!(
        job_output(&events, "py").contains(&installed),
        "{:#?}",
        job_output(&events, "py")
    );
    assert_eq!(job_result(&events, "old-node"), "failure");
    let errors = job_errors(&events, "old-node").join("\n");
    assert!(
        errors.contains("node 4") && errors.contains("node-version"),
        "{errors}"
    );
    assert!(!job_output(&events, "old-node").contains(&"never".to_string()));
}

const REUSABLE: &str = r#"name: Reusable
on:
  workflow_call:
    inputs:
      flag:
        type: boolean
        default: true
      count:
        type: number
        default: 3
      label:
        type: string
        default: plain
      must:
        type: string
        required: true
    secrets:
      token:
        required: false
    outputs:
      result:
        description: from the inner job
        value: ${{ jobs.inner.outputs.r }}
jobs:
  inner:
    runs-on: ubuntu-latest
    outputs:
      r: ${{ steps.s.outputs.r }}
    steps:
      - id: s
        run: |
          echo "flag=${{ inputs.flag }} count=${{ inputs.count }} label=${{ inputs.label }} must=${{ inputs.must }}"
          echo "typed=${{ inputs.flag == true && inputs.count == 3 }}"
          echo "token=${{ secrets.token }} top=${{ secrets.TOP }}"
          echo "r=res-${{ inputs.must }}" >> "$GITHUB_OUTPUT"
"#;

#[test]
fn reusable_workflow_gets_typed_inputs_and_secrets_and_returns_outputs() {
    let repo = TestRepo::with(&[
        (".github/workflows/reusable.yml", REUSABLE),
        (
            ".github/workflows/ci.yml",
            r#"name: CI
on: push
jobs:
  call:
    uses: ./.github/workflows/reusable.yml
    with:
      must: m1
    secrets: inherit
  call2:
    uses: ./.github/workflows/reusable.yml
    with:
      must: m2
      flag: false
      count: 7
      label: ${{ github.ref_name }}
    secrets:
      token: ${{ secrets.TOP }}
  after:
    needs: [call, call2]
    runs-on: ubuntu-latest
    steps:
      - run: echo "got=${{ needs.call.outputs.result }} got2=${{ needs.call2.outputs.result }}"
"#,
        ),
    ]);
    let secret = "hunter2-very-secret";
    let out = repo.gantry(&["run", "--json", "--secret", &format!("TOP={secret}")]);
    out.expect_code(0);
    assert!(
        !out.all().contains(secret),
        "the secret leaked:\n{}",
        out.all()
    );
    let events = out.events();
    let first = job_output(&events, "call / inner");
    assert!(
        first.contains(&"flag=true count=3 label=plain must=m1".to_string()),
        "{first:#?}"
    );
    assert!(first.contains(&"typed=true".to_string()), "{first:#?}");
    // `secrets: inherit` passes TOP; the undeclared-in-call `token` is empty.
    assert!(first.contains(&"token= top=***".to_string()), "{first:#?}");
    let second = job_output(&events, "call2 / inner");
    assert!(
        second.contains(&"flag=false count=7 label=main must=m2".to_string()),
        "{second:#?}"
    );
    assert!(second.contains(&"typed=false".to_string()), "{second:#?}");
    // Explicit secrets pass only what is named, still masked.
    assert!(
        second.contains(&"token=*** top=".to_string()),
        "{second:#?}"
    );
    assert_eq!(
        job_output(&events, "after"),
        vec!["got=res-m1 got2=res-m2".to_string()]
    );
    for job in ["call / inner", "call2 / inner", "after"] {
        assert_eq!(job_result(&events, job), "success", "{job}");
    }
    // The text view shows the called jobs as `caller / inner` too.
    let text = repo.gantry(&["run", "--secret", &format!("TOP={secret}")]);
    text.expect_code(0)
        .expect_text("[call / inner]")
        .expect_text("[call2 / inner]")
        .refute_text(secret);
}

#[test]
fn reusable_workflow_missing_required_input_is_a_clear_failure() {
    let caller = |uses: &str| {
        format!(
            "on: push\njobs:\n  call:\n    uses: {uses}\n    with:\n      count: 2\n  after:\n    needs: call\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo never\n"
        )
    };
    // A local called workflow is checked before the run starts.
    let local = caller("./.github/workflows/reusable.yml");
    let repo = TestRepo::with(&[
        (".github/workflows/reusable.yml", REUSABLE),
        (".github/workflows/ci.yml", &local),
    ]);
    repo.gantry(&["run"])
        .expect_code(2)
        .expect_text("job `call` does not pass the required input `must` of `.github/workflows/reusable.yml`")
        .expect_text("add `must:` under the job's `with:`");

    // A vendored remote one is checked when the call runs.
    let remote = caller("someone/lib/.github/workflows/reusable.yml@v1");
    let repo = TestRepo::with(&[
        (
            ".gantry/actions/someone/lib@v1/.github/workflows/reusable.yml",
            REUSABLE,
        ),
        (".github/workflows/ci.yml", &remote),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    let errors = job_errors(&events, "call").join("\n");
    assert!(errors.contains("input `must` is required"), "{errors}");
    assert!(
        errors.contains("with:") && !errors.contains("--input"),
        "a call passes inputs under `with:`: {errors}"
    );
    assert_eq!(job_result(&events, "call"), "failure");
    assert_eq!(job_result(&events, "after"), "skipped");
}

#[test]
fn failing_called_workflow_fails_the_caller() {
    let repo = TestRepo::with(&[
        (
            ".github/workflows/broken.yml",
            "on: workflow_call\njobs:\n  boom:\n    runs-on: ubuntu-latest\n    steps:\n      - run: exit 3\n",
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  call:
    uses: ./.github/workflows/broken.yml
  after:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  report:
    needs: call
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "call was ${{ needs.call.result }}"
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(1);
    let events = out.events();
    assert_eq!(job_result(&events, "call / boom"), "failure");
    assert_eq!(job_result(&events, "after"), "skipped");
    assert_eq!(
        job_output(&events, "report"),
        vec!["call was failure".to_string()]
    );
    let finished = events
        .iter()
        .find(|e| e["type"] == "run_finished")
        .expect("run_finished");
    assert_eq!(finished["result"], "failure");
}

#[test]
fn reusable_workflow_call_with_a_matrix_runs_once_per_combination() {
    let repo = TestRepo::with(&[
        (
            ".github/workflows/each.yml",
            r#"on:
  workflow_call:
    inputs:
      v:
        type: string
        required: true
      where:
        type: string
        default: ${{ github.ref_name }}
    outputs:
      o:
        value: ${{ jobs.inner.outputs.o }}
jobs:
  inner:
    runs-on: ubuntu-latest
    outputs:
      o: ${{ steps.s.outputs.o }}
    steps:
      - id: s
        run: |
          echo "v=${{ inputs.v }} where=${{ inputs.where }}"
          echo "o=out-${{ inputs.v }}" >> "$GITHUB_OUTPUT"
"#,
        ),
        (
            ".github/workflows/ci.yml",
            r#"on: push
jobs:
  call:
    strategy:
      matrix:
        v: [one, two]
    uses: ./.github/workflows/each.yml
    with:
      v: ${{ matrix.v }}
  after:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - run: echo "o=${{ needs.call.outputs.o }} result=${{ needs.call.result }}"
"#,
        ),
    ]);
    let out = repo.gantry(&["run", "--json"]);
    out.expect_code(0);
    let events = out.events();
    // One call per combination, keyed like matrix jobs; an expression
    // default of the called workflow is evaluated.
    assert_eq!(
        job_output(&events, "call (one) / inner"),
        vec!["v=one where=main".to_string()]
    );
    assert_eq!(
        job_output(&events, "call (two) / inner"),
        vec!["v=two where=main".to_string()]
    );
    let after = job_output(&events, "after");
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(
        after[0] == "o=out-one result=success" || after[0] == "o=out-two result=success",
        "{after:?}"
    );
}
