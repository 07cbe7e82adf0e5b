//! `actions/upload-artifact` and `actions/download-artifact`: files shared
//! between the jobs of one run, kept as plain directory trees in
//! `<run_dir>/artifacts/<name>/` with a `<name>.json` beside each (id,
//! digest, size). An upload is copied to a temporary directory and renamed
//! into place; the JSON file is written last, so a download only ever sees
//! complete artifacts.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::inputs::{self, bool_input, input, list_input};
use super::paths::{self, Kind, SearchOptions};
use super::process;
use super::storage;
use super::{BuiltinCtx, BuiltinOutcome};

const UPLOAD_INPUTS: &[&str] = &[
    "name",
    "path",
    "if-no-files-found",
    "retention-days",
    "compression-level",
    "overwrite",
    "include-hidden-files",
];
const DOWNLOAD_INPUTS: &[&str] = &[
    "name",
    "artifact-ids",
    "path",
    "pattern",
    "merge-multiple",
    "github-token",
    "repository",
    "run-id",
];

const INVALID_NAME_CHARS: &[char] = &['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];

fn artifacts_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("artifacts")
}

fn validate_name(name: &str) -> Result<(), String> {
    if let Some(bad) = name.chars().find(|c| INVALID_NAME_CHARS.contains(c)) {
        return Err(format!(
            "artifact name `{name}` contains {bad:?}, which artifact names cannot contain (nor any of \" : < > | * ? \\ / or line breaks): choose another `name`"
        ));
    }
    if name == "." || name == ".." || name.starts_with(".tmp-") {
        return Err(format!(
            "`{name}` is not a valid artifact name: choose another `name`"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfNoFiles {
    Warn,
    Error,
    Ignore,
}

/// A stored artifact, as read from its JSON file.
#[derive(Debug, Clone)]
struct Stored {
    name: String,
    id: u64,
    dir: PathBuf,
}

fn list_artifacts(run_dir: &Path) -> Vec<Stored> {
    let dir = artifacts_dir(run_dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<Stored> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .filter_map(|p| {
            let value: Value = serde_json::from_str(&fs::read_to_string(&p).ok()?).ok()?;
            let name = value.get("name")?.as_str()?.to_string();
            let artifact_dir = dir.join(&name);
            artifact_dir.is_dir().then(|| Stored {
                id: value.get("id").and_then(Value::as_u64).unwrap_or(0),
                dir: artifact_dir,
                name,
            })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The next free artifact id of the run (created atomically).
fn allocate_id(dir: &Path) -> io::Result<u64> {
    let ids = dir.join(".ids");
    fs::create_dir_all(&ids)?;
    let mut id = fs::read_dir(&ids)?.count() as u64 + 1;
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(ids.join(id.to_string()))
        {
            Ok(_) => return Ok(id),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => id += 1,
            Err(e) => return Err(e),
        }
    }
}

fn file_sha256(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(storage::hex(&hasher.finalize()))
}

/// What an upload copied.
struct Uploaded {
    files: u64,
    bytes: u64,
    digest: String,
}

/// Copies `files` (relative to `root`) into `dest`; the digest is a sha256
/// of the sorted listing of relative paths, sizes and content hashes.
fn copy_files(
    files: &[PathBuf],
    root: &Path,
    dest: &Path,
    cancel: &CancellationToken,
) -> Result<Uploaded, String> {
    let mut listing = String::new();
    let mut bytes = 0;
    for file in files {
        if cancel.is_cancelled() {
            return Err(process::CANCELLED.to_string());
        }
        let rel = file.strip_prefix(root).unwrap_or(file);
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let size = fs::copy(file, &target)
            .map_err(|e| format!("cannot copy {} into the artifact: {e}", file.display()))?;
        let hash =
            file_sha256(&target).map_err(|e| format!("cannot read {}: {e}", target.display()))?;
        bytes += size;
        listing.push_str(&format!("{}\0{size}\0{hash}\n", rel.display()));
    }
    Ok(Uploaded {
        files: files.len() as u64,
        bytes,
        digest: storage::sha256_hex(listing.as_bytes()),
    })
}

/// The directory the artifact's paths are relative to, as the real action
/// picks it: the least common ancestor of the search paths; a single file
/// given by its path is stored without directories.
fn root_directory(files: &[PathBuf], search_paths: &[PathBuf]) -> PathBuf {
    if search_paths.len() > 1 {
        return paths::common_ancestor(search_paths);
    }
    let Some(search_path) = search_paths.first() else {
        return PathBuf::from("/");
    };
    if files.len() == 1 && &files[0] == search_path {
        return search_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
    }
    search_path.clone()
}

pub(super) async fn upload(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in inputs::unexpected_inputs(ctx.inputs, UPLOAD_INPUTS, "actions/upload-artifact") {
        (ctx.log)(warning);
    }
    let inputs = ctx.inputs;
    let name = input(inputs, "name").unwrap_or("artifact").to_string();
    validate_name(&name)?;
    let paths = list_input(inputs, "path");
    if paths.is_empty() {
        return Err("input `path` is required by `actions/upload-artifact`: list the files, directories or globs to upload".to_string());
    }
    let if_no_files = match input(inputs, "if-no-files-found")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("warn") => IfNoFiles::Warn,
        Some("error") => IfNoFiles::Error,
        Some("ignore") => IfNoFiles::Ignore,
        Some(other) => {
            return Err(format!(
                "input `if-no-files-found` must be `warn`, `error` or `ignore`, not `{other}`: fix it under `with:`"
            ));
        }
    };
    let retention_days: u64 = match input(inputs, "retention-days") {
        None => 0,
        Some(value) => value
            .parse()
            .map_err(|_| format!("input `retention-days` must be a number of days (1 to 90), not `{value}`: fix it under `with:`"))?,
    };
    if let Some(level) = input(inputs, "compression-level")
        && !matches!(level.parse::<u8>(), Ok(0..=9))
    {
        return Err(format!(
            "input `compression-level` must be a number from 0 to 9, not `{level}`: fix it under `with:`"
        ));
    }
    let overwrite = bool_input(inputs, "overwrite", false)?;
    let include_hidden = bool_input(inputs, "include-hidden-files", false)?;
    let patterns = paths::parse_patterns(&paths, ctx.workspace, ctx.env)?;

    let dir = artifacts_dir(ctx.run_dir);
    let dest = dir.join(&name);
    let meta_path = dir.join(format!("{name}.json"));
    if !overwrite && (dest.exists() || meta_path.exists()) {
        return Err(exists_error(&name));
    }

    let cancel = ctx.cancel.clone();
    let options = SearchOptions {
        follow_symlinks: true,
        exclude_hidden: !include_hidden,
    };
    let found = tokio::task::spawn_blocking(move || paths::search(&patterns, options, &cancel))
        .await
        .map_err(|e| format!("artifact search failed: {e}"))??;
    for warning in &found.warnings {
        (ctx.log)(warning.clone());
    }
    let files: Vec<PathBuf> = found
        .items
        .iter()
        .filter(|(_, kind)| *kind == Kind::File)
        .map(|(p, _)| p.clone())
        .collect();
    if files.is_empty() {
        let hidden = if found.hidden_skipped > 0 {
            format!(
                " ({} hidden files or directories were skipped: set `include-hidden-files: true` to upload them)",
                found.hidden_skipped
            )
        } else {
            String::new()
        };
        let shown = paths.join(", ");
        let message = format!(
            "No files were found with the provided path: {shown}{hidden}. No artifacts will be uploaded."
        );
        return match if_no_files {
            IfNoFiles::Error => Err(format!(
                "no files were found with the provided path: {shown}{hidden}; check `path`, or set `if-no-files-found: warn` to let the step pass"
            )),
            IfNoFiles::Warn => {
                (ctx.log)(format!("warning: {message}"));
                Ok(BuiltinOutcome::default())
            }
            IfNoFiles::Ignore => {
                (ctx.log)(message);
                Ok(BuiltinOutcome::default())
            }
        };
    }
    let root = root_directory(&files, &found.search_paths);

    let job = UploadJob {
        name: name.clone(),
        dir,
        files,
        root: root.clone(),
        overwrite,
        retention_days,
        cancel: ctx.cancel.clone(),
    };
    let (id, uploaded) = tokio::task::spawn_blocking(move || job.run())
        .await
        .map_err(|e| format!("artifact upload failed: {e}"))??;
    (ctx.log)(format!(
        "Uploaded artifact `{name}`: {} files, {} (paths relative to {})",
        uploaded.files,
        storage::size(uploaded.bytes),
        root.display()
    ));
    let mut out = BuiltinOutcome::default();
    out.outputs
        .insert("artifact-id".to_string(), id.to_string());
    out.outputs.insert(
        "artifact-url".to_string(),
        format!("file://{}", dest.display()),
    );
    out.outputs
        .insert("artifact-digest".to_string(), uploaded.digest);
    Ok(out)
}

fn exists_error(name: &str) -> String {
    format!(
        "an artifact named `{name}` was already uploaded in this run: set `overwrite: true` to replace it, or upload under another `name` (e.g. with the matrix values in it)"
    )
}

struct UploadJob {
    name: String,
    dir: PathBuf,
    files: Vec<PathBuf>,
    root: PathBuf,
    overwrite: bool,
    retention_days: u64,
    cancel: CancellationToken,
}

impl UploadJob {
    fn run(self) -> Result<(u64, Uploaded), String> {
        let io_err = |what: &Path, e: io::Error| {
            format!(
                "cannot write {}: {e}; check that the run directory is writable",
                what.display()
            )
        };
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let tmp = self.dir.join(format!(".tmp-{}", storage::nonce()));
        fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        let uploaded = match copy_files(&self.files, &self.root, &tmp, &self.cancel) {
            Ok(uploaded) => uploaded,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let dest = self.dir.join(&self.name);
        let meta_path = self.dir.join(format!("{}.json", self.name));
        if self.overwrite {
            let _ = fs::remove_file(&meta_path);
            if dest.exists() {
                let old = self.dir.join(format!(".tmp-{}", storage::nonce()));
                if fs::rename(&dest, &old).is_ok() {
                    let _ = fs::remove_dir_all(&old);
                }
            }
        }
        // Renaming onto an existing non-empty directory fails: that is the
        // "already uploaded" check for jobs racing each other.
        if let Err(e) = fs::rename(&tmp, &dest) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(if dest.exists() {
                exists_error(&self.name)
            } else {
                io_err(&dest, e)
            });
        }
        let id = allocate_id(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let meta = json!({
            "name": self.name,
            "id": id,
            "files": uploaded.files,
            "size": uploaded.bytes,
            "digest": uploaded.digest,
            "created_ms": storage::now_ms(),
            "retention_days": self.retention_days,
        });
        let text = serde_json::to_string_pretty(&meta)
            .map_err(|e| format!("cannot write the artifact index: {e}"))?;
        storage::write_atomic(&meta_path, text.as_bytes()).map_err(|e| io_err(&meta_path, e))?;
        Ok((id, uploaded))
    }
}

/// Copies the tree `from` into `to`, replacing files that exist.
fn copy_tree(from: &Path, to: &Path, cancel: &CancellationToken) -> Result<u64, String> {
    let mut count = 0;
    let mut stack = vec![from.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if cancel.is_cancelled() {
            return Err(process::CANCELLED.to_string());
        }
        let rel = dir.strip_prefix(from).unwrap_or(Path::new(""));
        let target_dir = to.join(rel);
        fs::create_dir_all(&target_dir)
            .map_err(|e| format!("cannot create {}: {e}", target_dir.display()))?;
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
                continue;
            }
            let target = target_dir.join(entry.file_name());
            if fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
                let _ = fs::remove_file(&target);
            }
            fs::copy(&path, &target)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
            count += 1;
        }
    }
    Ok(count)
}

pub(super) async fn download(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in
        inputs::unexpected_inputs(ctx.inputs, DOWNLOAD_INPUTS, "actions/download-artifact")
    {
        (ctx.log)(warning);
    }
    let inputs = ctx.inputs;
    if let Some(run_id) = input(inputs, "run-id")
        && ctx
            .env
            .get("GITHUB_RUN_ID")
            .is_none_or(|current| current != run_id)
    {
        return Err(format!(
            "`run-id: {run_id}` names another run: only the artifacts of this run can be downloaded; remove `run-id` (and `github-token`)"
        ));
    }
    let name = input(inputs, "name");
    let ids: Vec<u64> = match input(inputs, "artifact-ids") {
        None => Vec::new(),
        Some(value) => value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| format!("`artifact-ids` must be comma-separated numbers, not `{value}`: fix it under `with:`")))
            .collect::<Result<_, _>>()?,
    };
    if name.is_some() && !ids.is_empty() {
        return Err(
            "inputs `name` and `artifact-ids` cannot be used together: keep one of them"
                .to_string(),
        );
    }
    let merge = bool_input(inputs, "merge-multiple", false)?;
    let dest = paths::expand_path(input(inputs, "path").unwrap_or("."), ctx.workspace, ctx.env)?;
    let all = list_artifacts(ctx.run_dir);
    let available = || {
        if all.is_empty() {
            "no artifact has been uploaded in this run yet: upload it in a job that this job `needs:`".to_string()
        } else {
            format!(
                "the artifacts of this run are: {}",
                all.iter()
                    .map(|a| format!("`{}` (id {})", a.name, a.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };

    // (artifact, directory to put it in)
    let mut chosen: Vec<(Stored, PathBuf)> = Vec::new();
    if let Some(name) = name {
        let artifact = all
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| format!("artifact `{name}` was not found: {}", available()))?;
        chosen.push((artifact.clone(), dest.clone()));
    } else {
        let selected: Vec<&Stored> = if !ids.is_empty() {
            let mut selected = Vec::new();
            for id in &ids {
                let artifact = all
                    .iter()
                    .find(|a| a.id == *id)
                    .ok_or_else(|| format!("artifact id {id} was not found: {}", available()))?;
                selected.push(artifact);
            }
            selected
        } else if let Some(pattern) = input(inputs, "pattern") {
            let matcher = globset::Glob::new(pattern)
                .map_err(|e| format!("invalid `pattern: {pattern}`: {e}; fix the pattern"))?
                .compile_matcher();
            (ctx.log)(format!("Filtering artifacts by pattern `{pattern}`"));
            all.iter().filter(|a| matcher.is_match(&a.name)).collect()
        } else {
            all.iter().collect()
        };
        if selected.is_empty() {
            (ctx.log)(format!(
                "warning: no artifact to download ({})",
                available()
            ));
        }
        for artifact in selected {
            let into = if merge {
                dest.clone()
            } else {
                dest.join(&artifact.name)
            };
            chosen.push((artifact.clone(), into));
        }
    }

    let cancel = ctx.cancel.clone();
    let lines = tokio::task::spawn_blocking(move || -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        for (artifact, into) in chosen {
            let count = copy_tree(&artifact.dir, &into, &cancel)?;
            lines.push(format!(
                "Downloaded artifact `{}` ({count} files) to {}",
                artifact.name,
                into.display()
            ));
        }
        Ok(lines)
    })
    .await
    .map_err(|e| format!("artifact download failed: {e}"))??;
    for line in lines {
        (ctx.log)(line);
    }
    let mut out = BuiltinOutcome::default();
    out.outputs.insert(
        "download-path".to_string(),
        dest.to_string_lossy().into_owned(),
    );
    Ok(out)
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

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn tree(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn upload_with_globs_and_excludes_preserves_structure() {
        let h = Harness::new();
        write(&h.workspace.join("build/out/app.bin"), "app");
        write(&h.workspace.join("build/out/debug.log"), "log");
        write(&h.workspace.join("build/out/sub/lib.so"), "lib");
        write(&h.workspace.join("build/out/.hidden"), "h");
        write(&h.workspace.join("docs/site/index.html"), "html");
        let with = inputs(&[
            ("name", "dist"),
            ("path", "build/out/**\n!**/*.log\ndocs/site"),
        ]);
        let out = h
            .run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(out.outputs["artifact-id"], "1");
        assert!(out.outputs["artifact-url"].starts_with("file://"));
        assert_eq!(out.outputs["artifact-digest"].len(), 64);
        let stored = h.run_dir.join("artifacts/dist");
        assert_eq!(
            tree(&stored),
            vec![
                "build/out/app.bin",
                "build/out/sub/lib.so",
                "docs/site/index.html"
            ]
        );

        // One directory: paths are relative to it.
        let with = inputs(&[
            ("name", "out"),
            ("path", "build/out"),
            ("include-hidden-files", "true"),
        ]);
        let out = h
            .run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(out.outputs["artifact-id"], "2");
        assert_eq!(
            tree(&h.run_dir.join("artifacts/out")),
            vec![".hidden", "app.bin", "debug.log", "sub/lib.so"]
        );

        // One file: stored without its directories.
        let with = inputs(&[("name", "single"), ("path", "build/out/sub/lib.so")]);
        h.run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(tree(&h.run_dir.join("artifacts/single")), vec!["lib.so"]);
    }

    #[tokio::test]
    async fn digest_is_deterministic() {
        let h = Harness::new();
        write(&h.workspace.join("a/x.txt"), "x");
        let a = h
            .run(
                "actions/upload-artifact@v4",
                &inputs(&[("name", "one"), ("path", "a")]),
                "",
                "",
            )
            .await
            .unwrap();
        let b = h
            .run(
                "actions/upload-artifact@v4",
                &inputs(&[("name", "two"), ("path", "a")]),
                "",
                "",
            )
            .await
            .unwrap();
        assert_eq!(a.outputs["artifact-digest"], b.outputs["artifact-digest"]);
    }

    #[tokio::test]
    async fn overwrite_rule() {
        let h = Harness::new();
        write(&h.workspace.join("f.txt"), "1");
        let with = inputs(&[("name", "x"), ("path", "f.txt")]);
        h.run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap();
        let err = h
            .run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap_err();
        assert!(
            err.contains("overwrite: true") && err.contains("another `name`"),
            "{err}"
        );
        write(&h.workspace.join("f.txt"), "2");
        let with = inputs(&[("name", "x"), ("path", "f.txt"), ("overwrite", "true")]);
        h.run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap();
        assert_eq!(
            fs::read_to_string(h.run_dir.join("artifacts/x/f.txt")).unwrap(),
            "2"
        );
    }

    #[tokio::test]
    async fn no_files_found_modes() {
        let h = Harness::new();
        write(&h.workspace.join(".env/secret"), "s");
        let with = inputs(&[("path", ".env")]);
        let out = h
            .run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap();
        assert!(out.outputs.is_empty());
        assert!(
            h.logs()
                .iter()
                .any(|l| l.contains("No files were found") && l.contains("include-hidden-files")),
            "{:?}",
            h.logs()
        );
        let with = inputs(&[("path", "missing"), ("if-no-files-found", "error")]);
        let err = h
            .run("actions/upload-artifact@v4", &with, "", "")
            .await
            .unwrap_err();
        assert!(err.contains("no files were found"), "{err}");
        let err = h
            .run(
                "actions/upload-artifact@v4",
                &inputs(&[("name", "a/b"), ("path", "x")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(err.contains("cannot contain"), "{err}");
    }

    #[tokio::test]
    async fn download_one_all_and_missing() {
        let h = Harness::new();
        write(&h.workspace.join("a/one.txt"), "1");
        write(&h.workspace.join("b/two.txt"), "2");
        h.run(
            "actions/upload-artifact@v4",
            &inputs(&[("name", "first"), ("path", "a")]),
            "",
            "",
        )
        .await
        .unwrap();
        h.run(
            "actions/upload-artifact@v4",
            &inputs(&[("name", "second"), ("path", "b")]),
            "",
            "",
        )
        .await
        .unwrap();

        let out = h
            .run(
                "actions/download-artifact@v4",
                &inputs(&[("name", "first"), ("path", "dl")]),
                "",
                "",
            )
            .await
            .unwrap();
        assert_eq!(
            out.outputs["download-path"],
            h.workspace.join("dl").to_string_lossy()
        );
        assert_eq!(tree(&h.workspace.join("dl")), vec!["one.txt"]);

        h.run(
            "actions/download-artifact@v4",
            &inputs(&[("path", "all")]),
            "",
            "",
        )
        .await
        .unwrap();
        assert_eq!(
            tree(&h.workspace.join("all")),
            vec!["first/one.txt", "second/two.txt"]
        );

        h.run(
            "actions/download-artifact@v4",
            &inputs(&[
                ("path", "merged"),
                ("pattern", "s*"),
                ("merge-multiple", "true"),
            ]),
            "",
            "",
        )
        .await
        .unwrap();
        assert_eq!(tree(&h.workspace.join("merged")), vec!["two.txt"]);

        h.run(
            "actions/download-artifact@v4",
            &inputs(&[("path", "byid"), ("artifact-ids", "2")]),
            "",
            "",
        )
        .await
        .unwrap();
        assert_eq!(tree(&h.workspace.join("byid")), vec!["second/two.txt"]);

        let err = h
            .run(
                "actions/download-artifact@v4",
                &inputs(&[("name", "third")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(
            err.contains("`third` was not found")
                && err.contains("`first`")
                && err.contains("`second`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn download_without_artifacts_explains() {
        let h = Harness::new();
        let err = h
            .run(
                "actions/download-artifact@v4",
                &inputs(&[("name", "x")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(err.contains("no artifact has been uploaded"), "{err}");
    }

    #[test]
    fn root_directory_follows_the_real_action() {
        let files = vec![PathBuf::from("/ws/a/b/f")];
        assert_eq!(
            root_directory(&files, &[PathBuf::from("/ws/a/b/f")]),
            PathBuf::from("/ws/a/b")
        );
        assert_eq!(
            root_directory(&files, &[PathBuf::from("/ws/a")]),
            PathBuf::from("/ws/a")
        );
        assert_eq!(
            root_directory(
                &files,
                &[PathBuf::from("/ws/a/b"), PathBuf::from("/ws/a/c")]
            ),
            PathBuf::from("/ws/a")
        );
    }
}
