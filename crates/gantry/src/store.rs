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
pub fn next_run_number() -> u64 {
    let mut max = 0;
    if let Ok(entries) = std::fs::read_dir(runs_dir()) {
        for entry in entries.flatten() {
            if let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            {
                max = max.max(n);
            }
        }
    }
    max + 1
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

/// Writes a run's logs as it goes: one data file (`log`) holding every
/// job's bytes as they came, and an index (`log.idx`, lines of
/// `LENGTH<TAB>JOB`) saying which job each stretch belongs to. Two files per
/// run however many jobs it has: making a file per job cost more than the
/// jobs themselves in short runs.
pub struct RunWriter {
    dir: PathBuf,
    data: BufWriter<File>,
    index: BufWriter<File>,
    /// The job whose bytes were written last, and how many, not yet indexed.
    pending: Option<(String, u64)>,
}

impl RunWriter {
    pub fn create(number: u64) -> std::io::Result<RunWriter> {
        let dir = runs_dir().join(number.to_string());
        std::fs::create_dir_all(&dir)?;
        let data = BufWriter::with_capacity(256 * 1024, File::create(dir.join("log"))?);
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
        let _ = self.data.write_all(bytes);
        match &mut self.pending {
            Some((pending_job, len)) if pending_job == job => *len += bytes.len() as u64,
            _ => {
                self.flush_pending();
                self.pending = Some((job.to_string(), bytes.len() as u64));
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
        self.data.flush()?;
        self.index.flush()?;
        let tmp = self.dir.join("run.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(meta).unwrap_or_default())?;
        std::fs::rename(tmp, self.dir.join("run.json"))
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
