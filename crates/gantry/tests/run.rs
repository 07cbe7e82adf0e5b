//! `gantry run` end to end: the real binary on fixture repositories,
//! covering the engine's run semantics — needs and outputs, matrices, `if:`,
//! env and runner files, shells, workflow commands, secret masking,
//! timeouts, retries, Ctrl-C, events, output formats, stored logs and
//! invalid workflows.

mod fixture;

use std::io::BufRead;
use std::time::{Duration, Instant};

use fixture::{Repo, marker, process_alive, processes_gone};
use serde_json::Value;

// ---------------------------------------------------------------- needs

#[test]
fn needs_run_in_order_and_outputs_flow_to_dependents() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
name: CI
on: push
jobs:
  produce:
    runs-on: ubuntu-latest
    outputs:
      word: ${{ steps.out.outputs.word }}
      lines: ${{ steps.out.outputs.lines }}
      legacy: ${{ steps.old.outputs.legacy }}
    steps:
      - id: out
        run: |
          echo "word=hello" >> "$GITHUB_OUTPUT"
          {
            echo "lines<<END_OF_VALUE"
            echo "first line"
            echo "second line"
            echo "END_OF_VALUE"
          } >> "$GITHUB_OUTPUT"
      - id: old
        run: echo "::set-output name=legacy::from-set-output"
  consume:
    needs: produce
    runs-on: ubuntu-latest
    outputs:
      echoed: ${{ steps.e.outputs.echoed }}
    steps:
      - id: e
        run: |
          echo "word=${{ needs.produce.outputs.word }} legacy=${{ needs.produce.outputs.legacy }}"
          echo "result=${{ needs.produce.result }}"
          printf '%s\n' "$LINES" | sed 's/^/got: /'
          echo "echoed=${{ needs.produce.outputs.word }}-again" >> "$GITHUB_OUTPUT"
        env:
          LINES: ${{ needs.produce.outputs.lines }}
  last:
    needs: [produce, consume]
    runs-on: ubuntu-latest
    steps:
      - run: echo "chain=${{ needs.consume.outputs.echoed }}"
"#,
    );
    let out = repo.run_json(&["-p", "4"]);
    out.code(0);
    let produce = out.job("produce");
    assert_eq!(produce["outputs"]["word"], "hello");
    assert_eq!(produce["outputs"]["lines"], "first line\nsecond line");
    assert_eq!(produce["outputs"]["legacy"], "from-set-output");
    let consume = out.text("consume");
    assert!(
        consume.contains("word=hello legacy=from-set-output\n"),
        "{consume}"
    );
    assert!(consume.contains("result=success\n"), "{consume}");
    assert!(
        consume.contains("got: first line\ngot: second line\n"),
        "{consume}"
    );
    assert!(!consume.contains("END_OF_VALUE"), "{consume}");
    assert_eq!(out.text("last"), "chain=hello-again\n");

    // A dependent starts only after everything it needs finished.
    let events = out.events();
    let at = |kind: &str, job: &str| {
        events
            .iter()
            .position(|e| e["type"] == kind && e["job"] == job)
            .unwrap_or_else(|| panic!("no {kind} for {job}\n{out:?}"))
    };
    assert!(at("job_finished", "produce") < at("job_started", "consume"));
    assert!(at("job_finished", "consume") < at("job_started", "last"));
    assert_eq!(out.finished()["result"], "success");
}

#[test]
fn a_failed_need_skips_dependents_and_status_functions_decide_the_rest() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  broken:
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
  direct:
    needs: broken
    runs-on: ubuntu-latest
    steps:
      - run: echo direct-ran
  transitive:
    needs: direct
    runs-on: ubuntu-latest
    steps:
      - run: echo transitive-ran
  cleanup:
    needs: [broken, transitive]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "cleanup broken=${{ needs.broken.result }} transitive=${{ needs.transitive.result }}"
  on-failure:
    needs: broken
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo on-failure-ran
  on-success:
    needs: broken
    if: success()
    runs-on: ubuntu-latest
    steps:
      - run: echo on-success-ran
  independent:
    runs-on: ubuntu-latest
    steps:
      - run: echo independent-ran
"#,
    );
    let out = repo.run_json(&["-p", "4"]);
    out.code(1);
    assert_eq!(out.result("broken"), "failure");
    for skipped in ["direct", "on-success"] {
        assert_eq!(out.result(skipped), "skipped");
        assert_eq!(out.skip_reason(skipped), "a job it needs failed: broken");
    }
    assert_eq!(out.result("transitive"), "skipped");
    let reason = out.skip_reason("transitive");
    assert!(
        reason.contains("failed") && reason.contains("direct"),
        "{reason}"
    );
    assert_eq!(
        out.text("cleanup"),
        "cleanup broken=failure transitive=skipped\n"
    );
    assert_eq!(out.text("on-failure"), "on-failure-ran\n");
    assert_eq!(out.text("independent"), "independent-ran\n");
    out.lacks("direct-ran")
        .lacks("transitive-ran")
        .lacks("on-success-ran");
    assert_eq!(
        out.annotations("error"),
        ["Process completed with exit code 3."]
    );
    let run = out.finished();
    assert_eq!(run["result"], "failure");
    assert_eq!(run["jobs"].as_array().map(Vec::len), Some(7), "{run}");
}

// ---------------------------------------------------------------- matrix

#[test]
fn matrix_include_exclude_names_and_strategy_context() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  build:
    name: Build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [linux, mac]
        v: [1, 2]
        exclude:
          - os: mac
            v: 1
        include:
          - os: linux
            v: 2
            extra: yes
          - os: bsd
            v: 9
    steps:
      - run: echo "os=${{ matrix.os }} v=${{ matrix.v }} extra=${{ matrix.extra }} index=${{ strategy.job-index }} total=${{ strategy.job-total }}"
  named:
    name: Test on ${{ matrix.os }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [alpha, beta]
    steps:
      - run: echo "named ${{ matrix.os }}"
"#,
    );
    let out = repo.run_json(&["-p", "8"]);
    out.code(0);
    let expected = [
        ("Build (linux, 1)", "os=linux v=1 extra= index=0 total=4\n"),
        (
            "Build (linux, 2, yes)",
            "os=linux v=2 extra=yes index=1 total=4\n",
        ),
        ("Build (mac, 2)", "os=mac v=2 extra= index=2 total=4\n"),
        ("Build (bsd, 9)", "os=bsd v=9 extra= index=3 total=4\n"),
        ("Test on alpha", "named alpha\n"),
        ("Test on beta", "named beta\n"),
    ];
    for (key, text) in expected {
        assert_eq!(out.result(key), "success");
        assert_eq!(out.text(key), text, "job {key}");
    }
    assert_eq!(out.of_type("job_started").len(), 6, "{out:?}");
    out.lacks("Build (mac, 1)").lacks("Build (linux, 2)\"");
}

#[test]
fn fail_fast_cancels_running_siblings() {
    let mark = marker("failfast");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        k: [fails, sleeps]
    steps:
      - run: |
          if [ "${{ matrix.k }}" = fails ]; then
            # Fail once the sibling sleeps, so that fail-fast has something to stop.
            until pgrep -f sleep-MARK > /dev/null; do sleep 0.02; done
            exit 1
          fi
          exec -a sleep-MARK sleep 30
      - run: echo never-after-${{ matrix.k }}
      - if: always()
        run: echo cleanup-${{ matrix.k }}
"#
        .replace("MARK", &mark),
    );
    let out = repo.run_json(&["-p", "4"]);
    out.code(1);
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    assert_eq!(out.result("m (fails)"), "failure");
    assert_eq!(out.result("m (sleeps)"), "cancelled");
    assert_eq!(out.text("m (sleeps)"), "cleanup-sleeps\n");
    assert_eq!(out.text("m (fails)"), "cleanup-fails\n");
    assert_eq!(out.finished()["result"], "failure");
    assert!(
        processes_gone(&mark, Duration::from_secs(2)),
        "a sleeping sibling survived"
    );
}

#[test]
fn fail_fast_false_lets_siblings_finish() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        k: [fails, slow]
    steps:
      - run: |
          if [ "${{ matrix.k }}" = fails ]; then exit 1; fi
          sleep 0.5
          echo slow-finished
"#,
    );
    let out = repo.run_json(&["-p", "4"]);
    out.code(1);
    assert_eq!(out.result("m (fails)"), "failure");
    assert_eq!(out.result("m (slow)"), "success");
    assert_eq!(out.text("m (slow)"), "slow-finished\n");
}

#[test]
fn max_parallel_one_runs_instances_one_at_a_time() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        k: [a, b, c]
    steps:
      - run: |
          echo "start $(date +%s%N)" >> "${{ vars.LOG }}"
          sleep 0.1
          echo "end $(date +%s%N)" >> "${{ vars.LOG }}"
"#,
    );
    let log = repo.scratch("parallel.log");
    let var = format!("LOG={}", log.display());
    repo.run_json(&["-p", "8", "--var", &var]).code(0);
    assert_one_at_a_time(&log, 3);
}

#[test]
fn parallel_flag_bounds_the_jobs_running_at_once() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "start $(date +%s%N)" >> "${{ vars.LOG }}"
          sleep 0.1
          echo "end $(date +%s%N)" >> "${{ vars.LOG }}"
  b:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "start $(date +%s%N)" >> "${{ vars.LOG }}"
          sleep 0.1
          echo "end $(date +%s%N)" >> "${{ vars.LOG }}"
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        k: [1, 2]
    steps:
      - run: |
          echo "start $(date +%s%N)" >> "${{ vars.LOG }}"
          sleep 0.1
          echo "end $(date +%s%N)" >> "${{ vars.LOG }}"
"#,
    );
    let log = repo.scratch("parallel.log");
    let var = format!("LOG={}", log.display());
    repo.run_json(&["-p", "1", "--var", &var]).code(0);
    assert_one_at_a_time(&log, 4);
}

/// Asserts that the `start`/`end` lines with nanosecond times the steps
/// wrote never overlap: each start comes after the previous end.
fn assert_one_at_a_time(log: &std::path::Path, runs: usize) {
    let text = std::fs::read_to_string(log).expect("the log the steps wrote");
    let mut marks: Vec<(&str, u128)> = text
        .lines()
        .map(|l| {
            let (what, at) = l.split_once(' ').expect("`what time`");
            (what, at.parse().expect("nanoseconds"))
        })
        .collect();
    marks.sort_by_key(|m| m.1);
    assert_eq!(marks.len(), 2 * runs, "{text}");
    for pair in marks.chunks(2) {
        assert_eq!(
            (pair[0].0, pair[1].0),
            ("start", "end"),
            "two ran at once:\n{text}"
        );
    }
}

#[test]
fn dynamic_matrix_from_a_needs_output() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  setup:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{ steps.m.outputs.matrix }}
    steps:
      - id: m
        run: echo 'matrix={"k":["x","y"],"include":[{"k":"z","n":1}]}' >> "$GITHUB_OUTPUT"
  fan:
    needs: setup
    runs-on: ubuntu-latest
    strategy:
      matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}
    steps:
      - run: echo "k=${{ matrix.k }} n=${{ matrix.n }} total=${{ strategy.job-total }}"
"#,
    );
    let out = repo.run_json(&["-p", "4"]);
    out.code(0);
    assert_eq!(out.text("fan (x)"), "k=x n= total=3\n");
    assert_eq!(out.text("fan (y)"), "k=y n= total=3\n");
    assert_eq!(out.text("fan (z, 1)"), "k=z n=1 total=3\n");
}

// ---------------------------------------------------------------- step if / continue-on-error

#[test]
fn step_conditions_outcome_conclusion_and_continue_on_error() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  steps:
    runs-on: ubuntu-latest
    steps:
      - id: tolerated
        run: exit 1
        continue-on-error: true
      - name: after tolerated
        run: echo "outcome=${{ steps.tolerated.outcome }} conclusion=${{ steps.tolerated.conclusion }}"
      - id: fails
        name: fails
        run: exit 2
      - id: plain
        name: plain
        run: echo plain-ran
      - name: on failure
        if: failure()
        run: echo "failure-ran fails=${{ steps.fails.outcome }}/${{ steps.fails.conclusion }} plain=${{ steps.plain.outcome }}"
      - name: always
        if: always()
        run: echo always-ran
      - name: on cancel
        if: cancelled()
        run: echo cancelled-ran
      - name: on success
        if: success()
        run: echo success-ran
      - name: false literal
        if: false
        run: echo false-ran
"#,
    );
    let out = repo.run_json(&[]);
    out.code(1);
    let job = "steps";
    assert_eq!(
        out.text(job),
        "outcome=failure conclusion=success\nfailure-ran fails=failure/failure plain=skipped\nalways-ran\n"
    );
    let tolerated = out.step(job, "Run exit 1");
    assert_eq!(
        (
            tolerated["outcome"].as_str(),
            tolerated["conclusion"].as_str()
        ),
        (Some("failure"), Some("success"))
    );
    let fails = out.step(job, "fails");
    assert_eq!(
        (fails["outcome"].as_str(), fails["conclusion"].as_str()),
        (Some("failure"), Some("failure"))
    );
    for skipped in ["plain", "on cancel", "on success", "false literal"] {
        assert_eq!(out.step(job, skipped)["outcome"], "skipped", "{skipped}");
    }
    out.lacks("plain-ran\n")
        .lacks("cancelled-ran")
        .lacks("success-ran")
        .lacks("false-ran");
    assert_eq!(out.result(job), "failure");
}

#[test]
fn job_continue_on_error_keeps_the_run_green() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  experimental:
    runs-on: ubuntu-latest
    continue-on-error: true
    steps:
      - run: exit 1
  after:
    needs: experimental
    runs-on: ubuntu-latest
    steps:
      - run: echo "after-ran ${{ needs.experimental.result }}"
"#,
    );
    let out = repo.run_json(&[]);
    out.code(0);
    assert_eq!(out.result("experimental"), "failure");
    assert_eq!(out.text("after"), "after-ran success\n");
    assert_eq!(out.finished()["result"], "success");
}

// ---------------------------------------------------------------- environment and runner files

#[test]
fn env_precedence_and_runner_files() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
env:
  A: workflow
  B: workflow
  C: workflow
jobs:
  env:
    runs-on: ubuntu-latest
    env:
      B: job
      C: job
    steps:
      - name: precedence
        run: echo "A=$A B=$B C=$C ctx=${{ env.A }}/${{ env.B }}/${{ env.C }}"
        env:
          C: step
      - name: write files
        run: |
          echo "SIMPLE=one" >> "$GITHUB_ENV"
          printf 'MULTI<<EOT\nline 1\nline 2\nEOT\n' >> "$GITHUB_ENV"
          echo "B=from-env-file" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"
          printf '#!/bin/sh\necho mytool-ran\n' > "$RUNNER_TEMP/bin/mytool"
          chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
          echo '## Step summary' >> "$GITHUB_STEP_SUMMARY"
          echo "- item one" >> "$GITHUB_STEP_SUMMARY"
          echo "SIMPLE before=[$SIMPLE]"
      - name: read files
        run: |
          echo "SIMPLE=$SIMPLE ctx=${{ env.SIMPLE }} B=$B"
          echo "MULTI=[$MULTI]"
          mytool
          [ "${PATH%%:*}" = "$RUNNER_TEMP/bin" ] && echo path-prepended
      - name: step env beats env file
        run: echo "B=$B"
        env:
          B: step-again
"#,
    );
    let out = repo.run_json(&[]);
    out.code(0);
    assert_eq!(
        out.text("env"),
        "A=workflow B=job C=step ctx=workflow/job/step\n\
         SIMPLE before=[]\n\
         SIMPLE=one ctx=one B=from-env-file\n\
         MULTI=[line 1\nline 2]\n\
         mytool-ran\n\
         path-prepended\n\
         B=step-again\n"
    );
    let summaries = out.of_type("summary");
    assert_eq!(summaries.len(), 1, "{out:?}");
    assert_eq!(summaries[0]["markdown"], "## Step summary\n- item one\n");
    // The text renderer shows it too.
    let text = repo.run(&[]);
    text.code(0).has("## Step summary").has("- item one");
}

#[test]
fn standard_variables_describe_the_run() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
name: Vars
on: push
jobs:
  vars:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "sha=$GITHUB_SHA"
          echo "ref=$GITHUB_REF name=$GITHUB_REF_NAME type=$GITHUB_REF_TYPE"
          echo "event=$GITHUB_EVENT_NAME ci=$CI actions=$GITHUB_ACTIONS job=$GITHUB_JOB workflow=$GITHUB_WORKFLOW"
          [ "$PWD" = "$GITHUB_WORKSPACE" ] && echo cwd-is-workspace
          [ -d "$RUNNER_TEMP" ] && [ -w "$RUNNER_TEMP" ] && echo temp-ok
          [ "${{ github.workspace }}" = "$GITHUB_WORKSPACE" ] && echo ctx-workspace-ok
          [ "${{ runner.temp }}" = "$RUNNER_TEMP" ] && echo ctx-temp-ok
          [ "${{ github.sha }}" = "$GITHUB_SHA" ] && echo ctx-sha-ok
          echo "payload-after=$(python3 -c 'import json,os;print(json.load(open(os.environ["GITHUB_EVENT_PATH"]))["after"])')"
          echo "os=$RUNNER_OS"
"#,
    );
    let sha = repo.head();
    let out = repo.run_json(&[]);
    out.code(0);
    let text = out.text("vars");
    let expected = format!(
        "sha={sha}\nref=refs/heads/main name=main type=branch\nevent=push ci=true actions=true job=vars workflow=Vars\n\
         cwd-is-workspace\ntemp-ok\nctx-workspace-ok\nctx-temp-ok\nctx-sha-ok\npayload-after={sha}\nos=Linux\n"
    );
    assert_eq!(text, expected);
}

#[test]
fn defaults_working_directory_and_shells() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
defaults:
  run:
    shell: sh
jobs:
  shells:
    runs-on: ubuntu-latest
    steps:
      - run: mkdir -p sub/dir && echo hi > sub/dir/file.txt
      - name: default shell is sh
        run: echo "pipefail=$(set -o | grep -c pipefail || true) bash=${BASH_VERSION:-none}"
      - name: bash
        shell: bash
        run: echo "bash=${BASH_VERSION:+yes}"
      - name: python
        shell: python
        run: |
          import sys
          print("python", sys.version_info[0])
      - name: custom
        shell: perl {0}
        run: print "perl says hi\n";
      - name: working dir
        working-directory: sub/dir
        run: cat file.txt && basename "$PWD"
  defaults:
    runs-on: ubuntu-latest
    defaults:
      run:
        shell: bash
        working-directory: nested
    steps:
      - working-directory: .
        run: mkdir nested
      - run: echo "in=$(basename "$PWD") bash=${BASH_VERSION:+yes}"
"#,
    );
    let out = repo.run_json(&["-p", "2"]);
    out.code(0);
    let text = out.text("shells");
    assert!(
        text.contains("bash=none\n"),
        "defaults.run.shell sh is not bash: {text}"
    );
    assert!(text.contains("bash=yes\n"), "{text}");
    assert!(text.contains("python 3\n"), "{text}");
    assert!(text.contains("perl says hi\n"), "{text}");
    assert!(text.contains("hi\ndir\n"), "{text}");
    assert_eq!(out.text("defaults"), "in=nested bash=yes\n");
}

#[test]
fn missing_shells_and_directories_fail_with_a_clear_error() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  missing:
    runs-on: ubuntu-latest
    steps:
      - name: no such program
        shell: no-such-shell-xyz {0}
        run: echo unreachable-1
        continue-on-error: true
      - name: no placeholder
        shell: no-such-shell-xyz
        run: echo unreachable-2
        continue-on-error: true
      - name: no directory
        working-directory: does/not/exist
        run: echo unreachable-3
"#,
    );
    let out = repo.run_json(&[]);
    out.code(1);
    let errors = out.annotations("error");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].contains("`no-such-shell-xyz` not found") && errors[0].contains("shell:"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("{0}"), "{}", errors[1]);
    assert!(
        errors[2].contains("does/not/exist") && errors[2].contains("does not exist"),
        "{}",
        errors[2]
    );
    out.lacks("unreachable-");
    assert_eq!(
        out.step("missing", "no such program")["conclusion"],
        "success"
    );
    assert_eq!(out.step("missing", "no directory")["conclusion"], "failure");
}

// ---------------------------------------------------------------- workflow commands

#[test]
fn workflow_commands_groups_annotations_masks_and_stop_commands() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  cmds:
    runs-on: ubuntu-latest
    steps:
      - id: s
        run: |
          echo "::group::Build things"
          echo inside-group
          echo "::endgroup::"
          echo "::error file=src/lib.rs,line=3,col=5,title=Bad::something broke"
          echo "::warning::be careful"
          echo "::notice file=notes.txt::take note"
          echo "::debug::hidden debug message"
          echo "::stop-commands::pause-token-7"
          echo "::error::not an annotation"
          echo "::pause-token-7::"
          echo "::add-mask::dynamic-value-55"
          echo "dynamic: dynamic-value-55"
          echo "::set-output name=legacy::works"
          echo done
      - run: echo "legacy=${{ steps.s.outputs.legacy }}"
"#,
    );
    let out = repo.run_json(&[]);
    out.code(0);
    let events = out.events();
    let group = events
        .iter()
        .position(|e| e["type"] == "group_started")
        .expect("group_started");
    assert_eq!(events[group]["title"], "Build things");
    assert_eq!(events[group + 1]["text"], "inside-group\n");
    assert_eq!(events[group + 2]["type"], "group_ended");
    let error = out
        .of_type("annotation")
        .into_iter()
        .find(|a| a["level"] == "error")
        .expect("error annotation");
    assert_eq!(error["message"], "something broke");
    assert_eq!(error["title"], "Bad");
    assert_eq!(error["file"], "src/lib.rs");
    assert_eq!(
        (error["line"].as_u64(), error["col"].as_u64()),
        (Some(3), Some(5))
    );
    let warnings = out.annotations("warning");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0], "be careful");
    assert!(
        warnings[1].contains("`set-output` command is deprecated")
            && warnings[1].contains("$GITHUB_OUTPUT"),
        "{}",
        warnings[1]
    );
    assert_eq!(out.annotations("notice"), ["take note"]);
    assert!(out.of_type("debug").is_empty(), "{out:?}");
    let text = out.text("cmds");
    assert!(
        text.contains(
            "::stop-commands::pause-token-7\n::error::not an annotation\n::pause-token-7::\n"
        ),
        "{text}"
    );
    assert!(text.contains("dynamic: ***\n"), "{text}");
    assert!(text.contains("legacy=works\n"), "{text}");
    out.lacks("dynamic-value-55").lacks("hidden debug message");
    assert!(
        !text.contains("::group::")
            && !text.contains("::set-output")
            && !text.contains("::add-mask"),
        "{text}"
    );
    assert_eq!(
        out.annotations("error").len(),
        1,
        "an error annotation does not fail the step, and is counted once"
    );

    // Text output shows them too.
    let text = repo.run(&[]);
    text.code(0)
        .has("▾ Build things")
        .has("error: Bad: something broke (src/lib.rs:3:5)")
        .has("warning: be careful")
        .lacks("dynamic-value-55");
}

#[test]
fn debug_messages_need_actions_step_debug() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  dbg:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "::debug::visible debug"
          echo "runner-debug=${RUNNER_DEBUG:-unset} ctx=${{ runner.debug }}"
"#,
    );
    let quiet = repo.run_json(&[]);
    quiet.code(0);
    assert!(quiet.of_type("debug").is_empty());
    assert_eq!(quiet.text("dbg"), "runner-debug=unset ctx=\n");
    // Only `true` turns it on.
    let off = repo.run_json(&["--var", "ACTIONS_STEP_DEBUG=false"]);
    off.code(0);
    assert!(off.of_type("debug").is_empty(), "{off:?}");
    for flag in [
        ["--var", "ACTIONS_STEP_DEBUG=true"],
        ["--secret", "ACTIONS_STEP_DEBUG=true"],
    ] {
        let loud = repo.run_json(&flag);
        loud.code(0);
        let debug = loud.of_type("debug");
        assert_eq!(debug.len(), 1, "{loud:?}");
        assert_eq!(debug[0]["message"], "visible debug");
        assert_eq!(loud.text("dbg"), "runner-debug=1 ctx=1\n");
    }
}

#[test]
fn set_env_command_is_refused_and_fails_the_step() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  refuse:
    runs-on: ubuntu-latest
    steps:
      - name: set-env
        run: echo "::set-env name=SNEAKY::value"
      - name: check
        if: always()
        run: echo "SNEAKY=[$SNEAKY]"
  allowed:
    runs-on: ubuntu-latest
    env:
      ACTIONS_ALLOW_UNSECURE_COMMANDS: true
    steps:
      - run: |
          echo "::set-env name=OPTED_IN::yes"
          echo "::add-path::/opted/in/bin"
      - run: echo "OPTED_IN=$OPTED_IN first=${PATH%%:*}"
"#,
    );
    let out = repo.run_json(&["-p", "2"]);
    out.code(1);
    let errors = out.annotations("error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("set-env") && errors[0].contains("$GITHUB_ENV"),
        "{}",
        errors[0]
    );
    assert_eq!(out.step("refuse", "set-env")["outcome"], "failure");
    assert_eq!(out.text("refuse"), "SNEAKY=[]\n");
    assert_eq!(out.result("allowed"), "success");
    assert_eq!(out.text("allowed"), "OPTED_IN=yes first=/opted/in/bin\n");
}

// ---------------------------------------------------------------- secrets

const SECRET: &str = "p@ss w/rd+1\"x";

const MASKING_WORKFLOW: &str = r#"
on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    env:
      S: ${{ secrets.S }}
      ML: ${{ secrets.ML }}
    steps:
      - name: print
        run: |
          echo "plain $S"
          echo "base64 $(printf '%s' "$S" | base64)"
          python3 -c 'import urllib.parse,os;print("url", urllib.parse.quote(os.environ["S"], safe=""))'
          python3 -c 'import json,os;print("json", json.dumps({"k": os.environ["S"]}))'
          echo '{"k":"'"$(printf '%s' "$S" | sed 's/"/\\"/g')"'"}'
          echo "multi $ML"
          echo "::add-mask::added-at-runtime-99"
          echo "runtime added-at-runtime-99"
          printf '%s' "split ${S:0:3}"; sleep 0.05; printf '%s\n' "${S:3}"
          echo "file ${{ secrets.FILE_SECRET }} env ${{ secrets.ENV_SECRET }} gantry ${{ secrets.VIA_GANTRY }}"
          echo "::warning::warned about $S"
          echo "::group::group $S"
          echo "::endgroup::"
          echo "::debug::debug $S"
          echo "stderr $S" >&2
          echo "summary $S" >> "$GITHUB_STEP_SUMMARY"
      - name: later step
        run: echo "still masked added-at-runtime-99"
      - name: interleaved
        run: |
          printf '%s' "interleaved ${S:0:3}"
          sleep 0.05
          echo "from stderr" >&2
          sleep 0.05
          printf '%s\n' "${S:3}"
"#;

fn assert_no_secret(haystack: &str, what: &str) {
    let forbidden = [
        SECRET,
        "p@ss w",
        "cEBzcyB3L3JkKzEieA==",
        "p%40ss%20w%2Frd%2B1%22x",
        "p@ss w/rd+1\\\"x",
        "first-line-11",
        "second-line-22",
        "added-at-runtime-99",
        "w/rd+1",
        "file-secret-77",
        "env-secret-88",
        "gantry-secret-99",
    ];
    for f in forbidden {
        assert!(!haystack.contains(f), "{what} contains {f:?}:\n{haystack}");
    }
}

#[test]
fn secrets_are_masked_in_every_encoding_live_and_in_stored_logs() {
    let repo = Repo::with_workflow("ci.yml", MASKING_WORKFLOW);
    let secret_file = repo.scratch("secrets.env");
    std::fs::write(&secret_file, "FILE_SECRET=file-secret-77\n").expect("write secret file");
    let s = format!("S={SECRET}");
    let args = [
        "--secret",
        s.as_str(),
        "--secret",
        "ML=first-line-11\nsecond-line-22",
        "--secret-file",
        secret_file.to_str().expect("utf-8 path"),
        "--secret",
        "ENV_SECRET",
        "--var",
        "ACTIONS_STEP_DEBUG=true",
    ];
    let env = [
        ("ENV_SECRET", "env-secret-88"),
        ("GANTRY_SECRET_VIA_GANTRY", "gantry-secret-99"),
    ];

    let mut json_args = vec!["run", "--json"];
    json_args.extend_from_slice(&args);
    let out = repo.gantry_env(&json_args, &env);
    out.code(0);
    assert_no_secret(&out.stdout, "--json stdout");
    assert_no_secret(&out.stderr, "stderr");
    let text = out.text("leak");
    // stderr is a pipe of its own: its line may come at any point.
    let (before, interleaved) = text
        .split_once("still masked ***\n")
        .unwrap_or_else(|| panic!("{text}"));
    let lines: Vec<&str> = before
        .lines()
        .filter(|l| !l.starts_with("stderr"))
        .chain(["still masked ***"])
        .collect();
    // The interleaved step's lines may be cut anywhere, but its secret is masked.
    assert!(interleaved.contains("from stderr"), "{interleaved}");
    assert!(interleaved.contains("***"), "{interleaved}");
    assert!(text.contains("stderr ***\n"), "{text}");
    assert_eq!(
        lines,
        [
            "plain ***",
            "base64 ***",
            "url ***",
            "json {\"k\": \"***\"}",
            "{\"k\":\"***\"}",
            "multi ***",
            "***",
            "runtime ***",
            "split ***",
            "file *** env *** gantry ***",
            "still masked ***",
        ],
        "{text}"
    );
    assert_eq!(
        out.annotations("warning").last().map(String::as_str),
        Some("warned about ***")
    );
    assert!(
        out.of_type("group_started")
            .iter()
            .any(|g| g["title"] == "group ***")
    );
    assert_eq!(out.of_type("debug")[0]["message"], "debug ***");
    assert_eq!(out.of_type("summary")[0]["markdown"], "summary ***\n");
    assert_no_secret(&repo.stored_logs(), "stored logs");

    // The text renderer and `gantry logs` mask too.
    let mut text_args = vec!["run"];
    text_args.extend_from_slice(&args);
    let out = repo.gantry_env(&text_args, &env);
    out.code(0).has("[leak]   plain ***");
    assert_no_secret(&out.all(), "text output");
    let logs = repo.gantry(&["logs"]);
    logs.code(0).has("plain ***").has("split ***");
    assert_no_secret(&logs.all(), "gantry logs");
}

#[test]
fn secret_warnings_short_and_missing() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  w:
    runs-on: ubuntu-latest
    steps:
      - run: echo "short=${{ secrets.SHORT }}"
      - run: |
          echo first line
          echo "missing=[${{ secrets.NOT_GIVEN }}]"
"#,
    );
    let out = repo.run_json(&["--secret", "SHORT=ab"]);
    out.code(0);
    let warnings = out.warnings();
    let short = warnings
        .iter()
        .find(|w| w.contains("SHORT"))
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(short.contains("too short"), "{short}");
    let missing = warnings
        .iter()
        .find(|w| w.contains("NOT_GIVEN"))
        .unwrap_or_else(|| panic!("{warnings:?}"));
    assert!(
        missing.starts_with(".github/workflows/ci.yml:10:30: "),
        "{missing}"
    );
    assert!(missing.contains("--secret NOT_GIVEN=VALUE"), "{missing}");
    assert!(out.text("w").contains("missing=[]\n"));
    // A given secret raises no warning.
    let out = repo.run_json(&[
        "--secret",
        "SHORT=long-enough",
        "--secret",
        "NOT_GIVEN=here-it-is",
    ]);
    out.code(0);
    assert!(out.warnings().is_empty(), "{:?}", out.warnings());
}

#[test]
fn secret_sources_and_errors_never_print_a_secret() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  produce:
    runs-on: ubuntu-latest
    outputs:
      leaky: ${{ steps.o.outputs.leaky }}
      fine: ${{ steps.o.outputs.fine }}
    steps:
      - id: o
        run: |
          echo "leaky=before-${{ secrets.TOKEN }}-after" >> "$GITHUB_OUTPUT"
          echo "fine=nothing secret" >> "$GITHUB_OUTPUT"
  consume:
    needs: produce
    runs-on: ubuntu-latest
    steps:
      - run: echo "leaky=[${{ needs.produce.outputs.leaky }}] fine=[${{ needs.produce.outputs.fine }}]"
  errors:
    runs-on: ubuntu-latest
    steps:
      - name: deploy to ${{ secrets.TOKEN }}
        working-directory: ${{ secrets.TOKEN }}
        run: echo unreachable
        continue-on-error: true
      - run: echo ${{ fromJSON(secrets.TOKEN) }}
        continue-on-error: true
      - run: echo "::error file=${{ secrets.TOKEN }}.txt,title=${{ secrets.TOKEN }}::bad ${{ secrets.TOKEN }}"
"#,
    );
    let out = repo.run_json(&["-p", "2", "--secret", "TOKEN=tok-en-value-123"]);
    out.code(0);
    out.lacks("tok-en-value-123");
    assert_no_secret(&repo.stored_logs(), "stored logs");
    assert!(!repo.stored_logs().contains("tok-en-value-123"));
    assert_eq!(
        out.job("produce")["outputs"],
        serde_json::json!({"fine": "nothing secret"})
    );
    assert_eq!(out.text("consume"), "leaky=[] fine=[nothing secret]\n");
    let notices: Vec<Value> = out.of_type("notice");
    assert!(
        notices
            .iter()
            .any(|n| n["message"].as_str().is_some_and(|m| m.contains("`leaky`"))),
        "{notices:?}"
    );
    let errors = out.annotations("error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("working directory") && e.contains("***")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("fromJSON") && e.contains("***")),
        "{errors:?}"
    );
    let starts: Vec<Value> = out
        .of_type("step_started")
        .into_iter()
        .filter(|s| s["job"] == "errors")
        .collect();
    assert_eq!(starts[0]["name"], "deploy to ***");

    // The same run, rendered as text.
    let text = repo.run(&["-p", "2", "--secret", "TOKEN=tok-en-value-123"]);
    text.code(0).lacks("tok-en-value-123").has("deploy to ***");

    // Mistyped `--secret` flags are refused without echoing the value.
    for flag in [
        "BAD-NAME=tok-en-value-123",
        "tok-en-value-123",
        "=tok-en-value-123",
    ] {
        let bad = repo.run(&["--secret", flag]);
        bad.code(2).has("--secret").lacks("tok-en-value-123");
    }
}

// ---------------------------------------------------------------- timeouts and retries

#[test]
fn step_timeout_kills_the_process_tree() {
    let mark = marker("steptimeout");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - name: sleeper
        timeout-minutes: 0.02
        run: |
          (exec -a sleep-MARK-child sleep 1000) &
          bash -c '(exec -a sleep-MARK-grandchild sleep 1000) & wait' &
          echo started
          sleep 60
      - name: after
        if: always()
        run: echo after-timeout
"#
        .replace("MARK", &mark),
    );
    let out = repo.run_json(&[]);
    out.code(1);
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    let sleeper = out.step("slow", "sleeper");
    assert_eq!(sleeper["outcome"], "failure");
    let ms = sleeper["duration_ms"].as_u64().unwrap_or_default();
    assert!(
        (1000..8000).contains(&ms),
        "the step ran {ms} ms, not about 1.2 s"
    );
    assert!(
        out.annotations("error")
            .iter()
            .any(|e| e.contains("timeout-minutes")),
        "{out:?}"
    );
    assert_eq!(out.text("slow"), "started\nafter-timeout\n");
    assert!(
        processes_gone(&mark, Duration::from_secs(2)),
        "a process of the timed-out step survived"
    );
}

#[test]
fn job_timeout_cancels_the_job() {
    let mark = marker("jobtimeout");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    timeout-minutes: 0.02
    steps:
      - run: |
          (exec -a sleep-MARK sleep 1000) &
          sleep 60
      - run: echo never-runs
"#
        .replace("MARK", &mark),
    );
    let out = repo.run_json(&[]);
    out.code(1);
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    assert_eq!(out.result("slow"), "failure");
    assert!(
        out.annotations("error")
            .iter()
            .any(|e| e.contains("timeout of 0.02 minutes")),
        "{out:?}"
    );
    out.lacks("never-runs\\n");
    assert!(
        processes_gone(&mark, Duration::from_secs(2)),
        "a process of the timed-out job survived"
    );
}

#[test]
fn retry_succeeds_on_the_third_attempt_and_reports_attempts() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  retry:
    runs-on: ubuntu-latest
    steps:
      - name: flaky
        retry: {attempts: 3, delay: 0}
        run: |
          n=$(cat "${{ vars.COUNTER }}" 2>/dev/null || echo 0)
          n=$((n + 1))
          echo "$n" > "${{ vars.COUNTER }}"
          echo "attempt $n"
          [ "$n" -ge 3 ]
      - run: echo after-flaky
"#,
    );
    let counter = repo.scratch("counter");
    let var = format!("COUNTER={}", counter.display());
    let out = repo.run_json(&["--var", &var]);
    out.code(0);
    assert_eq!(
        std::fs::read_to_string(&counter).expect("counter").trim(),
        "3"
    );
    assert_eq!(
        out.text("retry"),
        "attempt 1\nattempt 2\nattempt 3\nafter-flaky\n"
    );
    let notices: Vec<String> = out
        .of_type("notice")
        .iter()
        .filter_map(|n| n["message"].as_str().map(str::to_string))
        .collect();
    assert!(
        notices.iter().any(|n| n.contains("attempt 1 of 3 failed")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|n| n.contains("attempt 2 of 3 failed")),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("succeeded on attempt 3 of 3")),
        "{notices:?}"
    );
    assert_eq!(out.step("retry", "flaky")["outcome"], "success");
}

#[test]
fn retry_exhausted_fails_the_step() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  retry:
    runs-on: ubuntu-latest
    steps:
      - name: always fails
        retry: 2
        run: |
          echo x >> "${{ vars.COUNTER }}"
          exit 4
      - run: echo never-runs
"#,
    );
    let counter = repo.scratch("counter");
    let var = format!("COUNTER={}", counter.display());
    let out = repo.run_json(&["--var", &var]);
    out.code(1);
    assert_eq!(
        std::fs::read_to_string(&counter).expect("counter"),
        "x\nx\n"
    );
    assert_eq!(out.step("retry", "always fails")["outcome"], "failure");
    let notices: Vec<String> = out
        .of_type("notice")
        .iter()
        .filter_map(|n| n["message"].as_str().map(str::to_string))
        .collect();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("failed after 2 attempts")),
        "{notices:?}"
    );
    out.lacks("never-runs\\n");
}

// ---------------------------------------------------------------- Ctrl-C

/// Waits until a process matches each marker (they exec'd, so signals reach them).
fn wait_alive(markers: &[&str]) {
    let started = Instant::now();
    while !markers.iter().all(|m| process_alive(m)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{markers:?} did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `gantry run --json` running in the background, its stdout read line by line.
struct Background {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Background {
    fn start(repo: &Repo, args: &[&str]) -> Background {
        let mut all = vec!["run", "--json"];
        all.extend_from_slice(args);
        let mut child = repo
            .command(&all)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn gantry");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            if let Ok(mut s) = sink.lock() {
                s.push_str(&text);
            }
        });
        Background {
            child,
            lines,
            stderr,
        }
    }

    /// Reads lines until one contains `needle` (panics after `limit`).
    fn wait_for(&self, needle: &str, limit: Duration) {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = limit.checked_sub(started.elapsed()).unwrap_or_default();
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(line) => seen.push(line),
                Err(e) => {
                    std::thread::sleep(Duration::from_millis(50));
                    let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
                    panic!(
                        "no line with {needle:?} ({e}); saw:\n{}\nstderr:\n{stderr}",
                        seen.join("\n")
                    )
                }
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    fn interrupt(&self) {
        self.signal("-INT");
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the exit; returns the exit code, the events not read yet and stderr.
    fn finish(mut self, limit: Duration) -> (i32, Vec<Value>, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("gantry did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let events = self
            .lines
            .iter()
            .map(|l| serde_json::from_str(&l).expect("a JSON line"))
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        (status.code().unwrap_or(-1), events, stderr)
    }
}

#[test]
fn ctrl_c_cancels_the_run_runs_always_steps_and_leaves_nothing_behind() {
    let mark = marker("ctrlc");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - name: long
        run: |
          (exec -a sleep-MARK-bg sleep 1000) &
          echo long-started
          exec -a sleep-MARK-fg sleep 30
      - run: echo never-runs
      - name: cleanup
        if: always()
        run: echo "cleanup-ran"
      - name: on cancel
        if: cancelled()
        run: echo "on-cancel-ran"
      - name: on failure
        if: failure()
        run: echo "on-failure-ran"
  later:
    needs: work
    runs-on: ubuntu-latest
    steps:
      - run: echo later-never-runs
"#
        .replace("MARK", &mark),
    );
    let run = Background::start(&repo, &[]);
    // Output is live: the step's first line arrives while the step still runs.
    run.wait_for("long-started", Duration::from_secs(20));
    wait_alive(&[&format!("{mark}-bg"), &format!("{mark}-fg")]);
    let interrupted = Instant::now();
    run.interrupt();
    let (code, events, stderr) = run.finish(Duration::from_secs(20));
    // Well under the step's 30 s; the host executor may use its 5 s SIGTERM
    // grace when the background sleeper is still exiting as the step ends.
    assert!(
        interrupted.elapsed() < Duration::from_secs(9),
        "cancelling took {:?}",
        interrupted.elapsed()
    );
    assert_eq!(code, 1, "{events:?}\n{stderr}");
    assert!(stderr.contains("cancelling the run"), "{stderr}");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "output")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(text, "cleanup-ran\non-cancel-ran\n");
    let finished = events
        .iter()
        .find(|e| e["type"] == "run_finished")
        .expect("run_finished");
    assert_eq!(finished["result"], "cancelled");
    let work = events
        .iter()
        .find(|e| e["type"] == "job_finished" && e["job"] == "work")
        .expect("work finished");
    assert_eq!(work["result"], "cancelled");
    let long = events
        .iter()
        .find(|e| e["type"] == "step_finished" && e["name"] == "long")
        .expect("long finished");
    assert_eq!(long["outcome"], "cancelled");
    let later = events
        .iter()
        .find(|e| e["type"] == "job_skipped" && e["job"] == "later")
        .expect("later skipped");
    assert!(
        later["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cancelled")),
        "{later}"
    );
    assert!(
        processes_gone(&mark, Duration::from_secs(2)),
        "a process survived the cancellation"
    );

    // The text summary says cancelled too.
    let text = repo.gantry(&["logs", "--list"]);
    text.code(0).has("cancelled");
}

#[test]
fn a_sigkilled_gantry_leaves_no_step_process_behind() {
    let mark = marker("sigkill");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - run: |
          (exec -a sleep-MARK-grandchild sleep 1000) &
          echo started
          exec -a sleep-MARK-child sleep 1000
"#
        .replace("MARK", &mark),
    );
    let run = Background::start(&repo, &[]);
    run.wait_for("started", Duration::from_secs(20));
    wait_alive(&[&format!("{mark}-grandchild"), &format!("{mark}-child")]);
    // SIGKILL can't be handled: the watchdog process must do the cleanup.
    run.signal("-KILL");
    let (code, _, _) = run.finish(Duration::from_secs(5));
    assert_eq!(code, -1, "killed by a signal");
    assert!(
        processes_gone(&mark, Duration::from_secs(3)),
        "a step process outlived a SIGKILLed gantry"
    );
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    let mark = marker("ctrlc2");
    let repo = Repo::with_workflow(
        "ci.yml",
        &r#"
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo first-started
          exec -a sleep-MARK-first sleep 30
      - name: stubborn cleanup
        if: always()
        run: |
          echo cleanup-started
          exec -a sleep-MARK-cleanup sleep 30
"#
        .replace("MARK", &mark),
    );
    let run = Background::start(&repo, &[]);
    run.wait_for("first-started", Duration::from_secs(20));
    wait_alive(&[&format!("{mark}-first")]);
    run.interrupt();
    run.wait_for("cleanup-started", Duration::from_secs(10));
    wait_alive(&[&format!("{mark}-cleanup")]);
    let second = Instant::now();
    run.interrupt();
    let (code, events, stderr) = run.finish(Duration::from_secs(10));
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "stopping took {:?}",
        second.elapsed()
    );
    assert_eq!(code, 1, "{events:?}\n{stderr}");
    assert!(stderr.contains("stopping now"), "{stderr}");
    let cleanup = events
        .iter()
        .find(|e| e["type"] == "step_finished" && e["name"] == "stubborn cleanup");
    assert!(
        cleanup.is_none_or(|c| c["outcome"] != "success"),
        "{cleanup:?}"
    );
    let finished = events
        .iter()
        .find(|e| e["type"] == "run_finished")
        .expect("run_finished");
    assert_ne!(finished["result"], "success");
    assert!(
        processes_gone(&mark, Duration::from_secs(2)),
        "a process survived the second Ctrl-C"
    );
}

// ---------------------------------------------------------------- events

#[test]
fn tag_push_runs_tag_workflows_only() {
    let repo = Repo::empty();
    repo.workflow(
        "release.yml",
        r#"
name: Release
on:
  push:
    tags: ['v*']
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - run: echo "ref=$GITHUB_REF name=${{ github.ref_name }} type=${{ github.ref_type }}"
"#,
    );
    repo.workflow(
        "branches.yml",
        r#"
name: Branches
on:
  push:
    branches: [main]
jobs:
  branch:
    runs-on: ubuntu-latest
    steps:
      - run: echo branch-ran
"#,
    );
    repo.commit("init");
    repo.git(&["tag", "v1.0.0"]);
    let out = repo.run_json(&["--event", "tag", "--ref", "v1.0.0"]);
    out.code(0);
    assert_eq!(
        out.text("release"),
        "ref=refs/tags/v1.0.0 name=v1.0.0 type=tag\n"
    );
    out.lacks("branch-ran");
    let push = repo.run_json(&[]);
    push.code(0);
    assert_eq!(push.text("branch"), "branch-ran\n");
    assert!(
        push.of_type("job_started")
            .iter()
            .all(|e| e["job"] != "release")
    );
    // A tag that does not exist is a usage error.
    repo.run(&["--event", "tag", "--ref", "v9.9.9"])
        .code(2)
        .has("v9.9.9");
}

#[test]
fn pull_request_branch_filters_match_the_base() {
    let repo = Repo::with_workflow(
        "pr.yml",
        r#"
on:
  pull_request:
    branches: [main]
jobs:
  pr:
    runs-on: ubuntu-latest
    steps:
      - run: echo "base=$GITHUB_BASE_REF head=$GITHUB_HEAD_REF event=$GITHUB_EVENT_NAME number=${{ github.event.pull_request.number }}"
"#,
    );
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.git(&["commit", "-q", "--allow-empty", "-m", "feature work"]);
    let out = repo.run_json(&["--event", "pull_request", "--base", "main"]);
    out.code(0);
    assert_eq!(
        out.text("pr"),
        "base=main head=feature event=pull_request number=1\n"
    );
    let other = repo.run(&["--event", "pull_request", "--base", "feature"]);
    other
        .code(0)
        .has("nothing to run")
        .has("base branch `feature` does not match")
        .lacks("base=");
}

#[test]
fn workflow_dispatch_inputs_are_typed() {
    let repo = Repo::with_workflow(
        "dispatch.yml",
        r#"
on:
  workflow_dispatch:
    inputs:
      flag:
        type: boolean
        default: false
      level:
        type: choice
        options: [info, debug]
        required: true
      count:
        type: number
        default: 2
      note:
        default: a default
jobs:
  d:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "typed=$TYPED"
          echo "event=$EVENT"
          echo "bool=${{ inputs.flag == true }} string=${{ github.event.inputs.flag == 'true' }} level=${{ inputs.level }}"
          python3 -c 'import json,os;print("file", json.dumps(json.load(open(os.environ["GITHUB_EVENT_PATH"]))["inputs"], sort_keys=True))'
        env:
          TYPED: ${{ toJSON(inputs) }}
          EVENT: ${{ toJSON(github.event.inputs) }}
"#,
    );
    let out = repo.run_json(&[
        "--event",
        "workflow_dispatch",
        "--input",
        "flag=true",
        "--input",
        "level=debug",
    ]);
    out.code(0);
    let text = out.text("d");
    let typed: Value =
        serde_json::from_str(between(&text, "typed=", "event=")).expect("typed inputs JSON");
    assert_eq!(
        typed,
        serde_json::json!({"flag": true, "level": "debug", "count": 2, "note": "a default"})
    );
    let event: Value =
        serde_json::from_str(between(&text, "event=", "bool=")).expect("event inputs JSON");
    assert_eq!(
        event,
        serde_json::json!({"flag": "true", "level": "debug", "count": "2", "note": "a default"})
    );
    assert!(
        text.contains("bool=true string=true level=debug\n"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"file {"count": "2", "flag": "true", "level": "debug", "note": "a default"}"#
        ),
        "{text}"
    );

    let missing = repo.run(&["--event", "workflow_dispatch", "--input", "flag=true"]);
    missing
        .code(2)
        .has("input `level` is required")
        .has("--input level=");
    let bad = repo.run(&["--event", "workflow_dispatch", "--input", "level=loud"]);
    bad.code(2).has("must be one of: info, debug");
    repo.run(&["--input", "level=debug"])
        .code(2)
        .has("--event workflow_dispatch");
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or_else(|| panic!("no {start:?} in {text}"));
    let to = text[from..]
        .find(end)
        .map(|i| from + i)
        .unwrap_or_else(|| panic!("no {end:?} in {text}"));
    text[from..to].trim()
}

#[test]
fn job_flag_runs_the_job_and_its_needs_only() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps: [{run: echo a-ran}]
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{run: echo b-ran}]
  c:
    needs: b
    runs-on: ubuntu-latest
    steps: [{run: echo c-ran}]
  unrelated:
    runs-on: ubuntu-latest
    steps: [{run: echo unrelated-ran}]
"#,
    );
    let out = repo.run_json(&["--job", "b"]);
    out.code(0);
    let started: Vec<String> = out
        .of_type("job_started")
        .iter()
        .filter_map(|e| e["job"].as_str().map(str::to_string))
        .collect();
    assert_eq!(started, ["a", "b"]);
    out.lacks("c-ran").lacks("unrelated-ran");
    repo.run(&["--job", "nope"]).code(2).has("nope");
}

#[test]
fn schedule_event_runs_scheduled_workflows() {
    let repo = Repo::with_workflow(
        "nightly.yml",
        r#"
on:
  schedule:
    - cron: '0 3 * * *'
jobs:
  nightly:
    runs-on: ubuntu-latest
    steps:
      - run: echo "event=$GITHUB_EVENT_NAME schedule=${{ github.event.schedule }}"
"#,
    );
    let out = repo.run_json(&["--event", "schedule"]);
    out.code(0);
    assert_eq!(out.text("nightly"), "event=schedule schedule=0 3 * * *\n");
    repo.run(&[])
        .code(0)
        .has("nothing to run")
        .has("does not listen to `push`");
}

// ---------------------------------------------------------------- output, exit codes, logs

#[test]
fn json_stream_summary_table_and_exit_codes() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
name: Mixed
on: push
jobs:
  good:
    runs-on: ubuntu-latest
    steps:
      - name: say hi
        run: echo hi
  bad:
    runs-on: ubuntu-latest
    steps:
      - run: exit 1
  skipped:
    needs: bad
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  elsewhere:
    runs-on: windows-latest
    steps:
      - run: echo never
"#,
    );
    let out = repo.run_json(&["-p", "2"]);
    out.code(1);
    let events = out.events();
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in [
        "workflow_started",
        "job_started",
        "step_started",
        "output",
        "step_finished",
        "job_finished",
        "job_skipped",
        "annotation",
        "run_finished",
    ] {
        assert!(kinds.contains(kind), "no {kind} event in {kinds:?}");
    }
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some("run_finished".into())
    );
    let step = out.step("good", "say hi");
    assert_eq!(step["outcome"], "success");
    assert!(step["duration_ms"].is_u64());
    assert!(
        out.skip_reason("elsewhere").contains("windows-latest"),
        "{out:?}"
    );
    let jobs = out.finished()["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let results: std::collections::BTreeMap<String, String> = jobs
        .iter()
        .map(|j| {
            (
                j["job"].as_str().unwrap_or_default().to_string(),
                j["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(results.get("good").map(String::as_str), Some("success"));
    assert_eq!(results.get("bad").map(String::as_str), Some("failure"));
    assert_eq!(results.get("skipped").map(String::as_str), Some("skipped"));
    assert_eq!(
        results.get("elsewhere").map(String::as_str),
        Some("skipped")
    );

    // The text form ends with a table of every job.
    let text = repo.run(&["-p", "2"]);
    text.code(1);
    let table: Vec<&str> = text
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("JOB"))
        .collect();
    assert!(
        table[0].contains("RESULT") && table[0].contains("DURATION"),
        "{text:?}"
    );
    for (job, result) in [
        ("good", "✓ success"),
        ("bad", "✗ failure"),
        ("skipped", "- skipped"),
        ("elsewhere", "- skipped"),
    ] {
        let row = table
            .iter()
            .find(|l| l.split_whitespace().next() == Some(job))
            .unwrap_or_else(|| panic!("no row for {job}\n{text:?}"));
        assert!(row.contains(result), "{row}");
        assert!(
            row.trim_end().ends_with("ms") || row.trim_end().ends_with('s'),
            "{row}"
        );
    }
    assert!(text.stdout.contains("✗ run 2 failure"), "{text:?}");
    assert!(text.stdout.contains("gantry logs 2"), "{text:?}");
    text.has("[good]   hi");

    // 0 on success, 2 on usage errors.
    repo.run(&["--job", "good"]).code(0);
    repo.run(&["--event", "nope"])
        .code(2)
        .has("unknown event `nope`");
    repo.run(&["no-such-workflow"])
        .code(2)
        .has("no workflow `no-such-workflow`");
    repo.run(&["--input", "x"]).code(2);
    let outside = tempfile::tempdir().expect("temp dir");
    let mut cmd = repo.command(&["run"]);
    cmd.arg("-C").arg(outside.path());
    let status = cmd.output().expect("run gantry");
    assert_eq!(
        status.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn logs_list_show_and_filter_stored_runs() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  first:
    runs-on: ubuntu-latest
    steps:
      - run: echo "from first ${{ github.run_number }}"
  second:
    runs-on: ubuntu-latest
    steps:
      - run: echo "from second"
      - run: exit ${{ vars.CODE }}
"#,
    );
    repo.gantry(&["logs"]).code(2).has("no runs yet");
    repo.run(&["--var", "CODE=0"]).code(0);
    repo.run(&["--var", "CODE=1"]).code(1);
    let list = repo.gantry(&["logs", "--list"]);
    list.code(0);
    let rows: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{list:?}");
    assert!(
        rows[0].trim_start().starts_with("1 ")
            && rows[0].contains("success")
            && rows[0].contains("push"),
        "{list:?}"
    );
    assert!(
        rows[1].trim_start().starts_with("2 ") && rows[1].contains("failure"),
        "{list:?}"
    );
    let sha = repo.head();
    assert!(rows[0].contains(&sha[..10]), "{list:?}");

    let latest = repo.gantry(&["logs"]);
    latest
        .code(0)
        .has("=== first ===")
        .has("=== second ===")
        .has("from first 2")
        .has("from second");
    latest.has("Process completed with exit code 1");
    let one = repo.gantry(&["logs", "1", "--job", "first"]);
    one.code(0)
        .has("from first 1")
        .lacks("from second")
        .lacks("===");
    repo.gantry(&["logs", "9"]).code(2).has("no run 9");
    repo.gantry(&["logs", "1", "--job", "third"])
        .code(2)
        .has("no job `third`")
        .has("first")
        .has("second");
}

// ---------------------------------------------------------------- invalid workflows

#[test]
fn an_invalid_workflow_is_refused_with_every_error_located() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    neds: b
    steps:
      - run: echo a-ran
  b:
    runs-on: ubuntu-latest
    steps:
      - run: echo b-ran
        shel: bash
  c:
    needs: [zzz]
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.sha( }}
"#,
    );
    let out = repo.run(&[]);
    out.code(2);
    out.has("job `c` needs `zzz`")
        .has(".github/workflows/ci.yml:15:13")
        .has(".github/workflows/ci.yml:18:")
        .lacks("c-ran");
    assert_eq!(
        out.stderr.matches("error:").count(),
        5,
        "four errors and the summary line\n{out:?}"
    );
    out.has("unknown key `neds`")
        .has(".github/workflows/ci.yml:6:5")
        .has("did you mean `needs`?")
        .has("unknown key `shel`")
        .has(".github/workflows/ci.yml:13:9")
        .has("did you mean `shell`?")
        .has("invalid workflow .github/workflows/ci.yml")
        .lacks("a-ran")
        .lacks("b-ran");
    assert!(
        !repo.home().join("runs").exists(),
        "an invalid workflow must not start a run"
    );
    let json = repo.run_json(&[]);
    json.code(2).has("did you mean `needs`?");
}

#[test]
fn runs_on_labels_map_to_runners_and_an_unknown_label_is_an_error() {
    let repo = Repo::with_workflow(
        "ci.yml",
        r#"
on: push
jobs:
  gpu:
    runs-on: [self-hosted, gpu]
    steps:
      - run: echo on-gpu
  mac:
    runs-on: macos-latest
    steps:
      - run: echo never
  mystery:
    runs-on: build-farm
    steps:
      - run: echo never
"#,
    );
    repo.write(
        ".gantry/runners.yml",
        "# labels of this machine\ngpu: host\n",
    );
    repo.commit("runners");
    let out = repo.run_json(&[]);
    out.code(1);
    assert_eq!(out.result("gpu"), "success");
    assert!(out.text("gpu").contains("on-gpu"));
    assert!(out.skip_reason("mac").contains("macos-latest"), "{out:?}");
    assert_eq!(out.result("mystery"), "failure");
    let errors = out.annotations("error").join("\n");
    assert!(
        errors.contains("no runner for `runs-on: build-farm`")
            && errors.contains(".gantry/runners.yml")
            && errors.contains("--runner build-farm=host"),
        "{errors}"
    );
    // A flag maps it too; `plan` shows the same decisions.
    repo.run_json(&["--runner", "build-farm=host"]).code(0);
    repo.gantry(&["plan"])
        .code(0)
        .has("mac — skipped: no runner for `macos-latest` here")
        .has("error: no runner for `build-farm`");
    repo.write(".gantry/runners.yml", "gpu: [not, a, string]\n");
    repo.commit("bad runners");
    repo.gantry(&["run"])
        .code(2)
        .has(".gantry/runners.yml")
        .has("`LABEL: host` or `LABEL: IMAGE`");
}

/// The event's facts are read in-process (refs, configuration, the commit);
/// they must be what git itself says, for loose and for packed objects and
/// refs, for a branch push and for an annotated tag.
#[test]
fn event_facts_match_what_git_says_loose_and_packed() {
    let repo = Repo::empty();
    repo.workflow(
        "facts.yml",
        r#"
on: [push]
jobs:
  facts:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "sha=${{ github.sha }}"
          echo "before=${{ github.event.before }}"
          echo "ref=${{ github.ref }}"
          echo "repo=${{ github.repository }} default=${{ github.event.repository.default_branch }}"
          echo "actor=${{ github.actor }}"
          echo "author=${{ github.event.head_commit.author.name }} <${{ github.event.head_commit.author.email }}>"
          echo "time=${{ github.event.head_commit.timestamp }}"
          printf 'message=%s\n' "$MESSAGE"
        env:
          MESSAGE: ${{ github.event.head_commit.message }}
"#,
    );
    repo.commit("first");
    repo.git(&["tag", "-a", "v1.0", "-m", "release one"]);
    repo.write("a.txt", "a");
    repo.git(&["add", "-A"]);
    let dated = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", repo.home())
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@example.org")
            .env("GIT_COMMITTER_DATE", "2024-02-29T23:30:00+05:30")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    dated(&[
        "commit",
        "-q",
        "-m",
        "Second: \"quoted\"\n\nBody line one\nBody line two",
    ]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        "git@example.com:acme/widgets.git",
    ]);
    repo.git(&["update-ref", "refs/remotes/origin/trunk", "HEAD"]);
    repo.git(&[
        "symbolic-ref",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/trunk",
    ]);
    let expected = |rev: &str, git_ref: &str| {
        let sha = repo.git(&["rev-parse", &format!("{rev}^{{commit}}")]);
        let log = repo.git(&["log", "-1", "--format=%P%x00%an <%ae>%x00%cI%x00%B", &sha]);
        let mut f = log.splitn(4, '\0');
        let before = f.next().unwrap().to_string();
        let author = f.next().unwrap().to_string();
        let time = f.next().unwrap().to_string();
        let message = f.next().unwrap().trim_end().to_string();
        format!(
            "sha={sha}\nbefore={}\nref={git_ref}\nrepo=acme/widgets default=trunk\nactor=Gantry Test\nauthor={author}\ntime={time}\nmessage={message}\n",
            if before.is_empty() {
                "0".repeat(40)
            } else {
                before
            }
        )
    };
    for packed in [false, true] {
        if packed {
            // Everything into packs: objects and refs.
            repo.git(&["gc", "-q", "--aggressive", "--prune=now"]);
            assert!(!repo.path().join(".git/refs/tags/v1.0").exists());
        }
        let out = repo.run_json(&[]);
        out.code(0);
        assert_eq!(
            out.text("facts"),
            expected("HEAD", "refs/heads/main"),
            "packed: {packed}"
        );
        let out = repo.run_json(&["--ref", "refs/tags/v1.0"]);
        out.code(0);
        assert_eq!(
            out.text("facts"),
            expected("v1.0", "refs/tags/v1.0"),
            "packed: {packed}"
        );
    }
    // The committer's time zone is kept, as `%cI` shows it.
    assert!(expected("HEAD", "x").contains("time=2024-02-29T23:30:00+05:30"));
}

/// Runs borrow a work slot kept from run to run: a job never finds what an
/// earlier run left (files, temp files, artifacts), nothing but empty
/// directories stays after a run, and runs at the same time never share a
/// slot.
#[test]
fn work_slots_are_emptied_kept_and_never_shared() {
    let gate = tempfile::tempdir().unwrap();
    let repo = Repo::with_workflow(
        "slots.yml",
        r#"
on: [push]
jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - run: |
          ls -A "$GITHUB_WORKSPACE" "$RUNNER_TEMP" | tr '\n' ' '; echo
          echo "workspace=$GITHUB_WORKSPACE"
          echo data > "$GITHUB_WORKSPACE/left.txt"
          mkdir -p "$GITHUB_WORKSPACE/sub" && echo x > "$GITHUB_WORKSPACE/sub/f"
          echo data > "$RUNNER_TEMP/tmp.txt"
      - uses: actions/upload-artifact@v4
        with:
          name: out
          path: left.txt
      - run: |
          # Only the first run to claim the gate waits at it.
          if [ -e "$GATE/hold" ] && mkdir "$GATE/claim" 2>/dev/null; then
            touch "$GATE/started"
            while [ ! -e "$GATE/open" ]; do sleep 0.05; done
          fi
        env:
          GATE: @GATE@
"#
        .replace("@GATE@", &gate.path().to_string_lossy())
        .as_str(),
    );
    let clean = |out: &fixture::Output| {
        let text = out.text("use");
        let listing = text.lines().next().unwrap_or_default().to_string();
        let workspace = text
            .lines()
            .find_map(|l| l.strip_prefix("workspace="))
            .unwrap_or_default()
            .to_string();
        (listing, workspace)
    };
    let first = repo.run_json(&[]);
    first.code(0);
    let second = repo.run_json(&[]);
    second.code(0);
    // Each run starts empty (the listing names only the two directories).
    for out in [&first, &second] {
        let (listing, _) = clean(out);
        assert!(
            !listing.contains("left.txt") && !listing.contains("tmp.txt"),
            "{listing}"
        );
    }
    // The same slot was reused, and only empty directories (and the slots'
    // lock files) remain.
    assert_eq!(clean(&first).1, clean(&second).1);
    let mut files = Vec::new();
    let mut stack = vec![repo.home().join("work")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else if !entry.file_name().to_string_lossy().ends_with(".lock") {
                files.push(entry.path());
            }
        }
    }
    assert!(files.is_empty(), "left behind: {files:?}");

    // A run held open at its last step keeps its slot: another run at the
    // same time gets a different one.
    std::fs::write(gate.path().join("hold"), "").unwrap();
    let held = repo
        .command(&["run", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gate.path().join("started").exists() {
        assert!(
            Instant::now() < deadline,
            "the held run never reached its last step"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let other = repo.run_json(&[]);
    std::fs::write(gate.path().join("open"), "").unwrap();
    let held = held.wait_with_output().unwrap();
    assert!(held.status.success());
    other.code(0);
    let held_workspace = String::from_utf8_lossy(&held.stdout)
        .lines()
        .find_map(|l| l.split("workspace=").nth(1).map(str::to_string))
        .unwrap_or_default();
    assert!(held_workspace.contains("slot-0"), "{held_workspace}");
    assert!(clean(&other).1.contains("slot-1"), "{}", clean(&other).1);
}

// ---------------------------------------------------------------- environments

const DEPLOYING: &str = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo "deploying to ${{ vars.REGION }}"
  preview:
    runs-on: ubuntu-latest
    environment: preview
    steps:
      - run: echo "previewing"
"#;

const ENVIRONMENTS: &str = r#"
environments:
  production:
    variables: { REGION: eu-west }
    protection:
      reviewers: { required: 2, roles: [maintainer] }
      branches: [main]
"#;

#[test]
fn declared_environments_need_their_approval_and_give_their_variables() {
    let repo = Repo::with_workflow("deploy.yml", DEPLOYING);
    repo.write(".gantry/environments.yml", ENVIRONMENTS);

    // No one approved (and no terminal to ask at): the deploy job fails saying what to do;
    // an undeclared environment is a name only.
    let out = repo.run_json(&[]);
    out.code(1);
    assert_eq!(out.result("build"), "success");
    assert_eq!(out.result("preview"), "success");
    assert_eq!(out.result("deploy"), "failure");
    assert_eq!(
        out.annotations("error"),
        [
            "cannot deploy to environment `production`: it needs 2 approvals from the roles `maintainer`: pass `--approve production` to approve it yourself, or run it on a Gantry server where its reviewers approve it"
        ]
    );
    out.lacks("deploying to");

    // Approved on the command line: it runs with the environment's variables.
    let out = repo.run_json(&["--approve", "production"]);
    out.code(0);
    assert_eq!(out.text("deploy"), "deploying to eu-west\n");

    // The ref rules still hold: a branch that may not deploy is refused, approval or not.
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    let out = repo.run_json(&["--approve", "production"]);
    out.code(1);
    let errors = out.annotations("error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("cannot deploy to environment `production`: branch `feature` may not deploy here: allowed branches are `main`"),
        "{errors:?}"
    );

    // Approving an environment the file does not declare is a mistake worth saying.
    repo.run(&["--approve", "prod"])
        .code(2)
        .has("`--approve prod`: `.gantry/environments.yml` declares no environment `prod` (it declares production)");
}

#[test]
fn a_broken_environments_file_stops_the_run_at_its_place() {
    let repo = Repo::with_workflow("deploy.yml", DEPLOYING);
    repo.write(
        ".gantry/environments.yml",
        "environments:\n  production:\n    protection:\n      reviewer: 1\n",
    );
    repo.run(&[])
        .code(2)
        .has(".gantry/environments.yml:4:7")
        .has("reviewer")
        .lacks("built");
    // `gantry validate` lists it with the workflows' problems.
    repo.gantry(&["validate"])
        .code(1)
        .has("--> .gantry/environments.yml:4:7")
        .has("2 files");
}

#[test]
fn a_wait_timer_is_waited_out_and_said() {
    let repo = Repo::with_workflow("deploy.yml", DEPLOYING);
    repo.write(
        ".gantry/environments.yml",
        "environments:\n  production:\n    protection:\n      wait-timer: 1s\n",
    );
    let out = repo.run_json(&[]);
    out.code(0);
    assert_eq!(out.text("deploy"), "deploying to \n");
    assert!(
        out.stderr
            .contains("gantry: job `deploy` waits for environment `production`: wait timer until"),
        "{}",
        out.stderr
    );
    assert!(
        out.elapsed >= std::time::Duration::from_millis(900),
        "{:?}",
        out.elapsed
    );
}
