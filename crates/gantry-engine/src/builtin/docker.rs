//! The Docker image actions, built in: `docker/metadata-action` (tags and
//! labels from the event, see [`super::docker_meta`]), `docker/login-action`
//! (registry credentials for the rest of the job), `docker/build-push-action`
//! (a build with the executor's image service, tags, push, the digest as an
//! output) and `docker/setup-buildx-action`/`setup-qemu-action` (nothing to
//! set up: the engine's own builder is used).

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::docker_meta::{self, MetaContext, MetaInputs};
use super::inputs::{bool_input, input, list_input, required, unexpected_inputs};
use super::{BuiltinCtx, BuiltinOutcome};
use gantry_executor::{BuildRequest, CollectSink, Credentials, ImageService, Stream, registry_of};

const LOGIN: &str = "docker/login-action";
const BUILD: &str = "docker/build-push-action";

const LOGIN_INPUTS: &[&str] = &["registry", "username", "password", "ecr", "logout"];
const BUILD_INPUTS: &[&str] = &[
    "context",
    "file",
    "tags",
    "labels",
    "build-args",
    "target",
    "cache-from",
    "cache-to",
    "no-cache",
    "pull",
    "push",
    "load",
    "platforms",
    "provenance",
    "sbom",
    "outputs",
    "secrets",
    "github-token",
    "builder",
];

fn images<'a>(ctx: &BuiltinCtx<'a>, action: &str) -> Result<&'a dyn ImageService, String> {
    ctx.images.ok_or_else(|| {
        format!("`{action}` needs a Docker engine, which this executor does not have: run gantry where Docker is reachable")
    })
}

/// Registry credentials are keyed by registry host; Docker Hub is `""`.
fn registry_key(registry: &str) -> String {
    let host = registry
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => String::new(),
        other => other.to_string(),
    }
}

/// `docker/metadata-action`: tags and labels for the event.
pub(crate) fn metadata(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in unexpected_inputs(ctx.inputs, docker_meta::INPUTS, "docker/metadata-action") {
        (ctx.log)(format!("warning: {warning}"));
    }
    let github = ctx.github;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let event = &github["event"];
    let repository = text(&github["repository"]);
    let server = github["server_url"]
        .as_str()
        .unwrap_or("https://github.com")
        .to_string();
    let default_branch = text(&event["repository"]["default_branch"]);
    let pr_number = event["pull_request"]["number"]
        .as_u64()
        .or_else(|| event["number"].as_u64());
    let event_name = text(&github["event_name"]);
    let git_ref = text(&github["ref"]);
    let sha = text(&github["sha"]);
    let base_ref = text(&github["base_ref"]);
    let repository_url = format!("{server}/{repository}");
    let description = text(&event["repository"]["description"]);
    let meta_ctx = MetaContext {
        event_name: &event_name,
        git_ref: &git_ref,
        sha: &sha,
        default_branch: &default_branch,
        pr_number,
        base_ref: &base_ref,
        repository: &repository,
        repository_url: &repository_url,
        description: &description,
        licenses: "",
        now: jiff::Timestamp::now(),
        commit_date: None,
        time_zone: |name| jiff::tz::TimeZone::get(name).ok(),
    };
    let inputs = MetaInputs::from_step(ctx.inputs, ctx.env);
    let meta = docker_meta::compute(&inputs, &meta_ctx)?;
    for warning in &meta.warnings {
        (ctx.log)(format!("warning: {warning}"));
    }
    for tag in &meta.tags {
        (ctx.log)(format!("tag: {tag}"));
    }
    let outputs = docker_meta::outputs(&meta, &inputs);
    let set_env: IndexMap<String, String> = docker_meta::output_env(&outputs).into_iter().collect();
    Ok(BuiltinOutcome {
        outputs: outputs.into_iter().collect(),
        set_env,
        ..Default::default()
    })
}

/// `docker/login-action`: remember credentials for later pushes and pulls
/// of this job; the password is masked from now on.
pub(crate) async fn login(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in unexpected_inputs(ctx.inputs, LOGIN_INPUTS, LOGIN) {
        (ctx.log)(format!("warning: {warning}"));
    }
    let password = required(ctx.inputs, "password", LOGIN)?.to_string();
    let username = input(ctx.inputs, "username")
        .unwrap_or_default()
        .to_string();
    let registry = registry_key(input(ctx.inputs, "registry").unwrap_or_default());
    let credentials = Credentials { username, password };
    images(ctx, LOGIN)?
        .login(&registry, &credentials)
        .await
        .map_err(|e| e.to_string())?;
    let shown = if registry.is_empty() {
        "Docker Hub"
    } else {
        registry.as_str()
    };
    (ctx.log)(format!(
        "credentials of `{}` for {shown} kept for this job's pushes",
        credentials.username
    ));
    let masks = vec![credentials.password.clone()];
    ctx.logins.insert(registry, credentials);
    Ok(BuiltinOutcome {
        masks,
        ..Default::default()
    })
}

/// `cache-from` entries as image references: `type=registry,ref=IMAGE` or a
/// plain image; other cache types (gha, local, s3) have no meaning for the
/// engine's builder and are reported and skipped.
fn cache_images(entries: &[String], log: &mut (dyn FnMut(String) + Send)) -> Vec<String> {
    let mut images = Vec::new();
    for entry in entries {
        if !entry.contains('=') {
            images.push(entry.clone());
            continue;
        }
        let attrs: IndexMap<&str, &str> = entry
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        match (attrs.get("type").copied(), attrs.get("ref")) {
            (Some("registry") | None, Some(reference)) => images.push((*reference).to_string()),
            (kind, _) => log(format!(
                "note: cache-from `{entry}` ({}) is not used: the engine's builder reuses local layers and registry images (`type=registry,ref=…`)",
                kind.unwrap_or("no type")
            )),
        }
    }
    images
}

/// `KEY=VALUE` lines.
fn pairs(lines: Vec<String>, name: &str) -> Result<Vec<(String, String)>, String> {
    lines
        .into_iter()
        .map(|line| match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!(
                "input `{name}`: `{line}` must look like KEY=VALUE (one per line)"
            )),
        })
        .collect()
}

/// `docker/build-push-action`: build (and push) an image.
pub(crate) async fn build_push(ctx: &mut BuiltinCtx<'_>) -> Result<BuiltinOutcome, String> {
    for warning in unexpected_inputs(ctx.inputs, BUILD_INPUTS, BUILD) {
        (ctx.log)(format!("warning: {warning}"));
    }
    let service = images(ctx, BUILD)?;
    let context = match input(ctx.inputs, "context") {
        Some(c) => ctx.workspace.join(c),
        None => ctx.workspace.to_path_buf(),
    };
    let dockerfile = match input(ctx.inputs, "file") {
        Some(f) => ctx.workspace.join(f),
        None => context.join("Dockerfile"),
    };
    if !dockerfile.is_file() {
        return Err(format!(
            "no Dockerfile at `{}`: add one or point `file:` at it (it is relative to the workspace)",
            dockerfile.display()
        ));
    }
    // `tags` may be newline or comma separated (metadata-action gives lines).
    let tags: Vec<String> = list_input(ctx.inputs, "tags")
        .iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let push = bool_input(ctx.inputs, "push", false)?;
    if push && tags.is_empty() {
        return Err("`push: true` needs at least one tag: set `tags:`".into());
    }
    let cache_from = cache_images(&list_input(ctx.inputs, "cache-from"), ctx.log);
    let request = BuildRequest {
        context,
        dockerfile,
        tags: tags.clone(),
        build_args: pairs(list_input(ctx.inputs, "build-args"), "build-args")?,
        labels: pairs(list_input(ctx.inputs, "labels"), "labels")?,
        target: input(ctx.inputs, "target").map(String::from),
        cache_from,
        no_cache: bool_input(ctx.inputs, "no-cache", false)?,
        pull: bool_input(ctx.inputs, "pull", false)?,
    };
    let mut sink = CollectSink::default();
    let built = service.build(&request, &mut sink).await;
    log_text(ctx, &sink);
    let built = built.map_err(|e| e.to_string())?;
    (ctx.log)(format!(
        "built {} ({} of {} steps from the layer cache)",
        built.image_id, built.cached_steps, built.total_steps
    ));
    let mut digest = String::new();
    if push {
        for tag in &tags {
            let credentials = ctx.logins.get(&registry_key(registry_of(tag)));
            let mut sink = CollectSink::default();
            let pushed = service.push(tag, credentials, &mut sink).await;
            log_text(ctx, &sink);
            digest = pushed.map_err(|e| e.to_string())?;
            (ctx.log)(format!("pushed {tag} as {digest}"));
        }
    }
    let metadata = json!({
        "image.name": tags.join(","),
        "containerimage.config.digest": built.image_id,
        "containerimage.digest": digest,
        "gantry.cached-steps": built.cached_steps,
        "gantry.total-steps": built.total_steps,
    });
    let outputs = IndexMap::from([
        ("imageid".to_string(), built.image_id.clone()),
        ("digest".to_string(), digest),
        ("metadata".to_string(), metadata.to_string()),
    ]);
    Ok(BuiltinOutcome {
        outputs,
        ..Default::default()
    })
}

fn log_text(ctx: &mut BuiltinCtx<'_>, sink: &CollectSink) {
    let mut text = sink.text(Stream::Stdout);
    text.push_str(&sink.text(Stream::Stderr));
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        (ctx.log)(line.to_string());
    }
}

/// `docker/setup-buildx-action`, `docker/setup-qemu-action`.
pub(crate) fn setup(uses: &str, ctx: &mut BuiltinCtx<'_>) -> BuiltinOutcome {
    (ctx.log)(format!(
        "{uses}: nothing to set up; image builds use the Docker engine's builder"
    ));
    BuiltinOutcome::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_keyed_by_host() {
        for (given, key) in [
            ("", ""),
            ("docker.io", ""),
            ("https://index.docker.io/", ""),
            ("ghcr.io", "ghcr.io"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
        ] {
            assert_eq!(registry_key(given), key, "{given}");
        }
    }

    #[test]
    fn cache_from_keeps_images_and_reports_the_rest() {
        let mut notes = Vec::new();
        let mut log = |line: String| notes.push(line);
        let images = cache_images(
            &[
                "type=registry,ref=127.0.0.1:5000/app:cache".into(),
                "user/app:latest".into(),
                "type=gha".into(),
                "type=local,src=/tmp/cache".into(),
            ],
            &mut log,
        );
        assert_eq!(images, ["127.0.0.1:5000/app:cache", "user/app:latest"]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("type=gha"), "{notes:?}");
    }

    #[test]
    fn build_args_must_be_pairs() {
        assert_eq!(
            pairs(vec!["A=1".into(), "B= two".into()], "build-args").unwrap(),
            [
                ("A".to_string(), "1".to_string()),
                ("B".into(), " two".into())
            ]
        );
        assert_eq!(
            pairs(vec!["nope".into()], "build-args").unwrap_err(),
            "input `build-args`: `nope` must look like KEY=VALUE (one per line)"
        );
    }
}
