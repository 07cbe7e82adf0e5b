//! `gantry serve --database postgres://…`: the real binary on a throwaway PostgreSQL cluster (the
//! store's test cluster, started on first use): a push runs and goes green, and everything — the
//! admin, the token, the run and its log — is still there after a restart.

#[path = "support/server.rs"]
mod support;

// Only the cluster's URL is used here; the stores it also makes are for the other suites.
#[allow(dead_code)]
#[path = "../../gantry-store/tests/store/backend.rs"]
mod backend;

use support::{Server, commit, git};

const CI: &str = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "built $(cat VERSION) on postgres"
"#;

#[test]
fn serve_on_postgres_runs_a_push_and_keeps_everything_across_a_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(backend::postgres_url());
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let origin = root.path().join("web.git");
    let work = root.path().join("work");
    support::bare_repository(&origin, &work);

    let mut server = Server::start(&data, &["--database", &url]);
    let password = server.password.clone().unwrap();
    let token = server.token(&server.login("admin", &password));
    let body = serde_json::json!({"name": "acme/web", "path": origin}).to_string();
    let registered = server.api("POST", "/api/v1/repositories", &token, &body);
    assert_eq!(registered.status, 201, "{}", registered.body);
    commit(
        &work,
        &[(".github/workflows/ci.yml", CI), ("VERSION", "2.0\n")],
        "First",
    );
    git(&work, &["push", "--quiet", "origin", "main"]);
    let run = server.wait_run(&token, "acme/web", 1);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(server.stop("-TERM"), Some(0));
    // Nothing of it lives in the data directory's SQLite file.
    assert!(!data.join("gantry.db").exists());

    let server = Server::start(&data, &["--database", &url]);
    assert!(server.password.is_none(), "the admin was kept");
    let run = server.wait_run(&token, "acme/web", 1);
    assert_eq!(run["conclusion"], "success", "{run}");
    let job = run["jobs"][0]["id"].clone();
    let log = server.api(
        "GET",
        &format!("/api/v1/repositories/acme/web/runs/1/jobs/{job}/log"),
        &token,
        "",
    );
    assert!(log.body.contains("built 2.0 on postgres"), "{}", log.body);
}
