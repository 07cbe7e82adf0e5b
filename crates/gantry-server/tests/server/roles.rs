//! The role matrix: site admin, repository admin, maintainer, developer, viewer, a user without a
//! role, and an anonymous caller, against every class of endpoint (pages and API), reading and
//! acting (dispatch, cancel, re-run, approve; through the API and through the forms).

use axum::http::{Method, StatusCode};
use gantry_store::{Conclusion, Role};
use serde_json::json;

use crate::world::{Auth, World, commit};

/// What an endpoint class answers a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    NotFound,
    /// Pages: 303 to `/login?next=…`.
    LoginRedirect,
    /// API: 401 with the JSON error.
    Unauthorized,
}

const REPOSITORY_PAGES: &[&str] = &["/acme/app", "/acme/app/runs/1"];
const REPOSITORY_API: &[&str] = &[
    "/api/v1/repositories/acme/app/runs",
    "/api/v1/repositories/acme/app/runs/1",
];

fn check(answer: &crate::world::Answer, expect: Expect, who: &str, path: &str) {
    let context = format!("{who} GET {path}: {} {}", answer.status, answer.body);
    match expect {
        Expect::Allowed => assert_eq!(answer.status, StatusCode::OK, "{context}"),
        Expect::NotFound => assert_eq!(answer.status, StatusCode::NOT_FOUND, "{context}"),
        Expect::LoginRedirect => {
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{context}");
            assert!(answer.location().starts_with("/login?next=/"), "{context}");
        }
        Expect::Unauthorized => {
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{context}");
            assert_eq!(
                answer.json()["error"]["code"],
                "unauthenticated",
                "{context}"
            );
        }
    }
}

/// Every kind of caller, logged in: the site admin `root` (who must exist already), one member per
/// role of `repository`, a `stranger` without a role, and an anonymous caller.
async fn callers(
    world: &World,
    repository: &gantry_store::Repository,
) -> Vec<(&'static str, Auth)> {
    for (name, role) in [
        ("owner", Role::Admin),
        ("maintainer", Role::Maintainer),
        ("developer", Role::Developer),
        ("viewer", Role::Viewer),
    ] {
        let user = world.user(name, false).await;
        world.grant(repository, &user, role).await;
    }
    world.user("stranger", false).await;
    let mut callers = Vec::new();
    for name in [
        "root",
        "owner",
        "maintainer",
        "developer",
        "viewer",
        "stranger",
    ] {
        callers.push((name, world.login(name).await));
    }
    callers.push(("anonymous", Auth::Anonymous));
    callers
}

#[tokio::test]
async fn every_role_against_every_endpoint_class() {
    let world = World::new().await;
    let repository = world.repository("acme/app").await;
    world.repository("acme/other").await;
    world
        .finished_run(
            &repository,
            "main",
            &[("build", Conclusion::Success, "built\n")],
            Conclusion::Success,
        )
        .await;
    world.user("root", true).await;
    let callers = callers(&world, &repository).await;

    for (who, auth) in &callers {
        let member = !matches!(*who, "stranger" | "anonymous");
        let (page, api) = match *who {
            "anonymous" => (Expect::LoginRedirect, Expect::Unauthorized),
            "stranger" => (Expect::NotFound, Expect::NotFound),
            _ => (Expect::Allowed, Expect::Allowed),
        };
        assert!(member == (page == Expect::Allowed));
        for path in REPOSITORY_PAGES {
            check(&world.get(path, auth).await, page, who, path);
        }
        for path in REPOSITORY_API {
            check(&world.get(path, auth).await, api, who, path);
        }

        let anonymous = matches!(auth, Auth::Anonymous);
        let dashboard = world.get("/", auth).await;
        let listed = world.get("/api/v1/repositories", auth).await;
        let token = world.create_token(auth, "script").await;
        if anonymous {
            check(&dashboard, Expect::LoginRedirect, who, "/");
            check(&listed, Expect::Unauthorized, who, "/api/v1/repositories");
            check(&token, Expect::Unauthorized, who, "/api/v1/tokens");
            continue;
        }
        check(&dashboard, Expect::Allowed, who, "/");
        check(&listed, Expect::Allowed, who, "/api/v1/repositories");
        assert_eq!(token.status, StatusCode::CREATED, "{who}: {}", token.body);

        let names: Vec<String> = listed
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|repository| repository["name"].as_str().unwrap().to_string())
            .collect();
        let expected: &[&str] = match *who {
            "root" => &["acme/app", "acme/other"],
            "stranger" => &[],
            _ => &["acme/app"],
        };
        assert_eq!(names, expected, "{who}");
        assert_eq!(dashboard.body.contains("acme/app"), member, "{who}");
        assert_eq!(
            dashboard.body.contains("acme/other"),
            *who == "root",
            "{who}"
        );

        // The same caller with an API token sees the same through the API.
        let bearer = Auth::Bearer(token.json()["token"].as_str().unwrap().to_string());
        for path in REPOSITORY_API {
            check(&world.get(path, &bearer).await, api, who, path);
        }
    }
}

#[tokio::test]
async fn a_repository_without_a_role_looks_exactly_like_one_that_does_not_exist() {
    let world = World::new().await;
    let repository = world.repository("acme/secret").await;
    world
        .finished_run(&repository, "main", &[], Conclusion::Success)
        .await;
    world.user("stranger", false).await;
    let session = world.login("stranger").await;
    for (hidden, missing) in [
        ("/acme/secret", "/acme/nothing"),
        ("/acme/secret/runs/1", "/acme/nothing/runs/1"),
        (
            "/api/v1/repositories/acme/secret/runs",
            "/api/v1/repositories/acme/nothing/runs",
        ),
        (
            "/api/v1/repositories/acme/secret/runs/1",
            "/api/v1/repositories/acme/nothing/runs/1",
        ),
    ] {
        let hidden = world.get(hidden, &session).await;
        let missing = world.get(missing, &session).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert_eq!(hidden.status, missing.status);
        assert_eq!(hidden.body, missing.body);
    }
}

#[tokio::test]
async fn a_member_gets_404_for_a_run_that_does_not_exist() {
    let world = World::new().await;
    let repository = world.repository("acme/app").await;
    let viewer = world.user("viewer", false).await;
    world.grant(&repository, &viewer, Role::Viewer).await;
    let session = world.login("viewer").await;
    assert_eq!(
        world.get("/acme/app/runs/7", &session).await.status,
        StatusCode::NOT_FOUND
    );
    let api = world
        .get("/api/v1/repositories/acme/app/runs/7", &session)
        .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.json()["error"]["code"], "not_found");
}

const DISPATCHABLE: &str = "on:\n  push:\n  workflow_dispatch:\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

/// What a caller gets for an action: the API's status and the form's.
fn acting(who: &str, needed: Role) -> (StatusCode, StatusCode) {
    let role = match who {
        "root" | "owner" => Role::Admin,
        "maintainer" => Role::Maintainer,
        "developer" => Role::Developer,
        "viewer" => Role::Viewer,
        "stranger" => return (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
        _ => return (StatusCode::UNAUTHORIZED, StatusCode::SEE_OTHER),
    };
    if role >= needed {
        (StatusCode::OK, StatusCode::SEE_OTHER)
    } else {
        (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN)
    }
}

#[tokio::test]
async fn every_role_against_every_action() {
    let world = World::new().await;
    let work = tempfile::tempdir().unwrap();
    commit(work.path(), &[(".github/workflows/ci.yml", DISPATCHABLE)]);
    world.user("root", true).await;
    let root = world.login("root").await;
    let registered = world
        .call(
            Method::POST,
            "/api/v1/repositories",
            &root,
            Some(json!({"name": "acme/app", "path": work.path()})),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let repository = world
        .store
        .repository_by_name("acme/app")
        .await
        .unwrap()
        .unwrap();
    let callers = callers(&world, &repository).await;
    let finished = world
        .finished_run(
            &repository,
            "main",
            &[("build", Conclusion::Failure, "boom\n")],
            Conclusion::Failure,
        )
        .await;

    for (who, auth) in &callers {
        let api = |action: &str, number: i64| {
            format!("/api/v1/repositories/acme/app/runs/{number}/{action}")
        };
        let form = |action: &str, number: i64| format!("/acme/app/runs/{number}/{action}");
        let (developer_api, developer_form) = acting(who, Role::Developer);
        let (maintainer_api, maintainer_form) = acting(who, Role::Maintainer);
        let created = |status: StatusCode| {
            if status == StatusCode::OK {
                StatusCode::CREATED
            } else {
                status
            }
        };
        let mut tried = Vec::new();

        // Dispatch: the API and the form.
        let answer = world
            .call(
                Method::POST,
                "/api/v1/repositories/acme/app/dispatches",
                auth,
                Some(json!({"workflow": "ci.yml", "ref": "main"})),
            )
            .await;
        tried.push(("API dispatch", answer, created(developer_api)));
        let answer = world
            .post_form(
                "/acme/app/dispatch",
                auth,
                &[("workflow", "ci.yml"), ("ref", "main")],
                true,
            )
            .await;
        tried.push(("form dispatch", answer, developer_form));

        // Cancel: a queued run of its own for each way in.
        let queued = world.run(&repository, "main", "to cancel").await;
        let answer = world
            .call(Method::POST, &api("cancel", queued.number), auth, None)
            .await;
        tried.push(("API cancel", answer, developer_api));
        let queued = world.run(&repository, "main", "to cancel").await;
        let answer = world
            .post_form(&form("cancel", queued.number), auth, &[], true)
            .await;
        tried.push(("form cancel", answer, developer_form));

        // Re-run of the finished, failed run.
        let answer = world
            .call(
                Method::POST,
                &api("rerun", finished.number),
                auth,
                Some(json!({"failed_only": true})),
            )
            .await;
        tried.push(("API re-run", answer, created(developer_api)));
        let answer = world
            .post_form(&form("rerun", finished.number), auth, &[], true)
            .await;
        tried.push(("form re-run", answer, developer_form));

        // Approve needs a maintainer; a run that waits for nothing is refused after the role
        // check, so a caller with the role gets 400 and one without gets 403.
        let queued = world.run(&repository, "main", "not held").await;
        let answer = world
            .call(Method::POST, &api("approve", queued.number), auth, None)
            .await;
        let expected = if maintainer_api == StatusCode::OK {
            StatusCode::BAD_REQUEST
        } else {
            maintainer_api
        };
        tried.push(("API approve", answer, expected));
        let answer = world
            .post_form(&form("approve", queued.number), auth, &[], true)
            .await;
        let expected = if maintainer_form == StatusCode::SEE_OTHER && *who != "anonymous" {
            StatusCode::BAD_REQUEST
        } else {
            maintainer_form
        };
        tried.push(("form approve", answer, expected));

        for (what, answer, expected) in tried {
            assert_eq!(
                answer.status, expected,
                "{who}: {what}: {} {}",
                answer.status, answer.body
            );
            if expected == StatusCode::SEE_OTHER && *who == "anonymous" {
                assert!(answer.location().starts_with("/login"), "{who}: {what}");
            }
        }
    }
}
