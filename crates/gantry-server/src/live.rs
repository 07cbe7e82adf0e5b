//! Live fan-out of what runs are doing: the log bytes of running jobs, and "something changed"
//! signals per run, to every viewer (server-sent events), without touching the database per
//! viewer.
//!
//! The recorder appends a job's log here as it arrives and writes it to the store in chunks; a
//! viewer that subscribes gets, atomically, how many bytes are already stored, the bytes not
//! stored yet, and a receiver for what comes next — so it shows every byte once, in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// What a job's viewers receive.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveLog {
    /// More log bytes.
    Data(Arc<[u8]>),
    /// The job ended: its whole log is in the store.
    Done,
}

/// Messages a slow viewer may fall behind by before it must start again.
const LOG_BACKLOG: usize = 1024;
const RUN_BACKLOG: usize = 64;

struct LiveJob {
    /// Bytes of the log already in the store.
    stored: u64,
    /// Bytes received but not stored yet.
    pending: Vec<u8>,
    tx: broadcast::Sender<LiveLog>,
}

impl LiveJob {
    fn new() -> Self {
        LiveJob {
            stored: 0,
            pending: Vec::new(),
            tx: broadcast::channel(LOG_BACKLOG).0,
        }
    }
}

/// A viewer's start on a job's log.
pub struct LogSubscription {
    /// Read this many bytes from the store first…
    pub stored: u64,
    /// …then these…
    pub pending: Vec<u8>,
    /// …then everything received here.
    pub rx: broadcast::Receiver<LiveLog>,
}

#[derive(Default)]
pub struct Live {
    jobs: Mutex<HashMap<i64, LiveJob>>,
    runs: Mutex<HashMap<i64, broadcast::Sender<()>>>,
}

impl Live {
    /// Appends log bytes of a running job and sends them to its viewers.
    pub fn append(&self, job_id: i64, data: &[u8]) {
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        let job = jobs.entry(job_id).or_insert_with(LiveJob::new);
        job.pending.extend_from_slice(data);
        // No viewer is not an error.
        let _ = job.tx.send(LiveLog::Data(Arc::from(data)));
    }

    /// A copy of the bytes not stored yet (for the recorder to store).
    pub fn unstored(&self, job_id: i64) -> Vec<u8> {
        self.jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.get(&job_id).map(|j| j.pending.clone()))
            .unwrap_or_default()
    }

    /// The first `n` unstored bytes are now in the store.
    pub fn stored(&self, job_id: i64, n: usize) {
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        if let Some(job) = jobs.get_mut(&job_id) {
            let n = n.min(job.pending.len());
            job.pending.drain(..n);
            job.stored += n as u64;
        }
    }

    /// Jobs with bytes not stored yet.
    pub fn jobs_with_unstored(&self) -> Vec<i64> {
        self.jobs
            .lock()
            .map(|jobs| {
                jobs.iter()
                    .filter(|(_, j)| !j.pending.is_empty())
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The job ended and its whole log is stored: tells its viewers, forgets it.
    pub fn close(&self, job_id: i64) {
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        if let Some(job) = jobs.remove(&job_id) {
            let _ = job.tx.send(LiveLog::Done);
        }
    }

    /// Starts watching a job's log (see [`LogSubscription`]). A job that has not started yet is
    /// watched from its first byte.
    pub fn subscribe(&self, job_id: i64) -> Option<LogSubscription> {
        let mut jobs = self.jobs.lock().ok()?;
        let job = jobs.entry(job_id).or_insert_with(LiveJob::new);
        Some(LogSubscription {
            stored: job.stored,
            pending: job.pending.clone(),
            rx: job.tx.subscribe(),
        })
    }

    /// Something about a run changed (a job or step started or ended).
    pub fn run_changed(&self, run_id: i64) {
        if let Ok(runs) = self.runs.lock()
            && let Some(tx) = runs.get(&run_id)
        {
            let _ = tx.send(());
        }
    }

    /// A receiver of a run's change signals.
    pub fn watch_run(&self, run_id: i64) -> Option<broadcast::Receiver<()>> {
        let mut runs = self.runs.lock().ok()?;
        Some(
            runs.entry(run_id)
                .or_insert_with(|| broadcast::channel(RUN_BACKLOG).0)
                .subscribe(),
        )
    }

    /// The run ended: a last signal, then its channel is dropped.
    pub fn run_ended(&self, run_id: i64) {
        if let Ok(mut runs) = self.runs.lock()
            && let Some(tx) = runs.remove(&run_id)
        {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_sees_every_byte_once_wherever_it_joins() {
        let live = Live::default();
        live.append(1, b"one\n");
        live.append(1, b"two\n");
        // The recorder stores the first chunk.
        let chunk = live.unstored(1);
        assert_eq!(chunk, b"one\ntwo\n");
        live.append(1, b"three\n");
        live.stored(1, chunk.len());
        let mut sub = live.subscribe(1).unwrap();
        assert_eq!((sub.stored, sub.pending.as_slice()), (8, &b"three\n"[..]));
        live.append(1, b"four\n");
        live.close(1);
        assert_eq!(
            sub.rx.try_recv().unwrap(),
            LiveLog::Data(Arc::from(&b"four\n"[..]))
        );
        assert_eq!(sub.rx.try_recv().unwrap(), LiveLog::Done);
        assert!(live.jobs_with_unstored().is_empty());
    }

    #[test]
    fn run_signals_reach_watchers_until_the_run_ends() {
        let live = Live::default();
        let mut rx = live.watch_run(5).unwrap();
        live.run_changed(5);
        live.run_changed(6);
        live.run_ended(5);
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err());
    }
}
