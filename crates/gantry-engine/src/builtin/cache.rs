//! `actions/cache`, `actions/cache/restore` and `actions/cache/save`: a
//! persistent store of `tar.zst` archives in the cache directory.
//!
//! Layout: `entries/<id>.json` (key, version, paths, created time, size,
//! archive name) next to the archive it names. An entry is versioned by its
//! path list, as on GitHub: the same key with other paths is another entry.
//! Writers build the archive under `tmp/`, rename it into `entries/`, then
//! publish the index file with a hard link, which fails when the entry
//! already exists: entries are immutable and concurrent jobs never see a
//! half-written one.
//!
//! Inside an archive, paths in the workspace are stored as `w/<relative>`
//! and others as `a/<absolute>`, so a restore puts files back where they
//! were even when the workspace moved.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::inputs::{self, bool_input, list_input, required};
use super::paths::{self, Kind, SearchOptions};
use super::process;
use super::storage;
use super::{BuiltinCtx, BuiltinOutcome, PostAction};

const CACHE_INPUTS: &[&str] = &[
    "key",
    "path",
    "restore-keys",
    "upload-chunk-size",
    "enableCrossOsArchive",
    "fail-on-cache-miss",
    "lookup-only",
    "save-always",
];
const RESTORE_INPUTS: &[&str] = &[
    "key",
    "path",
    "restore-keys",
    "enableCrossOsArchive",
    "fail-on-cache-miss",
    "lookup-only",
];
const SAVE_INPUTS: &[&str] = &["key", "path", "upload-chunk-size", "enableCrossOsArchive"];

const MAX_KEY_LEN: usize = 512;
const MAX_RESTORE_KEYS: usize = 10;
/// Changes whenever the archive format changes, so old entries stop matching.
const FORMAT: &str = "gantry-tar-zstd-1";
const ZSTD_LEVEL: i32 = 3;

/// One stored entry, as read from its index file.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    version: String,
    created_ms: u64,
    size: u64,
    archive: PathBuf,
}

/// The version of an entry: a hash of its path list (as written).
fn version(paths: &[String]) -> String {
    storage::sha256_hex(format!("{}|{FORMAT}", paths.join("|")).as_bytes())
}

fn entry_id(key: &str, version: &str) -> String {
    storage::sha256_hex(format!("{version}\n{key}").as_bytes())[..40].to_string()
}

fn entries_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("entries")
}

fn validate_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_LEN {
        return Err(format!(
            "cache key `{key}` is longer than {MAX_KEY_LEN} characters: shorten it (hash long parts with `hashFiles`)"
        ));
    }
    if key.contains(',') {
        return Err(format!(
            "cache key `{key}` contains a comma, which cache keys cannot contain: use another separator"
        ));
    }
    Ok(())
}

fn read_entry(path: &Path) -> Option<Entry> {
    let text = fs::read_to_string(path).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    Some(Entry {
        key: value.get("key")?.as_str()?.to_string(),
        version: value.get("version")?.as_str()?.to_string(),
        created_ms: value.get("created_ms")?.as_u64()?,
        size: value.get("size").and_then(Value::as_u64).unwrap_or(0),
        archive: path.with_file_name(value.get("archive")?.as_str()?),
    })
}

fn all_entries(cache_dir: &Path, version: &str) -> Vec<Entry> {
    let Ok(dir) = fs::read_dir(entries_dir(cache_dir)) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .filter_map(|p| read_entry(&p))
        .filter(|e| e.version == version)
        .collect()
}

/// GitHub's lookup: for each key in order (the primary key first, then the
/// restore keys), an exact match, else the most recent entry whose key
/// starts with it.
fn find(cache_dir: &Path, version: &str, keys: &[String]) -> Option<Entry> {
    if let Some(primary) = keys.first()
        && let Some(entry) =
            read_entry(&entries_dir(cache_dir).join(format!("{}.json", entry_id(primary, version))))
    {
        return Some(entry);
    }
    let entries = all_entries(cache_dir, version);
    for key in keys {
        if let Some(exact) = entries.iter().find(|e| &e.key == key) {
            return Some(exact.clone());
        }
        if let Some(recent) = entries
            .iter()
            .filter(|e| e.key.starts_with(key.as_str()))
            .max_by_key(|e| (e.created_ms, e.key.clone()))
        {
            return Some(recent.clone());
        }
    }
    None
}

/// The name of `path` inside an archive.
fn archive_name(path: &Path, workspace: &Path) -> PathBuf {
    match path.strip_prefix(workspace) {
        Ok(rel) if !rel.as_os_str().is_empty() => Path::new("w").join(rel),
        Ok(_) => PathBuf::from("w"),
        Err(_) => Path::new("a").join(path.strip_prefix("/").unwrap_or(path)),
    }
}

/// Where an archive entry goes; `None` for names that could escape.
fn restore_target(name: &Path, workspace: &Path) -> Option<PathBuf> {
    let mut components = name.components();
    let base = match components.next()? {
        Component::Normal(first) if first == "w" => workspace.to_path_buf(),
        Component::Normal(first) if first == "a" => PathBuf::from("/"),
        _ => return None,
    };
    let mut target = base;
    for component in components {
        match component {
            Component::Normal(part) => target.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(target)
}

/// Builds the archive of `items` into `file`; returns how many entries went in.
fn write_archive(
    file: File,
    items: &[(PathBuf, Kind)],
    workspace: &Path,
    cancel: &CancellationToken,
) -> Result<u64, String> {
    let encoder = zstd::Encoder::new(BufWriter::new(file), ZSTD_LEVEL)
        .map_err(|e| format!("cannot start compression: {e}"))?;
    let mut builder = tar::Builder::new(encoder);
    builder.follow_symlinks(false);
    let mut count = 0;
    for (path, _kind) in items {
        if cancel.is_cancelled() {
            return Err(process::CANCELLED.to_string());
        }
        let name = archive_name(path, workspace);
        match builder.append_path_with_name(path, &name) {
            Ok(()) => count += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot add {} to the cache archive: {e}",
                    path.display()
                ));
            }
        }
    }
    let encoder = builder
        .into_inner()
        .map_err(|e| format!("cannot write the cache archive: {e}"))?;
    let writer = encoder
        .finish()
        .map_err(|e| format!("cannot write the cache archive: {e}"))?;
    writer
        .into_inner()
        .map_err(|e| format!("cannot write the cache archive: {e}"))?
        .sync_all()
        .ok();
    Ok(count)
}

/// Extracts an archive; returns how many entries were restored.
fn extract(archive: &Path, workspace: &Path, cancel: &CancellationToken) -> Result<u64, String> {
    let file =
        File::open(archive).map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
    let decoder =
        zstd::Decoder::new(file).map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    let mut tar = tar::Archive::new(BufReader::new(decoder));
    tar.set_preserve_mtime(true);
    tar.set_preserve_permissions(true);
    tar.set_overwrite(true);
    let mut count = 0;
    let entries = tar
        .entries()
        .map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
    for entry in entries {
        if cancel.is_cancelled() {
            return Err(process::CANCELLED.to_string());
        }
        let mut entry = entry.map_err(|e| {
            format!(
                "cannot read {}: {e}; the entry is damaged",
                archive.display()
            )
        })?;
        let name = entry
            .path()
            .map_err(|e| format!("bad name in {}: {e}", archive.display()))?
            .into_owned();
        let Some(target) = restore_target(&name, workspace) else {
            continue;
        };
        let is_dir = entry.header().entry_type().is_dir();
        if let Ok(meta) = fs::symlink_metadata(&target) {
            if is_dir && meta.is_dir() {
                // Keep the directory; its contents follow.
            } else if meta.is_dir() && !meta.file_type().is_symlink() {
                fs::remove_dir_all(&target)
                    .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
            } else {
                fs::remove_file(&target)
                    .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
            }
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        entry
            .unpack(&target)
            .map_err(|e| format!("cannot restore {}: {e}", target.display()))?;
        count += 1;
    }
    Ok(count)
}

/// What a lookup found.
struct Restored {
    entry: Option<Entry>,
    exact: bool,
}

async fn restore(
    ctx: &mut BuiltinCtx<'_>,
    action: &str,
) -> Result<(Restored, String, Vec<String>), String> {
    let key = required(ctx.inputs, "key", action)?.to_string();
    let paths = list_input(ctx.inputs, "path");
    if paths.is_empty() {
        return Err(format!(
            "input `path` is required by `{action}`: list the files or directories to cache"
        ));
    }
    validate_key(&key)?;
    let restore_keys = list_input(ctx.inputs, "restore-keys");
    if restore_keys.len() > MAX_RESTORE_KEYS {
        return Err(format!(
            "`restore-keys` has {} keys, more than {MAX_RESTORE_KEYS}: remove some",
            restore_keys.len()
        ));
    }
    for restore_key in &restore_keys {
        validate_key(restore_key)?;
    }
    let fail_on_miss = bool_input(ctx.inputs, "fail-on-cache-miss", false)?;
    let lookup_only = bool_input(ctx.inputs, "lookup-only", false)?;
    let mut keys = vec![key.clone()];
    keys.extend(restore_keys);

    let version = version(&paths);
    let cache_dir = ctx.cache_dir.to_path_buf();
    let lookup_keys = keys.clone();
    let entry = tokio::task::spawn_blocking(move || find(&cache_dir, &version, &lookup_keys))
        .await
        .map_err(|e| format!("cache lookup failed: {e}"))?;
    let Some(entry) = entry else {
        if fail_on_miss {
            return Err(format!(
                "no cache entry for the keys {}: `fail-on-cache-miss` is set; save one first (an earlier run of a job with `actions/cache` and these paths) or unset `fail-on-cache-miss`",
                keys.join(", ")
            ));
        }
        (ctx.log)(format!(
            "Cache not found for input keys: {}",
            keys.join(", ")
        ));
        return Ok((
            Restored {
                entry: None,
                exact: false,
            },
            key,
            paths,
        ));
    };
    let exact = entry.key == key;
    if lookup_only {
        (ctx.log)(format!(
            "Cache found for key: {} ({}); not restored (`lookup-only`)",
            entry.key,
            storage::size(entry.size)
        ));
        return Ok((
            Restored {
                entry: Some(entry),
                exact,
            },
            key,
            paths,
        ));
    }
    let archive = entry.archive.clone();
    let workspace = ctx.workspace.to_path_buf();
    let cancel = ctx.cancel.clone();
    let extracted = tokio::task::spawn_blocking(move || extract(&archive, &workspace, &cancel))
        .await
        .map_err(|e| format!("cache restore failed: {e}"))?;
    match extracted {
        Ok(count) => {
            (ctx.log)(format!(
                "Cache restored from key: {} ({} entries, {})",
                entry.key,
                count,
                storage::size(entry.size)
            ));
            Ok((
                Restored {
                    entry: Some(entry),
                    exact,
                },
                key,
                paths,
            ))
        }
        Err(e) if e == process::CANCELLED => Err(e),
        Err(e) => {
            // As on GitHub, a broken cache is a warning and a miss, not a failure.
            (ctx.log)(format!(
                "warning: failed to restore the cache with key {}: {e}",
                entry.key
            ));
            Ok((
                Restored {
                    entry: None,
                    exact: false,
                },
                key,
                paths,
            ))
        }
    }
}

/// `actions/cache`: restore now, save at the end of the job unless the key hit.
pub(super) async fn run_cache(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in inputs::unexpected_inputs(ctx.inputs, CACHE_INPUTS, "actions/cache") {
        (ctx.log)(warning);
    }
    let (restored, key, paths) = restore(ctx, "actions/cache").await?;
    let mut out = BuiltinOutcome::default();
    out.outputs
        .insert("cache-hit".to_string(), restored.exact.to_string());
    if !restored.exact {
        out.post = Some(PostAction::CacheSave { key, paths });
    }
    Ok(out)
}

/// `actions/cache/restore`.
pub(super) async fn run_restore(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in inputs::unexpected_inputs(ctx.inputs, RESTORE_INPUTS, "actions/cache/restore") {
        (ctx.log)(warning);
    }
    let (restored, key, _paths) = restore(ctx, "actions/cache/restore").await?;
    let mut out = BuiltinOutcome::default();
    out.outputs
        .insert("cache-hit".to_string(), restored.exact.to_string());
    out.outputs.insert("cache-primary-key".to_string(), key);
    if let Some(entry) = restored.entry {
        out.outputs
            .insert("cache-matched-key".to_string(), entry.key);
    }
    Ok(out)
}

/// `actions/cache/save`.
pub(super) async fn run_save(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in inputs::unexpected_inputs(ctx.inputs, SAVE_INPUTS, "actions/cache/save") {
        (ctx.log)(warning);
    }
    let key = required(ctx.inputs, "key", "actions/cache/save")?.to_string();
    let paths = list_input(ctx.inputs, "path");
    if paths.is_empty() {
        return Err("input `path` is required by `actions/cache/save`: list the files or directories to cache".to_string());
    }
    save(ctx, &key, &paths).await?;
    Ok(BuiltinOutcome::default())
}

/// Saves `paths` under `key` (a no-op when the entry exists).
pub(super) async fn save(
    ctx: &mut BuiltinCtx<'_>,
    key: &str,
    paths: &[String],
) -> Result<(), String> {
    validate_key(key)?;
    let patterns = paths::parse_patterns(paths, ctx.workspace, ctx.env)?;
    let job = SaveJob {
        key: key.to_string(),
        paths: paths.to_vec(),
        patterns,
        workspace: ctx.workspace.to_path_buf(),
        cache_dir: ctx.cache_dir.to_path_buf(),
        cancel: ctx.cancel.clone(),
    };
    let lines = tokio::task::spawn_blocking(move || job.run())
        .await
        .map_err(|e| format!("cache save failed: {e}"))??;
    for line in lines {
        (ctx.log)(line);
    }
    Ok(())
}

struct SaveJob {
    key: String,
    paths: Vec<String>,
    patterns: Vec<paths::PathPattern>,
    workspace: PathBuf,
    cache_dir: PathBuf,
    cancel: CancellationToken,
}

impl SaveJob {
    /// Blocking; returns the log lines.
    fn run(self) -> Result<Vec<String>, String> {
        let mut log = Vec::new();
        let version = version(&self.paths);
        let id = entry_id(&self.key, &version);
        let entries = entries_dir(&self.cache_dir);
        let index = entries.join(format!("{id}.json"));
        if index.exists() {
            log.push(format!("Cache entry with key {} already exists; caches are immutable, so it was not saved again", self.key));
            return Ok(log);
        }
        let options = SearchOptions {
            follow_symlinks: false,
            exclude_hidden: false,
        };
        let found = paths::search(&self.patterns, options, &self.cancel)?;
        log.extend(found.warnings);
        if found.items.is_empty() {
            log.push(format!(
                "warning: no files match the cache paths ({}): nothing was saved under key {}",
                self.paths.join(", "),
                self.key
            ));
            return Ok(log);
        }
        let tmp_dir = self.cache_dir.join("tmp");
        let io_err = |what: &Path, e: io::Error| {
            format!(
                "cannot write {}: {e}; check that the cache directory is writable",
                what.display()
            )
        };
        fs::create_dir_all(&tmp_dir).map_err(|e| io_err(&tmp_dir, e))?;
        fs::create_dir_all(&entries).map_err(|e| io_err(&entries, e))?;
        let nonce = storage::nonce();
        let tmp_archive = tmp_dir.join(format!("{nonce}.tar.zst"));
        let file = File::create(&tmp_archive).map_err(|e| io_err(&tmp_archive, e))?;
        let written = write_archive(file, &found.items, &self.workspace, &self.cancel);
        let count = match written {
            Ok(count) => count,
            Err(e) => {
                let _ = fs::remove_file(&tmp_archive);
                return Err(e);
            }
        };
        let size = fs::metadata(&tmp_archive).map(|m| m.len()).unwrap_or(0);
        let archive_file = format!("{id}-{nonce}.tar.zst");
        let archive = entries.join(&archive_file);
        fs::rename(&tmp_archive, &archive).map_err(|e| io_err(&archive, e))?;
        let meta = json!({
            "key": self.key,
            "version": version,
            "paths": self.paths,
            "created_ms": storage::now_ms(),
            "size": size,
            "entries": count,
            "archive": archive_file,
        });
        let tmp_index = tmp_dir.join(format!("{nonce}.json"));
        let text = serde_json::to_string_pretty(&meta)
            .map_err(|e| format!("cannot write the cache index: {e}"))?;
        fs::write(&tmp_index, text).map_err(|e| io_err(&tmp_index, e))?;
        let published = fs::hard_link(&tmp_index, &index);
        let _ = fs::remove_file(&tmp_index);
        match published {
            Ok(()) => {
                log.push(format!(
                    "Cache saved with key: {} ({count} entries, {})",
                    self.key,
                    storage::size(size)
                ));
                Ok(log)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(&archive);
                log.push(format!(
                    "Cache entry with key {} was saved by another job meanwhile; kept that one",
                    self.key
                ));
                Ok(log)
            }
            Err(e) => {
                let _ = fs::remove_file(&archive);
                Err(io_err(&index, e))
            }
        }
    }
}

/// Used by the tests to make entries look older.
#[cfg(test)]
fn set_created(cache_dir: &Path, key: &str, paths: &[String], created_ms: u64) {
    let index = entries_dir(cache_dir).join(format!("{}.json", entry_id(key, &version(paths))));
    let mut value: Value = serde_json::from_str(&fs::read_to_string(&index).unwrap()).unwrap();
    value["created_ms"] = json!(created_ms);
    fs::write(&index, serde_json::to_string(&value).unwrap()).unwrap();
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::super::tests_support::Harness;
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn save_then_restore_exact_hit() {
        let h = Harness::new();
        fs::create_dir_all(h.workspace.join("target/debug")).unwrap();
        fs::write(h.workspace.join("target/debug/app"), "binary").unwrap();
        fs::create_dir_all(h.workspace.join("target/empty")).unwrap();
        let with = inputs(&[("key", "deps-1"), ("path", "target")]);
        let out = h.run("actions/cache@v4", &with, "", "").await.unwrap();
        assert_eq!(out.outputs["cache-hit"], "false");
        let Some(PostAction::CacheSave { key, paths }) = &out.post else {
            panic!("no post action: {out:?}")
        };
        assert_eq!(key, "deps-1");
        assert_eq!(paths, &vec!["target".to_string()]);
        h.run_post(out.post.as_ref().unwrap()).await.unwrap();

        fs::remove_dir_all(h.workspace.join("target")).unwrap();
        let out = h.run("actions/cache@v4", &with, "", "").await.unwrap();
        assert_eq!(out.outputs["cache-hit"], "true");
        assert!(out.post.is_none());
        assert_eq!(
            fs::read_to_string(h.workspace.join("target/debug/app")).unwrap(),
            "binary"
        );
        assert!(h.workspace.join("target/empty").is_dir());

        // Saving again is a no-op.
        let save = inputs(&[("key", "deps-1"), ("path", "target")]);
        h.run("actions/cache/save@v4", &save, "", "").await.unwrap();
        assert!(
            h.logs().iter().any(|l| l.contains("already exists")),
            "{:?}",
            h.logs()
        );
    }

    #[tokio::test]
    async fn restore_keys_pick_the_most_recent_prefix_match() {
        let h = Harness::new();
        let paths = vec!["data.txt".to_string()];
        for (key, content, created) in [
            ("linux-a", "a", 1000),
            ("linux-b", "b", 3000),
            ("linux-c", "c", 2000),
            ("mac-z", "z", 9000),
        ] {
            fs::write(h.workspace.join("data.txt"), content).unwrap();
            h.run(
                "actions/cache/save@v4",
                &inputs(&[("key", key), ("path", "data.txt")]),
                "",
                "",
            )
            .await
            .unwrap();
            set_created(&h.cache_dir, key, &paths, created);
        }
        fs::remove_file(h.workspace.join("data.txt")).unwrap();
        let with = inputs(&[
            ("key", "linux-new"),
            ("path", "data.txt"),
            ("restore-keys", "windows-\nlinux-\nmac-"),
        ]);
        let out = h
            .run("actions/cache/restore@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(out.outputs["cache-hit"], "false");
        assert_eq!(out.outputs["cache-primary-key"], "linux-new");
        assert_eq!(out.outputs["cache-matched-key"], "linux-b");
        assert_eq!(
            fs::read_to_string(h.workspace.join("data.txt")).unwrap(),
            "b"
        );

        // An exact restore key wins over more recent prefix matches.
        let with = inputs(&[
            ("key", "none"),
            ("path", "data.txt"),
            ("restore-keys", "linux-a"),
        ]);
        let out = h
            .run("actions/cache/restore@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(out.outputs["cache-matched-key"], "linux-a");

        // The primary key is a prefix too.
        let with = inputs(&[("key", "mac"), ("path", "data.txt")]);
        let out = h.run("actions/cache@v4", &with, "", "").await.unwrap();
        assert_eq!(out.outputs["cache-hit"], "false");
        assert!(out.post.is_some());
        assert_eq!(
            fs::read_to_string(h.workspace.join("data.txt")).unwrap(),
            "z"
        );
    }

    #[tokio::test]
    async fn miss_outputs_and_fail_on_cache_miss() {
        let h = Harness::new();
        let with = inputs(&[("key", "k"), ("path", "x")]);
        let out = h
            .run("actions/cache/restore@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(out.outputs["cache-hit"], "false");
        assert_eq!(out.outputs["cache-primary-key"], "k");
        assert!(!out.outputs.contains_key("cache-matched-key"));
        assert!(h.logs().iter().any(|l| l.contains("Cache not found")));

        let with = inputs(&[("key", "k"), ("path", "x"), ("fail-on-cache-miss", "true")]);
        let err = h.run("actions/cache@v4", &with, "", "").await.unwrap_err();
        assert!(err.contains("fail-on-cache-miss"), "{err}");

        let err = h
            .run(
                "actions/cache@v4",
                &inputs(&[("key", "a,b"), ("path", "x")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(err.contains("comma"), "{err}");
        let err = h
            .run("actions/cache@v4", &inputs(&[("path", "x")]), "", "")
            .await
            .unwrap_err();
        assert!(err.contains("`key` is required"), "{err}");
    }

    #[tokio::test]
    async fn paths_outside_the_workspace_with_tilde() {
        let h = Harness::new();
        let cargo = h.home.join(".cargo/registry");
        fs::create_dir_all(&cargo).unwrap();
        fs::write(cargo.join("index"), "crates").unwrap();
        fs::write(h.workspace.join("Cargo.lock"), "lock").unwrap();
        let with = inputs(&[("key", "cargo"), ("path", "~/.cargo/registry\nCargo.lock")]);
        h.run("actions/cache/save@v4", &with, "", "").await.unwrap();
        fs::remove_dir_all(h.home.join(".cargo")).unwrap();
        fs::remove_file(h.workspace.join("Cargo.lock")).unwrap();
        let out = h
            .run("actions/cache/restore@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(out.outputs["cache-hit"], "true");
        assert_eq!(fs::read_to_string(cargo.join("index")).unwrap(), "crates");
        assert_eq!(
            fs::read_to_string(h.workspace.join("Cargo.lock")).unwrap(),
            "lock"
        );
    }

    #[tokio::test]
    async fn same_key_with_other_paths_is_another_entry() {
        let h = Harness::new();
        fs::write(h.workspace.join("a.txt"), "a").unwrap();
        fs::write(h.workspace.join("b.txt"), "b").unwrap();
        h.run(
            "actions/cache/save@v4",
            &inputs(&[("key", "k"), ("path", "a.txt")]),
            "",
            "",
        )
        .await
        .unwrap();
        let out = h
            .run(
                "actions/cache/restore@v4",
                &inputs(&[("key", "k"), ("path", "b.txt")]),
                "",
                "",
            )
            .await
            .unwrap();
        assert_eq!(out.outputs["cache-hit"], "false");
        h.run(
            "actions/cache/save@v4",
            &inputs(&[("key", "k"), ("path", "b.txt")]),
            "",
            "",
        )
        .await
        .unwrap();
        fs::remove_file(h.workspace.join("a.txt")).unwrap();
        fs::remove_file(h.workspace.join("b.txt")).unwrap();
        let out = h
            .run(
                "actions/cache/restore@v4",
                &inputs(&[("key", "k"), ("path", "b.txt")]),
                "",
                "",
            )
            .await
            .unwrap();
        assert_eq!(out.outputs["cache-hit"], "true");
        assert!(h.workspace.join("b.txt").exists());
        assert!(!h.workspace.join("a.txt").exists());
    }

    #[tokio::test]
    async fn globs_exclusions_and_lookup_only() {
        let h = Harness::new();
        fs::create_dir_all(h.workspace.join("node_modules/pkg")).unwrap();
        fs::write(h.workspace.join("node_modules/pkg/index.js"), "js").unwrap();
        fs::write(h.workspace.join("node_modules/pkg/big.bin"), "big").unwrap();
        let with = inputs(&[("key", "g"), ("path", "node_modules/**/*.js\n!**/*.bin")]);
        h.run("actions/cache/save@v4", &with, "", "").await.unwrap();
        fs::remove_dir_all(h.workspace.join("node_modules")).unwrap();

        let lookup = inputs(&[
            ("key", "g"),
            ("path", "node_modules/**/*.js\n!**/*.bin"),
            ("lookup-only", "true"),
        ]);
        let out = h.run("actions/cache@v4", &lookup, "", "").await.unwrap();
        assert_eq!(out.outputs["cache-hit"], "true");
        assert!(!h.workspace.join("node_modules").exists());

        h.run("actions/cache/restore@v4", &with, "", "")
            .await
            .unwrap();
        assert!(h.workspace.join("node_modules/pkg/index.js").exists());
        assert!(!h.workspace.join("node_modules/pkg/big.bin").exists());
    }

    #[tokio::test]
    async fn saving_nothing_warns() {
        let h = Harness::new();
        h.run(
            "actions/cache/save@v4",
            &inputs(&[("key", "k"), ("path", "missing")]),
            "",
            "",
        )
        .await
        .unwrap();
        assert!(
            h.logs().iter().any(|l| l.contains("no files match")),
            "{:?}",
            h.logs()
        );
        assert!(
            !entries_dir(&h.cache_dir)
                .join(format!(
                    "{}.json",
                    entry_id("k", &version(&["missing".into()]))
                ))
                .exists()
        );
    }

    #[test]
    fn archive_names_round_trip_and_reject_escapes() {
        let ws = Path::new("/ws");
        assert_eq!(
            archive_name(Path::new("/ws/a/b"), ws),
            PathBuf::from("w/a/b")
        );
        assert_eq!(
            archive_name(Path::new("/home/u/.npm"), ws),
            PathBuf::from("a/home/u/.npm")
        );
        assert_eq!(
            restore_target(Path::new("w/a/b"), ws),
            Some(PathBuf::from("/ws/a/b"))
        );
        assert_eq!(
            restore_target(Path::new("a/home/u/.npm"), ws),
            Some(PathBuf::from("/home/u/.npm"))
        );
        assert_eq!(restore_target(Path::new("w/../etc"), ws), None);
        assert_eq!(restore_target(Path::new("x/y"), ws), None);
    }
}
