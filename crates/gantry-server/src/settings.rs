//! A repository's settings — its secrets and its members — as a page and as API, and the
//! organisation's secrets (site admins only).
//!
//! - `GET /{owner}/{repo}/settings` with its forms (`POST …/settings/secrets`,
//!   `…/settings/secrets/{name}/delete`, `…/settings/members`, `…/settings/members/{user}/delete`),
//!   and `GET /admin/secrets` with `POST /admin/secrets`, `/admin/secrets/{name}/delete`.
//! - `GET /api/v1/repositories/{owner}/{repo}/secrets`, `GET/PUT/DELETE …/secrets/{name}`
//!   (`{"value": "…"}`), `GET …/members`, `GET/PUT/DELETE …/members/{user}` (`{"role": "…"}`), and
//!   `GET /api/v1/secrets`, `GET/PUT/DELETE /api/v1/secrets/{name}` for the organisation.
//!
//! Rules: managing secrets and members needs the maintainer role (pages answer 404 below it, as
//! [`RepoAccess`] does for those who may not read; the API answers 403, as the caller knows the
//! repository). Making someone admin, or changing or removing an admin, needs the admin role, and
//! the last admin of a repository stays. Secret values are sealed with the server key
//! ([`crate::crypto`]) before they reach the store and never leave the server again: pages and API
//! show names and update times only. Secret names follow GitHub: letters, digits and `_`, not
//! starting with a digit or `GITHUB_`, stored upper-case.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use gantry_store::{Repository, Role, SecretScope};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{check_csrf_header, json_body};
use crate::auth::{self, CurrentUser, Html, Principal, RepoAccess};
use crate::crypto::secret_aad;
use crate::error::{ApiError, AppError, PageError};
use crate::pages::Nav;

/// Managing secrets and members needs at least this role.
pub const MANAGE_ROLE: Role = Role::Maintainer;
/// The longest secret name accepted.
const MAX_NAME_LENGTH: usize = 100;
/// The largest secret value accepted (GitHub's limit).
const MAX_VALUE_BYTES: usize = 48 * 1024;
const ROLES: [&str; 4] = ["viewer", "developer", "maintainer", "admin"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/settings", get(settings_page))
        .route("/{owner}/{repo}/settings/secrets", post(set_secret_form))
        .route(
            "/{owner}/{repo}/settings/secrets/{name}/delete",
            post(delete_secret_form),
        )
        .route("/{owner}/{repo}/settings/members", post(set_member_form))
        .route(
            "/{owner}/{repo}/settings/members/{user}/delete",
            post(remove_member_form),
        )
        .route("/admin/secrets", get(org_page).post(set_org_secret_form))
        .route("/admin/secrets/{name}/delete", post(delete_org_secret_form))
        .route(
            "/api/v1/repositories/{owner}/{repo}/secrets",
            get(api_secrets),
        )
        .route(
            "/api/v1/repositories/{owner}/{repo}/secrets/{name}",
            get(api_secret)
                .put(api_put_secret)
                .delete(api_delete_secret),
        )
        .route(
            "/api/v1/repositories/{owner}/{repo}/members",
            get(api_members),
        )
        .route(
            "/api/v1/repositories/{owner}/{repo}/members/{user}",
            get(api_member)
                .put(api_put_member)
                .delete(api_delete_member),
        )
        .route("/api/v1/secrets", get(api_org_secrets))
        .route(
            "/api/v1/secrets/{name}",
            get(api_org_secret)
                .put(api_put_org_secret)
                .delete(api_delete_org_secret),
        )
}

// ---- Rules, the same for pages and API ----

/// A secret name as stored: checked as GitHub checks it, upper-cased.
pub fn secret_name(input: &str) -> Result<String, AppError> {
    let name = input.trim().to_ascii_uppercase();
    let refuse = |why: &str| {
        AppError::BadRequest(format!(
            "`{}` cannot name a secret: {why}",
            input
                .trim()
                .chars()
                .take(MAX_NAME_LENGTH)
                .collect::<String>()
        ))
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(refuse("give a name")),
        Some(first) if !(first.is_ascii_alphabetic() || first == '_') => {
            return Err(refuse("start it with a letter or `_`"));
        }
        Some(_) => {}
    }
    if !chars.all(|char| char.is_ascii_alphanumeric() || char == '_') {
        return Err(refuse("use only letters, digits and `_`"));
    }
    if name.starts_with("GITHUB_") {
        return Err(refuse("names starting with `GITHUB_` are reserved"));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(refuse(&format!("use at most {MAX_NAME_LENGTH} characters")));
    }
    Ok(name)
}

/// Seals and stores a secret; returns its stored name. The value is never logged.
async fn set_secret(
    state: &AppState,
    scope: SecretScope,
    name: &str,
    value: &str,
) -> Result<String, AppError> {
    let name = secret_name(name)?;
    if value.is_empty() {
        return Err(AppError::BadRequest(format!(
            "the value of {name} is empty: give a value (to remove the secret, delete it)"
        )));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(AppError::BadRequest(format!(
            "the value of {name} is longer than {} KiB: store a key to a larger file instead",
            MAX_VALUE_BYTES / 1024
        )));
    }
    let sealed = state
        .secret_key
        .seal(value.as_bytes(), &secret_aad(scope, &name));
    state.store.set_secret(scope, &name, &sealed).await?;
    tracing::info!(secret = %name, ?scope, "secret set");
    Ok(name)
}

async fn delete_secret(state: &AppState, scope: SecretScope, name: &str) -> Result<(), AppError> {
    let name = name.trim().to_ascii_uppercase();
    if !state.store.delete_secret(scope, &name).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(secret = %name, ?scope, "secret deleted");
    Ok(())
}

fn parse_role(text: &str) -> Result<Role, AppError> {
    text.trim().parse().map_err(|_| {
        AppError::BadRequest(format!(
            "`{text}` is not a role: use viewer, developer, maintainer or admin"
        ))
    })
}

/// Gives `user_name` the role `new_role` in the repository, or takes their role away (`None`),
/// as a caller holding `actor_role`.
async fn change_member(
    state: &AppState,
    repository: &Repository,
    actor_role: Role,
    user_name: &str,
    new_role: Option<Role>,
) -> Result<(), AppError> {
    let user_name = user_name.trim();
    let user = state.store.user_by_name(user_name).await?;
    let Some(user) = user else {
        return Err(match new_role {
            Some(_) => AppError::BadRequest(format!(
                "there is no user named `{user_name}`: check the name, or ask a site admin to \
                 create the account"
            )),
            None => AppError::NotFound,
        });
    };
    let current = state.store.role(repository.id, user.id).await?;
    if new_role.is_none() && current.is_none() {
        return Err(AppError::NotFound);
    }
    let touches_admin = new_role == Some(Role::Admin) || current == Some(Role::Admin);
    if touches_admin && actor_role < Role::Admin {
        return Err(AppError::Forbidden(format!(
            "only an admin of {} can make someone admin or change an admin's role: ask one",
            repository.name
        )));
    }
    if current == Some(Role::Admin) && new_role != Some(Role::Admin) {
        let admins = state
            .store
            .members(repository.id)
            .await?
            .iter()
            .filter(|member| member.role == Role::Admin)
            .count();
        if admins <= 1 {
            return Err(AppError::BadRequest(format!(
                "`{user_name}` is the last admin of {}: make another member admin first",
                repository.name
            )));
        }
    }
    match new_role {
        Some(role) => {
            state.store.set_role(repository.id, user.id, role).await?;
            tracing::info!(repository = %repository.name, user = %user.name, role = role.as_str(), "role set");
        }
        None => {
            state.store.remove_member(repository.id, user.id).await?;
            tracing::info!(repository = %repository.name, user = %user.name, "member removed");
        }
    }
    Ok(())
}

/// Pages: below the managing role, the settings do not exist.
fn page_guard(access: &RepoAccess<Html>) -> Result<(), AppError> {
    if access.role >= MANAGE_ROLE {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// API: the caller may read the repository, so they learn why they are refused.
fn api_guard(access: &RepoAccess<auth::Json>) -> Result<(), AppError> {
    if access.role >= MANAGE_ROLE {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "managing the secrets and members of {} needs the maintainer role (you are {}): \
             ask an admin of the repository",
            access.repository.name,
            access.role.as_str()
        )))
    }
}

pub fn site_admin(principal: &Principal) -> Result<(), AppError> {
    if principal.user.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only site admins manage organisation secrets and users: ask one".to_string(),
        ))
    }
}

// ---- Pages ----

struct SecretRow {
    name: String,
    updated: String,
}

struct MemberRow {
    name: String,
    role: &'static str,
    /// Where its remove button posts to.
    remove_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Option<Nav>,
    name: String,
    csrf: String,
    secrets: Vec<SecretRow>,
    /// Where the secret forms post to (`…/delete` is appended per secret).
    secrets_action: String,
    members: Vec<MemberRow>,
    /// The roles the caller may give.
    roles: Vec<&'static str>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "org_secrets.html")]
struct OrgSecretsPage {
    nav: Option<Nav>,
    csrf: String,
    secrets: Vec<SecretRow>,
    secrets_action: String,
    error: Option<String>,
}

fn csrf_of(principal: &Principal) -> String {
    principal
        .session
        .as_ref()
        .map(|session| session.csrf_token.clone())
        .unwrap_or_default()
}

async fn secret_rows(state: &AppState, scope: SecretScope) -> Result<Vec<SecretRow>, AppError> {
    Ok(state
        .store
        .secret_names(scope)
        .await?
        .into_iter()
        .map(|secret| SecretRow {
            name: secret.name,
            updated: secret.updated_at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect())
}

/// The settings page, with an error from a form when there was one.
async fn render_settings(
    state: &AppState,
    access: &RepoAccess<Html>,
    failed: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let repository = &access.repository;
    let secrets = secret_rows(state, SecretScope::Repository(repository.id)).await?;
    let members = state
        .store
        .members(repository.id)
        .await?
        .into_iter()
        .map(|member| MemberRow {
            remove_url: format!(
                "/{}/settings/members/{}/delete",
                repository.name,
                auth::percent_encode(&member.user_name)
            ),
            name: member.user_name,
            role: member.role.as_str(),
        })
        .collect();
    let roles = ROLES
        .into_iter()
        .filter(|role| access.role == Role::Admin || *role != "admin")
        .collect();
    let (status, error) = match failed {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = SettingsPage {
        nav: Some(Nav::of(&access.principal)),
        name: repository.name.clone(),
        csrf: csrf_of(&access.principal),
        secrets,
        secrets_action: format!("/{}/settings/secrets", repository.name),
        members,
        roles,
        error,
    };
    Ok((status, page).into_response())
}

/// What a form's refusal shows: the page again with the message, for mistakes the user can fix;
/// the error page otherwise.
fn form_failure(err: AppError) -> Result<(StatusCode, String), PageError> {
    match err {
        AppError::BadRequest(message) => Ok((StatusCode::BAD_REQUEST, message)),
        AppError::Forbidden(message) => Ok((StatusCode::FORBIDDEN, message)),
        err => Err(PageError(err)),
    }
}

async fn settings_page(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
) -> Result<Response, PageError> {
    page_guard(&access)?;
    render_settings(&state, &access, None).await
}

#[derive(Deserialize)]
struct SecretForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

/// A browser's text area sends CRLF line ends; secrets keep the LF ones they were pasted with.
fn from_text_area(value: &str) -> String {
    value.replace("\r\n", "\n")
}

fn back_to_settings(repository: &Repository) -> Response {
    Redirect::to(&format!("/{}/settings", repository.name)).into_response()
}

async fn set_secret_form(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Form(form): Form<SecretForm>,
) -> Result<Response, PageError> {
    page_guard(&access)?;
    access.principal.check_csrf(Some(&form.csrf))?;
    let scope = SecretScope::Repository(access.repository.id);
    match set_secret(&state, scope, &form.name, &from_text_area(&form.value)).await {
        Ok(_) => Ok(back_to_settings(&access.repository)),
        Err(err) => render_settings(&state, &access, Some(form_failure(err)?)).await,
    }
}

async fn delete_secret_form(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Path((_, _, name)): Path<(String, String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    page_guard(&access)?;
    access.principal.check_csrf(Some(&form.csrf))?;
    delete_secret(&state, SecretScope::Repository(access.repository.id), &name).await?;
    Ok(back_to_settings(&access.repository))
}

async fn set_member_form(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Form(form): Form<MemberForm>,
) -> Result<Response, PageError> {
    page_guard(&access)?;
    access.principal.check_csrf(Some(&form.csrf))?;
    let changed = match parse_role(&form.role) {
        Ok(role) => {
            change_member(
                &state,
                &access.repository,
                access.role,
                &form.user,
                Some(role),
            )
            .await
        }
        Err(err) => Err(err),
    };
    match changed {
        Ok(()) => Ok(back_to_settings(&access.repository)),
        Err(err) => render_settings(&state, &access, Some(form_failure(err)?)).await,
    }
}

async fn remove_member_form(
    State(state): State<AppState>,
    access: RepoAccess<Html>,
    Path((_, _, user)): Path<(String, String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    page_guard(&access)?;
    access.principal.check_csrf(Some(&form.csrf))?;
    match change_member(&state, &access.repository, access.role, &user, None).await {
        Ok(()) => Ok(back_to_settings(&access.repository)),
        Err(err) => render_settings(&state, &access, Some(form_failure(err)?)).await,
    }
}

async fn render_org(
    state: &AppState,
    principal: &Principal,
    failed: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let (status, error) = match failed {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let page = OrgSecretsPage {
        nav: Some(Nav::of(principal)),
        csrf: csrf_of(principal),
        secrets: secret_rows(state, SecretScope::Org).await?,
        secrets_action: "/admin/secrets".to_string(),
        error,
    };
    Ok((status, page).into_response())
}

/// Pages: for anyone but a site admin, the admin pages do not exist.
pub fn admin_page_guard(principal: &Principal) -> Result<(), AppError> {
    if principal.user.is_admin {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn org_page(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    render_org(&state, &principal, None).await
}

async fn set_org_secret_form(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    Form(form): Form<SecretForm>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    principal.check_csrf(Some(&form.csrf))?;
    match set_secret(
        &state,
        SecretScope::Org,
        &form.name,
        &from_text_area(&form.value),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/admin/secrets").into_response()),
        Err(err) => render_org(&state, &principal, Some(form_failure(err)?)).await,
    }
}

async fn delete_org_secret_form(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    Path(name): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    principal.check_csrf(Some(&form.csrf))?;
    delete_secret(&state, SecretScope::Org, &name).await?;
    Ok(Redirect::to("/admin/secrets").into_response())
}

// ---- API ----

#[derive(Serialize)]
pub struct SecretDto {
    /// Upper-case.
    pub name: String,
    /// RFC 3339, UTC. The value is never returned.
    pub updated_at: String,
}

#[derive(Deserialize)]
pub struct SecretValueDto {
    pub value: String,
}

#[derive(Serialize)]
pub struct MemberDto {
    pub user: String,
    /// `viewer`, `developer`, `maintainer` or `admin`.
    pub role: &'static str,
}

#[derive(Deserialize)]
pub struct RoleDto {
    pub role: String,
}

async fn secret_dtos(state: &AppState, scope: SecretScope) -> Result<Vec<SecretDto>, AppError> {
    Ok(state
        .store
        .secret_names(scope)
        .await?
        .into_iter()
        .map(|secret| SecretDto {
            name: secret.name,
            updated_at: secret.updated_at.to_string(),
        })
        .collect())
}

async fn one_secret(
    state: &AppState,
    scope: SecretScope,
    name: &str,
) -> Result<SecretDto, AppError> {
    let name = name.trim().to_ascii_uppercase();
    secret_dtos(state, scope)
        .await?
        .into_iter()
        .find(|secret| secret.name == name)
        .ok_or(AppError::NotFound)
}

async fn api_secrets(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
) -> Result<Json<Vec<SecretDto>>, ApiError> {
    api_guard(&access)?;
    Ok(Json(
        secret_dtos(&state, SecretScope::Repository(access.repository.id)).await?,
    ))
}

async fn api_secret(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<SecretDto>, ApiError> {
    api_guard(&access)?;
    let scope = SecretScope::Repository(access.repository.id);
    Ok(Json(one_secret(&state, scope, &name).await?))
}

async fn api_put_secret(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    api_guard(&access)?;
    check_csrf_header(&access.principal, &headers)?;
    let request: SecretValueDto = json_body(&body, r#"{"value": "…"}"#)?;
    let scope = SecretScope::Repository(access.repository.id);
    set_secret(&state, scope, &name, &request.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_delete_secret(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    api_guard(&access)?;
    check_csrf_header(&access.principal, &headers)?;
    delete_secret(&state, SecretScope::Repository(access.repository.id), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_members(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
) -> Result<Json<Vec<MemberDto>>, ApiError> {
    api_guard(&access)?;
    Ok(Json(
        state
            .store
            .members(access.repository.id)
            .await?
            .into_iter()
            .map(|member| MemberDto {
                user: member.user_name,
                role: member.role.as_str(),
            })
            .collect(),
    ))
}

async fn api_member(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, user)): Path<(String, String, String)>,
) -> Result<Json<MemberDto>, ApiError> {
    api_guard(&access)?;
    let member = state
        .store
        .members(access.repository.id)
        .await?
        .into_iter()
        .find(|member| member.user_name == user)
        .ok_or(AppError::NotFound)?;
    Ok(Json(MemberDto {
        user: member.user_name,
        role: member.role.as_str(),
    }))
}

async fn api_put_member(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, user)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MemberDto>, ApiError> {
    api_guard(&access)?;
    check_csrf_header(&access.principal, &headers)?;
    let request: RoleDto = json_body(&body, r#"{"role": "developer"}"#)?;
    let role = parse_role(&request.role)?;
    change_member(&state, &access.repository, access.role, &user, Some(role)).await?;
    Ok(Json(MemberDto {
        user,
        role: role.as_str(),
    }))
}

async fn api_delete_member(
    State(state): State<AppState>,
    access: RepoAccess<auth::Json>,
    Path((_, _, user)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    api_guard(&access)?;
    check_csrf_header(&access.principal, &headers)?;
    change_member(&state, &access.repository, access.role, &user, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_org_secrets(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
) -> Result<Json<Vec<SecretDto>>, ApiError> {
    site_admin(&principal)?;
    Ok(Json(secret_dtos(&state, SecretScope::Org).await?))
}

async fn api_org_secret(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    Path(name): Path<String>,
) -> Result<Json<SecretDto>, ApiError> {
    site_admin(&principal)?;
    Ok(Json(one_secret(&state, SecretScope::Org, &name).await?))
}

async fn api_put_org_secret(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    site_admin(&principal)?;
    check_csrf_header(&principal, &headers)?;
    let request: SecretValueDto = json_body(&body, r#"{"value": "…"}"#)?;
    set_secret(&state, SecretScope::Org, &name, &request.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_delete_org_secret(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    site_admin(&principal)?;
    check_csrf_header(&principal, &headers)?;
    delete_secret(&state, SecretScope::Org, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_github() {
        assert_eq!(secret_name("api_token").unwrap(), "API_TOKEN");
        assert_eq!(secret_name(" _x9 ").unwrap(), "_X9");
        for bad in [
            "",
            "9LIVES",
            "WITH-DASH",
            "WITH SPACE",
            "github_token",
            "ÄPFEL",
            &"A".repeat(MAX_NAME_LENGTH + 1),
        ] {
            let err = secret_name(bad).unwrap_err();
            assert!(matches!(err, AppError::BadRequest(_)), "{bad}");
        }
        assert!(
            secret_name("GITHUB_TOKEN")
                .unwrap_err()
                .message()
                .contains("reserved")
        );
    }

    #[test]
    fn roles_are_parsed_with_a_helpful_refusal() {
        assert_eq!(parse_role("maintainer").unwrap(), Role::Maintainer);
        let err = parse_role("owner").unwrap_err();
        assert!(
            err.message()
                .contains("viewer, developer, maintainer or admin")
        );
    }
}
