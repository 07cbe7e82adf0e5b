//! The run queue: hands queued runs to the agent (oldest first, a limited number at once, one
//! run per concurrency group), records what the agent reports into the store and the live
//! fan-out, cancels runs, and recovers the runs a killed server left behind.
//!
//! A run's jobs that are already completed when it is handed out keep their results (a re-run
//! of failed jobs, or a run re-queued after a crash): the agent gets them as carried results and
//! runs only the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gantry_api::{AgentEvent, CarriedJob, Lease, LeaseSender, RunRequest};
use gantry_store::{Conclusion, Job, NewJob, Repository, RepositoryKind, Run, Status, Store};
use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::live::Live;
use crate::metrics::Metrics;

/// How long a cancelled run may take to stop (its `always()` steps) before it is killed.
const CANCEL_GRACE: Duration = Duration::from_secs(60);
/// How often buffered log bytes are written to the store.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// A job's unstored log is written at once past this size.
const FLUSH_BYTES: usize = 256 * 1024;
/// The job that holds messages about a run as a whole (an invalid workflow file…).
pub const SETUP_JOB: &str = "(setup)";

struct Running {
    cancel: CancellationToken,
    abort: CancellationToken,
}

/// What the queue needs from the rest of the server.
pub struct DispatchConfig {
    pub store: Store,
    pub leases: LeaseSender,
    pub live: Arc<Live>,
    /// Runs executing at once.
    pub max_runs: usize,
    /// Mirrors of remote repositories live in `DATA/mirrors/ID.git`.
    pub data_dir: PathBuf,
    /// Decrypts a repository's secrets for a run.
    pub secrets: Arc<dyn SecretSource>,
    /// Posts commit statuses.
    pub reporter: Arc<crate::report::Reporter>,
    /// Where finished runs and jobs, the queue's length and waits are counted.
    pub metrics: Arc<Metrics>,
}

/// A run's secrets, `(name, value)`, or why they cannot be read.
pub type SecretsFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<(String, String)>, String>> + Send + 'a>,
>;

/// Where a run's secrets come from (the server decrypts them; tests give plain values).
pub trait SecretSource: Send + Sync {
    fn secrets(&self, repository_id: i64) -> SecretsFuture<'_>;
}

pub struct Dispatch {
    config: DispatchConfig,
    wake: Notify,
    running: Mutex<HashMap<i64, Running>>,
    /// The server is stopping: runs cut short are left running in the store, to be recovered
    /// at the next start, not finished.
    stopping: std::sync::atomic::AtomicBool,
}

impl Dispatch {
    pub fn new(config: DispatchConfig) -> Arc<Dispatch> {
        Arc::new(Dispatch {
            config,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            stopping: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn store(&self) -> &Store {
        &self.config.store
    }

    pub fn live(&self) -> &Arc<Live> {
        &self.config.live
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.config.metrics
    }

    /// Something was queued or finished: look at the queue now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The git directory holding a repository's commits: the path itself for a local
    /// repository, the server's mirror for a remote one.
    pub async fn git_dir(&self, repository: &Repository) -> Result<PathBuf, String> {
        match repository.kind {
            RepositoryKind::Local => crate::git::git_dir_of(Path::new(&repository.location)).await,
            RepositoryKind::Remote | RepositoryKind::Webhook => Ok(self.mirror_dir(repository.id)),
        }
    }

    pub fn mirror_dir(&self, repository_id: i64) -> PathBuf {
        self.config
            .data_dir
            .join("mirrors")
            .join(format!("{repository_id}.git"))
    }

    /// Crash recovery at start: runs a previous process left running are queued again (their
    /// finished jobs keep their results) or failed, per the `recovery` setting (`requeue`, the
    /// default, or `fail`).
    pub async fn recover(&self) -> Result<usize, gantry_store::Error> {
        let policy = self.config.store.setting("recovery").await?;
        let reason = "the server stopped while this run was running";
        let runs = if policy.as_deref() == Some("fail") {
            self.config.store.fail_interrupted(reason).await?
        } else {
            self.config.store.requeue_interrupted(reason).await?
        };
        Ok(runs.len())
    }

    /// Hands out queued runs until `shutdown`; then cancels what runs and waits up to `grace`
    /// for it to end.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        loop {
            if let Err(err) = self.dispatch_ready().await {
                tracing::error!(%err, "the run queue cannot read the database");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        // Graceful shutdown: running runs get the grace period to end; what still runs then is
        // killed and handed back (left running in the store, recovered at the next start).
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let left = self.running.lock().map(|r| r.len()).unwrap_or(0);
            if left == 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(running) = self.running.lock() {
            for run in running.values() {
                run.cancel.cancel();
                run.abort.cancel();
            }
        }
        // The recorders write what the killed runs said last.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.running_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn dispatch_ready(self: &Arc<Self>) -> Result<(), gantry_store::Error> {
        let store = &self.config.store;
        let queued = store.queued_runs().await?;
        let mut still_queued = queued.len();
        for run in queued {
            if self.running.lock().map(|r| r.len()).unwrap_or(usize::MAX) >= self.config.max_runs {
                break;
            }
            if let Some(group) = &run.concurrency_group {
                let active = store.active_runs_in_group(group).await?;
                if active
                    .iter()
                    .any(|r| r.id != run.id && r.status == Status::Running)
                {
                    continue;
                }
            }
            if !store.start_run(run.id).await? {
                continue;
            }
            still_queued -= 1;
            let waited = jiff::Timestamp::now().duration_since(run.created_at);
            self.config
                .metrics
                .queue_wait(Duration::try_from(waited).unwrap_or(Duration::ZERO));
            let request = match self.request(&run).await {
                Ok(request) => request,
                Err(message) => {
                    tracing::warn!(run = run.id, %message, "a run cannot start");
                    self.fail_before_start(&run, &message).await;
                    continue;
                }
            };
            let (tx, rx) = mpsc::channel(256);
            let cancel = CancellationToken::new();
            let abort = CancellationToken::new();
            if let Ok(mut running) = self.running.lock() {
                running.insert(
                    run.id,
                    Running {
                        cancel: cancel.clone(),
                        abort: abort.clone(),
                    },
                );
            }
            let lease = Lease {
                request,
                events: tx,
                cancel,
                abort,
            };
            self.config.live.run_changed(run.id);
            self.config.reporter.post(
                run.repository_id,
                &run.sha,
                &run.workflow_name,
                crate::commit_status::StatusState::Running,
                format!("run #{} is running", run.number),
                Some(run.number),
            );
            let recorder = Recorder::new(self.clone(), run.clone()).await;
            tokio::spawn(recorder.record(rx));
            if self.config.leases.send(lease).await.is_err() {
                tracing::error!(run = run.id, "no agent takes runs: the run stays failed");
            }
        }
        self.config
            .metrics
            .set_queue_length(i64::try_from(still_queued).unwrap_or(i64::MAX));
        self.report_running();
        Ok(())
    }

    /// Tells the metrics how many runs execute now.
    fn report_running(&self) {
        let running = i64::try_from(self.running_count()).unwrap_or(i64::MAX);
        self.config.metrics.set_running(running);
    }

    async fn fail_before_start(&self, run: &Run, message: &str) {
        let store = &self.config.store;
        if let Ok(job) = setup_job(store, run.id).await {
            let _ = store.start_job(job.id, "server").await;
            let _ = store
                .append_log(job.id, 0, format!("##[error]{message}\n").as_bytes())
                .await;
            let _ = store.finish_job(job.id, Conclusion::Failure, "{}").await;
        }
        if store
            .finish_run(run.id, Conclusion::Failure)
            .await
            .unwrap_or(false)
        {
            self.config
                .metrics
                .run_finished(Conclusion::Failure.as_str());
        }
        self.config.live.run_ended(run.id);
    }

    /// What the agent needs for a run.
    async fn request(&self, run: &Run) -> Result<RunRequest, String> {
        let store = &self.config.store;
        let repository = store
            .repository(run.repository_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the run's repository was removed")?;
        let envelope: Value = store
            .run_payload(run.id)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or(Value::Null);
        let trigger = &envelope["trigger"];
        let text = |key: &str| trigger[key].as_str().map(str::to_string);
        let fork = trigger["fork"].as_bool().unwrap_or(false);
        let secrets = if fork {
            Vec::new()
        } else {
            self.config.secrets.secrets(repository.id).await?
        };
        let jobs = store.jobs(run.id).await.map_err(|e| e.to_string())?;
        Ok(RunRequest {
            run_id: run.id,
            run_number: run.number,
            attempt: run.attempt,
            repository: repository.name.clone(),
            git_dir: self.git_dir(&repository).await?,
            sha: run.sha.clone(),
            git_ref: run.git_ref.clone(),
            event_name: run.event.clone(),
            action: text("action"),
            base_ref: text("base_ref"),
            head_ref: text("head_ref"),
            schedule: text("schedule"),
            changed_files: serde_json::from_value(trigger["changed_files"].clone())
                .ok()
                .flatten(),
            inputs: serde_json::from_value(trigger["inputs"].clone()).unwrap_or_default(),
            payload: envelope["event"].clone(),
            actor: run.actor.clone(),
            workflow_file: run.workflow_file.clone(),
            secrets,
            vars: IndexMap::new(),
            only_jobs: Vec::new(),
            carried: carried(&jobs),
        })
    }

    /// Cancels a run: a queued or waiting one at once; a running one is asked to stop (its
    /// `always()` steps still run) and killed after a grace period. False if it was completed.
    pub async fn cancel(&self, run: &Run, reason: &str) -> Result<bool, gantry_store::Error> {
        let tokens = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&run.id).map(|t| (t.cancel.clone(), t.abort.clone())));
        match tokens {
            Some((cancel, abort)) => {
                cancel.cancel();
                tokio::spawn(async move {
                    tokio::time::sleep(CANCEL_GRACE).await;
                    abort.cancel();
                });
                Ok(true)
            }
            None => {
                let done = self.config.store.cancel_run(run.id, reason).await?;
                if done {
                    self.config
                        .metrics
                        .run_finished(Conclusion::Cancelled.as_str());
                }
                self.config.live.run_ended(run.id);
                self.wake();
                Ok(done)
            }
        }
    }

    /// Runs executing now.
    pub fn running_count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }
}

/// The results a run keeps, by job id: its jobs already completed (matrix instances merged).
fn carried(jobs: &[Job]) -> Vec<CarriedJob> {
    let mut by_id: IndexMap<String, CarriedJob> = IndexMap::new();
    for job in jobs
        .iter()
        .filter(|j| j.status == Status::Completed && j.key != SETUP_JOB)
    {
        let id = job_id_of(&job.key).to_string();
        let conclusion = api_conclusion(job.conclusion.unwrap_or(Conclusion::Skipped));
        let outputs: IndexMap<String, String> =
            serde_json::from_str(&job.outputs).unwrap_or_default();
        let entry = by_id.entry(id.clone()).or_insert_with(|| CarriedJob {
            key: id,
            name: job.name.clone(),
            conclusion,
            outputs: IndexMap::new(),
        });
        entry.conclusion = worse(entry.conclusion, conclusion);
        for (k, v) in outputs {
            if !v.is_empty() || !entry.outputs.contains_key(&k) {
                entry.outputs.insert(k, v);
            }
        }
    }
    by_id.into_values().collect()
}

/// `build (linux, 1)` → `build`; `call / inner` → `call`.
pub fn job_id_of(key: &str) -> &str {
    let end = [key.find(" ("), key.find(" / ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(key.len());
    &key[..end]
}

fn worse(a: gantry_api::Conclusion, b: gantry_api::Conclusion) -> gantry_api::Conclusion {
    use gantry_api::Conclusion as C;
    let rank = |c: C| match c {
        C::Failure => 3,
        C::Cancelled => 2,
        C::Success => 1,
        C::Skipped => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

fn api_conclusion(c: Conclusion) -> gantry_api::Conclusion {
    match c {
        Conclusion::Success => gantry_api::Conclusion::Success,
        Conclusion::Failure => gantry_api::Conclusion::Failure,
        Conclusion::Cancelled => gantry_api::Conclusion::Cancelled,
        Conclusion::Skipped => gantry_api::Conclusion::Skipped,
    }
}

fn store_conclusion(c: gantry_api::Conclusion) -> Conclusion {
    match c {
        gantry_api::Conclusion::Success => Conclusion::Success,
        gantry_api::Conclusion::Failure => Conclusion::Failure,
        gantry_api::Conclusion::Cancelled => Conclusion::Cancelled,
        gantry_api::Conclusion::Skipped => Conclusion::Skipped,
    }
}

async fn setup_job(store: &Store, run_id: i64) -> Result<Job, gantry_store::Error> {
    match store
        .create_job(
            run_id,
            &NewJob {
                key: SETUP_JOB,
                name: "Set up run",
                labels: "[]",
                needs: "[]",
            },
        )
        .await
    {
        Ok(job) => Ok(job),
        Err(gantry_store::Error::AlreadyExists) => store
            .jobs(run_id)
            .await?
            .into_iter()
            .find(|j| j.key == SETUP_JOB)
            .ok_or(gantry_store::Error::NotFound),
        Err(err) => Err(err),
    }
}

/// Writes one run's agent events into the store and the live fan-out.
struct Recorder {
    dispatch: Arc<Dispatch>,
    run: Run,
    /// Job key → row.
    jobs: HashMap<String, Job>,
    /// Planned job id → its needs and labels (JSON), for matrix instances.
    planned: HashMap<String, (String, String)>,
    /// Next log chunk number per job row.
    seqs: HashMap<i64, i64>,
    /// When each job row this recorder saw start started (for the job duration metric).
    started: HashMap<i64, std::time::Instant>,
}

impl Recorder {
    async fn new(dispatch: Arc<Dispatch>, run: Run) -> Recorder {
        let existing = dispatch.config.store.jobs(run.id).await.unwrap_or_default();
        let mut seqs = HashMap::new();
        for job in &existing {
            if let Ok(size) = dispatch.config.store.log_size(job.id).await {
                seqs.insert(job.id, size.chunks as i64);
            }
        }
        Recorder {
            jobs: existing.into_iter().map(|j| (j.key.clone(), j)).collect(),
            planned: HashMap::new(),
            seqs,
            started: HashMap::new(),
            dispatch,
            run,
        }
    }

    fn store(&self) -> &Store {
        &self.dispatch.config.store
    }

    fn live(&self) -> &Live {
        &self.dispatch.config.live
    }

    async fn record(mut self, mut rx: mpsc::Receiver<AgentEvent>) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut finished = None;
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(AgentEvent::RunFinished { conclusion }) => {
                        finished = Some(store_conclusion(conclusion));
                        break;
                    }
                    Some(event) => {
                        if let Err(err) = self.handle(event).await {
                            tracing::error!(run = self.run.id, %err, "cannot record a run's progress");
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.flush_all().await,
            }
        }
        let conclusion = match finished {
            Some(c) => c,
            None => {
                let _ = self
                    .log_setup("##[error]the agent stopped before the run ended")
                    .await;
                Conclusion::Failure
            }
        };
        self.finish(conclusion).await;
    }

    async fn handle(&mut self, event: AgentEvent) -> Result<(), gantry_store::Error> {
        if self
            .dispatch
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
            && !matches!(event, AgentEvent::Log { .. })
        {
            // Killed by the server's stop: how its jobs ended is not their result.
            return Ok(());
        }
        match event {
            AgentEvent::Planned { jobs } => {
                for planned in jobs {
                    let needs = serde_json::to_string(&planned.needs).unwrap_or_default();
                    let labels = serde_json::to_string(&planned.labels).unwrap_or_default();
                    self.planned
                        .insert(planned.key.clone(), (needs.clone(), labels.clone()));
                    // A job kept from an earlier attempt, or an instance of it, is there already.
                    if self
                        .jobs
                        .keys()
                        .any(|k| k == &planned.key || job_id_of(k) == planned.key)
                    {
                        continue;
                    }
                    let job = self
                        .store()
                        .create_job(
                            self.run.id,
                            &NewJob {
                                key: &planned.key,
                                name: &planned.name,
                                labels: &labels,
                                needs: &needs,
                            },
                        )
                        .await?;
                    self.jobs.insert(planned.key, job);
                }
                self.live().run_changed(self.run.id);
            }
            AgentEvent::JobStarted { key, name } => {
                let id = self.job(&key, &name).await?;
                self.store().start_job(id, "local").await?;
                self.started.insert(id, std::time::Instant::now());
                self.live().run_changed(self.run.id);
            }
            AgentEvent::JobSkipped { key, name, reason } => {
                let id = self.job(&key, &name).await?;
                self.append(id, format!("##[notice]skipped: {reason}\n").as_bytes())
                    .await;
                self.flush(id).await;
                self.store()
                    .finish_job(id, Conclusion::Skipped, "{}")
                    .await?;
                self.live().close(id);
                self.live().run_changed(self.run.id);
            }
            AgentEvent::StepStarted { key, index, name } => {
                let id = self.job(&key, &key).await?;
                self.store().start_step(id, i64::from(index), &name).await?;
                self.live().run_changed(self.run.id);
            }
            AgentEvent::Log { key, data } => {
                let id = self.job(&key, &key).await?;
                self.append(id, &data).await;
            }
            AgentEvent::Annotation { .. } => {
                // The annotation is in the job's log as a marker line, which the log view shows.
            }
            AgentEvent::StepFinished {
                key,
                index,
                conclusion,
            } => {
                let id = self.job(&key, &key).await?;
                self.store()
                    .finish_step(id, i64::from(index), store_conclusion(conclusion))
                    .await?;
                self.live().run_changed(self.run.id);
            }
            AgentEvent::JobFinished {
                key,
                conclusion,
                outputs,
            } => {
                let id = self.job(&key, &key).await?;
                self.flush(id).await;
                let outputs = serde_json::to_string(&outputs).unwrap_or_else(|_| "{}".into());
                let result = store_conclusion(conclusion);
                if self.store().finish_job(id, result, &outputs).await? {
                    let ran = self
                        .started
                        .remove(&id)
                        .map(|at| at.elapsed())
                        .unwrap_or_default();
                    self.dispatch
                        .config
                        .metrics
                        .job_finished(result.as_str(), ran);
                }
                self.live().close(id);
                self.live().run_changed(self.run.id);
            }
            AgentEvent::RunLog { message } => {
                self.log_setup(&message).await?;
            }
            AgentEvent::RunFinished { .. } => {}
        }
        Ok(())
    }

    /// The row of a job key, made when the job first shows up; a matrix instance replaces the
    /// placeholder of its job.
    async fn job(&mut self, key: &str, name: &str) -> Result<i64, gantry_store::Error> {
        if let Some(job) = self.jobs.get(key) {
            return Ok(job.id);
        }
        let parent = job_id_of(key).to_string();
        let (needs, labels) = self
            .planned
            .get(&parent)
            .cloned()
            .unwrap_or_else(|| ("[]".into(), "[]".into()));
        if parent != key
            && let Some(placeholder) = self.jobs.get(&parent).cloned()
            && self.store().delete_queued_job(placeholder.id).await?
        {
            self.jobs.remove(&parent);
        }
        let job = self
            .store()
            .create_job(
                self.run.id,
                &NewJob {
                    key,
                    name,
                    labels: &labels,
                    needs: &needs,
                },
            )
            .await?;
        let id = job.id;
        self.jobs.insert(key.to_string(), job);
        Ok(id)
    }

    async fn log_setup(&mut self, message: &str) -> Result<(), gantry_store::Error> {
        let id = match self.jobs.get(SETUP_JOB) {
            Some(job) => job.id,
            None => {
                let job = setup_job(self.store(), self.run.id).await?;
                self.store().start_job(job.id, "server").await?;
                let id = job.id;
                self.jobs.insert(SETUP_JOB.to_string(), job);
                id
            }
        };
        let mut text = message.to_string();
        text.push('\n');
        self.append(id, text.as_bytes()).await;
        self.live().run_changed(self.run.id);
        Ok(())
    }

    async fn append(&mut self, job_id: i64, data: &[u8]) {
        self.live().append(job_id, data);
        if self.live().unstored(job_id).len() >= FLUSH_BYTES {
            self.flush(job_id).await;
        }
    }

    async fn flush(&mut self, job_id: i64) {
        let data = self.live().unstored(job_id);
        if data.is_empty() {
            return;
        }
        let seq = self.seqs.entry(job_id).or_insert(0);
        match self
            .dispatch
            .config
            .store
            .append_log(job_id, *seq, &data)
            .await
        {
            Ok(_) => {
                *seq += 1;
                self.dispatch.config.live.stored(job_id, data.len());
            }
            Err(err) => tracing::error!(job = job_id, %err, "cannot store a log chunk"),
        }
    }

    async fn flush_all(&mut self) {
        let ids: Vec<i64> = self.jobs.values().map(|j| j.id).collect();
        for id in ids {
            self.flush(id).await;
        }
    }

    async fn finish(mut self, conclusion: Conclusion) {
        self.flush_all().await;
        let store = self.dispatch.config.store.clone();
        let run_id = self.run.id;
        if self
            .dispatch
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            // Handed back: the next start queues it again (its finished jobs keep their results).
            tracing::warn!(
                run = run_id,
                "the server stopped before this run ended: it resumes at the next start"
            );
            if let Ok(mut running) = self.dispatch.running.lock() {
                running.remove(&run_id);
            }
            return;
        }
        if let Some(setup) = self.jobs.get(SETUP_JOB) {
            let c = if conclusion == Conclusion::Failure && self.jobs.len() == 1 {
                Conclusion::Failure
            } else {
                Conclusion::Success
            };
            let _ = store.finish_job(setup.id, c, "{}").await;
        }
        // Jobs that never started did not run.
        for job in self.jobs.values() {
            if job.key != SETUP_JOB {
                let unfinished = store.job(job.id).await.ok().flatten();
                if unfinished.is_some_and(|j| j.status != Status::Completed) {
                    let c = if conclusion == Conclusion::Cancelled {
                        Conclusion::Cancelled
                    } else {
                        Conclusion::Skipped
                    };
                    let _ = store.finish_job(job.id, c, "{}").await;
                }
            }
            self.dispatch.config.live.close(job.id);
        }
        let result = if conclusion == Conclusion::Cancelled {
            store.cancel_run(run_id, "cancelled").await
        } else {
            store.finish_run(run_id, conclusion).await
        };
        match result {
            Ok(true) => self
                .dispatch
                .config
                .metrics
                .run_finished(conclusion.as_str()),
            Ok(false) => {}
            Err(err) => tracing::error!(run = run_id, %err, "cannot record the end of a run"),
        }
        self.dispatch.config.reporter.post(
            self.run.repository_id,
            &self.run.sha,
            &self.run.workflow_name,
            crate::report::finished(conclusion),
            format!("run #{}: {conclusion}", self.run.number),
            Some(self.run.number),
        );
        if let Ok(mut running) = self.dispatch.running.lock() {
            running.remove(&run_id);
        }
        self.dispatch.report_running();
        self.dispatch.config.live.run_ended(run_id);
        self.dispatch.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_of_instance_keys() {
        assert_eq!(job_id_of("build"), "build");
        assert_eq!(job_id_of("build (linux, 1.80)"), "build");
        assert_eq!(job_id_of("call / inner (a)"), "call");
    }
}
