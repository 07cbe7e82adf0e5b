//! Local run history for `gantry logs`: one directory per run under the
//! Gantry home, holding `run.json` and one masked log file per job.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Value, json};

/// `$GANTRY_HOME`, else `$XDG_DATA_HOME/gantry`, else `~/.local/share/gantry`.
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("GANTRY_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(x).join("gantry");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local/share/gantry")
}

pub fn runs_dir() -> PathBuf {
    home().join("runs")
}

/// The next run number (one more than the highest stored).
/// Takes the next run number: its directory is made with `mkdir`, which
/// fails if it exists, so two runs started at once never share a number.
/// `runs/last` remembers the latest number (a hint: the runs are listed
/// only when it is missing).
pub fn allocate_run() -> std::io::Result<(u64, PathBuf)> {
    allocate_in(&runs_dir())
}

fn allocate_in(runs: &Path) -> std::io::Result<(u64, PathBuf)> {
    std::fs::create_dir_all(runs)?;
    let last = runs.join("last");
    let mut number = std::fs::read_to_string(&last)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| highest_run(runs))
        + 1;
    loop {
        let dir = runs.join(number.to_string());
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let _ = std::fs::write(&last, number.to_string());
                return Ok((number, dir));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => number += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The highest run number stored.
fn highest_run(runs: &Path) -> u64 {
    std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

/// A file name for a job key (`build (ubuntu, 18)` → `build_ubuntu_18`).
pub fn log_name(job: &str) -> String {
    let mut out = String::new();
    for ch in job.chars() {
        if ch.is_ascii_alphanumeric() || ch == '-' || ch == '.' {
            out.push(ch);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "job".into()
    } else {
        trimmed.to_string()
    }
}

/// Pieces of a log at least this long are written without copying them
/// into the buffer (steps' output arrives in blocks of about 64 KiB).
const DIRECT_WRITE: usize = 16 * 1024;
/// Large pieces are gathered (not copied) up to this many bytes and written
/// with one `writev`: fewer, larger writes cost the file system less per byte.
const QUEUED_BYTES: usize = 1 << 20;

/// Writes a run's logs as it goes: one data file (`log`) holding every
/// job's bytes as they came, and an index (`log.idx`, lines of
/// `LENGTH<TAB>JOB`) saying which job each stretch belongs to. Two files per
/// run however many jobs it has: making a file per job cost more than the
/// jobs themselves in short runs.
///
/// The data goes through a [`DataWriter`]: small writes (Gantry's own lines)
/// are gathered, a step's large output buffers are taken over without a
/// copy, and once a run has logged a megabyte the file writes happen on a
/// thread of their own, beside the masking and rendering.
pub struct RunWriter {
    dir: PathBuf,
    data: DataWriter,
    index: BufWriter<File>,
    /// The job whose bytes were written last, and how many, not yet indexed.
    pending: Option<(String, u64)>,
}

impl RunWriter {
    /// A writer in a new run directory (see [`allocate_run`]).
    pub fn create() -> std::io::Result<(u64, RunWriter)> {
        let (number, dir) = allocate_run()?;
        Ok((number, RunWriter::create_in(dir)?))
    }

    fn create_in(dir: PathBuf) -> std::io::Result<RunWriter> {
        std::fs::create_dir_all(&dir)?;
        let data = DataWriter::new(File::create(dir.join("log"))?);
        let index = BufWriter::new(File::create(dir.join("log.idx"))?);
        Ok(RunWriter {
            dir,
            data,
            index,
            pending: None,
        })
    }

    pub fn write(&mut self, job: &str, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.data.write(bytes);
        self.count(job, bytes.len());
    }

    /// [`RunWriter::write`] taking a step's output buffer: a large one is
    /// written without a copy, and every buffer goes back to the engine.
    pub fn write_owned(&mut self, job: &str, bytes: Vec<u8>) {
        if bytes.is_empty() {
            gantry_engine::output::recycle_buffer(bytes);
            return;
        }
        self.count(job, bytes.len());
        if bytes.len() < DIRECT_WRITE {
            self.data.write(&bytes);
            gantry_engine::output::recycle_buffer(bytes);
        } else {
            self.data.write_owned(bytes);
        }
    }

    /// Index `len` more bytes of `job`.
    fn count(&mut self, job: &str, len: usize) {
        match &mut self.pending {
            Some((pending_job, pending_len)) if pending_job == job => *pending_len += len as u64,
            _ => {
                self.flush_pending();
                self.pending = Some((job.to_string(), len as u64));
            }
        }
    }

    pub fn line(&mut self, job: &str, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.write(job, &bytes);
    }

    fn flush_pending(&mut self) {
        if let Some((job, len)) = self.pending.take() {
            let _ = writeln!(self.index, "{len}\t{}", job.replace(['\n', '\t'], " "));
        }
    }

    /// Writes `run.json` (called at the start and again at the end).
    pub fn save_meta(&mut self, meta: &Value) -> std::io::Result<()> {
        self.flush_pending();
        self.data.sync();
        self.index.flush()?;
        let tmp = self.dir.join("run.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(meta).unwrap_or_default())?;
        std::fs::rename(tmp, self.dir.join("run.json"))
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // The data writer and the index write out what they hold when
        // dropped; the last index entry is written here.
        self.flush_pending();
    }
}

/// Small writes are gathered up to this many bytes before they are queued.
const SMALL_BUFFER: usize = 256 * 1024;

/// The log data file's writer. Bytes are queued in order (small ones
/// gathered into one buffer, large ones as they are) and written with one
/// `writev` per megabyte or so: by the caller until the first megabyte, then
/// by a writer thread, so that a step printing hundreds of megabytes has its
/// log written on the second CPU. [`DataWriter::sync`] waits until everything
/// queued is in the file. Write errors are ignored, like every other write
/// of the log: a full disk does not stop the run.
struct DataWriter {
    file: File,
    small: Vec<u8>,
    queued: Vec<Vec<u8>>,
    queued_len: usize,
    thread: Option<(
        std::sync::mpsc::SyncSender<WriterMessage>,
        std::thread::JoinHandle<()>,
    )>,
}

enum WriterMessage {
    Write(Vec<Vec<u8>>),
    Sync(std::sync::mpsc::Sender<()>),
}

impl DataWriter {
    fn new(file: File) -> DataWriter {
        DataWriter {
            file,
            small: Vec::new(),
            queued: Vec::new(),
            queued_len: 0,
            thread: None,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.small.extend_from_slice(bytes);
        if self.small.len() >= SMALL_BUFFER {
            self.queue_small();
        }
    }

    fn write_owned(&mut self, bytes: Vec<u8>) {
        // Earlier small bytes go first.
        self.queue_small();
        self.queued_len += bytes.len();
        self.queued.push(bytes);
        if self.queued_len >= QUEUED_BYTES {
            self.send();
        }
    }

    fn queue_small(&mut self) {
        if !self.small.is_empty() {
            let small = std::mem::take(&mut self.small);
            self.queued_len += small.len();
            self.queued.push(small);
            if self.queued_len >= QUEUED_BYTES {
                self.send();
            }
        }
    }

    /// Hands the queue to the writer thread (started now if need be).
    fn send(&mut self) {
        if self.queued.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.queued);
        self.queued_len = 0;
        if self.thread.is_none()
            && let Ok(mut file) = self.file.try_clone()
        {
            // A few megabytes in flight at most: a slow disk slows the run
            // down instead of filling memory.
            let (tx, rx) = std::sync::mpsc::sync_channel::<WriterMessage>(4);
            let spawned = std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || {
                    for message in rx {
                        match message {
                            WriterMessage::Write(batch) => write_batch(&mut file, batch),
                            WriterMessage::Sync(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                });
            // Without a thread, this writer goes on writing itself.
            if let Ok(handle) = spawned {
                self.thread = Some((tx, handle));
            }
        }
        match &self.thread {
            Some((tx, _)) => {
                let _ = tx.send(WriterMessage::Write(batch));
            }
            None => write_batch(&mut self.file, batch),
        }
    }

    /// Writes out everything and waits until it is in the file.
    fn sync(&mut self) {
        self.queue_small();
        if self.thread.is_none() {
            write_batch(&mut self.file, std::mem::take(&mut self.queued));
            self.queued_len = 0;
            return;
        }
        self.send();
        if let Some((tx, _)) = &self.thread {
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            if tx.send(WriterMessage::Sync(done_tx)).is_ok() {
                let _ = done_rx.recv();
            }
        }
    }
}

impl Drop for DataWriter {
    fn drop(&mut self) {
        self.sync();
        if let Some((tx, handle)) = self.thread.take() {
            drop(tx);
            let _ = handle.join();
        }
    }
}

/// One `writev` (or as many as the file needs) of a batch, whose buffers
/// then go back to the engine for reuse.
fn write_batch(file: &mut File, batch: Vec<Vec<u8>>) {
    if batch.is_empty() {
        return;
    }
    let mut slices: Vec<std::io::IoSlice<'_>> =
        batch.iter().map(|b| std::io::IoSlice::new(b)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => break,
            Ok(n) => std::io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    for bytes in batch {
        gantry_engine::output::recycle_buffer(bytes);
    }
}

/// The stored log of a run, per job in the order jobs first wrote.
pub struct StoredLog {
    pub jobs: IndexMap<String, Vec<(u64, u64)>>,
    data: PathBuf,
}

impl StoredLog {
    pub fn open(run_dir: &Path) -> std::io::Result<StoredLog> {
        let index = std::fs::read_to_string(run_dir.join("log.idx"))?;
        let mut jobs: IndexMap<String, Vec<(u64, u64)>> = IndexMap::new();
        let mut offset = 0u64;
        for line in index.lines() {
            let Some((len, job)) = line.split_once('\t') else {
                continue;
            };
            let Ok(len) = len.parse::<u64>() else {
                continue;
            };
            jobs.entry(job.to_string()).or_default().push((offset, len));
            offset += len;
        }
        Ok(StoredLog {
            jobs,
            data: run_dir.join("log"),
        })
    }

    /// Copies one job's log to `out`.
    pub fn copy_job(&self, job: &str, out: &mut dyn Write) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let Some(ranges) = self.jobs.get(job) else {
            return Ok(());
        };
        let mut file = File::open(&self.data)?;
        let mut buf = vec![0u8; 64 * 1024];
        for &(offset, len) in ranges {
            file.seek(SeekFrom::Start(offset))?;
            let mut left = len;
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                let n = file.read(&mut buf[..want])?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
                left -= n as u64;
            }
        }
        Ok(())
    }
}

/// A stored run, as `gantry logs` reads it.
pub struct StoredRun {
    pub number: u64,
    pub dir: PathBuf,
    pub meta: Value,
}

pub fn list() -> Vec<StoredRun> {
    let mut runs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(runs_dir()) {
        for entry in entries.flatten() {
            let Some(number) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let meta = std::fs::read(entry.path().join("run.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| json!({}));
            runs.push(StoredRun {
                number,
                dir: entry.path(),
                meta,
            });
        }
    }
    runs.sort_by_key(|r| r.number);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_log(dir: &Path, job: &str) -> Vec<u8> {
        let log = StoredLog::open(dir).unwrap();
        let mut out = Vec::new();
        log.copy_job(job, &mut out).unwrap();
        out
    }

    /// Small and large writes, owned or not, of two jobs: every byte lands
    /// in order and in its job's log, with or without `save_meta`.
    #[test]
    fn writes_of_every_size_keep_their_order() {
        let big = |c: u8, n: usize| vec![c; n];
        for save in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("1");
            let mut expected: IndexMap<&str, Vec<u8>> = IndexMap::new();
            {
                let mut writer = RunWriter::create_in(dir.clone()).unwrap();
                let mut write =
                    |writer: &mut RunWriter, job: &'static str, bytes: Vec<u8>, owned| {
                        expected.entry(job).or_default().extend_from_slice(&bytes);
                        if owned {
                            writer.write_owned(job, bytes);
                        } else {
                            writer.write(job, &bytes);
                        }
                    };
                write(&mut writer, "a", b"##[step] one\n".to_vec(), false);
                write(&mut writer, "a", big(b'1', DIRECT_WRITE), true);
                write(&mut writer, "a", b"small\n".to_vec(), true);
                write(&mut writer, "b", big(b'2', DIRECT_WRITE * 3), true);
                write(&mut writer, "a", big(b'3', QUEUED_BYTES), true);
                write(&mut writer, "b", b"##[step-end]\n".to_vec(), false);
                for i in 0..100 {
                    write(
                        &mut writer,
                        "a",
                        big(b'a' + (i % 26), DIRECT_WRITE + i as usize),
                        true,
                    );
                }
                write(&mut writer, "b", big(b'4', 100_000), false);
                write(&mut writer, "a", big(b'5', DIRECT_WRITE * 2), true);
                if save {
                    writer.save_meta(&json!({})).unwrap();
                }
            }
            for (job, bytes) in &expected {
                assert!(job_log(&dir, job) == *bytes, "job {job}, save_meta {save}");
            }
            let total: usize = expected.values().map(Vec::len).sum();
            assert_eq!(
                std::fs::metadata(dir.join("log")).unwrap().len() as usize,
                total
            );
        }
    }

    #[test]
    fn runs_started_at_once_get_different_numbers() {
        let runs = tempfile::tempdir().unwrap();
        std::fs::create_dir(runs.path().join("7")).unwrap();
        let numbers: Vec<u64> = std::thread::scope(|scope| {
            let all: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| allocate_in(runs.path()).unwrap().0))
                .collect();
            all.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8, "{numbers:?}");
        assert!(sorted.iter().all(|&n| n > 7), "{numbers:?}");
        // The hint is followed, and a stale hint is corrected by mkdir.
        std::fs::write(runs.path().join("last"), "3").unwrap();
        let (next, dir) = allocate_in(runs.path()).unwrap();
        assert!(!sorted.contains(&next) && next != 7, "{next}");
        assert!(dir.is_dir());
    }
}
