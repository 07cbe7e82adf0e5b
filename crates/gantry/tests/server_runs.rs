//! The server running workflows, end to end: a real `gantry serve` with its in-process agent, a
//! local bare repository registered over the API, and `git push` — whose hook makes the run —
//! then dispatch with inputs, cancel, re-run of failed jobs, and a `kill -9` in the middle of a
//! run, after which the restarted server finishes it.

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/server.rs"]
mod support;

use support::{Server, commit, git};

const CI: &str = r#"
name: CI
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      greeting:
        type: string
        default: hello
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      answer: ${{ steps.a.outputs.answer }}
    steps:
      - uses: actions/checkout@v4
      - id: a
        run: |
          echo "built $(cat VERSION) for $GITHUB_EVENT_NAME"
          echo "greeting=${{ inputs.greeting }}"
          echo "answer=42" >> "$GITHUB_OUTPUT"
          mkdir -p dist && cp VERSION dist/
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: dist/
  check:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: test -f "$GATE" && echo "gate open, answer ${{ needs.build.outputs.answer }}"
        env:
          GATE: GATE_PATH
"#;

const SLOW: &str = r#"
on: workflow_dispatch
jobs:
  wait:
    runs-on: ubuntu-latest
    steps:
      - run: echo started > STARTED_PATH; sleep 30; echo finished
"#;

fn job_log(server: &Server, token: &str, run: &serde_json::Value, key: &str) -> String {
    let job = run["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["key"] == key)
        .unwrap_or_else(|| panic!("no job {key} in {run}"));
    let path = format!(
        "/api/v1/repositories/acme/web/runs/{}/jobs/{}/log",
        run["number"], job["id"]
    );
    let answer = server.api("GET", &path, token, "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

fn states(run: &serde_json::Value) -> Vec<String> {
    let mut all: Vec<String> = run["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            format!(
                "{}: {}",
                j["key"].as_str().unwrap(),
                j["state"].as_str().unwrap()
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn pushes_run_workflows_and_runs_can_be_dispatched_cancelled_rerun_and_survive_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let origin = root.path().join("web.git");
    let work = root.path().join("work");
    let gate = root.path().join("gate");
    let started = root.path().join("started");
    support::bare_repository(&origin, &work);

    let mut server = Server::start(&data, &["--grace", "1"]);
    let password = server.password.clone().unwrap();
    let session = server.login("admin", &password);
    let token = server.token(&session);

    // Register the bare repository: Gantry installs its push hook.
    let body = serde_json::json!({"name": "acme/web", "path": origin}).to_string();
    let registered = server.api("POST", "/api/v1/repositories", &token, &body);
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert!(origin.join("hooks/post-receive").exists());
    // Registering it twice is refused with what to do.
    let again = server.api("POST", "/api/v1/repositories", &token, &body);
    assert_eq!(again.status, 400);
    assert!(again.body.contains("registered already"), "{}", again.body);

    // A push runs the workflow: the check job fails while the gate is closed.
    let ci = CI.replace("GATE_PATH", gate.to_str().unwrap());
    let slow = SLOW.replace("STARTED_PATH", started.to_str().unwrap());
    commit(
        &work,
        &[
            (".github/workflows/ci.yml", &ci),
            (".github/workflows/slow.yml", &slow),
            ("VERSION", "1.0\n"),
        ],
        "First",
    );
    let pushed = git(&work, &["push", "--quiet", "origin", "main"]);
    let said = String::from_utf8_lossy(&pushed.stderr);
    assert!(
        said.contains("gantry: run #1 of .github/workflows/ci.yml queued"),
        "{said}"
    );
    let run = server.wait_run(&token, "acme/web", 1);
    assert_eq!(run["conclusion"], "failure", "{run}");
    assert_eq!(run["actor"], "ada");
    assert_eq!(states(&run), ["build: success", "check: failure"]);
    let build = job_log(&server, &token, &run, "build");
    assert!(build.contains("built 1.0 for push\n"), "{build}");
    assert!(build.contains("##[step]0 "), "{build}");
    // Its artifact is listed and downloads as a tar archive.
    let artifacts = server.api(
        "GET",
        "/api/v1/repositories/acme/web/runs/1/artifacts",
        &token,
        "",
    );
    assert_eq!(artifacts.status, 200, "{}", artifacts.body);
    assert_eq!(artifacts.json()[0]["name"], "dist");
    let cookie = format!("gantry_session={session}");
    let archive = server.get("/acme/web/runs/1/artifacts/dist", &[("Cookie", &cookie)]);
    assert_eq!(archive.status, 200);
    assert_eq!(archive.header("content-type"), Some("application/x-tar"));
    assert!(archive.body.contains("VERSION") && archive.body.contains("1.0\n"));

    // Re-run the failed jobs with the gate open: build keeps its result (and output).
    std::fs::write(&gate, "").unwrap();
    let rerun = server.api(
        "POST",
        "/api/v1/repositories/acme/web/runs/1/rerun",
        &token,
        r#"{"failed_only": true}"#,
    );
    assert_eq!(rerun.status, 201, "{}", rerun.body);
    assert_eq!(rerun.json()["number"], 2);
    let run = server.wait_run(&token, "acme/web", 2);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["attempt"], 2);
    assert_eq!(states(&run), ["build: success", "check: success"]);
    assert!(job_log(&server, &token, &run, "check").contains("gate open, answer 42\n"));
    assert_eq!(
        job_log(&server, &token, &run, "build"),
        "",
        "build was not run again"
    );

    // Dispatch with an input.
    let dispatched = server.api(
        "POST",
        "/api/v1/repositories/acme/web/dispatches",
        &token,
        r#"{"workflow": "ci.yml", "ref": "main", "inputs": {"greeting": "bonjour"}}"#,
    );
    assert_eq!(dispatched.status, 201, "{}", dispatched.body);
    let run = server.wait_run(&token, "acme/web", 3);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["event"], "workflow_dispatch");
    assert!(job_log(&server, &token, &run, "build").contains("greeting=bonjour\n"));
    // A workflow that does not exist is an error that says so.
    let missing = server.api(
        "POST",
        "/api/v1/repositories/acme/web/dispatches",
        &token,
        r#"{"workflow": "nope.yml"}"#,
    );
    assert_eq!(missing.status, 400);
    assert!(
        missing
            .body
            .contains("no workflow `.github/workflows/nope.yml`"),
        "{}",
        missing.body
    );

    // Cancel a running run.
    let dispatched = server.api(
        "POST",
        "/api/v1/repositories/acme/web/dispatches",
        &token,
        r#"{"workflow": "slow.yml"}"#,
    );
    assert_eq!(dispatched.status, 201, "{}", dispatched.body);
    wait_for_file(&started);
    let cancelled = server.api(
        "POST",
        "/api/v1/repositories/acme/web/runs/4/cancel",
        &token,
        "",
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let begun = Instant::now();
    let run = server.wait_run(&token, "acme/web", 4);
    assert_eq!(run["conclusion"], "cancelled", "{run}");
    assert!(
        begun.elapsed() < Duration::from_secs(20),
        "cancelling took {:?}",
        begun.elapsed()
    );

    // kill -9 during a run: the restarted server runs it again and finishes it.
    std::fs::remove_file(&started).unwrap();
    let slow_fast = SLOW
        .replace("STARTED_PATH", started.to_str().unwrap())
        .replace("sleep 30", "sleep 2");
    commit(
        &work,
        &[(".github/workflows/slow.yml", &slow_fast)],
        "Faster",
    );
    git(&work, &["push", "--quiet", "origin", "main"]);
    let run = server.wait_run(&token, "acme/web", 5);
    assert_eq!(run["conclusion"], "success");

    // A live log: the viewer joins while the step sleeps and gets the rest as it is printed.
    let dispatched = server.api(
        "POST",
        "/api/v1/repositories/acme/web/dispatches",
        &token,
        r#"{"workflow": "slow.yml"}"#,
    );
    assert_eq!(dispatched.status, 201, "{}", dispatched.body);
    wait_for_file(&started);
    let detail = server.api("GET", "/api/v1/repositories/acme/web/runs/6", &token, "");
    let job_id = detail.json()["jobs"][0]["id"].clone();
    let cookie = format!("gantry_session={session}");
    let live = server.get(
        &format!("/acme/web/runs/6/jobs/{job_id}/live"),
        &[("Cookie", &cookie)],
    );
    assert_eq!(live.status, 200);
    assert_eq!(live.header("content-type"), Some("text/event-stream"));
    assert!(live.body.contains("event: log"), "{}", live.body);
    assert!(live.body.contains("finished"), "{}", live.body);
    assert!(
        live.body.trim_end().ends_with("event: done\ndata: 1"),
        "{}",
        live.body
    );
    assert_eq!(
        server.wait_run(&token, "acme/web", 6)["conclusion"],
        "success"
    );
    std::fs::remove_file(&started).unwrap();

    let dispatched = server.api(
        "POST",
        "/api/v1/repositories/acme/web/dispatches",
        &token,
        r#"{"workflow": "slow.yml"}"#,
    );
    assert_eq!(dispatched.status, 201, "{}", dispatched.body);
    wait_for_file(&started);
    server.stop("-KILL");
    let server = Server::start(&data, &[]);
    assert!(server.password.is_none());
    let run = server.wait_run(&token, "acme/web", 7);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert!(job_log(&server, &token, &run, "wait").contains("finished\n"));
    // Finished runs kept their records.
    assert_eq!(
        server.wait_run(&token, "acme/web", 3)["conclusion"],
        "success"
    );
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const PATIENT: &str = r#"
on: workflow_dispatch
jobs:
  wait:
    runs-on: ubuntu-latest
    steps:
      - run: echo attempt >> ATTEMPTS_PATH; echo started > STARTED_PATH; sleep SECONDS; echo finished
"#;

/// SIGTERM: a step that ends within the grace period finishes and its run is recorded before the
/// server exits; one that would outlast it is handed back and run again by the next start.
#[test]
fn sigterm_lets_running_steps_finish_within_the_grace_period_or_hands_them_back() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let origin = root.path().join("web.git");
    let work = root.path().join("work");
    let started = root.path().join("started");
    let attempts = root.path().join("attempts");
    support::bare_repository(&origin, &work);
    let workflow = |seconds: &str| {
        PATIENT
            .replace("ATTEMPTS_PATH", attempts.to_str().unwrap())
            .replace("STARTED_PATH", started.to_str().unwrap())
            .replace("SECONDS", seconds)
    };
    commit(
        &work,
        &[
            (".github/workflows/short.yml", &workflow("1")),
            (".github/workflows/long.yml", &workflow("4")),
        ],
        "Workflows",
    );
    git(&work, &["push", "--quiet", "origin", "main"]);

    let mut server = Server::start(&data, &["--grace", "10"]);
    let password = server.password.clone().unwrap();
    let token = server.token(&server.login("admin", &password));
    let body = serde_json::json!({"name": "acme/web", "path": origin}).to_string();
    assert_eq!(
        server
            .api("POST", "/api/v1/repositories", &token, &body)
            .status,
        201
    );
    let dispatch = |server: &Server, workflow: &str| {
        let body = format!(r#"{{"workflow": "{workflow}"}}"#);
        let answer = server.api(
            "POST",
            "/api/v1/repositories/acme/web/dispatches",
            &token,
            &body,
        );
        assert_eq!(answer.status, 201, "{}", answer.body);
    };

    // Within the grace period: the step finishes, then the server exits cleanly.
    dispatch(&server, "short.yml");
    wait_for_file(&started);
    assert_eq!(server.stop("-TERM"), Some(0));
    let mut server = Server::start(&data, &["--grace", "1"]);
    let run = server.wait_run(&token, "acme/web", 1);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert!(job_log(&server, &token, &run, "wait").contains("finished\n"));
    assert_eq!(
        std::fs::read_to_string(&attempts).unwrap().lines().count(),
        1
    );

    // Beyond it: the step is stopped, the run handed back, and the next start runs it again.
    std::fs::remove_file(&started).unwrap();
    dispatch(&server, "long.yml");
    wait_for_file(&started);
    let begun = Instant::now();
    assert_eq!(server.stop("-TERM"), Some(0));
    assert!(
        begun.elapsed() < Duration::from_secs(4),
        "stopping took {:?}",
        begun.elapsed()
    );
    let server = Server::start(&data, &[]);
    let run = server.wait_run(&token, "acme/web", 2);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(
        std::fs::read_to_string(&attempts).unwrap().lines().count(),
        3
    );
}
