//! The server's users, managed by site admins: the `/admin/users` page with its forms
//! (`POST /admin/users`, `/admin/users/{name}/admin`, `/admin/users/{name}/delete`) and
//! `GET/POST /api/v1/users`, `GET/PATCH/DELETE /api/v1/users/{name}`.
//!
//! Anyone else gets 404 from the pages and 403 from the API. A new user's password is the one the
//! admin chose, or a random one shown once in the answer. Admins cannot delete themselves or take
//! their own admin right away, so there is always one admin left.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use gantry_store::{NewUser, User};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{check_csrf_header, json_body};
use crate::auth::{self, CurrentUser, Html, Principal};
use crate::error::{ApiError, AppError, PageError};
use crate::pages::{MIN_PASSWORD_LENGTH, Nav};
use crate::settings::{admin_page_guard, site_admin};

/// The longest user name accepted.
const MAX_USER_NAME_LENGTH: usize = 64;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users_page).post(create_user_form))
        .route("/admin/users/{name}/admin", post(set_admin_form))
        .route("/admin/users/{name}/delete", post(delete_user_form))
        .route("/api/v1/users", get(api_users).post(api_create_user))
        .route(
            "/api/v1/users/{name}",
            get(api_user).patch(api_set_admin).delete(api_delete_user),
        )
}

// ---- Rules, the same for pages and API ----

/// A user name: 1 to 64 of letters, digits, `_`, `-` and `.`, starting with a letter or digit.
pub fn check_user_name(name: &str) -> Result<(), AppError> {
    let refuse = |why: &str| {
        AppError::BadRequest(format!(
            "`{}` cannot name a user: {why}",
            name.chars().take(MAX_USER_NAME_LENGTH).collect::<String>()
        ))
    };
    let Some(first) = name.chars().next() else {
        return Err(refuse("give a name"));
    };
    if !first.is_ascii_alphanumeric() {
        return Err(refuse("start it with a letter or digit"));
    }
    if !name
        .chars()
        .all(|char| char.is_ascii_alphanumeric() || "_-.".contains(char))
    {
        return Err(refuse("use only letters, digits, `_`, `-` and `.`"));
    }
    if name.len() > MAX_USER_NAME_LENGTH {
        return Err(refuse(&format!(
            "use at most {MAX_USER_NAME_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Creates a user; with no password given, makes a random one. Returns the user and the generated
/// password (to show once).
async fn create_user(
    state: &AppState,
    name: &str,
    password: Option<String>,
    is_admin: bool,
) -> Result<(User, Option<String>), AppError> {
    let name = name.trim();
    check_user_name(name)?;
    let (password, generated) = match password.filter(|password| !password.is_empty()) {
        Some(password) if password.chars().count() < MIN_PASSWORD_LENGTH => {
            return Err(AppError::BadRequest(format!(
                "the password is too short: use at least {MIN_PASSWORD_LENGTH} characters, or \
                 none to have one generated"
            )));
        }
        Some(password) => (password, false),
        None => (auth::random_token(), true),
    };
    let hash = auth::hash_password_blocking(password.clone()).await?;
    let user = state
        .store
        .create_user(&NewUser {
            name,
            password_hash: &hash,
            is_admin,
        })
        .await
        .map_err(|err| match err {
            gantry_store::Error::AlreadyExists => AppError::BadRequest(format!(
                "a user named `{name}` already exists: choose another name"
            )),
            err => err.into(),
        })?;
    tracing::info!(user = %user.name, admin = is_admin, "user created");
    Ok((user, generated.then_some(password)))
}

async fn find_user(state: &AppState, name: &str) -> Result<User, AppError> {
    state
        .store
        .user_by_name(name)
        .await?
        .ok_or(AppError::NotFound)
}

async fn set_admin(
    state: &AppState,
    principal: &Principal,
    name: &str,
    is_admin: bool,
) -> Result<User, AppError> {
    let mut user = find_user(state, name).await?;
    if user.id == principal.user.id {
        return Err(AppError::BadRequest(
            "you cannot change your own admin right: ask another admin".to_string(),
        ));
    }
    if !state.store.set_admin(user.id, is_admin).await? {
        return Err(AppError::NotFound);
    }
    user.is_admin = is_admin;
    tracing::info!(user = %user.name, admin = is_admin, by = %principal.user.name, "admin right changed");
    Ok(user)
}

async fn delete_user(state: &AppState, principal: &Principal, name: &str) -> Result<(), AppError> {
    let user = find_user(state, name).await?;
    if user.id == principal.user.id {
        return Err(AppError::BadRequest(
            "you cannot delete yourself: ask another admin".to_string(),
        ));
    }
    if !state.store.delete_user(user.id).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(user = %user.name, by = %principal.user.name, "user deleted");
    Ok(())
}

// ---- Page ----

struct UserRow {
    name: String,
    admin: bool,
    created: String,
    is_self: bool,
    /// `/admin/users/NAME`, where its forms post to (plus `/admin` or `/delete`).
    url: String,
}

struct CreatedUser {
    name: String,
    password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    csrf: String,
    users: Vec<UserRow>,
    min_length: usize,
    error: Option<String>,
    created: Option<CreatedUser>,
}

async fn render_users(
    state: &AppState,
    principal: &Principal,
    status: StatusCode,
    error: Option<String>,
    created: Option<CreatedUser>,
) -> Result<Response, PageError> {
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .map(|user| UserRow {
            url: format!("/admin/users/{}", auth::percent_encode(&user.name)),
            is_self: user.id == principal.user.id,
            admin: user.is_admin,
            created: user.created_at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            name: user.name,
        })
        .collect();
    let page = UsersPage {
        nav: Some(Nav::of(principal)),
        csrf: principal
            .session
            .as_ref()
            .map(|session| session.csrf_token.clone())
            .unwrap_or_default(),
        users,
        min_length: MIN_PASSWORD_LENGTH,
        error,
        created,
    };
    // A generated password is in this page: no cache may keep it.
    Ok((status, [(header::CACHE_CONTROL, "no-store")], page).into_response())
}

/// The page again with the message for mistakes the admin can fix; the error page otherwise.
async fn refused(
    state: &AppState,
    principal: &Principal,
    err: AppError,
) -> Result<Response, PageError> {
    match err {
        AppError::BadRequest(message) => {
            render_users(
                state,
                principal,
                StatusCode::BAD_REQUEST,
                Some(message),
                None,
            )
            .await
        }
        err => Err(PageError(err)),
    }
}

async fn users_page(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    render_users(&state, &principal, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    admin: Option<String>,
}

async fn create_user_form(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    Form(form): Form<NewUserForm>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    principal.check_csrf(Some(&form.csrf))?;
    let is_admin = form.admin.is_some();
    match create_user(&state, &form.name, Some(form.password), is_admin).await {
        Ok((user, Some(password))) => {
            let created = CreatedUser {
                name: user.name,
                password,
            };
            render_users(&state, &principal, StatusCode::OK, None, Some(created)).await
        }
        Ok((_, None)) => Ok(Redirect::to("/admin/users").into_response()),
        Err(err) => refused(&state, &principal, err).await,
    }
}

#[derive(Deserialize)]
struct AdminForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    admin: String,
}

async fn set_admin_form(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    Path(name): Path<String>,
    Form(form): Form<AdminForm>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    principal.check_csrf(Some(&form.csrf))?;
    let is_admin = match form.admin.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(AppError::BadRequest(
                "`admin` must be `true` or `false`: use the buttons of the users page".to_string(),
            )
            .into());
        }
    };
    match set_admin(&state, &principal, &name, is_admin).await {
        Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
        Err(err) => refused(&state, &principal, err).await,
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn delete_user_form(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<Html>,
    Path(name): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    admin_page_guard(&principal)?;
    principal.check_csrf(Some(&form.csrf))?;
    match delete_user(&state, &principal, &name).await {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(err) => refused(&state, &principal, err).await,
    }
}

// ---- API ----

#[derive(Serialize)]
pub struct UserDto {
    pub name: String,
    pub admin: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        UserDto {
            name: user.name.clone(),
            admin: user.is_admin,
            created_at: user.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct CreatedUserDto {
    #[serde(flatten)]
    pub user: UserDto,
    /// Only when none was given: the generated password, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Deserialize)]
pub struct NewUserDto {
    pub name: String,
    /// At least 12 characters; omitted, one is generated and returned once.
    pub password: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Deserialize)]
pub struct AdminDto {
    pub admin: bool,
}

async fn api_users(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
) -> Result<Json<Vec<UserDto>>, ApiError> {
    site_admin(&principal)?;
    let users = state.store.users().await?;
    Ok(Json(users.iter().map(UserDto::from).collect()))
}

async fn api_user(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    Path(name): Path<String>,
) -> Result<Json<UserDto>, ApiError> {
    site_admin(&principal)?;
    Ok(Json(UserDto::from(&find_user(&state, &name).await?)))
}

async fn api_create_user(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    site_admin(&principal)?;
    check_csrf_header(&principal, &headers)?;
    let request: NewUserDto = json_body(
        &body,
        r#"{"name": "alice", "password": "…", "admin": false}"#,
    )?;
    let (user, password) =
        create_user(&state, &request.name, request.password, request.admin).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(CreatedUserDto {
            user: UserDto::from(&user),
            password,
        }),
    )
        .into_response())
}

async fn api_set_admin(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserDto>, ApiError> {
    site_admin(&principal)?;
    check_csrf_header(&principal, &headers)?;
    let request: AdminDto = json_body(&body, r#"{"admin": true}"#)?;
    let user = set_admin(&state, &principal, &name, request.admin).await?;
    Ok(Json(UserDto::from(&user)))
}

async fn api_delete_user(
    State(state): State<AppState>,
    CurrentUser(principal, ..): CurrentUser<auth::Json>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    site_admin(&principal)?;
    check_csrf_header(&principal, &headers)?;
    delete_user(&state, &principal, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_checked() {
        for good in ["alice", "a", "bob.smith", "ci-bot_2", &"x".repeat(64)] {
            assert!(check_user_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-alice", ".hidden", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(
                matches!(check_user_name(bad), Err(AppError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
