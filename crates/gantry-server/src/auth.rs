//! Who is asking, and what they may see.
//!
//! - Passwords are argon2 hashes (PHC strings), computed and checked on the blocking pool.
//! - A session is a random 32-byte token in the `gantry_session` cookie (HttpOnly, SameSite=Lax);
//!   the store keeps only its SHA-256, with the session's CSRF token, which every POST form must
//!   carry (and a cookie-authenticated API POST must send as `X-CSRF-Token`).
//! - An API token (`Authorization: Bearer gantry_…`) is 32 random bytes, shown once, stored as the
//!   SHA-256 of the token string.
//! - Access to a repository is decided in one place, the [`RepoAccess`] extractor: a site admin
//!   sees every repository, a member sees the repositories they hold a role in, and everyone else
//!   gets 404, exactly as for a repository that does not exist.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_store::{Repository, Role, Session, User};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{ApiError, AppError, PageError};

/// The cookie that holds the session token.
pub const SESSION_COOKIE: &str = "gantry_session";
/// The cookie that holds the login form's CSRF token (before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "gantry_login_csrf";
/// How long a session lasts.
pub const SESSION_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 14);
/// The prefix of API tokens, so that they are recognisable in logs and secret scanners.
const API_TOKEN_PREFIX: &str = "gantry_";
/// Reading a repository (its runs, jobs and logs) needs at least this role.
const READ_ROLE: Role = Role::Viewer;

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The SHA-256 the store keeps for a session or API token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new API token's secret.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_token())
}

/// Hashes a password with argon2 (default parameters, random salt). Slow on purpose: call it from
/// the blocking pool (see [`hash_password_blocking`]).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| AppError::Internal(format!("hashing a password: {err}")))
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_password_blocking(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| AppError::Internal(format!("password hashing task: {err}")))?
}

/// Whether `password` matches the stored hash; `None` checks against a dummy hash, so that a login
/// for a user who does not exist takes as long as one with a wrong password.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let stored = match &stored {
            Some(stored) => stored.as_str(),
            None => dummy_hash(),
        };
        let Ok(hash) = PasswordHash::new(stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
    .await
    .map_err(|err| AppError::Internal(format!("password checking task: {err}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for the session cookie.
pub fn session_cookie(token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    )
}

/// A `Set-Cookie` value that removes a cookie.
pub fn expired_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// An authenticated caller: a user, by session or by API token.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    /// The session, when the caller came with the session cookie (none for API tokens).
    pub session: Option<Session>,
}

impl Principal {
    /// Checks a form's or header's CSRF token against the session's. Token-authenticated requests
    /// need none: a browser never adds the `Authorization` header by itself.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), AppError> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        match presented {
            Some(presented) if same_secret(presented, &session.csrf_token) => Ok(()),
            _ => Err(AppError::Forbidden(
                "the form is stale or did not come from this site: reload the page and try again"
                    .to_string(),
            )),
        }
    }
}

/// Finds who is asking: a bearer token wins over the session cookie. An invalid bearer token is an
/// error (never silently anonymous); a missing or expired session is anonymous. The answer is
/// cached in the request, so several extractors cost one lookup.
pub async fn principal(parts: &mut Parts, state: &AppState) -> Result<Option<Principal>, AppError> {
    if let Some(found) = parts.extensions.get::<Option<Principal>>() {
        return Ok(found.clone());
    }
    let found = lookup_principal(parts, state).await?;
    parts.extensions.insert(found.clone());
    Ok(found)
}

async fn lookup_principal(parts: &Parts, state: &AppState) -> Result<Option<Principal>, AppError> {
    if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AppError::Unauthenticated)?;
        let api_token = state
            .store
            .use_api_token(&token_hash(token))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let user = state
            .store
            .user(api_token.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        return Ok(Some(Principal {
            user,
            session: None,
        }));
    }
    let Some(token) = cookie(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state.store.session(&token_hash(token)).await? else {
        return Ok(None);
    };
    let Some(user) = state.store.user(session.user_id).await? else {
        return Ok(None);
    };
    Ok(Some(Principal {
        user,
        session: Some(session),
    }))
}

/// How an extractor's refusal is shown: as a page or as JSON.
pub trait Surface: Send + Sync + 'static {
    fn reject(err: AppError, parts: &Parts) -> Response;
}

/// HTML pages: an anonymous visitor is sent to `/login?next=…`.
pub struct Html;

/// The JSON API: an anonymous caller gets 401.
pub struct Json;

impl Surface for Html {
    fn reject(err: AppError, parts: &Parts) -> Response {
        match err {
            AppError::Unauthenticated => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|path| path.as_str())
                    .unwrap_or("/");
                Redirect::to(&format!("/login?next={}", percent_encode(next))).into_response()
            }
            err => PageError(err).into_response(),
        }
    }
}

impl Surface for Json {
    fn reject(err: AppError, _parts: &Parts) -> Response {
        ApiError(err).into_response()
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A logged-in user (by session or token); anonymous callers are refused as the surface `S` says.
pub struct CurrentUser<S: Surface>(pub Principal, pub PhantomData<S>);

impl<S: Surface> FromRequestParts<AppState> for CurrentUser<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match principal(parts, state).await {
            Ok(Some(found)) => Ok(CurrentUser(found, PhantomData)),
            Ok(None) => Err(S::reject(AppError::Unauthenticated, parts)),
            Err(err) => Err(S::reject(err, parts)),
        }
    }
}

/// The guard of every repository endpoint: the repository named by the `{owner}/{repo}` path
/// segments, and the caller's role in it. Anonymous callers are refused (login redirect or 401);
/// a caller without a role, or with one weaker than reading needs, gets 404 as if the repository
/// did not exist.
pub struct RepoAccess<S: Surface> {
    pub principal: Principal,
    pub repository: Repository,
    /// The caller's role; site admins act as repository admins.
    pub role: Role,
    surface: PhantomData<S>,
}

impl<S: Surface> FromRequestParts<AppState> for RepoAccess<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found = match principal(parts, state).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(S::reject(AppError::Unauthenticated, parts)),
            Err(err) => return Err(S::reject(err, parts)),
        };
        let Ok(Path(params)) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await
        else {
            return Err(S::reject(AppError::NotFound, parts));
        };
        let (Some(owner), Some(repo)) = (params.get("owner"), params.get("repo")) else {
            return Err(S::reject(AppError::NotFound, parts));
        };
        match authorize(state, &found.user, &format!("{owner}/{repo}")).await {
            Ok((repository, role)) => Ok(RepoAccess {
                principal: found,
                repository,
                role,
                surface: PhantomData,
            }),
            Err(err) => Err(S::reject(err, parts)),
        }
    }
}

async fn authorize(
    state: &AppState,
    user: &User,
    name: &str,
) -> Result<(Repository, Role), AppError> {
    let repository = state
        .store
        .repository_by_name(name)
        .await?
        .ok_or(AppError::NotFound)?;
    let role = if user.is_admin {
        Role::Admin
    } else {
        state
            .store
            .role(repository.id, user.id)
            .await?
            .ok_or(AppError::NotFound)?
    };
    if role < READ_ROLE {
        return Err(AppError::NotFound);
    }
    Ok((repository, role))
}

/// The repositories a user may see, by name, with their role in each (site admins: all, as admin).
pub async fn visible_repositories(
    state: &AppState,
    user: &User,
) -> Result<Vec<(Repository, Role)>, AppError> {
    if user.is_admin {
        Ok(state
            .store
            .repositories()
            .await?
            .into_iter()
            .map(|repository| (repository, Role::Admin))
            .collect())
    } else {
        Ok(state
            .store
            .repositories_of_user(user.id)
            .await?
            .into_iter()
            .filter(|(_, role)| *role >= READ_ROLE)
            .collect())
    }
}
