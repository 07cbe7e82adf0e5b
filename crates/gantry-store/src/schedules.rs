//! Cron schedules' last fired slots, and the server's key/value settings.
//!
//! A schedule fires once per slot even across restarts and with several callers: firing starts
//! with [`Store::claim_schedule_slot`], one atomic statement that only the first caller wins.

use jiff::Timestamp;

use crate::{Result, Store, millis, on_backend};

impl Store {
    /// Claims the cron slot `slot` (the minute it fires for) of a workflow's schedule: true for
    /// the first caller only, false for any later one and for a slot older than the last claimed.
    /// [`Error::NotFound`](crate::Error::NotFound) if the repository does not exist.
    pub async fn claim_schedule_slot(
        &self,
        repository_id: i64,
        workflow_file: &str,
        cron: &str,
        slot: Timestamp,
    ) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "INSERT INTO schedule_slots (repository_id, workflow_file, cron, last_slot) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (repository_id, workflow_file, cron) DO UPDATE \
             SET last_slot = excluded.last_slot WHERE schedule_slots.last_slot < excluded.last_slot"
        )
        .bind(repository_id)
        .bind(workflow_file)
        .bind(cron)
        .bind(millis(slot))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// The last slot claimed for a schedule (to catch up after a restart), if any.
    pub async fn last_schedule_slot(
        &self,
        repository_id: i64,
        workflow_file: &str,
        cron: &str,
    ) -> Result<Option<Timestamp>> {
        let slot: Option<i64> = on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT last_slot FROM schedule_slots \
             WHERE repository_id = $1 AND workflow_file = $2 AND cron = $3"
        )
        .bind(repository_id)
        .bind(workflow_file)
        .bind(cron)
        .fetch_optional(pool)
        .await)?;
        slot.map(|ms| {
            Timestamp::from_millisecond(ms).map_err(|err| sqlx::Error::Decode(Box::new(err)).into())
        })
        .transpose()
    }

    /// A setting's value.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(pool)
        .await)?)
    }

    /// Sets a setting, creating or replacing it.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        .bind(key)
        .bind(value)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Deletes a setting. False if there was none.
    pub async fn delete_setting(&self, key: &str) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM settings WHERE key = $1"
        )
        .bind(key)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Every setting, by key.
    pub async fn settings(&self) -> Result<Vec<(String, String)>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT key, value FROM settings ORDER BY key"
        )
        .fetch_all(pool)
        .await)?)
    }
}
