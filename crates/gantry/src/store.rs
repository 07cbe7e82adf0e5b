//! Local run history for `gantry logs`: one directory per run under the
//! Gantry home, holding `run.json` and one masked log file per job.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

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

/// Writes a run's logs as it goes.
pub struct RunWriter {
    dir: PathBuf,
    logs: IndexMap<String, BufWriter<File>>,
}

impl RunWriter {
    pub fn create(number: u64) -> std::io::Result<RunWriter> {
        let dir = runs_dir().join(number.to_string());
        std::fs::create_dir_all(dir.join("logs"))?;
        Ok(RunWriter {
            dir,
            logs: IndexMap::new(),
        })
    }

    fn log(&mut self, job: &str) -> Option<&mut BufWriter<File>> {
        if !self.logs.contains_key(job) {
            let path = self.dir.join("logs").join(format!("{}.log", log_name(job)));
            let file = File::create(path).ok()?;
            self.logs
                .insert(job.to_string(), BufWriter::with_capacity(256 * 1024, file));
        }
        self.logs.get_mut(job)
    }

    pub fn write(&mut self, job: &str, bytes: &[u8]) {
        if let Some(log) = self.log(job) {
            let _ = log.write_all(bytes);
        }
    }

    pub fn line(&mut self, job: &str, line: &str) {
        if let Some(log) = self.log(job) {
            let _ = log.write_all(line.as_bytes());
            let _ = log.write_all(b"\n");
        }
    }

    /// Writes `run.json` (called at the start and again at the end).
    pub fn save_meta(&mut self, meta: &Value) -> std::io::Result<()> {
        for log in self.logs.values_mut() {
            log.flush()?;
        }
        let tmp = self.dir.join("run.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(meta).unwrap_or_default())?;
        std::fs::rename(tmp, self.dir.join("run.json"))
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
