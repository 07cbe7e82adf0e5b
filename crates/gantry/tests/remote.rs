//! `gantry remote` against a real `gantry serve`: a local bare repository registered over the API
//! and pushed to, then the runs listed, shown, followed, re-run, dispatched and cancelled from the
//! command line, and the errors a user meets (a refused token, no server, no such run).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "support/server.rs"]
mod support;

use support::{Server, git};

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
    steps:
      - run: echo "greeting=${{ inputs.greeting }} on $GITHUB_EVENT_NAME"
  check:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: test -f "GATE_PATH" && echo "gate open"
"#;

const SLOW: &str = r#"
on: workflow_dispatch
jobs:
  wait:
    runs-on: ubuntu-latest
    steps:
      - run: echo started > STARTED_PATH; sleep 30
"#;

/// `gantry remote ARGS` with the server and token from the environment.
fn remote(server: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .arg("remote")
        .args(args)
        .env("GANTRY_SERVER", server)
        .env("GANTRY_TOKEN", token)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Succeeds (exit 0) and returns stdout.
fn ok(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The words of line `n` of a table.
fn words(table: &str, n: usize) -> Vec<&str> {
    table
        .lines()
        .nth(n)
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

#[test]
fn remote_lists_shows_follows_reruns_dispatches_and_cancels_runs() {
    let root = tempfile::tempdir().unwrap();
    let origin = root.path().join("web.git");
    let work = root.path().join("work");
    let gate = root.path().join("gate");
    let started = root.path().join("started");
    support::bare_repository(&origin, &work);

    let server = Server::start(&root.path().join("data"), &["--grace", "1"]);
    let session = server.login("admin", server.password.as_deref().unwrap());
    let token = server.token(&session);
    let url = server.url.as_str();

    // The OpenAPI document needs no token.
    let document = server.get("/api/openapi.json", &[]);
    assert_eq!(document.status, 200);
    assert_eq!(document.header("content-type"), Some("application/json"));
    assert_eq!(document.json()["openapi"], "3.1.0");

    let body = serde_json::json!({"name": "acme/web", "path": origin}).to_string();
    let registered = server.api("POST", "/api/v1/repositories", &token, &body);
    assert_eq!(registered.status, 201, "{}", registered.body);
    let repos = ok(remote(url, &token, &["repos"]));
    assert!(repos.starts_with("REPOSITORY"), "{repos}");
    assert_eq!(
        words(&repos, 1),
        ["acme/web", "local", "main", "admin"],
        "{repos}"
    );

    // A push runs CI; its check job fails while the gate is closed.
    for (path, text) in [
        (
            ".github/workflows/ci.yml",
            CI.replace("GATE_PATH", gate.to_str().unwrap()),
        ),
        (
            ".github/workflows/slow.yml",
            SLOW.replace("STARTED_PATH", started.to_str().unwrap()),
        ),
    ] {
        let path = work.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "First"]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    let followed = remote(url, &token, &["logs", "acme/web", "1", "--follow"]);
    let text = stdout(&followed);
    assert_eq!(
        followed.status.code(),
        Some(1),
        "{text}{}",
        stderr(&followed)
    );
    assert!(text.contains("[build] greeting= on push\n"), "{text}");
    assert!(text.ends_with("acme/web run #1: failure\n"), "{text}");

    let runs = ok(remote(url, &token, &["runs", "acme/web"]));
    assert_eq!(
        words(&runs, 1)[..6],
        ["#1", "failure", "CI", "(ci.yml)", "main", "push"],
        "{runs}"
    );
    let everywhere = ok(remote(
        url,
        &token,
        &["runs", "--workflow", "ci.yml", "--json"],
    ));
    let everywhere: serde_json::Value = serde_json::from_str(&everywhere).unwrap();
    assert_eq!(everywhere[0]["repository"], "acme/web");
    assert_eq!(everywhere.as_array().unwrap().len(), 1);
    let none = ok(remote(
        url,
        &token,
        &["runs", "acme/web", "--branch", "dev"],
    ));
    assert_eq!(none, "no runs\n");
    let shown = ok(remote(url, &token, &["show", "acme/web", "1"]));
    assert!(shown.contains("state:    failure"), "{shown}");
    assert!(
        shown.contains("\nJOB    STATE    DURATION  RUNNER\n"),
        "{shown}"
    );
    assert!(shown.contains("\nbuild  success  "), "{shown}");
    assert!(shown.contains("\ncheck  failure  "), "{shown}");
    let build = ok(remote(
        url,
        &token,
        &["logs", "acme/web", "1", "--job", "build"],
    ));
    assert!(build.contains("[build] greeting= on push\n"), "{build}");
    assert!(!build.contains("[check]"), "{build}");
    assert!(build.starts_with("[build] ▸ Run echo"), "{build}");

    // Re-run the failed job with the gate open.
    std::fs::write(&gate, "").unwrap();
    let rerun = ok(remote(url, &token, &["rerun", "acme/web", "1", "--failed"]));
    assert!(rerun.starts_with("run #2 (re-run of #1): "), "{rerun}");
    let followed = ok(remote(url, &token, &["logs", "acme/web", "2", "-f"]));
    assert!(followed.contains("[check] gate open\n"), "{followed}");
    assert!(
        followed.ends_with("acme/web run #2: success\n"),
        "{followed}"
    );

    // Dispatch with an input and wait: the logs stream, the exit code tells the conclusion.
    let waited = ok(remote(
        url,
        &token,
        &[
            "dispatch",
            "acme/web",
            "ci.yml",
            "--input",
            "greeting=bonjour",
            "--wait",
        ],
    ));
    assert!(
        waited.starts_with(&format!(
            "acme/web run #3 of .github/workflows/ci.yml queued: {url}/acme/web/runs/3\n"
        )),
        "{waited}"
    );
    assert!(
        waited.contains("[build] greeting=bonjour on workflow_dispatch\n"),
        "{waited}"
    );
    assert!(waited.ends_with("acme/web run #3: success\n"), "{waited}");

    // Cancel a running run.
    ok(remote(url, &token, &["dispatch", "acme/web", "slow.yml"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the slow run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let cancelled = ok(remote(url, &token, &["cancel", "acme/web", "4", "--json"]));
    let cancelled: serde_json::Value = serde_json::from_str(&cancelled).unwrap();
    assert_eq!(cancelled["number"], 4);
    let followed = remote(url, &token, &["logs", "acme/web", "4", "--follow"]);
    assert_eq!(followed.status.code(), Some(1));
    assert!(
        stdout(&followed).contains("acme/web run #4: cancelled"),
        "{}",
        stdout(&followed)
    );

    // What users get wrong, told with what to do.
    let refused = remote(url, "not-a-token", &["repos"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains(
            "the token is not valid: create one on the account page or with POST /api/v1/tokens"
        ),
        "{}",
        stderr(&refused)
    );
    let missing = remote(url, &token, &["show", "acme/web", "99"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("not found: check the name and number"),
        "{}",
        stderr(&missing)
    );
    let ended = remote(url, &token, &["cancel", "acme/web", "3"]);
    assert_eq!(ended.status.code(), Some(2));
    assert!(
        stderr(&ended).contains("run #3 has ended already: nothing to cancel"),
        "{}",
        stderr(&ended)
    );
}

#[test]
fn remote_says_what_to_do_without_a_server_or_a_token() {
    // A port nothing listens on: bound, then released.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{address}");
    let out = remote(&url, "some-token", &["runs", "acme/web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "cannot reach {url}: start `gantry serve` or check --server"
        )),
        "{}",
        stderr(&out)
    );
    let out = remote(&url, "", &["repos"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no API token: pass --token or set GANTRY_TOKEN"),
        "{}",
        stderr(&out)
    );
}
