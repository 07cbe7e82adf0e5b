//! Runs, their jobs and steps: creation (with per-repository run numbers), state changes, the
//! queries the UI and the scheduler need, crash recovery and retention.
//!
//! Run numbers come from a counter on the repository row, incremented in the transaction that
//! inserts the run: numbers are unique and without gaps per repository, even when many runs are
//! created at once, and a number is never reused after retention deletes its run.
//!
//! State changes are guarded by the current state (`start_run` only moves a queued run…), and say
//! whether they changed anything, so two racing callers cannot both win.

use jiff::Timestamp;

use crate::decode::{Columns, from_row};
use crate::{BeginWrite as _, Conclusion, Error, Result, Status, Store, millis, now, on_backend};

/// A run of one workflow for one event. Its event payload is read with [`Store::run_payload`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub repository_id: i64,
    /// 1, 2, 3… per repository.
    pub number: i64,
    /// The workflow's path in the repository (`.github/workflows/ci.yml`).
    pub workflow_file: String,
    pub workflow_name: String,
    /// `push`, `pull_request`, `schedule`, `workflow_dispatch`…
    pub event: String,
    /// The full ref (`refs/heads/main`, `refs/pull/7/merge`, `refs/tags/v1`).
    pub git_ref: String,
    /// The branch the run belongs to on the dashboard (a push's branch, a pull request's head
    /// branch); none for tags.
    pub branch: Option<String>,
    pub sha: String,
    pub actor: String,
    /// The commit message's first line, the pull request's title…
    pub title: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// Why the run is waiting, was cancelled or was interrupted.
    pub status_reason: Option<String>,
    pub concurrency_group: Option<String>,
    /// 1 for a first run; a re-run has the attempt of the run it re-runs plus one.
    pub attempt: i64,
    /// The run this one re-runs.
    pub rerun_of: Option<i64>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A run to create.
#[derive(Clone, Debug)]
pub struct NewRun<'a> {
    pub repository_id: i64,
    pub workflow_file: &'a str,
    pub workflow_name: &'a str,
    pub event: &'a str,
    pub git_ref: &'a str,
    pub branch: Option<&'a str>,
    pub sha: &'a str,
    pub actor: &'a str,
    pub title: &'a str,
    /// The event payload, JSON.
    pub payload: &'a str,
    pub concurrency_group: Option<&'a str>,
}

/// Which runs [`Store::list_runs`] returns, newest first. Every filter set must match.
#[derive(Clone, Debug)]
pub struct RunFilter<'a> {
    pub repository_id: Option<i64>,
    pub branch: Option<&'a str>,
    pub workflow_file: Option<&'a str>,
    pub status: Option<Status>,
    /// Keyset pagination: only runs with a smaller id (pass the last id of the previous page).
    pub before_id: Option<i64>,
    pub limit: u32,
}

impl Default for RunFilter<'_> {
    fn default() -> Self {
        RunFilter {
            repository_id: None,
            branch: None,
            workflow_file: None,
            status: None,
            before_id: None,
            limit: 50,
        }
    }
}

/// One job of a run (one matrix instance is one job).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub run_id: i64,
    /// Unique in the run: the job's id in the workflow, plus the matrix values for an instance.
    pub key: String,
    pub name: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub status_reason: Option<String>,
    /// The `runs-on` labels, JSON.
    pub labels: String,
    /// The runner that took the job.
    pub runner: Option<String>,
    /// The keys of the jobs this one needs, JSON.
    pub needs: String,
    /// The job's outputs, a JSON object.
    pub outputs: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A job to create (queued).
#[derive(Clone, Debug)]
pub struct NewJob<'a> {
    pub key: &'a str,
    pub name: &'a str,
    /// JSON.
    pub labels: &'a str,
    /// JSON.
    pub needs: &'a str,
}

/// One step of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub job_id: i64,
    /// 0, 1, 2… in the job.
    pub index: i64,
    pub name: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl Run {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Run {
            id: row.int("id")?,
            repository_id: row.int("repository_id")?,
            number: row.int("number")?,
            workflow_file: row.text("workflow_file")?,
            workflow_name: row.text("workflow_name")?,
            event: row.text("event")?,
            git_ref: row.text("git_ref")?,
            branch: row.opt_text("branch")?,
            sha: row.text("sha")?,
            actor: row.text("actor")?,
            title: row.text("title")?,
            status: row.parse("status")?,
            conclusion: row.opt_parse("conclusion")?,
            status_reason: row.opt_text("status_reason")?,
            concurrency_group: row.opt_text("concurrency_group")?,
            attempt: row.int("attempt")?,
            rerun_of: row.opt_int("rerun_of")?,
            created_at: row.time("created_at")?,
            started_at: row.opt_time("started_at")?,
            finished_at: row.opt_time("finished_at")?,
        })
    }
}

impl Job {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Job {
            id: row.int("id")?,
            run_id: row.int("run_id")?,
            key: row.text("job_key")?,
            name: row.text("name")?,
            status: row.parse("status")?,
            conclusion: row.opt_parse("conclusion")?,
            status_reason: row.opt_text("status_reason")?,
            labels: row.text("labels")?,
            runner: row.opt_text("runner")?,
            needs: row.text("needs")?,
            outputs: row.text("outputs")?,
            created_at: row.time("created_at")?,
            started_at: row.opt_time("started_at")?,
            finished_at: row.opt_time("finished_at")?,
        })
    }
}

impl Step {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(Step {
            job_id: row.int("job_id")?,
            index: row.int("idx")?,
            name: row.text("name")?,
            status: row.parse("status")?,
            conclusion: row.opt_parse("conclusion")?,
            started_at: row.opt_time("started_at")?,
            finished_at: row.opt_time("finished_at")?,
        })
    }
}

from_row!(Run, Job, Step);

/// The columns of [`Run`]: every column of `runs` but the payload. A macro so that it can be
/// `concat!`ed into `&'static str` queries.
macro_rules! run_columns {
    () => {
        "id, repository_id, number, workflow_file, workflow_name, event, git_ref, branch, sha, \
         actor, title, status, conclusion, status_reason, concurrency_group, attempt, rerun_of, \
         created_at, started_at, finished_at"
    };
}

/// A value bound to a query built at run time.
enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

impl Store {
    /// Creates a queued run with the repository's next run number.
    /// [`Error::NotFound`] if the repository does not exist.
    pub async fn create_run(&self, run: &NewRun<'_>) -> Result<Run> {
        self.insert_run(run, 1, None).await
    }

    /// Creates a queued run that re-runs `run_id`: the same workflow, event, commit and payload,
    /// a new run number, the next attempt, and `rerun_of` pointing back. Which jobs it runs is
    /// the caller's to decide. [`Error::NotFound`] if there is no such run.
    pub async fn create_rerun(&self, run_id: i64, actor: &str) -> Result<Run> {
        let old = self.run(run_id).await?.ok_or(Error::NotFound)?;
        let payload = self.run_payload(run_id).await?.ok_or(Error::NotFound)?;
        let new = NewRun {
            repository_id: old.repository_id,
            workflow_file: &old.workflow_file,
            workflow_name: &old.workflow_name,
            event: &old.event,
            git_ref: &old.git_ref,
            branch: old.branch.as_deref(),
            sha: &old.sha,
            actor,
            title: &old.title,
            payload: &payload,
            concurrency_group: old.concurrency_group.as_deref(),
        };
        self.insert_run(&new, old.attempt + 1, Some(old.id)).await
    }

    async fn insert_run(
        &self,
        run: &NewRun<'_>,
        attempt: i64,
        rerun_of: Option<i64>,
    ) -> Result<Run> {
        let created = now();
        let inserted = on_backend!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let number: Option<i64> = sqlx::query_scalar(
                "UPDATE repositories SET last_run_number = last_run_number + 1 WHERE id = $1 \
                 RETURNING last_run_number",
            )
            .bind(run.repository_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(number) = number else {
                return Err(Error::NotFound);
            };
            let inserted: Run = sqlx::query_as(concat!(
                "INSERT INTO runs (repository_id, number, workflow_file, workflow_name, event, \
                 git_ref, branch, sha, actor, title, payload, status, concurrency_group, attempt, \
                 rerun_of, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued', $12, $13, $14, \
                 $15) RETURNING ",
                run_columns!()
            ))
            .bind(run.repository_id)
            .bind(number)
            .bind(run.workflow_file)
            .bind(run.workflow_name)
            .bind(run.event)
            .bind(run.git_ref)
            .bind(run.branch)
            .bind(run.sha)
            .bind(run.actor)
            .bind(run.title)
            .bind(run.payload)
            .bind(run.concurrency_group)
            .bind(attempt)
            .bind(rerun_of)
            .bind(created)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            inserted
        });
        Ok(inserted)
    }

    pub async fn run(&self, id: i64) -> Result<Option<Run>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// The run with this number in a repository.
    pub async fn run_by_number(&self, repository_id: i64, number: i64) -> Result<Option<Run>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE repository_id = $1 AND number = $2"
        ))
        .bind(repository_id)
        .bind(number)
        .fetch_optional(pool)
        .await)?)
    }

    /// A run's event payload (JSON).
    pub async fn run_payload(&self, id: i64) -> Result<Option<String>> {
        Ok(on_backend!(self, |pool| sqlx::query_scalar(
            "SELECT payload FROM runs WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Runs matching the filter, newest (highest id) first, at most `filter.limit`. Each filter
    /// has an index that serves it with the repository, so a page costs the same with 10 runs or
    /// 100,000.
    pub async fn list_runs(&self, filter: &RunFilter<'_>) -> Result<Vec<Run>> {
        let mut sql = String::from(concat!("SELECT ", run_columns!(), " FROM runs WHERE 1 = 1"));
        let mut params = Vec::new();
        if let Some(repository_id) = filter.repository_id {
            params.push(Param::Int(repository_id));
            sql.push_str(&format!(" AND repository_id = ${}", params.len()));
        }
        if let Some(branch) = filter.branch {
            params.push(Param::Text(branch));
            sql.push_str(&format!(" AND branch = ${}", params.len()));
        }
        if let Some(workflow_file) = filter.workflow_file {
            params.push(Param::Text(workflow_file));
            sql.push_str(&format!(" AND workflow_file = ${}", params.len()));
        }
        if let Some(status) = filter.status {
            params.push(Param::Text(status.as_str()));
            sql.push_str(&format!(" AND status = ${}", params.len()));
        }
        if let Some(before_id) = filter.before_id {
            params.push(Param::Int(before_id));
            sql.push_str(&format!(" AND id < ${}", params.len()));
        }
        params.push(Param::Int(i64::from(filter.limit)));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", params.len()));
        Ok(on_backend!(self, |pool| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for param in &params {
                query = match *param {
                    Param::Int(value) => query.bind(value),
                    Param::Text(value) => query.bind(value),
                };
            }
            query.fetch_all(pool).await
        })?)
    }

    /// For a dashboard: the latest run of each branch of these repositories, by repository and
    /// branch. Runs without a branch (tags) are left out.
    pub async fn latest_runs_per_branch(&self, repository_ids: &[i64]) -> Result<Vec<Run>> {
        if repository_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=repository_ids.len())
            .map(|n| format!("${n}"))
            .collect();
        let sql = format!(
            concat!(
                "SELECT ",
                run_columns!(),
                " FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE repository_id IN ({}) \
                 AND branch IS NOT NULL GROUP BY repository_id, branch) \
                 ORDER BY repository_id, branch"
            ),
            placeholders.join(", ")
        );
        Ok(on_backend!(self, |pool| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for id in repository_ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await
        })?)
    }

    /// The queued runs, oldest first: the scheduler's backlog.
    pub async fn queued_runs(&self) -> Result<Vec<Run>> {
        self.runs_with_status(Status::Queued).await
    }

    /// The runs that are running, oldest first. At start-up these are the runs a previous server
    /// process left behind: see [`Store::requeue_interrupted`] and [`Store::fail_interrupted`].
    pub async fn runs_in_progress(&self) -> Result<Vec<Run>> {
        self.runs_with_status(Status::Running).await
    }

    async fn runs_with_status(&self, status: Status) -> Result<Vec<Run>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE status = $1 ORDER BY id"
        ))
        .bind(status.as_str())
        .fetch_all(pool)
        .await)?)
    }

    /// The runs of a concurrency group that are not completed, oldest first.
    pub async fn active_runs_in_group(&self, concurrency_group: &str) -> Result<Vec<Run>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE concurrency_group = $1 AND status <> 'completed' ORDER BY id"
        ))
        .bind(concurrency_group)
        .fetch_all(pool)
        .await)?)
    }

    /// Holds a queued run (a fork's pull request awaiting approval). False unless it was queued.
    pub async fn hold_run(&self, id: i64, reason: &str) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE runs SET status = 'waiting', status_reason = $2 \
             WHERE id = $1 AND status = 'queued'"
        )
        .bind(id)
        .bind(reason)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Queues a waiting run again (approved). False unless it was waiting.
    pub async fn release_run(&self, id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE runs SET status = 'queued', status_reason = NULL \
             WHERE id = $1 AND status = 'waiting'"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Marks a queued run as running (its start time is kept if it had one). False unless it was
    /// queued.
    pub async fn start_run(&self, id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, $2) \
             WHERE id = $1 AND status = 'queued'"
        )
        .bind(id)
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Completes a run with its conclusion. False if it was already completed (or does not
    /// exist).
    pub async fn finish_run(&self, id: i64, conclusion: Conclusion) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE runs SET status = 'completed', conclusion = $2, finished_at = $3 \
             WHERE id = $1 AND status <> 'completed'"
        )
        .bind(id)
        .bind(conclusion.as_str())
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Cancels a run that is not completed, with its jobs and steps that are not: all become
    /// completed and cancelled, with the reason on the run and its jobs. False if the run was
    /// already completed (or does not exist). Stopping what is executing is the caller's.
    pub async fn cancel_run(&self, id: i64, reason: &str) -> Result<bool> {
        let at = now();
        let cancelled = on_backend!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE runs SET status = 'completed', conclusion = 'cancelled', \
                 status_reason = $2, finished_at = $3 WHERE id = $1 AND status <> 'completed'",
            )
            .bind(id)
            .bind(reason)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "UPDATE steps SET status = 'completed', conclusion = 'cancelled', \
                     finished_at = $2 WHERE status <> 'completed' \
                     AND job_id IN (SELECT id FROM jobs WHERE run_id = $1)",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE jobs SET status = 'completed', conclusion = 'cancelled', \
                     status_reason = $2, finished_at = $3 \
                     WHERE run_id = $1 AND status <> 'completed'",
                )
                .bind(id)
                .bind(reason)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            done.rows_affected() == 1
        });
        Ok(cancelled)
    }

    /// Adds a queued job to a run. [`Error::AlreadyExists`] if the run has a job with that key,
    /// [`Error::NotFound`] if there is no such run.
    pub async fn create_job(&self, run_id: i64, job: &NewJob<'_>) -> Result<Job> {
        let created = now();
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "INSERT INTO jobs (run_id, job_key, name, status, labels, needs, outputs, created_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, '{}', $6) RETURNING *"
        )
        .bind(run_id)
        .bind(job.key)
        .bind(job.name)
        .bind(job.labels)
        .bind(job.needs)
        .bind(created)
        .fetch_one(pool)
        .await)?)
    }

    /// Adds a job that is already completed: a re-run keeps the result of a job of the attempt
    /// it re-runs (`reason` says so). [`Error::AlreadyExists`] if the run has a job with that key.
    pub async fn create_finished_job(
        &self,
        run_id: i64,
        job: &NewJob<'_>,
        conclusion: Conclusion,
        outputs: &str,
        reason: &str,
    ) -> Result<Job> {
        let created = now();
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "INSERT INTO jobs (run_id, job_key, name, status, conclusion, status_reason, labels, \
             needs, outputs, created_at, finished_at) \
             VALUES ($1, $2, $3, 'completed', $4, $5, $6, $7, $8, $9, $9) RETURNING *"
        )
        .bind(run_id)
        .bind(job.key)
        .bind(job.name)
        .bind(conclusion.as_str())
        .bind(reason)
        .bind(job.labels)
        .bind(job.needs)
        .bind(outputs)
        .bind(created)
        .fetch_one(pool)
        .await)?)
    }

    /// Removes a job that never started: the placeholder of a matrix job, replaced by its
    /// instances once they start. False unless the job was queued.
    pub async fn delete_queued_job(&self, id: i64) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND status = 'queued'"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM jobs WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// A run's jobs, in the order they were created.
    pub async fn jobs(&self, run_id: i64) -> Result<Vec<Job>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM jobs WHERE run_id = $1 ORDER BY id"
        )
        .bind(run_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Every queued job of every run, oldest first: what runners can take.
    pub async fn queued_jobs(&self) -> Result<Vec<Job>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM jobs WHERE status = 'queued' ORDER BY id"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Gives a queued job to a runner. False unless the job was queued, so of two runners
    /// racing for a job exactly one gets it.
    pub async fn start_job(&self, id: i64, runner: &str) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE jobs SET status = 'running', runner = $2, status_reason = NULL, \
             started_at = $3 WHERE id = $1 AND status = 'queued'"
        )
        .bind(id)
        .bind(runner)
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Completes a job with its conclusion and outputs (a JSON object). A job that never started
    /// can be finished too (`skipped`, `cancelled`). False if it was already completed.
    pub async fn finish_job(&self, id: i64, conclusion: Conclusion, outputs: &str) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE jobs SET status = 'completed', conclusion = $2, outputs = $3, \
             finished_at = $4 WHERE id = $1 AND status <> 'completed'"
        )
        .bind(id)
        .bind(conclusion.as_str())
        .bind(outputs)
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Records a step a job will run, queued (or renames it if it exists).
    /// [`Error::NotFound`] if there is no such job.
    pub async fn add_step(&self, job_id: i64, index: i64, name: &str) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO steps (job_id, idx, name, status) VALUES ($1, $2, $3, 'queued') \
             ON CONFLICT (job_id, idx) DO UPDATE SET name = excluded.name"
        )
        .bind(job_id)
        .bind(index)
        .bind(name)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Marks a step running, recording it first if [`Store::add_step`] did not.
    /// [`Error::NotFound`] if there is no such job.
    pub async fn start_step(&self, job_id: i64, index: i64, name: &str) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO steps (job_id, idx, name, status, started_at) \
             VALUES ($1, $2, $3, 'running', $4) \
             ON CONFLICT (job_id, idx) DO UPDATE SET name = excluded.name, \
             status = 'running', started_at = excluded.started_at"
        )
        .bind(job_id)
        .bind(index)
        .bind(name)
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Completes a step. False if there is no such step or it was already completed.
    pub async fn finish_step(
        &self,
        job_id: i64,
        index: i64,
        conclusion: Conclusion,
    ) -> Result<bool> {
        let done = on_backend!(self, |pool| sqlx::query(
            "UPDATE steps SET status = 'completed', conclusion = $3, finished_at = $4 \
             WHERE job_id = $1 AND idx = $2 AND status <> 'completed'"
        )
        .bind(job_id)
        .bind(index)
        .bind(conclusion.as_str())
        .bind(now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// A job's steps, in order.
    pub async fn steps(&self, job_id: i64) -> Result<Vec<Step>> {
        Ok(on_backend!(self, |pool| sqlx::query_as(
            "SELECT * FROM steps WHERE job_id = $1 ORDER BY idx"
        )
        .bind(job_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Crash recovery, policy "re-queue": every running run goes back to queued with `reason`,
    /// and its running jobs too (their steps and logs are deleted: the job starts over; its
    /// runner is forgotten). Returns the runs, as they are now, oldest first.
    pub async fn requeue_interrupted(&self, reason: &str) -> Result<Vec<Run>> {
        self.recover(reason, Recovery::Requeue).await
    }

    /// Crash recovery, policy "fail": every running run is completed as a failure with `reason`;
    /// its running jobs and steps fail, and its jobs that had not started are cancelled. Returns
    /// the runs, as they are now, oldest first.
    pub async fn fail_interrupted(&self, reason: &str) -> Result<Vec<Run>> {
        self.recover(reason, Recovery::Fail).await
    }

    async fn recover(&self, reason: &str, recovery: Recovery) -> Result<Vec<Run>> {
        let at = now();
        let ids: Vec<i64> = on_backend!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM runs WHERE status = 'running' ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?;
            // The jobs of the interrupted runs, and of those the ones that were running.
            const OF_RUNS: &str = "run_id IN (SELECT id FROM runs WHERE status = 'running')";
            match recovery {
                Recovery::Requeue => {
                    for table in ["log_chunks", "steps"] {
                        let sql = format!(
                            "DELETE FROM {table} WHERE job_id IN \
                             (SELECT id FROM jobs WHERE status = 'running' AND {OF_RUNS})"
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut *tx)
                            .await?;
                    }
                    let sql = format!(
                        "UPDATE jobs SET status = 'queued', status_reason = $1, runner = NULL, \
                         started_at = NULL WHERE status = 'running' AND {OF_RUNS}"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(reason)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE runs SET status = 'queued', status_reason = $1 \
                         WHERE status = 'running'",
                    )
                    .bind(reason)
                    .execute(&mut *tx)
                    .await?;
                }
                Recovery::Fail => {
                    let sql = format!(
                        "UPDATE steps SET status = 'completed', conclusion = 'failure', \
                         finished_at = $1 WHERE status = 'running' AND job_id IN \
                         (SELECT id FROM jobs WHERE {OF_RUNS})"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    let sql = format!(
                        "UPDATE jobs SET status = 'completed', \
                         conclusion = CASE WHEN status = 'running' THEN 'failure' \
                         ELSE 'cancelled' END, status_reason = $1, finished_at = $2 \
                         WHERE status <> 'completed' AND {OF_RUNS}"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(reason)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE runs SET status = 'completed', conclusion = 'failure', \
                         status_reason = $1, finished_at = $2 WHERE status = 'running'",
                    )
                    .bind(reason)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            ids
        });
        let mut runs = Vec::with_capacity(ids.len());
        for id in ids {
            runs.extend(self.run(id).await?);
        }
        Ok(runs)
    }

    /// Retention by age: deletes the completed runs created before `cutoff`, with their jobs,
    /// steps and logs. Returns how many runs were deleted.
    pub async fn delete_runs_before(&self, cutoff: Timestamp) -> Result<u64> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM runs WHERE created_at < $1 AND status = 'completed'"
        )
        .bind(millis(cutoff))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }

    /// Retention by count: in each repository, deletes the completed runs that are not among its
    /// `keep` most recent (by id; runs in progress count towards `keep` but are never deleted),
    /// with their jobs, steps and logs. Returns how many runs were deleted.
    pub async fn keep_latest_runs(&self, keep: u32) -> Result<u64> {
        let done = on_backend!(self, |pool| sqlx::query(
            "DELETE FROM runs WHERE status = 'completed' AND id IN (SELECT id FROM \
             (SELECT id, ROW_NUMBER() OVER (PARTITION BY repository_id ORDER BY id DESC) AS rank \
             FROM runs) ranked WHERE rank > $1)"
        )
        .bind(i64::from(keep))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }
}

#[derive(Clone, Copy)]
enum Recovery {
    Requeue,
    Fail,
}
