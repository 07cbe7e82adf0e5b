//! Login, sessions, CSRF, throttling, API tokens and the headers every response carries.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use crate::world::{ADDRESS, Auth, World, form_encode};

#[tokio::test]
async fn login_sets_a_session_cookie_that_scripts_cannot_read() {
    let world = World::new().await;
    world.user("alice", false).await;
    let answer = world.try_login("alice", "password-alice", ADDRESS).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/");
    let cookie = answer
        .set_cookies()
        .into_iter()
        .find(|cookie| cookie.starts_with("gantry_session="))
        .unwrap();
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("; Path=/;"), "{cookie}");
    let token = answer.cookie("gantry_session").unwrap();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    let dashboard = world
        .get(
            "/",
            &Auth::Session {
                token,
                csrf: String::new(),
            },
        )
        .await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("alice"));
}

#[tokio::test]
async fn the_session_token_is_stored_only_as_its_hash() {
    let world = World::new().await;
    world.user("alice", false).await;
    let answer = world.try_login("alice", "password-alice", ADDRESS).await;
    let token = answer.cookie("gantry_session").unwrap();
    assert!(
        world
            .store
            .session(token.as_bytes())
            .await
            .unwrap()
            .is_none()
    );
    let hash = gantry_server::auth::token_hash(&token);
    assert!(world.store.session(&hash).await.unwrap().is_some());
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_refused_alike() {
    let world = World::new().await;
    world.user("alice", false).await;
    let wrong = world.try_login("alice", "guess", ADDRESS).await;
    let unknown = world.try_login("mallory", "guess", ADDRESS).await;
    for answer in [&wrong, &unknown] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(answer.cookie("gantry_session").is_none());
        assert!(answer.body.contains("wrong user name or password"));
    }
}

#[tokio::test]
async fn a_login_without_the_forms_csrf_token_is_refused() {
    let world = World::new().await;
    world.user("alice", false).await;
    let body = form_encode(&[
        ("username", "alice"),
        ("password", "password-alice"),
        ("csrf", "forged"),
    ]);
    for cookie in [None, Some("gantry_login_csrf=other")] {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        let answer = world
            .send(builder.body(Body::from(body.clone())).unwrap())
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(answer.cookie("gantry_session").is_none());
        assert!(answer.body.contains("reload the page"));
    }
}

#[tokio::test]
async fn five_failures_for_a_name_lock_it_even_with_the_right_password() {
    let world = World::new().await;
    world.user("alice", false).await;
    world.user("bob", false).await;
    for _ in 0..5 {
        let answer = world.try_login("alice", "guess", "198.51.100.1:1").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let locked = world
        .try_login("alice", "password-alice", "198.51.100.2:1")
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers.contains_key(header::RETRY_AFTER));
    assert!(locked.body.contains("too many failed logins"));
    assert!(locked.cookie("gantry_session").is_none());
    let other = world
        .try_login("bob", "password-bob", "198.51.100.1:1")
        .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn many_failures_from_an_address_lock_it_for_every_name() {
    let world = World::new().await;
    world.user("alice", false).await;
    for n in 0..20 {
        let answer = world
            .try_login(&format!("nobody{n}"), "guess", "203.0.113.9:1")
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let locked = world
        .try_login("alice", "password-alice", "203.0.113.9:2")
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = world
        .try_login("alice", "password-alice", "203.0.113.10:1")
        .await;
    assert_eq!(elsewhere.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let world = World::new().await;
    world.user("alice", false).await;
    let session = world.login("alice").await;
    let Auth::Session { csrf, .. } = &session else {
        unreachable!()
    };
    let form = "application/x-www-form-urlencoded";
    let forged = world
        .request(
            Method::POST,
            "/logout",
            &session,
            Some(form),
            "csrf=forged".into(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(world.get("/", &session).await.status, StatusCode::OK);
    let done = world
        .request(
            Method::POST,
            "/logout",
            &session,
            Some(form),
            format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/login");
    assert_eq!(done.cookie("gantry_session").as_deref(), Some(""));
    let after = world.get("/", &session).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_follows_only_local_next_paths() {
    let world = World::new().await;
    world.user("alice", false).await;
    let form = world
        .get("/login?next=//evil.example/x", &Auth::Anonymous)
        .await;
    assert!(
        form.body.contains("name=\"next\" value=\"/\""),
        "{}",
        form.body
    );
    let anonymous = world.get("/acme/app?before=3", &Auth::Anonymous).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), "/login?next=/acme/app%3Fbefore%3D3");
}

#[tokio::test]
async fn api_tokens_are_created_by_a_session_shown_once_and_authenticate() {
    let world = World::new().await;
    let alice = world.user("alice", false).await;
    let session = world.login("alice").await;
    let created = world.create_token(&session, "ci").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.json()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("gantry_"));
    let listed = world.store.api_tokens(alice.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "ci");

    let bearer = Auth::Bearer(token.clone());
    let repositories = world.get("/api/v1/repositories", &bearer).await;
    assert_eq!(repositories.status, StatusCode::OK);
    assert_eq!(repositories.json(), serde_json::json!([]));

    let again = world.create_token(&session, "ci").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("choose another name")
    );

    let wrong = world
        .get("/api/v1/repositories", &Auth::Bearer(format!("{token}x")))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"]["code"], "unauthenticated");
    assert_eq!(wrong.headers[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn a_cookie_authenticated_api_post_needs_the_csrf_header() {
    let world = World::new().await;
    world.user("alice", false).await;
    let session = world.login("alice").await;
    let Auth::Session { token, .. } = &session else {
        unreachable!()
    };
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/tokens")
        .header(header::COOKIE, format!("gantry_session={token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"name": "ci"}"#))
        .unwrap();
    let answer = world.send(request).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json()["error"]["code"], "forbidden");
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-csrf-token")
    );
}

#[tokio::test]
async fn malformed_api_input_gets_the_json_error_shape() {
    let world = World::new().await;
    world.user("alice", false).await;
    let session = world.login("alice").await;
    let Auth::Session { token, csrf } = &session else {
        unreachable!()
    };
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/tokens")
        .header(header::COOKIE, format!("gantry_session={token}"))
        .header("x-csrf-token", csrf)
        .body(Body::from("{not json"))
        .unwrap();
    let answer = world.send(request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["code"], "bad_request");
    let unknown = world.get("/api/v2/nothing", &session).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let world = World::new().await;
    for path in [
        "/login",
        "/",
        "/healthz",
        "/api/v1/repositories",
        "/no/such/page/here",
        "/static/style.css",
    ] {
        let answer = world.get(path, &Auth::Anonymous).await;
        let headers = &answer.headers;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .split(';')
                .next(),
            Some("default-src 'self'"),
            "{path}"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin", "{path}");
    }
}

#[tokio::test]
async fn healthz_answers_ok_when_the_database_does() {
    let world = World::new().await;
    let answer = world.get("/healthz", &Auth::Anonymous).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ok");
    world.store.close().await;
    let answer = world.get("/healthz", &Auth::Anonymous).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_first_admin_is_created_once() {
    let world = World::new().await;
    let password = gantry_server::create_first_admin(&world.store)
        .await
        .unwrap()
        .expect("a password on first start");
    assert!(
        gantry_server::create_first_admin(&world.store)
            .await
            .unwrap()
            .is_none()
    );
    let admin = world.store.user_by_name("admin").await.unwrap().unwrap();
    assert!(admin.is_admin);
    let answer = world.try_login("admin", &password, ADDRESS).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_user_changes_their_password_and_is_logged_out_everywhere() {
    let world = World::new().await;
    world.user("alice", false).await;
    let session = world.login("alice").await;
    let other = world.login("alice").await;
    let Auth::Session { csrf, .. } = &session else {
        unreachable!()
    };
    let page = world.get("/account", &session).await;
    assert_eq!(page.status, StatusCode::OK);
    let form = "application/x-www-form-urlencoded";
    let post = |csrf: &str, current: &str, new: &str, confirm: &str| {
        form_encode(&[
            ("csrf", csrf),
            ("current", current),
            ("new", new),
            ("confirm", confirm),
        ])
    };
    let new = "a much longer password";
    let forged = world
        .request(
            Method::POST,
            "/account/password",
            &session,
            Some(form),
            post("x", "password-alice", new, new),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = world
        .request(
            Method::POST,
            "/account/password",
            &session,
            Some(form),
            post(csrf, "guess", new, new),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("current password is wrong"));
    let short = world
        .request(
            Method::POST,
            "/account/password",
            &session,
            Some(form),
            post(csrf, "password-alice", "short", "short"),
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.body.contains("too short"));
    let done = world
        .request(
            Method::POST,
            "/account/password",
            &session,
            Some(form),
            post(csrf, "password-alice", new, new),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(world.get("/", &session).await.status, StatusCode::SEE_OTHER);
    assert_eq!(world.get("/", &other).await.status, StatusCode::SEE_OTHER);
    let old = world.try_login("alice", "password-alice", ADDRESS).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let fresh = world.try_login("alice", new, ADDRESS).await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER);
}
