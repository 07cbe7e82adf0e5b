//! Events becoming runs: forge webhooks (good, bad and missing signatures, pings), pull requests
//! from forks held for approval, cron schedules firing once per slot, and concurrency groups.
//! Real git repositories in temporary directories; no agent takes the runs, so they stay queued.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use gantry_server::schedule::Schedules;
use gantry_server::trigger::Incoming;
use gantry_store::{Role, RunFilter, Status};
use hmac::{KeyInit, Mac};
use serde_json::json;

use crate::world::{Auth, World, commit, git};

async fn admin(world: &World) -> Auth {
    world.user("root", true).await;
    world.login("root").await
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn hook(
    world: &World,
    event: &str,
    signature: Option<&str>,
    body: &str,
) -> crate::world::Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/hooks/github/acme/web")
        .header("content-type", "application/json")
        .header("x-github-event", event);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    world
        .send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

const CI: &str = "on:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

#[tokio::test]
async fn github_webhooks_run_only_with_a_good_signature() {
    let world = World::new().await;
    let auth = admin(&world).await;
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    let first = commit(&origin, &[(".github/workflows/ci.yml", CI)]);

    let mut forge = FakeForge::start().await;
    let registered = world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &auth,
            Some(json!({
                "name": "acme/web", "url": origin, "forge": "github",
                "status_api_url": forge.url, "status_token": "forge-token-123",
            })),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let registered = registered.json();
    let secret = registered["webhook_secret"].as_str().unwrap().to_string();
    assert_eq!(registered["webhook_url"], "/hooks/github/acme/web");
    // The secret is stored sealed, not as given.
    let repository = world
        .store
        .repository_by_name("acme/web")
        .await
        .unwrap()
        .unwrap();
    let stored = repository.webhook_secret.clone().unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));

    let second = commit(&origin, &[("src/main.rs", "fn main() {}\n")]);
    let payload = json!({
        "ref": "refs/heads/main",
        "before": first,
        "after": second,
        "repository": {"full_name": "acme/web", "clone_url": origin},
        "sender": {"login": "ada"},
        "pusher": {"name": "ada"},
        "head_commit": {"id": second, "message": "Add main"},
        "commits": [{"id": second, "added": ["src/main.rs"], "modified": [], "removed": []}],
    })
    .to_string();

    // Wrong and missing signatures are refused and run nothing.
    let bad = hook(
        &world,
        "push",
        Some(&sign("not-the-secret", payload.as_bytes())),
        &payload,
    )
    .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN, "{}", bad.body);
    assert!(bad.body.contains("secret"), "{}", bad.body);
    let missing = hook(&world, "push", None, &payload).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.body);
    let tampered = hook(&world, "push", Some(&sign(&secret, b"{}")), &payload).await;
    assert_eq!(tampered.status, StatusCode::FORBIDDEN);
    let runs = world.store.list_runs(&RunFilter::default()).await.unwrap();
    assert!(runs.is_empty());

    // A ping is answered and ignored.
    let ping = r#"{"zen": "hi", "hook_id": 1}"#;
    let answer = hook(&world, "ping", Some(&sign(&secret, ping.as_bytes())), ping).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);

    // The good signature queues the run, at the pushed commit, fetched into the mirror.
    let good = hook(
        &world,
        "push",
        Some(&sign(&secret, payload.as_bytes())),
        &payload,
    )
    .await;
    assert_eq!(good.status, StatusCode::ACCEPTED, "{}", good.body);
    assert_eq!(good.json()["runs"][0]["number"], 1);
    let runs = world.store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].sha.as_str(),
            runs[0].event.as_str(),
            runs[0].actor.as_str()
        ),
        (second.as_str(), "push", "ada")
    );
    assert_eq!(runs[0].branch.as_deref(), Some("main"));
    let envelope: serde_json::Value =
        serde_json::from_str(&world.store.run_payload(runs[0].id).await.unwrap().unwrap()).unwrap();
    assert_eq!(envelope["event"]["head_commit"]["message"], "Add main");
    assert_eq!(envelope["trigger"]["changed_files"], json!(["src/main.rs"]));

    // The forge hears that the run is pending, on the pushed commit.
    let (path, authorization, body) = forge.next().await;
    assert_eq!(path, format!("/repos/acme/web/statuses/{second}"));
    assert_eq!(authorization, "Bearer forge-token-123");
    assert_eq!(
        (body["state"].as_str(), body["context"].as_str()),
        (Some("pending"), Some("gantry/.github/workflows/ci.yml"))
    );
}

/// A forge's status API on loopback: records what is posted to it.
struct FakeForge {
    url: String,
    received: tokio::sync::mpsc::Receiver<(String, String, serde_json::Value)>,
}

impl FakeForge {
    async fn start() -> FakeForge {
        let (tx, received) = tokio::sync::mpsc::channel(16);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let tx = tx.clone();
            async move {
                let path = request.uri().path().to_string();
                let authorization = request
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                let _ = tx.send((path, authorization, body)).await;
                StatusCode::CREATED
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeForge { url, received }
    }

    async fn next(&mut self) -> (String, String, serde_json::Value) {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.received.recv())
            .await
            .expect("a status within 10 s")
            .unwrap()
    }
}

#[tokio::test]
async fn pull_requests_from_forks_wait_for_a_maintainer() {
    let world = World::new().await;
    let auth = admin(&world).await;
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    let base = commit(&origin, &[(".github/workflows/ci.yml", CI)]);
    let registered = world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &auth,
            Some(json!({"name": "acme/web", "url": origin, "forge": "github"})),
        )
        .await;
    let secret = registered.json()["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    // The fork: a clone with one more commit on a branch.
    let fork = dir.path().join("fork");
    git(
        dir.path(),
        &[
            "clone",
            "--quiet",
            origin.to_str().unwrap(),
            fork.to_str().unwrap(),
        ],
    );
    git(&fork, &["checkout", "--quiet", "-b", "patch"]);
    let head = commit(&fork, &[("README.md", "typo fixed\n")]);
    let payload = json!({
        "action": "opened",
        "number": 7,
        "pull_request": {
            "number": 7,
            "title": "Fix a typo",
            "head": {"ref": "patch", "sha": head, "repo": {"full_name": "mallory/web", "clone_url": fork}},
            "base": {"ref": "main", "sha": base, "repo": {"full_name": "acme/web", "clone_url": origin}},
        },
        "repository": {"full_name": "acme/web", "clone_url": origin},
        "sender": {"login": "mallory"},
    })
    .to_string();
    let answer = hook(
        &world,
        "pull_request",
        Some(&sign(&secret, payload.as_bytes())),
        &payload,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let run = world.store.run_by_number(1, 1).await.unwrap().unwrap();
    assert_eq!(run.status, Status::Waiting);
    assert!(run.status_reason.as_deref().unwrap().contains("approve"));
    assert_eq!(run.git_ref, "refs/pull/7/merge");
    assert_eq!(run.branch.as_deref(), Some("patch"));
    // The run is for the merge of the pull request into its base.
    let mirror = world.state.dispatch.mirror_dir(1);
    let parents = git(&mirror, &["log", "-1", "--format=%P", &run.sha]);
    assert_eq!(parents, format!("{base} {head}"));
    let envelope: serde_json::Value =
        serde_json::from_str(&world.store.run_payload(run.id).await.unwrap().unwrap()).unwrap();
    assert_eq!(envelope["trigger"]["fork"], true);

    // A developer cannot approve; a maintainer can, once.
    let repository = world
        .store
        .repository_by_name("acme/web")
        .await
        .unwrap()
        .unwrap();
    let dev = world.user("dev", false).await;
    let maintainer = world.user("maint", false).await;
    world.grant(&repository, &dev, Role::Developer).await;
    world
        .grant(&repository, &maintainer, Role::Maintainer)
        .await;
    let path = "/api/v1/repositories/acme/web/runs/1/approve";
    let dev_auth = world.login("dev").await;
    let refused = world.call(Method::POST, path, &dev_auth, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let maint_auth = world.login("maint").await;
    let approved = world.call(Method::POST, path, &maint_auth, None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.json()["status"], "queued");
    let again = world.call(Method::POST, path, &maint_auth, None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn schedules_fire_once_per_slot_even_across_restarts() {
    let world = World::new().await;
    let auth = admin(&world).await;
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    commit(
        &origin,
        &[(
            ".github/workflows/nightly.yml",
            "on:\n  schedule:\n    - cron: '*/5 * * * *'\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
        )],
    );
    let registered = world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &auth,
            Some(json!({"name": "acme/web", "path": origin})),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    let schedules = Schedules::default();
    assert_eq!(
        schedules
            .tick(&world.state, at("2026-11-22T10:05:07Z"))
            .await,
        1
    );
    assert_eq!(
        schedules
            .tick(&world.state, at("2026-11-22T10:05:40Z"))
            .await,
        0
    );
    // A restarted server (new scheduler, same database) does not fire the slot again.
    let restarted = Schedules::default();
    assert_eq!(
        restarted
            .tick(&world.state, at("2026-11-22T10:05:59Z"))
            .await,
        0
    );
    assert_eq!(
        restarted
            .tick(&world.state, at("2026-11-22T10:06:00Z"))
            .await,
        0
    );
    assert_eq!(
        restarted
            .tick(&world.state, at("2026-11-22T10:10:01Z"))
            .await,
        1
    );
    let runs = world.store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r.event == "schedule" && r.git_ref == "refs/heads/main")
    );
}

#[tokio::test]
async fn a_concurrency_group_keeps_one_pending_run_and_cancels_in_progress_when_asked() {
    let world = World::new().await;
    let auth = admin(&world).await;
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    let workflow = |cancel: bool| {
        format!(
            "on: push\nconcurrency:\n  group: deploy-${{{{ github.ref }}}}\n  cancel-in-progress: {cancel}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"
        )
    };
    let first = commit(
        &origin,
        &[(".github/workflows/deploy.yml", &workflow(false))],
    );
    world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &auth,
            Some(json!({"name": "acme/web", "path": origin})),
        )
        .await;
    let repository = world
        .store
        .repository_by_name("acme/web")
        .await
        .unwrap()
        .unwrap();
    let git_dir = world.state.dispatch.git_dir(&repository).await.unwrap();
    let push = |before: &str, after: &str| Incoming::Push {
        git_ref: "refs/heads/main".into(),
        before: before.into(),
        after: after.into(),
        actor: "ada".into(),
        changed_files: None,
        payload: None,
    };
    let zero = gantry_server::git::ZERO_SHA;
    let one =
        gantry_server::control::trigger(&world.state, &repository, &git_dir, push(zero, &first))
            .await
            .unwrap();
    assert_eq!(
        one.runs[0].concurrency_group.as_deref(),
        Some("acme/web:deploy-refs/heads/main")
    );
    let second = commit(&origin, &[("a", "1")]);
    gantry_server::control::trigger(&world.state, &repository, &git_dir, push(&first, &second))
        .await
        .unwrap();
    // The newer run replaced the pending one.
    let run1 = world.store.run(one.runs[0].id).await.unwrap().unwrap();
    assert_eq!(run1.status, Status::Completed);
    assert!(run1.status_reason.unwrap().contains("replaced"));

    // With cancel-in-progress, a running run of the group is to be stopped.
    let third = commit(
        &origin,
        &[(".github/workflows/deploy.yml", &workflow(true))],
    );
    let run2 = world
        .store
        .run_by_number(repository.id, 2)
        .await
        .unwrap()
        .unwrap();
    assert!(world.store.start_run(run2.id).await.unwrap());
    let triggered =
        gantry_server::control::trigger(&world.state, &repository, &git_dir, push(&second, &third))
            .await
            .unwrap();
    assert_eq!(triggered.runs.len(), 1);
    let run2 = world.store.run(run2.id).await.unwrap().unwrap();
    assert_eq!(
        run2.conclusion,
        Some(gantry_store::Conclusion::Cancelled),
        "{run2:?}"
    );
}

#[tokio::test]
async fn remote_repositories_are_polled_and_moved_refs_run() {
    let world = World::new().await;
    let auth = admin(&world).await;
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    commit(&origin, &[(".github/workflows/ci.yml", CI)]);
    let registered = world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &auth,
            Some(json!({"name": "acme/web", "url": origin})),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    assert_eq!(registered.json()["kind"], "remote");
    // What was there at registration is not an event.
    assert_eq!(gantry_server::poll::poll_once(&world.state).await, 0);
    let head = commit(&origin, &[("b", "2")]);
    assert_eq!(gantry_server::poll::poll_once(&world.state).await, 1);
    assert_eq!(gantry_server::poll::poll_once(&world.state).await, 0);
    let runs = world.store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        (runs[0].sha.as_str(), runs[0].event.as_str()),
        (head.as_str(), "push")
    );
    // A bad URL is refused at registration, with what to do.
    let bad = world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &auth,
            Some(json!({"name": "acme/gone", "url": "/no/such/repo"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("reachable"), "{}", bad.body);
}

#[tokio::test]
async fn retention_prunes_completed_runs_by_the_settings() {
    let world = World::new().await;
    let repository = world.repository("acme/web").await;
    let mut runs = Vec::new();
    for i in 0..4 {
        runs.push(world.run(&repository, "main", &format!("run {i}")).await);
    }
    for run in &runs[..3] {
        world.store.start_run(run.id).await.unwrap();
        world
            .store
            .finish_run(run.id, gantry_store::Conclusion::Success)
            .await
            .unwrap();
    }
    let now = jiff::Timestamp::now();
    // No settings: nothing goes.
    assert_eq!(
        gantry_server::retention::prune(&world.store, now)
            .await
            .unwrap(),
        0
    );
    world
        .store
        .set_setting("retention_runs", "2")
        .await
        .unwrap();
    // The two newest stay (one of them still queued); the two oldest completed ones go.
    assert_eq!(
        gantry_server::retention::prune(&world.store, now)
            .await
            .unwrap(),
        2
    );
    world
        .store
        .set_setting("retention_days", "1")
        .await
        .unwrap();
    let later = now + jiff::SignedDuration::from_hours(49);
    // Two days later the last completed run goes too; the queued one never does.
    assert_eq!(
        gantry_server::retention::prune(&world.store, later)
            .await
            .unwrap(),
        1
    );
    let left = world.store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, runs[3].id);
}
