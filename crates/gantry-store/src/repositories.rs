//! Repositories, the roles users hold in them, and secrets (per repository, and organisation-wide).
//!
//! Secret values and webhook secrets are opaque bytes, encrypted by the caller. Secrets are
//! write-only through this API except for [`Store::secrets_for_run`], which hands a run its values:
//! listing gives names only.

use jiff::Timestamp;

use crate::decode::{Columns, from_row};
use crate::{Forge, RepositoryKind, Result, Role, Store, now, on_backend};

/// A registered repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub id: i64,
    /// Unique, `owner/name` style.
    pub name: String,
    pub kind: RepositoryKind,
    /// The path (local) or URL (remote, webhook).
    pub location: String,
    pub default_branch: String,
    pub forge: Forge,
    /// Encrypted by the caller.
    pub webhook_secret: Option<Vec<u8>>,
    pub created_at: Timestamp,
}

/// A repository to register, or the new settings of one.
#[derive(Clone, Debug)]
pub struct NewRepository<'a> {
    pub name: &'a str,
    pub kind: RepositoryKind,
    pub location: &'a str,
    pub default_branch: &'a str,
    pub forge: Forge,
    pub webhook_secret: Option<&'a [u8]>,
}

/// A user's membership of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub user_name: String,
    pub role: Role,
}

/// Where a secret lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretScope {
    /// Organisation-wide: every repository's runs see it (unless the repository has its own of
    /// the same name).
    Org,
    Repository(i64),
}

/// A secret's name, without its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretName {
    pub name: String,
    pub updated_at: Timestamp,
}

/// A secret with its (encrypted) value, for a run.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub value: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("value", &"…")
            .finish()
    }
}

impl Repository {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Repository {
            id: row.int("id")?,
            name: row.text("name")?,
            kind: row.parse("kind")?,
            location: row.text("location")?,
            default_branch: row.text("default_branch")?,
            forge: row.parse("forge")?,
            webhook_secret: row.opt_bytes("webhook_secret")?,
            created_at: row.time("created_at")?,
        })
    }
}

impl Member {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Member {
            user_id: row.int("user_id")?,
            user_name: row.text("user_name")?,
            role: row.parse("role")?,
        })
    }
}

impl SecretName {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(SecretName {
            name: row.text("name")?,
            updated_at: row.time("updated_at")?,
        })
    }
}

impl Secret {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Secret {
            name: row.text("name")?,
            value: row.bytes("value")?,
        })
    }
}

/// A repository with the role a user holds in it.
struct RepositoryWithRole(Repository, Role);

impl RepositoryWithRole {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(RepositoryWithRole(
            Repository::decode(row)?,
            row.parse("role")?,
        ))
    }
}

from_row!(Repository, Member, SecretName, Secret, RepositoryWithRole);

impl Store {
    /// Registers a repository. [`Error::AlreadyExists`](crate::Error::AlreadyExists) if the name is
    /// taken.
    pub async fn create_repository(&self, repo: &NewRepository<'_>) -> Result<Repository> {
        let created = now();
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "INSERT INTO repositories \
             (name, kind, location, default_branch, forge, webhook_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *"
        )
        .bind(repo.name)
        .bind(repo.kind.as_str())
        .bind(repo.location)
        .bind(repo.default_branch)
        .bind(repo.forge.as_str())
        .bind(repo.webhook_secret)
        .bind(created)
        .fetch_one(pool)
        .await)?)
    }

    /// Replaces a repository's settings (name included). False if there is no such repository.
    pub async fn update_repository(&self, id: i64, repo: &NewRepository<'_>) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE repositories SET name = $2, kind = $3, location = $4, default_branch = $5, \
             forge = $6, webhook_secret = $7 WHERE id = $1"
        )
        .bind(id)
        .bind(repo.name)
        .bind(repo.kind.as_str())
        .bind(repo.location)
        .bind(repo.default_branch)
        .bind(repo.forge.as_str())
        .bind(repo.webhook_secret)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn repository(&self, id: i64) -> Result<Option<Repository>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM repositories WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn repository_by_name(&self, name: &str) -> Result<Option<Repository>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM repositories WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every repository, by name.
    pub async fn repositories(&self) -> Result<Vec<Repository>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM repositories ORDER BY name"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// The repositories a user is a member of, by name, with their role in each.
    pub async fn repositories_of_user(&self, user_id: i64) -> Result<Vec<(Repository, Role)>> {
        let rows: Vec<RepositoryWithRole> = on_backend!(self, |pool| sqlx::query_as(
            "SELECT r.*, m.role FROM repositories r \
             JOIN repository_members m ON m.repository_id = r.id \
             WHERE m.user_id = $1 ORDER BY r.name"
        )
        .bind(user_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(|row| (row.0, row.1)).collect())
    }

    /// Deletes a repository with everything that belongs to it (runs and their logs, secrets,
    /// members, schedule slots). False if there was none.
    pub async fn delete_repository(&self, id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM repositories WHERE id = $1"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Gives a user a role in a repository, replacing the one they had.
    /// [`Error::NotFound`](crate::Error::NotFound) if the user or the repository does not exist.
    pub async fn set_role(&self, repository_id: i64, user_id: i64, role: Role) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO repository_members (repository_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id, user_id) DO UPDATE SET role = excluded.role"
        )
        .bind(repository_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// A user's role in a repository, if they are a member.
    pub async fn role(&self, repository_id: i64, user_id: i64) -> Result<Option<Role>> {
        let role: Option<String> = on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT role FROM repository_members WHERE repository_id = $1 AND user_id = $2"
        )
        .bind(repository_id)
        .bind(user_id)
        .fetch_optional(pool)
        .await)?;
        role.map(|role| {
            role.parse()
                .map_err(|err| sqlx::Error::Decode(Box::new(err)).into())
        })
        .transpose()
    }

    /// A repository's members, by user name.
    pub async fn members(&self, repository_id: i64) -> Result<Vec<Member>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT m.user_id, u.name AS user_name, m.role FROM repository_members m \
             JOIN users u ON u.id = m.user_id WHERE m.repository_id = $1 ORDER BY u.name"
        )
        .bind(repository_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Takes a user's role in a repository away. False if they had none.
    pub async fn remove_member(&self, repository_id: i64, user_id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM repository_members WHERE repository_id = $1 AND user_id = $2"
        )
        .bind(repository_id)
        .bind(user_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Sets a secret's (encrypted) value, creating or replacing it.
    /// [`Error::NotFound`](crate::Error::NotFound) if the repository does not exist.
    pub async fn set_secret(&self, scope: SecretScope, name: &str, value: &[u8]) -> Result<()> {
        let updated = now();
        match scope {
            SecretScope::Org => on_backend!(self, |pool| sqlx::query(
                "INSERT INTO org_secrets (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at"
            )
            .bind(name)
            .bind(value)
            .bind(updated)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
            SecretScope::Repository(repository_id) => on_backend!(self, |pool| sqlx::query(
                "INSERT INTO repository_secrets (repository_id, name, value, updated_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repository_id, name) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at"
            )
            .bind(repository_id)
            .bind(name)
            .bind(value)
            .bind(updated)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
        };
        Ok(())
    }

    /// Deletes a secret. False if there was none.
    pub async fn delete_secret(&self, scope: SecretScope, name: &str) -> Result<bool> {
        let done = match scope {
            SecretScope::Org => on_backend!(self, |pool| sqlx::query(
                "DELETE FROM org_secrets WHERE name = $1"
            )
            .bind(name)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
            SecretScope::Repository(repository_id) => on_backend!(self, |pool| sqlx::query(
                "DELETE FROM repository_secrets WHERE repository_id = $1 AND name = $2"
            )
            .bind(repository_id)
            .bind(name)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
        };
        Ok(done == 1)
    }

    /// The names of the secrets in a scope (never their values), by name.
    pub async fn secret_names(&self, scope: SecretScope) -> Result<Vec<SecretName>> {
        Ok(match scope {
            SecretScope::Org => on_backend!(self, |pool| sqlx::query_as(
                "SELECT name, updated_at FROM org_secrets ORDER BY name"
            )
            .fetch_all(pool)
            .await)?,
            SecretScope::Repository(repository_id) => on_backend!(self, |pool| sqlx::query_as(
                "SELECT name, updated_at FROM repository_secrets WHERE repository_id = $1 \
                 ORDER BY name"
            )
            .bind(repository_id)
            .fetch_all(pool)
            .await)?,
        })
    }

    /// The secrets a run of this repository receives, by name: the organisation's, with the
    /// repository's own replacing those of the same name. (Fork pull requests get none: deciding
    /// that is the caller's.)
    pub async fn secrets_for_run(&self, repository_id: i64) -> Result<Vec<Secret>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT name, value FROM repository_secrets WHERE repository_id = $1 \
             UNION ALL \
             SELECT name, value FROM org_secrets o WHERE NOT EXISTS \
             (SELECT 1 FROM repository_secrets r WHERE r.repository_id = $1 AND r.name = o.name) \
             ORDER BY name"
        )
        .bind(repository_id)
        .fetch_all(pool)
        .await)?)
    }
}
