//! Repository settings (secrets, members) and organisation secrets: who may do what, CSRF, and that
//! a secret's value is stored sealed and never answered.

use axum::http::{Method, StatusCode};
use gantry_server::crypto::run_secrets;
use gantry_store::{Role, SecretScope};
use serde_json::json;

use crate::world::{Answer, Auth, World};

/// A distinctive value, to look for in every answer and in the stored bytes.
const VALUE: &str = "s3cr3t-value-that-must-never-show";

/// `acme/app` with a site admin `root`, members `owner` (admin), `maintainer`, `developer`,
/// `viewer`, and `stranger` without a role; every caller logged in, plus an anonymous one.
async fn world_with_roles() -> (World, gantry_store::Repository, Vec<(&'static str, Auth)>) {
    let world = World::new().await;
    let repository = world.repository("acme/app").await;
    world.user("root", true).await;
    for (name, role) in [
        ("owner", Role::Admin),
        ("maintainer", Role::Maintainer),
        ("developer", Role::Developer),
        ("viewer", Role::Viewer),
    ] {
        let user = world.user(name, false).await;
        world.grant(&repository, &user, role).await;
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
    (world, repository, callers)
}

fn expect_status(answer: &Answer, status: StatusCode, context: &str) {
    assert_eq!(
        answer.status, status,
        "{context}: {} {}",
        answer.status, answer.body
    );
}

#[tokio::test]
async fn every_role_against_the_repository_settings() {
    let (world, _, callers) = world_with_roles().await;
    for (who, auth) in &callers {
        let manages = matches!(*who, "root" | "owner" | "maintainer");
        let (page, api) = match *who {
            _ if manages => (StatusCode::OK, StatusCode::OK),
            "developer" | "viewer" => (StatusCode::NOT_FOUND, StatusCode::FORBIDDEN),
            "stranger" => (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
            _ => (StatusCode::SEE_OTHER, StatusCode::UNAUTHORIZED),
        };
        let changed = if manages { StatusCode::NO_CONTENT } else { api };
        let posted = if manages { StatusCode::SEE_OTHER } else { page };

        let answer = world.get("/acme/app/settings", auth).await;
        expect_status(&answer, page, &format!("{who} GET settings"));
        if *who == "anonymous" {
            assert!(
                answer
                    .location()
                    .starts_with("/login?next=/acme/app/settings")
            );
        }
        for path in [
            "/api/v1/repositories/acme/app/secrets",
            "/api/v1/repositories/acme/app/members",
            "/api/v1/repositories/acme/app/members/viewer",
        ] {
            let answer = world.call(Method::GET, path, auth, None).await;
            expect_status(&answer, api, &format!("{who} GET {path}"));
            if !manages {
                assert!(answer.json()["error"]["code"].is_string(), "{who} {path}");
            }
        }
        let secret = format!("/api/v1/repositories/acme/app/secrets/BY_{who}");
        let answer = world
            .call(Method::PUT, &secret, auth, Some(json!({ "value": VALUE })))
            .await;
        expect_status(&answer, changed, &format!("{who} PUT secret"));
        let answer = world.call(Method::DELETE, &secret, auth, None).await;
        expect_status(&answer, changed, &format!("{who} DELETE secret"));

        let answer = world
            .post_form(
                "/acme/app/settings/secrets",
                auth,
                &[("name", "FORM"), ("value", VALUE)],
                true,
            )
            .await;
        expect_status(&answer, posted, &format!("{who} POST secret form"));
        if manages {
            assert_eq!(answer.location(), "/acme/app/settings");
        }
        let answer = world
            .post_form(
                "/acme/app/settings/members",
                auth,
                &[("user", "stranger"), ("role", "viewer")],
                true,
            )
            .await;
        expect_status(&answer, posted, &format!("{who} POST member form"));
        let answer = world
            .post_form(
                "/acme/app/settings/members/stranger/delete",
                auth,
                &[],
                true,
            )
            .await;
        expect_status(&answer, posted, &format!("{who} POST remove member"));

        let answer = world
            .call(
                Method::PUT,
                "/api/v1/repositories/acme/app/members/stranger",
                auth,
                Some(json!({ "role": "developer" })),
            )
            .await;
        let member_put = if manages { StatusCode::OK } else { api };
        expect_status(&answer, member_put, &format!("{who} PUT member"));
        let answer = world
            .call(
                Method::DELETE,
                "/api/v1/repositories/acme/app/members/stranger",
                auth,
                None,
            )
            .await;
        expect_status(&answer, changed, &format!("{who} DELETE member"));
    }
    // The links: maintainers see "Settings" on the repository page, the others do not.
    for (who, auth) in &callers {
        let page = world.get("/acme/app", auth).await;
        if page.status == StatusCode::OK {
            let manages = matches!(*who, "root" | "owner" | "maintainer");
            assert_eq!(page.body.contains("/acme/app/settings"), manages, "{who}");
            assert_eq!(page.body.contains("/admin/users"), *who == "root", "{who}");
        }
    }
}

#[tokio::test]
async fn organisation_secrets_are_for_site_admins_only() {
    let (world, _, callers) = world_with_roles().await;
    for (who, auth) in &callers {
        let (page, api, changed, posted) = match *who {
            "root" => (
                StatusCode::OK,
                StatusCode::OK,
                StatusCode::NO_CONTENT,
                StatusCode::SEE_OTHER,
            ),
            "anonymous" => (
                StatusCode::SEE_OTHER,
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::SEE_OTHER,
            ),
            _ => (
                StatusCode::NOT_FOUND,
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND,
            ),
        };
        expect_status(&world.get("/admin/secrets", auth).await, page, who);
        let answer = world.call(Method::GET, "/api/v1/secrets", auth, None).await;
        expect_status(&answer, api, who);
        let answer = world
            .call(
                Method::PUT,
                "/api/v1/secrets/ORG_TOKEN",
                auth,
                Some(json!({ "value": VALUE })),
            )
            .await;
        expect_status(&answer, changed, who);
        let answer = world
            .post_form(
                "/admin/secrets",
                auth,
                &[("name", "org_form"), ("value", VALUE)],
                true,
            )
            .await;
        expect_status(&answer, posted, who);
        if *who == "anonymous" {
            assert!(answer.location().starts_with("/login"));
        }
    }
    let names: Vec<String> = world
        .store
        .secret_names(SecretScope::Org)
        .await
        .unwrap()
        .into_iter()
        .map(|secret| secret.name)
        .collect();
    assert_eq!(names, ["ORG_FORM", "ORG_TOKEN"]);
    let root = &callers[0].1;
    let one = world
        .call(Method::GET, "/api/v1/secrets/org_token", root, None)
        .await;
    expect_status(&one, StatusCode::OK, "one org secret");
    assert_eq!(one.json()["name"], "ORG_TOKEN");
    let gone = world
        .post_form("/admin/secrets/ORG_FORM/delete", root, &[], true)
        .await;
    expect_status(&gone, StatusCode::SEE_OTHER, "delete org form");
    let gone = world
        .call(Method::DELETE, "/api/v1/secrets/ORG_TOKEN", root, None)
        .await;
    expect_status(&gone, StatusCode::NO_CONTENT, "delete org api");
    let again = world
        .call(Method::DELETE, "/api/v1/secrets/ORG_TOKEN", root, None)
        .await;
    expect_status(&again, StatusCode::NOT_FOUND, "delete org api again");
    assert!(
        world
            .store
            .secret_names(SecretScope::Org)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn changes_without_the_csrf_token_are_refused() {
    let (world, repository, callers) = world_with_roles().await;
    let root = &callers[0].1;
    let maintainer = &callers[2].1;
    for (path, pairs) in [
        (
            "/acme/app/settings/secrets",
            &[("name", "A"), ("value", VALUE)][..],
        ),
        (
            "/acme/app/settings/members",
            &[("user", "stranger"), ("role", "viewer")][..],
        ),
        ("/acme/app/settings/members/viewer/delete", &[][..]),
    ] {
        let answer = world.post_form(path, maintainer, pairs, false).await;
        expect_status(&answer, StatusCode::FORBIDDEN, path);
        assert!(answer.body.contains("reload the page"), "{path}");
        let forged = [pairs, &[("csrf", "forged")][..]].concat();
        let answer = world.post_form(path, maintainer, &forged, false).await;
        expect_status(&answer, StatusCode::FORBIDDEN, path);
    }
    for (path, pairs) in [
        ("/admin/secrets", &[("name", "A"), ("value", VALUE)][..]),
        ("/admin/users", &[("name", "eve"), ("password", "")][..]),
    ] {
        let answer = world.post_form(path, root, pairs, false).await;
        expect_status(&answer, StatusCode::FORBIDDEN, path);
    }
    // The API with the session cookie but without the header.
    let Auth::Session { token, .. } = maintainer else {
        unreachable!()
    };
    let no_header = Auth::Session {
        token: token.clone(),
        csrf: String::new(),
    };
    let answer = world
        .call(
            Method::PUT,
            "/api/v1/repositories/acme/app/secrets/A",
            &no_header,
            Some(json!({ "value": VALUE })),
        )
        .await;
    expect_status(&answer, StatusCode::FORBIDDEN, "PUT without the header");
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-csrf-token")
    );
    let answer = world
        .call(
            Method::DELETE,
            "/api/v1/repositories/acme/app/members/viewer",
            &no_header,
            None,
        )
        .await;
    expect_status(&answer, StatusCode::FORBIDDEN, "DELETE without the header");
    // Nothing changed.
    assert!(
        world
            .store
            .secret_names(SecretScope::Repository(repository.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(world.store.members(repository.id).await.unwrap().len(), 4);
    // An API token needs no CSRF token.
    let token = world.create_token(maintainer, "script").await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = world
        .call(
            Method::PUT,
            "/api/v1/repositories/acme/app/secrets/A",
            &Auth::Bearer(token),
            Some(json!({ "value": VALUE })),
        )
        .await;
    expect_status(&answer, StatusCode::NO_CONTENT, "PUT with a token");
}

#[tokio::test]
async fn secret_values_are_stored_sealed_and_never_answered() {
    let (world, repository, callers) = world_with_roles().await;
    let root = &callers[0].1;
    let maintainer = &callers[2].1;
    let multi_line = "line one\r\nline two";
    let answers = vec![
        world
            .post_form(
                "/acme/app/settings/secrets",
                maintainer,
                &[("name", "deploy_key"), ("value", multi_line)],
                true,
            )
            .await,
        world
            .call(
                Method::PUT,
                "/api/v1/repositories/acme/app/secrets/api_token",
                maintainer,
                Some(json!({ "value": VALUE })),
            )
            .await,
        world
            .call(
                Method::PUT,
                "/api/v1/secrets/API_TOKEN",
                root,
                Some(json!({ "value": "org-value-shadowed" })),
            )
            .await,
        world
            .call(
                Method::PUT,
                "/api/v1/secrets/SHARED",
                root,
                Some(json!({ "value": "org-shared-value" })),
            )
            .await,
        world.get("/acme/app/settings", maintainer).await,
        world.get("/admin/secrets", root).await,
        world
            .call(
                Method::GET,
                "/api/v1/repositories/acme/app/secrets",
                maintainer,
                None,
            )
            .await,
        world
            .call(
                Method::GET,
                "/api/v1/repositories/acme/app/secrets/API_TOKEN",
                maintainer,
                None,
            )
            .await,
        world.call(Method::GET, "/api/v1/secrets", root, None).await,
    ];
    for answer in &answers {
        assert!(answer.status.is_success() || answer.status.is_redirection());
        for value in [VALUE, "line one", "org-value-shadowed", "org-shared-value"] {
            assert!(!answer.body.contains(value), "{}", answer.body);
        }
    }
    let page = &answers[4].body;
    assert!(
        page.contains("API_TOKEN") && page.contains("DEPLOY_KEY"),
        "{page}"
    );
    let listed = answers[6].json();
    assert_eq!(listed[0]["name"], "API_TOKEN");
    assert_eq!(listed[1]["name"], "DEPLOY_KEY");
    assert!(listed[0]["updated_at"].is_string());
    assert!(listed[0].get("value").is_none());

    // The stored bytes hold no plaintext.
    let stored = world.store.secrets_for_run(repository.id).await.unwrap();
    assert_eq!(stored.len(), 3);
    for secret in &stored {
        for value in [VALUE, "line one", "org-value-shadowed", "org-shared-value"] {
            assert!(
                !secret
                    .value
                    .windows(value.len())
                    .any(|window| window == value.as_bytes()),
                "{} is stored in the clear",
                secret.name
            );
        }
    }
    // A run gets them opened: the repository's value wins over the organisation's.
    let opened = run_secrets(&world.state, repository.id).await.unwrap();
    assert_eq!(
        opened,
        [
            ("API_TOKEN".to_string(), VALUE.to_string()),
            ("DEPLOY_KEY".to_string(), "line one\nline two".to_string()),
            ("SHARED".to_string(), "org-shared-value".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_sealed_value_copied_to_another_repository_does_not_open() {
    let (world, repository, callers) = world_with_roles().await;
    let other = world.repository("acme/other").await;
    let answer = world
        .call(
            Method::PUT,
            "/api/v1/repositories/acme/app/secrets/TOKEN",
            &callers[2].1,
            Some(json!({ "value": VALUE })),
        )
        .await;
    expect_status(&answer, StatusCode::NO_CONTENT, "PUT");
    let stored = world.store.secrets_for_run(repository.id).await.unwrap();
    world
        .store
        .set_secret(SecretScope::Repository(other.id), "TOKEN", &stored[0].value)
        .await
        .unwrap();
    assert!(run_secrets(&world.state, other.id).await.is_err());
    // Under another name in its own repository, neither.
    world
        .store
        .set_secret(
            SecretScope::Repository(repository.id),
            "RENAMED",
            &stored[0].value,
        )
        .await
        .unwrap();
    assert!(run_secrets(&world.state, repository.id).await.is_err());
}

#[tokio::test]
async fn bad_secret_names_and_values_are_explained() {
    let (world, _, callers) = world_with_roles().await;
    let maintainer = &callers[2].1;
    for (name, message) in [
        ("GITHUB_TOKEN", "reserved"),
        ("1ST", "start it with a letter"),
        ("WITH-DASH", "only letters, digits"),
    ] {
        let answer = world
            .post_form(
                "/acme/app/settings/secrets",
                maintainer,
                &[("name", name), ("value", VALUE)],
                true,
            )
            .await;
        expect_status(&answer, StatusCode::BAD_REQUEST, name);
        assert!(answer.body.contains(message), "{}", answer.body);
        assert!(!answer.body.contains(VALUE));
        let path = format!("/api/v1/repositories/acme/app/secrets/{name}");
        let answer = world
            .call(
                Method::PUT,
                &path,
                maintainer,
                Some(json!({ "value": VALUE })),
            )
            .await;
        expect_status(&answer, StatusCode::BAD_REQUEST, &path);
        assert!(
            answer.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message)
        );
    }
    let answer = world
        .call(
            Method::PUT,
            "/api/v1/repositories/acme/app/secrets/EMPTY",
            maintainer,
            Some(json!({ "value": "" })),
        )
        .await;
    expect_status(&answer, StatusCode::BAD_REQUEST, "empty value");
    let answer = world
        .call(
            Method::PUT,
            "/api/v1/repositories/acme/app/secrets/NOBODY",
            maintainer,
            Some(json!({ "val": "x" })),
        )
        .await;
    expect_status(&answer, StatusCode::BAD_REQUEST, "wrong body");
    assert!(answer.body.contains("must be JSON like"));
    let answer = world
        .call(
            Method::DELETE,
            "/api/v1/repositories/acme/app/secrets/NOTHING",
            maintainer,
            None,
        )
        .await;
    expect_status(&answer, StatusCode::NOT_FOUND, "delete missing");
}

#[tokio::test]
async fn only_admins_touch_admins_and_the_last_admin_stays() {
    let (world, repository, callers) = world_with_roles().await;
    let owner = &callers[1].1;
    let maintainer = &callers[2].1;
    let put = |auth: &Auth, user: &str, role: &str| {
        let path = format!("/api/v1/repositories/acme/app/members/{user}");
        let auth = auth.clone();
        let role = role.to_string();
        let world = &world;
        async move {
            world
                .call(Method::PUT, &path, &auth, Some(json!({ "role": role })))
                .await
        }
    };
    // A maintainer manages the roles below admin.
    expect_status(
        &put(maintainer, "viewer", "developer").await,
        StatusCode::OK,
        "up",
    );
    expect_status(
        &put(maintainer, "stranger", "viewer").await,
        StatusCode::OK,
        "add",
    );
    // But makes no admin and changes no admin.
    let answer = put(maintainer, "viewer", "admin").await;
    expect_status(&answer, StatusCode::FORBIDDEN, "make admin");
    assert!(answer.body.contains("only an admin"));
    expect_status(
        &put(maintainer, "owner", "viewer").await,
        StatusCode::FORBIDDEN,
        "demote admin",
    );
    let answer = world
        .post_form(
            "/acme/app/settings/members/owner/delete",
            maintainer,
            &[],
            true,
        )
        .await;
    expect_status(&answer, StatusCode::FORBIDDEN, "remove admin by form");
    assert!(answer.body.contains("only an admin"));
    // The last admin stays, even for themselves.
    let answer = put(owner, "owner", "maintainer").await;
    expect_status(&answer, StatusCode::BAD_REQUEST, "demote the last admin");
    assert!(answer.body.contains("last admin"));
    let answer = world
        .call(
            Method::DELETE,
            "/api/v1/repositories/acme/app/members/owner",
            owner,
            None,
        )
        .await;
    expect_status(&answer, StatusCode::BAD_REQUEST, "remove the last admin");
    // With a second admin, the first may go.
    expect_status(
        &put(owner, "maintainer", "admin").await,
        StatusCode::OK,
        "second",
    );
    let answer = world
        .call(
            Method::DELETE,
            "/api/v1/repositories/acme/app/members/owner",
            owner,
            None,
        )
        .await;
    expect_status(&answer, StatusCode::NO_CONTENT, "remove an admin");
    // Unknown users and roles are explained.
    let answer = put(maintainer, "nobody", "viewer").await;
    expect_status(&answer, StatusCode::BAD_REQUEST, "unknown user");
    assert!(answer.body.contains("no user named"));
    let answer = put(maintainer, "viewer", "owner").await;
    expect_status(&answer, StatusCode::BAD_REQUEST, "unknown role");
    let roles: Vec<(String, Role)> = world
        .store
        .members(repository.id)
        .await
        .unwrap()
        .into_iter()
        .map(|member| (member.user_name, member.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("developer".to_string(), Role::Developer),
            ("maintainer".to_string(), Role::Admin),
            ("stranger".to_string(), Role::Viewer),
            ("viewer".to_string(), Role::Developer),
        ]
    );
    // The page lists them, and offers "admin" only to admins.
    let page = world.get("/acme/app/settings", maintainer).await;
    assert!(page.body.contains("stranger"));
    assert!(page.body.contains("<option value=\"admin\">"));
    let developer_made_maintainer = put(&callers[2].1, "developer", "maintainer").await;
    expect_status(&developer_made_maintainer, StatusCode::OK, "promote");
    let page = world.get("/acme/app/settings", &callers[3].1).await;
    assert!(
        !page.body.contains("<option value=\"admin\">"),
        "{}",
        page.body
    );
}
