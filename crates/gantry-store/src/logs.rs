//! Job logs: appended in numbered chunks while a job runs, each chunk compressed with zstd, read
//! back whole or from a sequence number on (live tailing), and searched.
//!
//! Search decompresses a run's chunks and scans them line by line (off the async threads): no
//! index is kept. That is linear in the size of the run's logs, which is fine for the logs of
//! one run; searching across runs would need a real index.

use memchr::memmem;

use crate::decode::{Columns, from_row};
use crate::{Error, Result, Store, on_backend};

/// The zstd level chunks are compressed with: fast, and most of the ratio for text.
const ZSTD_LEVEL: i32 = 3;

/// One chunk of a job's output, decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogChunk {
    pub seq: i64,
    pub data: Vec<u8>,
}

/// How much of a job's log is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSize {
    pub chunks: u64,
    /// Bytes as written.
    pub raw_bytes: u64,
    /// Bytes stored, compressed.
    pub stored_bytes: u64,
}

/// A line of a run's logs that contains the text searched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMatch {
    pub job_id: i64,
    /// 1-based, in the job's log.
    pub line_number: u64,
    /// The line without its newline, invalid UTF-8 replaced.
    pub line: String,
}

/// A stored chunk, compressed.
struct StoredChunk {
    job_id: i64,
    seq: i64,
    raw_len: i64,
    data: Vec<u8>,
}

impl StoredChunk {
    fn decode(row: &impl Columns) -> sqlx::Result<Self> {
        Ok(StoredChunk {
            job_id: row.int("job_id")?,
            seq: row.int("seq")?,
            raw_len: row.int("raw_len")?,
            data: row.bytes("data")?,
        })
    }

    fn decompress(self) -> Result<LogChunk> {
        let capacity = usize::try_from(self.raw_len).unwrap_or(0);
        let data = zstd::bulk::decompress(&self.data, capacity).map_err(|source| Error::Io {
            what: format!(
                "decompressing log chunk {} of job {}",
                self.seq, self.job_id
            ),
            source,
        })?;
        Ok(LogChunk {
            seq: self.seq,
            data,
        })
    }
}

from_row!(StoredChunk);

impl Store {
    /// Stores chunk `seq` of a job's output. The writer numbers its chunks (increasing, e.g. 0,
    /// 1, 2…), so a chunk sent twice is stored once: false if chunk `seq` was already there.
    /// [`Error::NotFound`] if there is no such job.
    pub async fn append_log(&self, job_id: i64, seq: i64, data: &[u8]) -> Result<bool> {
        let compressed = zstd::bulk::compress(data, ZSTD_LEVEL).map_err(|source| Error::Io {
            what: format!("compressing log chunk {seq} of job {job_id}"),
            source,
        })?;
        let done = on_backend!(self, |pool| sqlx::query(
            "INSERT INTO log_chunks (job_id, seq, raw_len, data) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (job_id, seq) DO NOTHING"
        )
        .bind(job_id)
        .bind(seq)
        .bind(data.len() as i64)
        .bind(&compressed[..])
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// A job's whole log.
    pub async fn log(&self, job_id: i64) -> Result<Vec<u8>> {
        let mut log = Vec::new();
        for chunk in self.log_chunks(job_id).await? {
            log.extend_from_slice(&chunk.data);
        }
        Ok(log)
    }

    /// A job's log chunks, in order.
    pub async fn log_chunks(&self, job_id: i64) -> Result<Vec<LogChunk>> {
        self.log_chunks_after(job_id, i64::MIN).await
    }

    /// The chunks of a job's log after chunk `seq`, in order: what a live viewer has not seen.
    pub async fn log_chunks_after(&self, job_id: i64, seq: i64) -> Result<Vec<LogChunk>> {
        let stored: Vec<StoredChunk> = on_backend!(self, |pool| {
            sqlx::query_as(
            "SELECT job_id, seq, raw_len, data FROM log_chunks WHERE job_id = $1 AND seq > $2 ORDER BY seq"
        )
        .bind(job_id)
        .bind(seq)
        .fetch_all(pool)
        .await
        })?;
        stored.into_iter().map(StoredChunk::decompress).collect()
    }

    /// How many chunks and bytes a job's log has, before and after compression.
    pub async fn log_size(&self, job_id: i64) -> Result<LogSize> {
        let (chunks, raw_bytes, stored_bytes): (i64, i64, i64) = on_backend!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(raw_len), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) \
                 FROM log_chunks WHERE job_id = $1",
            )
            .bind(job_id)
            .fetch_one(pool)
            .await
        })?;
        Ok(LogSize {
            chunks: chunks as u64,
            raw_bytes: raw_bytes as u64,
            stored_bytes: stored_bytes as u64,
        })
    }

    /// The lines of a run's logs that contain `needle` (case-sensitive), by job then line, at
    /// most `limit`. Decompresses and scans every chunk of the run.
    pub async fn search_logs(
        &self,
        run_id: i64,
        needle: &str,
        limit: usize,
    ) -> Result<Vec<LogMatch>> {
        let stored: Vec<StoredChunk> = on_backend!(self, |pool| {
            sqlx::query_as(
            "SELECT c.job_id, c.seq, c.raw_len, c.data FROM log_chunks c JOIN jobs j ON j.id = c.job_id \
             WHERE j.run_id = $1 ORDER BY c.job_id, c.seq"
        )
        .bind(run_id)
        .fetch_all(pool)
        .await
        })?;
        let needle = needle.as_bytes().to_vec();
        tokio::task::spawn_blocking(move || search(stored, &needle, limit))
            .await
            .map_err(|err| Error::Io {
                what: "searching logs".to_string(),
                source: std::io::Error::other(err),
            })?
    }
}

/// Scans chunks (ordered by job, then seq) for lines containing `needle`. A line may span chunks.
fn search(stored: Vec<StoredChunk>, needle: &[u8], limit: usize) -> Result<Vec<LogMatch>> {
    let mut matches = Vec::new();
    let finder = memmem::Finder::new(needle);
    let mut job: Option<(i64, Vec<u8>)> = None;
    let scan_job = |job_id: i64, log: &[u8], matches: &mut Vec<LogMatch>| {
        for (idx, line) in log.split(|&b| b == b'\n').enumerate() {
            if matches.len() >= limit {
                return;
            }
            if finder.find(line).is_some() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                matches.push(LogMatch {
                    job_id,
                    line_number: idx as u64 + 1,
                    line: String::from_utf8_lossy(line).into_owned(),
                });
            }
        }
    };
    for chunk in stored {
        let job_id = chunk.job_id;
        let data = chunk.decompress()?.data;
        match &mut job {
            Some((current, log)) if *current == job_id => log.extend_from_slice(&data),
            _ => {
                if let Some((done_id, log)) = job.take() {
                    scan_job(done_id, &log, &mut matches);
                }
                job = Some((job_id, data));
            }
        }
    }
    if let Some((done_id, log)) = job.take() {
        scan_job(done_id, &log, &mut matches);
    }
    Ok(matches)
}
