//! Users managed by site admins: the page, its forms and the API.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::world::{ADDRESS, Auth, World};

async fn world_with_admin() -> (World, Auth) {
    let world = World::new().await;
    world.user("root", true).await;
    let root = world.login("root").await;
    (world, root)
}

#[tokio::test]
async fn only_site_admins_reach_the_users() {
    let (world, root) = world_with_admin().await;
    let repository = world.repository("acme/app").await;
    let owner = world.user("owner", false).await;
    world
        .grant(&repository, &owner, gantry_store::Role::Admin)
        .await;
    world.user("plain", false).await;
    let callers = [
        ("root", root),
        ("owner", world.login("owner").await),
        ("plain", world.login("plain").await),
        ("anonymous", Auth::Anonymous),
    ];
    for (who, auth) in &callers {
        let (page, api) = match *who {
            "root" => (StatusCode::OK, StatusCode::OK),
            "anonymous" => (StatusCode::SEE_OTHER, StatusCode::UNAUTHORIZED),
            _ => (StatusCode::NOT_FOUND, StatusCode::FORBIDDEN),
        };
        let answer = world.get("/admin/users", auth).await;
        assert_eq!(answer.status, page, "{who}: {}", answer.body);
        for (method, path, body) in [
            (Method::GET, "/api/v1/users", None),
            (Method::GET, "/api/v1/users/plain", None),
            (
                Method::PATCH,
                "/api/v1/users/nobody",
                Some(json!({ "admin": true })),
            ),
            (Method::DELETE, "/api/v1/users/nobody", None),
        ] {
            let answer = world.call(method.clone(), path, auth, body).await;
            let expected = if *who == "root" && method != Method::GET {
                StatusCode::NOT_FOUND
            } else {
                api
            };
            assert_eq!(
                answer.status, expected,
                "{who} {method} {path}: {}",
                answer.body
            );
            assert!(answer.body.starts_with('{') || answer.body.starts_with('['));
        }
        let answer = world
            .call(
                Method::POST,
                "/api/v1/users",
                auth,
                Some(json!({ "name": format!("made-by-{who}") })),
            )
            .await;
        let created = if *who == "root" {
            StatusCode::CREATED
        } else {
            api
        };
        assert_eq!(answer.status, created, "{who}: {}", answer.body);
        let victim = format!("victim-of-{who}");
        world.user(&victim, false).await;
        let answer = world
            .post_form(&format!("/admin/users/{victim}/delete"), auth, &[], true)
            .await;
        let posted = if *who == "root" {
            StatusCode::SEE_OTHER
        } else {
            page
        };
        assert_eq!(answer.status, posted, "{who}: {}", answer.body);
        let kept = world.store.user_by_name(&victim).await.unwrap().is_some();
        assert_eq!(kept, *who != "root", "{who}");
    }
    let names: Vec<String> = world
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.name)
        .collect();
    assert!(names.contains(&"made-by-root".to_string()));
    assert!(
        !names
            .iter()
            .any(|name| name.starts_with("made-by-") && name != "made-by-root")
    );
}

#[tokio::test]
async fn an_admin_creates_users_who_can_log_in() {
    let (world, root) = world_with_admin().await;
    let chosen = world
        .call(
            Method::POST,
            "/api/v1/users",
            &root,
            Some(json!({ "name": "alice", "password": "a long password", "admin": false })),
        )
        .await;
    assert_eq!(chosen.status, StatusCode::CREATED, "{}", chosen.body);
    assert_eq!(chosen.json()["name"], "alice");
    assert_eq!(chosen.json()["admin"], false);
    assert!(chosen.json().get("password").is_none());
    assert!(!chosen.body.contains("a long password"));
    let login = world.try_login("alice", "a long password", ADDRESS).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);

    let generated = world
        .call(
            Method::POST,
            "/api/v1/users",
            &root,
            Some(json!({ "name": "bob", "admin": true })),
        )
        .await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.body);
    assert_eq!(generated.headers["cache-control"], "no-store");
    let password = generated.json()["password"].as_str().unwrap().to_string();
    let login = world.try_login("bob", &password, ADDRESS).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let bob = world.store.user_by_name("bob").await.unwrap().unwrap();
    assert!(bob.is_admin);
    assert!(!bob.password_hash.contains(&password));

    for (body, message) in [
        (json!({ "name": "alice" }), "already exists"),
        (json!({ "name": "carol", "password": "short" }), "too short"),
        (json!({ "name": "-carol" }), "start it with a letter"),
        (json!({ "nam": "carol" }), "must be JSON like"),
    ] {
        let answer = world
            .call(Method::POST, "/api/v1/users", &root, Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert!(answer.body.contains(message), "{}", answer.body);
    }

    // The page: a generated password is shown once.
    let page = world
        .post_form(
            "/admin/users",
            &root,
            &[("name", "dave"), ("password", "")],
            true,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("shown this once"));
    let start = page.body.find("<code>").unwrap() + 6;
    let password = page.body[start..].split('<').next().unwrap().to_string();
    assert_eq!(
        world.try_login("dave", &password, ADDRESS).await.status,
        StatusCode::SEE_OTHER
    );
    let listed = world.get("/admin/users", &root).await;
    assert!(listed.body.contains("dave") && !listed.body.contains(&password));
    // A chosen password is not shown.
    let page = world
        .post_form(
            "/admin/users",
            &root,
            &[
                ("name", "erin"),
                ("password", "erins password"),
                ("admin", "true"),
            ],
            true,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        world
            .store
            .user_by_name("erin")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    let page = world
        .post_form(
            "/admin/users",
            &root,
            &[("name", "erin"), ("password", "")],
            true,
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("already exists"));
}

#[tokio::test]
async fn admins_change_others_but_not_themselves() {
    let (world, root) = world_with_admin().await;
    world.user("alice", false).await;
    let alice = world.login("alice").await;
    assert_eq!(world.get("/", &alice).await.status, StatusCode::OK);

    let promoted = world
        .call(
            Method::PATCH,
            "/api/v1/users/alice",
            &root,
            Some(json!({ "admin": true })),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.json()["admin"], true);
    assert_eq!(
        world.get("/admin/users", &alice).await.status,
        StatusCode::OK
    );
    let demoted = world
        .post_form(
            "/admin/users/alice/admin",
            &root,
            &[("admin", "false")],
            true,
        )
        .await;
    assert_eq!(demoted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        world.get("/admin/users", &alice).await.status,
        StatusCode::NOT_FOUND
    );

    let own = world
        .call(
            Method::PATCH,
            "/api/v1/users/root",
            &root,
            Some(json!({ "admin": false })),
        )
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    assert!(own.body.contains("your own admin right"));
    let own = world
        .call(Method::DELETE, "/api/v1/users/root", &root, None)
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    assert!(own.body.contains("cannot delete yourself"));
    let own = world
        .post_form("/admin/users/root/delete", &root, &[], true)
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    assert!(own.body.contains("cannot delete yourself"));
    assert!(
        world
            .store
            .user_by_name("root")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );

    // Deleting a user ends their sessions.
    let gone = world
        .call(Method::DELETE, "/api/v1/users/alice", &root, None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(world.get("/", &alice).await.status, StatusCode::SEE_OTHER);
    let again = world
        .call(Method::DELETE, "/api/v1/users/alice", &root, None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}
