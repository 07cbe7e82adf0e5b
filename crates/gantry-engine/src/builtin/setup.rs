//! `actions/setup-node`, `setup-python`, `setup-go`, `setup-java` and
//! `setup-dotnet`: nothing is downloaded; the step succeeds when the
//! requested version is already installed on this machine (on PATH, or in
//! a well-known place such as pyenv's or nvm's versions, which is then
//! added to PATH), and fails saying what is installed otherwise.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::inputs::{self, bool_input, input, list_input};
use super::paths;
use super::process;
use super::storage;
use super::version::{self, Version};
use super::{BuiltinCtx, BuiltinOutcome};

const NODE_INPUTS: &[&str] = &[
    "node-version",
    "node-version-file",
    "architecture",
    "check-latest",
    "registry-url",
    "scope",
    "token",
    "cache",
    "cache-dependency-path",
    "always-auth",
    "mirror",
    "mirror-token",
    "package-manager-cache",
];
const PYTHON_INPUTS: &[&str] = &[
    "python-version",
    "python-version-file",
    "cache",
    "architecture",
    "check-latest",
    "token",
    "cache-dependency-path",
    "update-environment",
    "allow-prereleases",
    "freethreaded",
    "pip-version",
    "pip-install",
];
const GO_INPUTS: &[&str] = &[
    "go-version",
    "go-version-file",
    "check-latest",
    "token",
    "cache",
    "cache-dependency-path",
    "architecture",
    "go-download-base-url",
];
const JAVA_INPUTS: &[&str] = &[
    "java-version",
    "java-version-file",
    "distribution",
    "java-package",
    "architecture",
    "jdk-file",
    "check-latest",
    "server-id",
    "server-username",
    "server-password",
    "settings-path",
    "overwrite-settings",
    "gpg-private-key",
    "gpg-passphrase",
    "cache",
    "cache-dependency-path",
    "job-status",
    "token",
    "mvn-toolchain-id",
    "mvn-toolchain-vendor",
];
const DOTNET_INPUTS: &[&str] = &[
    "dotnet-version",
    "dotnet-quality",
    "global-json-file",
    "source-url",
    "owner",
    "config-file",
    "cache",
    "cache-dependency-path",
    "workloads",
    "architecture",
];

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

const PYTHON_PROBE: &str = "import sys, platform; print(platform.python_version()); print(sys.executable); print(sys.prefix); print(platform.python_implementation())";

/// Looks tools up on the step's PATH and runs them with the step's environment.
pub(crate) struct Probe<'a> {
    pub env: &'a IndexMap<String, String>,
    pub cancel: CancellationToken,
    pub path_dirs: Vec<PathBuf>,
    pub cwd: Option<PathBuf>,
}

impl<'a> Probe<'a> {
    pub fn new(ctx: &BuiltinCtx<'a>) -> Probe<'a> {
        let path_dirs = ctx
            .env
            .get("PATH")
            .map(|path| {
                std::env::split_paths(path)
                    .filter(|d| !d.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let cwd = ctx.workspace.is_dir().then(|| ctx.workspace.to_path_buf());
        Probe {
            env: ctx.env,
            cancel: ctx.cancel.clone(),
            path_dirs,
            cwd,
        }
    }

    /// Every executable named `name` in `dirs`, in order.
    pub fn find_in(dirs: &[PathBuf], name: &str) -> Vec<PathBuf> {
        dirs.iter()
            .map(|d| d.join(name))
            .filter(|p| is_executable(p))
            .collect()
    }

    pub fn on_path(&self, name: &str) -> Vec<PathBuf> {
        Self::find_in(&self.path_dirs, name)
    }

    pub fn is_on_path(&self, dir: &Path) -> bool {
        self.path_dirs.iter().any(|d| d == dir)
    }

    /// Runs `bin args…`; stdout and stderr together when it succeeds.
    pub async fn run(
        &self,
        bin: &Path,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Option<String> {
        let mut command = Command::new(bin);
        command.args(args).env_clear().envs(self.env.iter());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let out = process::output(&mut command, &self.cancel, PROBE_TIMEOUT)
            .await
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Some(text)
    }
}

pub(crate) fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// `base/*/suffix` directories, newest version first.
fn versions_dirs(base: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut dirs: Vec<(Option<Version>, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name
                .find(|c: char| c.is_ascii_digit())
                .and_then(|i| Version::parse(&name[i..]));
            (version, e.path().join(suffix))
        })
        .filter(|(_, p)| p.is_dir())
        .collect();
    dirs.sort_by(|a, b| {
        b.0.as_ref()
            .map(|v| v.parts)
            .cmp(&a.0.as_ref().map(|v| v.parts))
            .then(a.1.cmp(&b.1))
    });
    dirs.into_iter().map(|(_, p)| p).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Node,
    Python,
    Go,
    Java,
    Dotnet,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Node => "node",
            Tool::Python => "python",
            Tool::Go => "go",
            Tool::Java => "java",
            Tool::Dotnet => "dotnet",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Tool::Node => "actions/setup-node",
            Tool::Python => "actions/setup-python",
            Tool::Go => "actions/setup-go",
            Tool::Java => "actions/setup-java",
            Tool::Dotnet => "actions/setup-dotnet",
        }
    }

    fn version_input(self) -> &'static str {
        match self {
            Tool::Node => "node-version",
            Tool::Python => "python-version",
            Tool::Go => "go-version",
            Tool::Java => "java-version",
            Tool::Dotnet => "dotnet-version",
        }
    }

    /// Well-known install places that may not be on PATH.
    fn extra_dirs(self, env: &IndexMap<String, String>) -> Vec<PathBuf> {
        let home = env.get("HOME").map(PathBuf::from);
        let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut dirs = Vec::new();
        let tool_cache = var("RUNNER_TOOL_CACHE").or_else(|| var("AGENT_TOOLSDIRECTORY"));
        match self {
            Tool::Node => {
                let nvm = var("NVM_DIR").or_else(|| home.as_ref().map(|h| h.join(".nvm")));
                if let Some(nvm) = nvm {
                    dirs.extend(versions_dirs(&nvm.join("versions/node"), "bin"));
                }
                if let Some(home) = &home {
                    dirs.extend(versions_dirs(
                        &home.join(".local/share/fnm/node-versions"),
                        "installation/bin",
                    ));
                    dirs.push(home.join(".volta/bin"));
                }
                if let Some(cache) = &tool_cache {
                    dirs.extend(versions_dirs(&cache.join("node"), "x64/bin"));
                }
            }
            Tool::Python => {
                let pyenv = var("PYENV_ROOT").or_else(|| home.as_ref().map(|h| h.join(".pyenv")));
                if let Some(pyenv) = pyenv {
                    dirs.extend(versions_dirs(&pyenv.join("versions"), "bin"));
                }
                if let Some(cache) = &tool_cache {
                    dirs.extend(versions_dirs(&cache.join("Python"), "x64/bin"));
                }
            }
            Tool::Go => {
                if let Some(goroot) = var("GOROOT") {
                    dirs.push(goroot.join("bin"));
                }
                dirs.push(PathBuf::from("/usr/local/go/bin"));
                if let Some(home) = &home {
                    dirs.extend(versions_dirs(&home.join("sdk"), "bin"));
                }
                dirs.extend(
                    versions_dirs(Path::new("/usr/lib"), "bin")
                        .into_iter()
                        .filter(|d| d.to_string_lossy().contains("/usr/lib/go")),
                );
                if let Some(cache) = &tool_cache {
                    dirs.extend(versions_dirs(&cache.join("go"), "x64/bin"));
                }
            }
            Tool::Java => {
                if let Some(java_home) = var("JAVA_HOME") {
                    dirs.push(java_home.join("bin"));
                }
                let mut homes: Vec<(&String, &String)> = env
                    .iter()
                    .filter(|(k, _)| k.starts_with("JAVA_HOME_"))
                    .collect();
                homes.sort();
                dirs.extend(homes.into_iter().map(|(_, v)| Path::new(v).join("bin")));
                dirs.extend(versions_dirs(Path::new("/usr/lib/jvm"), "bin"));
                if let Some(home) = &home {
                    dirs.extend(versions_dirs(&home.join(".sdkman/candidates/java"), "bin"));
                }
                dirs.extend(versions_dirs(Path::new("/opt/java"), "bin"));
            }
            Tool::Dotnet => {
                if let Some(root) = var("DOTNET_ROOT") {
                    dirs.push(root);
                }
                if let Some(home) = &home {
                    dirs.push(home.join(".dotnet"));
                }
                dirs.extend(
                    [
                        "/usr/share/dotnet",
                        "/usr/lib/dotnet",
                        "/usr/local/share/dotnet",
                    ]
                    .map(PathBuf::from),
                );
            }
        }
        dirs
    }
}

/// An installation that answered the probe.
#[derive(Debug, Clone)]
struct Install {
    /// The binary that was run (maybe a shim).
    bin: PathBuf,
    /// The real executable, when the tool says (Python).
    exe: PathBuf,
    version: Version,
    /// The version as the tool prints it (`v20.1.0`, `3.12.1`, `17.0.10`).
    shown: String,
    /// Python's prefix, or JAVA_HOME, or the .NET root.
    home: Option<PathBuf>,
    /// .NET: every SDK of this installation.
    sdks: Vec<(Version, String)>,
}

async fn probe_install(probe: &Probe<'_>, tool: Tool, bin: &Path) -> Option<Install> {
    let mut install = Install {
        bin: bin.to_path_buf(),
        exe: bin.to_path_buf(),
        version: Version {
            parts: [0; 3],
            pre: false,
        },
        shown: String::new(),
        home: None,
        sdks: Vec::new(),
    };
    match tool {
        Tool::Node => {
            let text = probe.run(bin, &["--version"], &[]).await?;
            install.shown = text.trim().to_string();
            install.version = Version::parse(&install.shown)?;
        }
        Tool::Python => {
            let text = probe.run(bin, &["-c", PYTHON_PROBE], &[]).await?;
            let mut lines = text.lines();
            install.shown = lines.next()?.trim().to_string();
            install.version = Version::parse(&install.shown)?;
            install.exe = PathBuf::from(lines.next()?.trim());
            install.home = Some(PathBuf::from(lines.next()?.trim()));
            if lines
                .next()
                .is_some_and(|implementation| implementation.trim() == "PyPy")
            {
                install.shown = format!("pypy{}", install.shown);
            }
        }
        Tool::Go => {
            let text = probe.run(bin, &["version"], &[]).await?;
            let word = text
                .split_whitespace()
                .find(|w| w.starts_with("go1") || w.starts_with("go2"))?;
            install.shown = word.trim_start_matches("go").to_string();
            install.version = Version::parse(&install.shown)?;
        }
        Tool::Java => {
            let text = probe.run(bin, &["-version"], &[]).await?;
            let quoted = text
                .lines()
                .find_map(|line| line.split('"').nth(1).filter(|_| line.contains("version")))?;
            install.shown = quoted.to_string();
            install.version = version::java_version(quoted)?;
            let real = std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf());
            install.home = real.parent().and_then(Path::parent).map(Path::to_path_buf);
        }
        Tool::Dotnet => {
            let text = probe
                .run(
                    bin,
                    &["--list-sdks"],
                    &[("DOTNET_CLI_TELEMETRY_OPTOUT", "1"), ("DOTNET_NOLOGO", "1")],
                )
                .await?;
            for line in text.lines() {
                let Some(word) = line.split_whitespace().next() else {
                    continue;
                };
                if let Some(version) = Version::parse(word) {
                    install.sdks.push((version, word.to_string()));
                }
            }
            install
                .sdks
                .sort_by_key(|sdk| std::cmp::Reverse(sdk.0.parts));
            let (version, shown) = install.sdks.first()?.clone();
            install.version = version;
            install.shown = shown;
            let real = std::fs::canonicalize(bin).unwrap_or_else(|_| bin.to_path_buf());
            install.home = real.parent().map(Path::to_path_buf);
        }
    }
    Some(install)
}

/// A requested version and how to test it.
#[derive(Debug, Clone)]
struct Request {
    spec: String,
    pypy: bool,
}

impl Request {
    fn accepts(&self, tool: Tool, install: &Install) -> Result<Option<String>, String> {
        let ok = |matched: bool, shown: &str| {
            if matched {
                Some(shown.to_string())
            } else {
                None
            }
        };
        match tool {
            Tool::Node => Ok(ok(
                version::node_matches(&self.spec, &install.version)?,
                &install.shown,
            )),
            Tool::Python => {
                if self.pypy != install.shown.starts_with("pypy") {
                    return Ok(None);
                }
                Ok(ok(
                    version::matches(&self.spec, &install.version)?,
                    &install.shown,
                ))
            }
            Tool::Go => {
                let any = matches!(self.spec.as_str(), "stable" | "oldstable" | "latest");
                Ok(ok(
                    any || version::matches(&self.spec, &install.version)?,
                    &install.shown,
                ))
            }
            Tool::Java => Ok(ok(
                version::matches(&version::java_spec(&self.spec), &install.version)?,
                &install.shown,
            )),
            Tool::Dotnet => {
                for (sdk, shown) in &install.sdks {
                    if version::dotnet_matches(&self.spec, sdk)? {
                        return Ok(Some(shown.clone()));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// The candidates to probe; the first is the default (what PATH gives).
fn candidates(
    probe: &Probe<'_>,
    tool: Tool,
    requests: &[Request],
    env: &IndexMap<String, String>,
) -> Vec<PathBuf> {
    let extra = tool.extra_dirs(env);
    let mut found: Vec<PathBuf> = Vec::new();
    match tool {
        Tool::Python => {
            let generic = ["python3", "python"];
            found.extend(
                generic
                    .iter()
                    .find_map(|name| probe.on_path(name).into_iter().next()),
            );
            if requests.iter().any(|r| r.pypy) {
                for name in ["pypy3", "pypy"] {
                    found.extend(probe.on_path(name));
                    found.extend(Probe::find_in(&extra, name));
                }
            }
            // `python3.12` finds the right one at once; shims and generic names come last.
            // pyenv's shims are slow and fail for versions not selected: real binaries first.
            let is_shim = |p: &PathBuf| {
                p.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|d| d == "shims")
            };
            for minor in requests
                .iter()
                .filter_map(|r| version::python_minor(&r.spec))
            {
                let name = format!("python{minor}");
                let (shims, direct): (Vec<PathBuf>, Vec<PathBuf>) =
                    probe.on_path(&name).into_iter().partition(is_shim);
                found.extend(direct);
                found.extend(Probe::find_in(&extra, &name));
                found.extend(shims);
            }
            for name in generic {
                found.extend(probe.on_path(name));
            }
            for name in generic {
                found.extend(Probe::find_in(&extra, name));
            }
        }
        _ => {
            found.extend(probe.on_path(tool.name()));
            found.extend(Probe::find_in(&extra, tool.name()));
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    found
}

/// Whether two probes found the same installation (a shim and the binary
/// behind it, or `python` and `python3` of one prefix).
fn same_install(a: &Install, b: &Install) -> bool {
    a.shown == b.shown && (a.exe == b.exe || a.home.is_some() && a.home == b.home)
}

fn read_workspace_file(
    workspace: &Path,
    name: &str,
    input_name: &str,
) -> Result<(PathBuf, String), String> {
    let path = paths::inside_workspace(name, workspace, input_name)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read `{input_name}: {name}` ({}): {e}; check the path (it is relative to the workspace)", path.display()))?;
    Ok((path, text))
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

fn tool_versions_entry<'t>(text: &'t str, names: &[&str]) -> Vec<&'t str> {
    text.lines()
        .map(strip_comment)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let tool = words.next()?;
            names.contains(&tool).then(|| words.collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

/// A TOML-ish `key = "value"` line's value.
fn toml_value<'t>(line: &'t str, key: &str) -> Option<&'t str> {
    let (k, v) = line.split_once('=')?;
    (k.trim() == key).then(|| v.trim().trim_matches(['"', '\'']).trim())
}

/// Versions named in a version file, by its kind.
fn versions_from_file(tool: Tool, file_name: &str, text: &str) -> Result<Vec<String>, String> {
    let base = Path::new(file_name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let none = || {
        format!(
            "no {} version found in `{file_name}`: add one, or set `{}` instead",
            tool.name(),
            tool.version_input()
        )
    };
    let versions: Vec<String> = match (tool, base.as_str()) {
        (_, ".tool-versions") => {
            let names: &[&str] = match tool {
                Tool::Node => &["nodejs", "node"],
                Tool::Python => &["python"],
                Tool::Go => &["golang", "go"],
                Tool::Java => &["java"],
                Tool::Dotnet => &["dotnet", "dotnet-core"],
            };
            tool_versions_entry(text, names)
                .into_iter()
                .map(String::from)
                .collect()
        }
        (Tool::Node, "package.json") => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| format!("`{file_name}` is not valid JSON: {e}; fix it"))?;
            let found = value
                .pointer("/volta/node")
                .or_else(|| value.pointer("/devEngines/runtime/version"))
                .or_else(|| value.pointer("/engines/node"))
                .and_then(Value::as_str);
            found.map(|v| vec![v.to_string()]).unwrap_or_default()
        }
        (Tool::Python, "pyproject.toml") => {
            let mut found = Vec::new();
            let mut section = String::new();
            for line in text.lines().map(strip_comment) {
                if line.starts_with('[') {
                    section = line.to_string();
                    continue;
                }
                if section == "[project]"
                    && let Some(v) = toml_value(line, "requires-python")
                {
                    found.push(v.to_string());
                }
                if section == "[tool.poetry.dependencies]"
                    && let Some(v) = toml_value(line, "python")
                {
                    found.push(v.to_string());
                }
            }
            found.truncate(1);
            found
        }
        (Tool::Go, "go.mod" | "go.work") => {
            // The `go` line is a minimum: any newer Go builds the module.
            let mut go = None;
            let mut toolchain = None;
            for line in text
                .lines()
                .map(|l| l.split("//").next().unwrap_or("").trim())
            {
                if let Some(v) = line.strip_prefix("go ") {
                    go = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("toolchain ") {
                    toolchain = Some(v.trim().trim_start_matches("go").to_string());
                }
            }
            toolchain
                .or(go)
                .map(|v| vec![format!(">={v}")])
                .unwrap_or_default()
        }
        (Tool::Java, ".sdkmanrc") => text
            .lines()
            .map(strip_comment)
            .filter_map(|l| l.strip_prefix("java="))
            .map(|v| v.split('-').next().unwrap_or(v).to_string())
            .collect(),
        (Tool::Dotnet, _) => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| format!("`{file_name}` is not valid JSON: {e}; fix it"))?;
            let version = value
                .pointer("/sdk/version")
                .and_then(Value::as_str)
                .ok_or_else(none)?;
            // global.json's default roll-forward: the same feature band, this patch or later.
            let parsed = Version::parse(version).ok_or_else(none)?;
            let [major, minor, patch] = parsed.parts;
            vec![format!(
                ">={version} <{major}.{minor}.{}",
                (patch / 100 + 1) * 100
            )]
        }
        _ => text
            .lines()
            .map(strip_comment)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    };
    let versions: Vec<String> = versions
        .into_iter()
        .map(|v| {
            if tool == Tool::Java {
                strip_distribution(&v)
            } else {
                v
            }
        })
        .collect();
    if versions.is_empty() {
        return Err(none());
    }
    Ok(versions)
}

/// `temurin-17.0.2+8` → `17.0.2+8`.
fn strip_distribution(version: &str) -> String {
    match version.find(|c: char| c.is_ascii_digit()) {
        Some(i) if version[..i].ends_with('-') || i == 0 => version[i..].to_string(),
        _ => version.to_string(),
    }
}

fn file_input(tool: Tool) -> &'static str {
    match tool {
        Tool::Node => "node-version-file",
        Tool::Python => "python-version-file",
        Tool::Go => "go-version-file",
        Tool::Java => "java-version-file",
        Tool::Dotnet => "global-json-file",
    }
}

fn requests(tool: Tool, ctx: &mut BuiltinCtx<'_>) -> Result<Vec<Request>, String> {
    let mut specs = list_input(ctx.inputs, tool.version_input());
    if specs.len() == 1 && tool == Tool::Dotnet {
        specs = inputs::comma_list(ctx.inputs, tool.version_input());
    }
    if specs.is_empty() {
        let file = input(ctx.inputs, file_input(tool))
            .map(String::from)
            .or_else(|| {
                // setup-python and setup-dotnet read a default file when there is one.
                let default = match tool {
                    Tool::Python => ".python-version",
                    Tool::Dotnet => "global.json",
                    _ => return None,
                };
                ctx.workspace
                    .join(default)
                    .is_file()
                    .then(|| default.to_string())
            });
        if let Some(file) = file {
            let (_, text) = read_workspace_file(ctx.workspace, &file, file_input(tool))?;
            specs = versions_from_file(tool, &file, &text)?;
            (ctx.log)(format!(
                "Using {} version {} from {file}",
                tool.name(),
                specs.join(", ")
            ));
        }
    }
    let mut out = Vec::new();
    for spec in specs {
        let mut spec = spec.trim().to_string();
        let mut pypy = false;
        if tool == Tool::Python {
            let lower = spec.to_ascii_lowercase();
            if lower.starts_with("graalpy") {
                return Err(format!(
                    "`{spec}`: GraalPy is not supported: install CPython and request it, e.g. `python-version: 3.12`"
                ));
            }
            if let Some(rest) = lower.strip_prefix("pypy") {
                pypy = true;
                spec = rest
                    .trim_start_matches(['-', '@'])
                    .split('-')
                    .next()
                    .unwrap_or("")
                    .to_string();
            } else if let Some(rest) = spec.strip_suffix('t')
                && rest.contains('.')
            {
                (ctx.log)(format!(
                    "note: `{spec}` asks for a free-threaded build; any {rest} build is accepted"
                ));
                spec = rest.to_string();
            }
            if let Some(rest) = spec.strip_suffix("-dev") {
                spec = rest.to_string();
            }
        }
        out.push(Request { spec, pypy });
    }
    Ok(out)
}

pub(super) async fn run(
    tool: &str,
    uses: &str,
    ctx: &mut BuiltinCtx<'_>,
) -> Result<BuiltinOutcome, String> {
    let tool = match tool {
        "node" => Tool::Node,
        "python" => Tool::Python,
        "go" => Tool::Go,
        "java" => Tool::Java,
        "dotnet" => Tool::Dotnet,
        _ => return super::rust::run(uses, ctx).await,
    };
    let known = match tool {
        Tool::Node => NODE_INPUTS,
        Tool::Python => PYTHON_INPUTS,
        Tool::Go => GO_INPUTS,
        Tool::Java => JAVA_INPUTS,
        Tool::Dotnet => DOTNET_INPUTS,
    };
    for warning in inputs::unexpected_inputs(ctx.inputs, known, tool.action()) {
        (ctx.log)(warning);
    }
    if let Some(cache) = input(ctx.inputs, "cache")
        && !cache.eq_ignore_ascii_case("false")
    {
        (ctx.log)(format!(
            "`cache: {cache}` is ignored: dependency caching via setup-* is not supported; use actions/cache"
        ));
    }
    if bool_input(ctx.inputs, "check-latest", false)? {
        (ctx.log)("`check-latest` is ignored: gantry only uses what is installed".to_string());
    }
    let requests = requests(tool, ctx)?;
    let probe = Probe::new(ctx);
    let candidates = candidates(&probe, tool, &requests, ctx.env);

    let mut probed: Vec<Install> = Vec::new();
    // What later steps get without this action: the first candidate, when it is on PATH.
    let mut default: Option<Install> = None;
    let mut next = 0;
    let mut selected: Vec<(Install, String)> = Vec::new();
    let wanted: Vec<Option<&Request>> = if requests.is_empty() {
        vec![None]
    } else {
        requests.iter().map(Some).collect()
    };
    for request in &wanted {
        let mut choice = None;
        // Installs already probed first, then more candidates as needed.
        for install in &probed {
            if let Some(shown) = accepts(*request, tool, install)? {
                choice = Some((install.clone(), shown));
                break;
            }
        }
        while choice.is_none() && next < candidates.len() {
            let bin = &candidates[next];
            next += 1;
            let Some(install) = probe_install(&probe, tool, bin).await else {
                continue;
            };
            if next == 1 && bin.parent().is_some_and(|dir| probe.is_on_path(dir)) {
                default = Some(install.clone());
            }
            if probed.iter().any(|p| same_install(p, &install)) {
                continue;
            }
            probed.push(install.clone());
            if let Some(shown) = accepts(*request, tool, &install)? {
                choice = Some((install, shown));
            }
        }
        if ctx.cancel.is_cancelled() {
            return Err(process::CANCELLED.to_string());
        }
        match choice {
            Some(choice) => selected.push(choice),
            None => {
                return Err(not_installed(
                    tool,
                    request.map(|r| r.spec.as_str()),
                    default.as_ref(),
                    &probed,
                ));
            }
        }
    }
    if requests.is_empty() {
        (ctx.log)(format!(
            "warning: no `{}` given: using the installed {} {}",
            tool.version_input(),
            tool.name(),
            selected.last().map(|s| s.1.as_str()).unwrap_or("")
        ));
    }
    let mut out = BuiltinOutcome::default();
    for (install, shown) in &selected {
        let is_default = default.as_ref().is_some_and(|d| same_install(d, install));
        let dir = install
            .exe
            .parent()
            .filter(|d| d.join(exe_name(tool, install)).exists())
            .or_else(|| install.bin.parent());
        if let Some(dir) = dir
            && !is_default
            && !out.add_path.iter().any(|p| p == dir)
        {
            out.add_path.push(dir.to_path_buf());
        }
        (ctx.log)(format!(
            "Using {} {shown} ({})",
            tool.name(),
            install.exe.display()
        ));
    }
    let Some((install, shown)) = selected.last().cloned() else {
        return Ok(out);
    };
    finish(tool, ctx, &probe, &install, &shown, &mut out).await?;
    Ok(out)
}

fn exe_name(tool: Tool, install: &Install) -> String {
    match tool {
        Tool::Python => install
            .exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => tool.name().to_string(),
    }
}

fn accepts(
    request: Option<&Request>,
    tool: Tool,
    install: &Install,
) -> Result<Option<String>, String> {
    match request {
        None => Ok(Some(install.shown.clone())),
        Some(request) => request.accepts(tool, install),
    }
}

fn not_installed(
    tool: Tool,
    spec: Option<&str>,
    default: Option<&Install>,
    probed: &[Install],
) -> String {
    let name = tool.name();
    let wanted = spec
        .map(|s| format!("{name} {s}"))
        .unwrap_or_else(|| name.to_string());
    let Some(default) = default.or(probed.first()) else {
        return format!(
            "{wanted} requested but {name} is not installed (not found on PATH): install {wanted} or remove the `{}` step",
            tool.action()
        );
    };
    let others: Vec<&str> = probed
        .iter()
        .filter(|p| !same_install(p, default))
        .map(|p| p.shown.as_str())
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" (also found: {})", others.join(", "))
    };
    format!(
        "{wanted} requested but {name} {} is installed{also}: install {wanted} or change `{}`",
        default.shown,
        tool.version_input()
    )
}

/// Outputs and environment of each action.
async fn finish(
    tool: Tool,
    ctx: &mut BuiltinCtx<'_>,
    probe: &Probe<'_>,
    install: &Install,
    shown: &str,
    out: &mut BuiltinOutcome,
) -> Result<(), String> {
    match tool {
        Tool::Node => {
            out.outputs
                .insert("node-version".to_string(), install.shown.clone());
            out.outputs
                .insert("cache-hit".to_string(), "false".to_string());
            if let Some(registry) = input(ctx.inputs, "registry-url") {
                write_npmrc(ctx, registry, out)?;
            }
        }
        Tool::Python => {
            out.outputs
                .insert("python-version".to_string(), install.shown.clone());
            out.outputs.insert(
                "python-path".to_string(),
                install.exe.to_string_lossy().into_owned(),
            );
            out.outputs
                .insert("cache-hit".to_string(), "false".to_string());
            if bool_input(ctx.inputs, "update-environment", true)?
                && let Some(prefix) = &install.home
            {
                let prefix = prefix.to_string_lossy().into_owned();
                for var in [
                    "pythonLocation",
                    "Python_ROOT_DIR",
                    "Python2_ROOT_DIR",
                    "Python3_ROOT_DIR",
                ] {
                    out.set_env.insert(var.to_string(), prefix.clone());
                }
                out.set_env.insert(
                    "PKG_CONFIG_PATH".to_string(),
                    format!("{prefix}/lib/pkgconfig"),
                );
            }
            if let Some(pip) = input(ctx.inputs, "pip-install") {
                (ctx.log)(format!(
                    "warning: `pip-install: {pip}` is ignored (no network): install packages in a `run:` step"
                ));
            }
        }
        Tool::Go => {
            out.outputs
                .insert("go-version".to_string(), install.shown.clone());
            out.outputs
                .insert("cache-hit".to_string(), "false".to_string());
            if let Some(gopath) = probe.run(&install.bin, &["env", "GOPATH"], &[]).await {
                let bin = Path::new(gopath.trim()).join("bin");
                if !gopath.trim().is_empty() && !probe.is_on_path(&bin) {
                    out.add_path.push(bin);
                }
            }
        }
        Tool::Java => {
            let distribution = input(ctx.inputs, "distribution").unwrap_or("");
            if distribution.is_empty() {
                (ctx.log)("warning: `distribution` is required by actions/setup-java; the installed JDK is used whatever its vendor".to_string());
            }
            if input(ctx.inputs, "jdk-file").is_some() {
                (ctx.log)("warning: `jdk-file` is ignored: the installed JDK is used".to_string());
            }
            out.outputs
                .insert("distribution".to_string(), distribution.to_string());
            out.outputs
                .insert("version".to_string(), install.shown.clone());
            out.outputs
                .insert("cache-hit".to_string(), "false".to_string());
            if let Some(home) = &install.home {
                let home = home.to_string_lossy().into_owned();
                out.outputs.insert("path".to_string(), home.clone());
                out.set_env.insert("JAVA_HOME".to_string(), home.clone());
                let arch = if cfg!(target_arch = "aarch64") {
                    "ARM64"
                } else {
                    "X64"
                };
                out.set_env.insert(
                    format!("JAVA_HOME_{}_{arch}", install.version.major()),
                    home,
                );
            }
        }
        Tool::Dotnet => {
            out.outputs
                .insert("dotnet-version".to_string(), shown.to_string());
            out.outputs
                .insert("cache-hit".to_string(), "false".to_string());
            if let Some(root) = &install.home
                && !probe.is_on_path(root)
            {
                out.set_env.insert(
                    "DOTNET_ROOT".to_string(),
                    root.to_string_lossy().into_owned(),
                );
            }
            if let Some(workloads) = input(ctx.inputs, "workloads") {
                (ctx.log)(format!(
                    "warning: `workloads: {workloads}` is ignored (no network): install them on this machine with `dotnet workload install`"
                ));
            }
        }
    }
    Ok(())
}

/// setup-node's `registry-url`: an `.npmrc` in RUNNER_TEMP that reads the
/// token from NODE_AUTH_TOKEN.
fn write_npmrc(
    ctx: &mut BuiltinCtx<'_>,
    registry: &str,
    out: &mut BuiltinOutcome,
) -> Result<(), String> {
    let registry = if registry.ends_with('/') {
        registry.to_string()
    } else {
        format!("{registry}/")
    };
    let host = registry
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&registry);
    let mut text = String::new();
    match input(ctx.inputs, "scope") {
        Some(scope) => {
            let scope = if scope.starts_with('@') {
                scope.to_ascii_lowercase()
            } else {
                format!("@{}", scope.to_ascii_lowercase())
            };
            text.push_str(&format!("{scope}:registry={registry}\n"));
        }
        None => text.push_str(&format!("registry={registry}\n")),
    }
    text.push_str(&format!("//{host}:_authToken=${{NODE_AUTH_TOKEN}}\n"));
    if bool_input(ctx.inputs, "always-auth", false)? {
        text.push_str("always-auth=true\n");
    }
    let dir = ctx
        .env
        .get("RUNNER_TEMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.run_dir.join("tmp"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(".npmrc");
    storage::write_atomic(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    out.set_env.insert(
        "NPM_CONFIG_USERCONFIG".to_string(),
        path.to_string_lossy().into_owned(),
    );
    if !ctx.env.contains_key("NODE_AUTH_TOKEN") {
        out.set_env.insert(
            "NODE_AUTH_TOKEN".to_string(),
            "XXXXX-XXXXX-XXXXX-XXXXX".to_string(),
        );
    }
    Ok(())
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

    #[test]
    fn version_files() {
        assert_eq!(
            versions_from_file(Tool::Node, ".nvmrc", "v18.17.0\n").unwrap(),
            vec!["v18.17.0"]
        );
        assert_eq!(
            versions_from_file(
                Tool::Node,
                ".tool-versions",
                "python 3.12.1\nnodejs 20.1.0\n"
            )
            .unwrap(),
            vec!["20.1.0"]
        );
        assert_eq!(
            versions_from_file(Tool::Node, "package.json", r#"{"engines":{"node":">=18"}}"#)
                .unwrap(),
            vec![">=18"]
        );
        assert_eq!(
            versions_from_file(Tool::Python, ".python-version", "# pinned\n3.11\n3.12\n").unwrap(),
            vec!["3.11", "3.12"]
        );
        assert_eq!(
            versions_from_file(
                Tool::Python,
                "pyproject.toml",
                "[project]\nname = \"x\"\nrequires-python = \">=3.10\"\n"
            )
            .unwrap(),
            vec![">=3.10"]
        );
        assert_eq!(
            versions_from_file(Tool::Go, "go.mod", "module x\n\ngo 1.21\n").unwrap(),
            vec![">=1.21"]
        );
        assert_eq!(
            versions_from_file(
                Tool::Go,
                "go.mod",
                "module x\ngo 1.21\ntoolchain go1.22.3\n"
            )
            .unwrap(),
            vec![">=1.22.3"]
        );
        assert_eq!(
            versions_from_file(Tool::Java, ".java-version", "temurin-17.0.2+8\n").unwrap(),
            vec!["17.0.2+8"]
        );
        assert_eq!(
            versions_from_file(Tool::Java, ".sdkmanrc", "java=21.0.1-tem\n").unwrap(),
            vec!["21.0.1"]
        );
        assert_eq!(
            versions_from_file(
                Tool::Dotnet,
                "global.json",
                r#"{"sdk":{"version":"8.0.100"}}"#
            )
            .unwrap(),
            vec![">=8.0.100 <8.0.200"]
        );
        let err = versions_from_file(Tool::Node, ".nvmrc", "\n# nothing\n").unwrap_err();
        assert!(err.contains("no node version found"), "{err}");
    }

    #[tokio::test]
    async fn real_python_probe() {
        let h = Harness::new();
        let out = h
            .run(
                "actions/setup-python@v5",
                &inputs(&[("python-version", "3.x")]),
                "",
                "",
            )
            .await;
        match out {
            Ok(out) => {
                assert!(out.outputs["python-version"].starts_with('3'), "{out:?}");
                assert!(Path::new(&out.outputs["python-path"]).is_absolute());
                assert!(out.set_env.contains_key("pythonLocation"));
            }
            Err(e) => assert!(
                e.contains("python 3.x requested but python is not installed"),
                "{e}"
            ),
        }
        let err = h
            .run(
                "actions/setup-python@v5",
                &inputs(&[("python-version", "2.1")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(err.contains("python 2.1 requested but python"), "{err}");
        assert!(
            err.contains("install python 2.1 or change `python-version`")
                || err.contains("not installed"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn real_node_probe() {
        let h = Harness::new();
        let out = h
            .run(
                "actions/setup-node@v4",
                &inputs(&[("node-version", "*"), ("cache", "npm")]),
                "",
                "",
            )
            .await;
        match out {
            Ok(out) => {
                assert!(out.outputs["node-version"].starts_with('v'), "{out:?}");
                assert!(
                    h.logs().iter().any(|l| l.contains("use actions/cache")),
                    "{:?}",
                    h.logs()
                );
                let installed = out.outputs["node-version"].clone();
                let err = h
                    .run(
                        "actions/setup-node@v4",
                        &inputs(&[("node-version", "4")]),
                        "",
                        "",
                    )
                    .await
                    .unwrap_err();
                assert_eq!(
                    err,
                    format!(
                        "node 4 requested but node {installed} is installed: install node 4 or change `node-version`"
                    )
                );
            }
            Err(e) => assert!(
                e.contains("node * requested but node is not installed"),
                "{e}"
            ),
        }
    }

    #[tokio::test]
    async fn node_version_file_from_workspace() {
        let h = Harness::new();
        std::fs::write(h.workspace.join(".nvmrc"), "4.0\n").unwrap();
        let err = h
            .run(
                "actions/setup-node@v4",
                &inputs(&[("node-version-file", ".nvmrc")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(err.starts_with("node 4.0 requested but node"), "{err}");
        let err = h
            .run(
                "actions/setup-node@v4",
                &inputs(&[("node-version-file", "missing")]),
                "",
                "",
            )
            .await
            .unwrap_err();
        assert!(
            err.contains("cannot read `node-version-file: missing`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn missing_tool_is_reported() {
        let h = Harness::new();
        let mut env = h.env.clone();
        env.insert(
            "PATH".to_string(),
            h.root.join("empty-bin").to_string_lossy().into_owned(),
        );
        env.insert(
            "HOME".to_string(),
            h.root.join("nohome").to_string_lossy().into_owned(),
        );
        let err = h
            .run_with_env(
                "actions/setup-dotnet@v4",
                &inputs(&[("dotnet-version", "8.0.x")]),
                &env,
            )
            .await;
        let err = err.unwrap_err();
        if !Path::new("/usr/share/dotnet/dotnet").exists()
            && !Path::new("/usr/lib/dotnet/dotnet").exists()
        {
            assert_eq!(
                err,
                "dotnet 8.0.x requested but dotnet is not installed (not found on PATH): install dotnet 8.0.x or remove the `actions/setup-dotnet` step"
            );
        }
    }

    #[tokio::test]
    async fn go_without_go() {
        let h = Harness::new();
        let mut env = h.env.clone();
        env.insert(
            "PATH".to_string(),
            h.root.join("empty-bin").to_string_lossy().into_owned(),
        );
        env.insert(
            "HOME".to_string(),
            h.root.join("nohome").to_string_lossy().into_owned(),
        );
        let result = h
            .run_with_env(
                "actions/setup-go@v5",
                &inputs(&[("go-version", "1.22")]),
                &env,
            )
            .await;
        if let Err(err) = result {
            assert!(err.starts_with("go 1.22 requested but go"), "{err}");
        }
    }
}
