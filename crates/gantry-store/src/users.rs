//! Users, their sessions and their API tokens.
//!
//! The store keeps what it is given: password hashes (argon2 strings), session ids and token hashes
//! (SHA-256 of a random token) are computed by the caller. A session id or token hash is looked up
//! as-is, so the secret itself is never stored.

use jiff::Timestamp;

use crate::decode::{Columns, from_row};
use crate::{Result, Store, millis, now, on_backend};

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// Unique.
    pub name: String,
    /// The argon2 hash string (PHC format), as the caller made it.
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: Timestamp,
}

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
}

/// A login session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The SHA-256 of the session token the browser holds.
    pub id: Vec<u8>,
    pub user_id: i64,
    /// The token every form must carry.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A session to create.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    /// The SHA-256 of the session token.
    pub id: &'a [u8],
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub expires_at: Timestamp,
}

/// An API token (its hash is not read back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    /// Unique per user.
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl User {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(User {
            id: row.int("id")?,
            name: row.text("name")?,
            password_hash: row.text("password_hash")?,
            is_admin: row.flag("is_admin")?,
            created_at: row.time("created_at")?,
        })
    }
}

impl Session {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Session {
            id: row.bytes("id")?,
            user_id: row.int("user_id")?,
            csrf_token: row.text("csrf_token")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
        })
    }
}

impl ApiToken {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(ApiToken {
            id: row.int("id")?,
            user_id: row.int("user_id")?,
            name: row.text("name")?,
            created_at: row.time("created_at")?,
            last_used_at: row.opt_time("last_used_at")?,
        })
    }
}

from_row!(User, Session, ApiToken);

impl Store {
    /// Creates a user. [`Error::AlreadyExists`](crate::Error::AlreadyExists) if the name is taken.
    pub async fn create_user(&self, user: &NewUser<'_>) -> Result<User> {
        let created = now();
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "INSERT INTO users (name, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING *"
        )
        .bind(user.name)
        .bind(user.password_hash)
        .bind(user.is_admin)
        .bind(created)
        .fetch_one(pool)
        .await)?)
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM users WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM users ORDER BY name"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// How many users exist (none on first start: time to create the admin).
    pub async fn user_count(&self) -> Result<u64> {
        let count: i64 = on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(pool)
        .await)?;
        Ok(count as u64)
    }

    /// Replaces a user's password hash. False if there is no such user.
    pub async fn set_password_hash(&self, user_id: i64, password_hash: &str) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE users SET password_hash = $2 WHERE id = $1"
        )
        .bind(user_id)
        .bind(password_hash)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Grants or withdraws the server-wide admin right. False if there is no such user.
    pub async fn set_admin(&self, user_id: i64, is_admin: bool) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE users SET is_admin = $2 WHERE id = $1"
        )
        .bind(user_id)
        .bind(is_admin)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Deletes a user with their sessions, tokens and memberships. False if there was none.
    pub async fn delete_user(&self, user_id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Records a login session. [`Error::NotFound`](crate::Error::NotFound) if the user does not
    /// exist.
    pub async fn create_session(&self, session: &NewSession<'_>) -> Result<Session> {
        let created = now();
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *"
        )
        .bind(session.id)
        .bind(session.user_id)
        .bind(session.csrf_token)
        .bind(created)
        .bind(millis(session.expires_at))
        .fetch_one(pool)
        .await)?)
    }

    /// The session with this id (the token's SHA-256), unless it has expired.
    pub async fn session(&self, id: &[u8]) -> Result<Option<Session>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM sessions WHERE id = $1 AND expires_at > $2"
        )
        .bind(id)
        .bind(now())
        .fetch_optional(pool)
        .await)?)
    }

    /// Logs a session out. False if there was none.
    pub async fn delete_session(&self, id: &[u8]) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE id = $1"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Logs a user out everywhere (after a password change). Returns how many sessions ended.
    pub async fn delete_sessions_of_user(&self, user_id: i64) -> Result<u64> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1"
        )
        .bind(user_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }

    /// Removes the sessions that have expired. Returns how many.
    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1"
        )
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }

    /// Records an API token by the SHA-256 of its secret.
    /// [`Error::AlreadyExists`](crate::Error::AlreadyExists) if the user has a token of that name.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
    ) -> Result<ApiToken> {
        let created = now();
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id, user_id, name, created_at, last_used_at"
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(created)
        .fetch_one(pool)
        .await)?)
    }

    /// Authenticates a request: the token with this hash, if any, with its use recorded
    /// (`last_used_at` is now).
    pub async fn use_api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 \
             RETURNING id, user_id, name, created_at, last_used_at"
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(pool)
        .await)?)
    }

    /// A user's tokens, by name.
    pub async fn api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY name"
        )
        .bind(user_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Revokes one of a user's tokens. False if the user has no token with that id.
    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2"
        )
        .bind(token_id)
        .bind(user_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }
}
