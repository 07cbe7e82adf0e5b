//! What the pages and the API show of seeded runs, jobs and logs.

use axum::http::StatusCode;
use gantry_store::{Conclusion, Role};

use crate::world::{Auth, World};

async fn world_with_viewer() -> (World, gantry_store::Repository, Auth) {
    let world = World::new().await;
    let repository = world.repository("acme/app").await;
    let viewer = world.user("viewer", false).await;
    world.grant(&repository, &viewer, Role::Viewer).await;
    let session = world.login("viewer").await;
    (world, repository, session)
}

#[tokio::test]
async fn the_run_page_shows_jobs_and_their_logs_as_escaped_text() {
    let (world, repository, session) = world_with_viewer().await;
    let run = world
        .finished_run(
            &repository,
            "main",
            &[
                (
                    "build",
                    Conclusion::Success,
                    "compiling\n<script>alert(1)</script>\n",
                ),
                ("test", Conclusion::Failure, "1 test failed & more\n"),
            ],
            Conclusion::Failure,
        )
        .await;
    // The failed job is shown by default; the other one when asked for.
    let page = world.get("/acme/app/runs/1", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.body.contains("1 test failed &amp; more"),
        "{}",
        page.body
    );
    let build = world.store.jobs(run.id).await.unwrap()[0].id;
    let page = world
        .get(&format!("/acme/app/runs/1?job={build}"), &session)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("build"));
    assert!(page.body.contains("state success"));
    assert!(page.body.contains("state failure"));
    assert!(page.body.contains("Fix the build"));
}

#[tokio::test]
async fn the_dashboard_shows_the_latest_run_of_each_branch() {
    let (world, repository, session) = world_with_viewer().await;
    world
        .finished_run(&repository, "main", &[], Conclusion::Failure)
        .await;
    world
        .finished_run(&repository, "main", &[], Conclusion::Success)
        .await;
    world.run(&repository, "feature", "Try things").await;
    let page = world.get("/", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("/acme/app/runs/2"), "{}", page.body);
    assert!(page.body.contains("/acme/app/runs/3"));
    assert!(
        !page.body.contains("/acme/app/runs/1\""),
        "only the latest per branch"
    );
    assert!(page.body.contains("state success"));
    assert!(page.body.contains("state queued"));
    assert!(!page.body.contains("state failure"));
}

#[tokio::test]
async fn the_repository_page_pages_through_runs_newest_first() {
    let (world, repository, session) = world_with_viewer().await;
    for n in 1..=60 {
        world.run(&repository, "main", &format!("Commit {n}")).await;
    }
    let first = world.get("/acme/app", &session).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains(">#60<"));
    assert!(first.body.contains(">#11<"));
    assert!(!first.body.contains(">#10<"));
    assert!(first.body.find(">#60<") < first.body.find(">#59<"));
    assert!(
        first.body.contains("href=\"/acme/app?before=11\""),
        "{}",
        first.body
    );
    let second = world.get("/acme/app?before=11", &session).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains(">#10<"));
    assert!(second.body.contains(">#1<"));
    assert!(!second.body.contains(">#11<"));
    assert!(!second.body.contains("Older runs"));
    let bad = world.get("/acme/app?before=999", &session).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_api_lists_runs_with_a_cursor_and_shows_a_run_with_its_jobs() {
    let (world, repository, session) = world_with_viewer().await;
    for _ in 0..3 {
        world
            .finished_run(
                &repository,
                "main",
                &[("build", Conclusion::Success, "ok\n")],
                Conclusion::Success,
            )
            .await;
    }
    let page = world
        .get("/api/v1/repositories/acme/app/runs?limit=2", &session)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let json = page.json();
    let numbers: Vec<i64> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2]);
    assert_eq!(json["next_before"], 2);
    let rest = world
        .get(
            "/api/v1/repositories/acme/app/runs?limit=2&before=2",
            &session,
        )
        .await
        .json();
    assert_eq!(rest["runs"][0]["number"], 1);
    assert_eq!(rest["next_before"], serde_json::Value::Null);

    let run = world
        .get("/api/v1/repositories/acme/app/runs/1", &session)
        .await
        .json();
    assert_eq!(run["number"], 1);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "success");
    assert_eq!(run["branch"], "main");
    assert_eq!(run["jobs"][0]["name"], "build");
    assert_eq!(run["jobs"][0]["state"], "success");
    assert!(run["jobs"][0]["duration_ms"].as_i64().unwrap() >= 0);

    let bad = world
        .get("/api/v1/repositories/acme/app/runs?limit=0", &session)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit")
    );
}

#[tokio::test]
async fn pages_stay_fast_with_ten_thousand_runs() {
    let (world, repository, session) = world_with_viewer().await;
    let seeding = std::time::Instant::now();
    for n in 1..=10_000 {
        let branch = format!("branch-{}", n % 20);
        world.run(&repository, &branch, "Commit").await;
    }
    eprintln!("seeded 10,000 runs in {:?}", seeding.elapsed());
    for path in [
        "/",
        "/acme/app",
        "/acme/app?before=5000",
        "/acme/app/runs/9999",
        "/api/v1/repositories/acme/app/runs",
    ] {
        // The first request warms the connection pool and caches; the second is measured.
        world.get(path, &session).await;
        let started = std::time::Instant::now();
        let answer = world.get(path, &session).await;
        let took = started.elapsed();
        eprintln!("{path}: {took:?}");
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        // Generous for a debug build on a loaded machine; a scan of every run would miss it.
        assert!(
            took < std::time::Duration::from_millis(500),
            "{path} took {took:?}"
        );
    }
}
