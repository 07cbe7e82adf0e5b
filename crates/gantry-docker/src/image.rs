//! Images: making sure one is present (pulling when it is not), building
//! with the engine's builder (`docker/build-push-action`, Dockerfile
//! actions) and pushing to a registry.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, PushImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use gantry_executor::{
    BoxFuture, BuildRequest, BuildResult, Credentials, ExecError, ImageService, OutputSink, Stream,
    registry_of, split_reference,
};

use crate::Engine;

fn docker_credentials(c: &Credentials, registry: &str) -> DockerCredentials {
    DockerCredentials {
        username: Some(c.username.clone()),
        password: Some(c.password.clone()),
        serveraddress: Some(registry.to_string()),
        ..Default::default()
    }
}

/// Makes sure `image` is on this machine, pulling it when it is not.
pub(crate) async fn ensure_image(
    docker: &Docker,
    image: &str,
    credentials: Option<&Credentials>,
) -> Result<(), ExecError> {
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let options = CreateImageOptionsBuilder::default()
        .from_image(image)
        .build();
    let auth = credentials.map(|c| docker_credentials(c, registry_of(image)));
    let mut pull = docker.create_image(Some(options), None, auth);
    let mut failure = None;
    while let Some(item) = pull.next().await {
        match item {
            Ok(info) => {
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(e);
                }
            }
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    match failure {
        None if docker.inspect_image(image).await.is_ok() => Ok(()),
        failure => Err(ExecError::Container {
            context: format!("image `{image}` is not on this machine and cannot be pulled"),
            message: format!(
                "{}: build it (`docker build -t {image} …`), load it (`docker load`), or check the name and the registry credentials",
                failure.unwrap_or_else(|| "the pull ended without the image".into())
            ),
        }),
    }
}

/// A tar archive of a build context; `.git` and files matched by a
/// top-level `.dockerignore` (plain names and `dir/` prefixes) are left out.
fn context_tar(context: &Path) -> Result<Vec<u8>, ExecError> {
    let io = |error| ExecError::Io {
        context: format!("cannot read the build context `{}`", context.display()),
        error,
    };
    let ignored: Vec<String> = std::fs::read_to_string(context.join(".dockerignore"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .collect();
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut stack = vec![context.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(context) else {
                continue;
            };
            let rel_text = rel.to_string_lossy();
            if rel_text == ".git"
                || ignored
                    .iter()
                    .any(|i| rel_text == i.as_str() || rel_text.starts_with(&format!("{i}/")))
            {
                continue;
            }
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() {
                builder.append_dir(rel, &path).map_err(io)?;
                stack.push(path);
            } else {
                builder.append_path_with_name(&path, rel).map_err(io)?;
            }
        }
    }
    builder.into_inner().map_err(io)
}

/// Builds an image; streams the builder's output into `sink`.
pub(crate) async fn build(
    docker: &Docker,
    request: &BuildRequest,
    sink: &mut dyn OutputSink,
) -> Result<BuildResult, ExecError> {
    // The engine's builder reuses the layers of `cache-from` images only
    // when they are on this machine: fetch the missing ones (a first build
    // has none to fetch, which is fine).
    for image in &request.cache_from {
        if docker.inspect_image(image).await.is_err() {
            let note = match ensure_image(docker, image, None).await {
                Ok(()) => format!("cache-from: pulled {image}\n"),
                Err(_) => format!("cache-from: {image} is not available; building without it\n"),
            };
            sink.output(Stream::Stdout, note.as_bytes());
        }
    }
    let context = request.context.clone();
    let archive = tokio::task::spawn_blocking(move || context_tar(&context))
        .await
        .map_err(|e| ExecError::Container {
            context: "cannot pack the build context".into(),
            message: e.to_string(),
        })??;
    let dockerfile = request
        .dockerfile
        .strip_prefix(&request.context)
        .unwrap_or(&request.dockerfile)
        .to_string_lossy()
        .into_owned();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&dockerfile)
        .rm(true)
        .nocache(request.no_cache)
        .buildargs(
            &request
                .build_args
                .iter()
                .cloned()
                .collect::<HashMap<_, _>>(),
        )
        .labels(&request.labels.iter().cloned().collect::<HashMap<_, _>>())
        .cachefrom(&request.cache_from);
    if let Some(tag) = request.tags.first() {
        options = options.t(tag);
    }
    if let Some(target) = &request.target {
        options = options.target(target);
    }
    if request.pull {
        options = options.pull("1");
    }
    let mut stream = docker.build_image(
        options.build(),
        None,
        Some(bollard::body_full(archive.into())),
    );
    let mut result = BuildResult::default();
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    if text.starts_with("Step ") {
                        result.total_steps += 1;
                    }
                    if text.contains("Using cache") {
                        result.cached_steps += 1;
                    }
                    sink.output(Stream::Stdout, text.as_bytes());
                }
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(e);
                }
                if let Some(id) = info.aux.and_then(|a| a.id) {
                    result.image_id = id;
                }
            }
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(message) = failure {
        return Err(ExecError::Container {
            context: format!("the image build of `{}` failed", request.context.display()),
            message,
        });
    }
    if result.image_id.is_empty() {
        // The legacy builder reports the id only as text; ask for it.
        if let Some(tag) = request.tags.first()
            && let Ok(image) = docker.inspect_image(tag).await
        {
            result.image_id = image.id.unwrap_or_default();
        }
    }
    for tag in request.tags.iter().skip(1) {
        let (repo, version) = split_reference(tag);
        docker
            .tag_image(
                &result.image_id,
                Some(
                    TagImageOptionsBuilder::default()
                        .repo(repo)
                        .tag(version)
                        .build(),
                ),
            )
            .await
            .map_err(|e| ExecError::Container {
                context: format!("cannot tag the image as `{tag}`"),
                message: e.to_string(),
            })?;
    }
    Ok(result)
}

/// Builds a Docker action's image, tagged by its context's path so that a
/// second run reuses the layers.
pub(crate) async fn build_action_image(
    docker: &Docker,
    context: &Path,
    dockerfile: &Path,
    sink: &mut dyn OutputSink,
) -> Result<String, ExecError> {
    let tag = format!(
        "gantry-action-{}:latest",
        short_hash(&context.to_string_lossy())
    );
    let request = BuildRequest {
        context: context.to_path_buf(),
        dockerfile: dockerfile.to_path_buf(),
        tags: vec![tag.clone()],
        ..Default::default()
    };
    // The build log of an action's image is noise unless it fails.
    let mut log = gantry_executor::CollectSink::default();
    match build(docker, &request, &mut log).await {
        Ok(_) => Ok(tag),
        Err(e) => {
            for (stream, bytes) in &log.chunks {
                sink.output(*stream, bytes);
            }
            Err(e)
        }
    }
}

/// A small stable hash for names (FNV-1a); not for security.
fn short_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Pushes `reference`; returns the manifest digest the registry reported.
pub(crate) async fn push(
    docker: &Docker,
    reference: &str,
    credentials: Option<&Credentials>,
    sink: &mut dyn OutputSink,
) -> Result<String, ExecError> {
    let (repo, tag) = split_reference(reference);
    let auth = credentials.map(|c| docker_credentials(c, registry_of(reference)));
    let mut stream = docker.push_image(
        repo,
        Some(PushImageOptionsBuilder::default().tag(tag).build()),
        auth,
    );
    let mut digest = None;
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(e);
                }
                if let Some(status) = info.status {
                    // "TAG: digest: sha256:… size: N" ends a push.
                    if let Some(rest) = status.split("digest: ").nth(1) {
                        digest = rest.split_whitespace().next().map(str::to_string);
                    }
                    if status.contains("digest:") || status.starts_with("The push refers") {
                        sink.output(Stream::Stdout, format!("{status}\n").as_bytes());
                    }
                }
            }
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    match (failure, digest) {
        (None, Some(digest)) => Ok(digest),
        (failure, _) => Err(ExecError::Container {
            context: format!("cannot push `{reference}`"),
            message: format!(
                "{}: check that the registry is reachable and that `docker/login-action` ran with the right credentials",
                failure.unwrap_or_else(|| "the registry reported no digest".into())
            ),
        }),
    }
}

/// [`ImageService`] on the Docker engine.
pub struct DockerImages {
    engine: Arc<Engine>,
}

impl DockerImages {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        DockerImages { engine }
    }
}

impl ImageService for DockerImages {
    fn build<'a>(
        &'a self,
        request: &'a BuildRequest,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<BuildResult, ExecError>> {
        Box::pin(async move {
            let docker = self.engine.docker().await?;
            build(docker, request, sink).await
        })
    }

    fn push<'a>(
        &'a self,
        reference: &'a str,
        credentials: Option<&'a Credentials>,
        sink: &'a mut dyn OutputSink,
    ) -> BoxFuture<'a, Result<String, ExecError>> {
        Box::pin(async move {
            let docker = self.engine.docker().await?;
            push(docker, reference, credentials, sink).await
        })
    }

    fn login<'a>(
        &'a self,
        registry: &'a str,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, Result<(), ExecError>> {
        Box::pin(async move {
            // The engine API has no call that only checks credentials without
            // a push or pull; reaching the engine is what can be checked here,
            // the credentials are checked by the first push.
            let _ = (registry, credentials);
            self.engine.docker().await.map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_context_leaves_out_git_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/HEAD"), "x").unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/debug/big"), "x").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(root.join("Dockerfile"), "FROM scratch").unwrap();
        std::fs::write(root.join(".dockerignore"), "# build output\ntarget/\n").unwrap();
        let archive = context_tar(root).unwrap();
        let mut names: Vec<String> = tar::Archive::new(archive.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".dockerignore", "Dockerfile", "src", "src/main.rs"]);
    }
}
