//! `.gantry/environments.yml` to typed [`Environments`], with every diagnostic.
//!
//! [`parse`] never fails: it returns what it could read together with every problem, each at
//! file:line:col with a hint (unknown keys get "did you mean"), through gantry-syntax's
//! span-aware YAML front end, so `gantry validate` reports them all at once. The server reads
//! this file from the default branch only, so a pull request cannot weaken a protection.
//!
//! # The file
//!
//! ```yaml
//! environments:
//!   staging:                        # letters, digits, `-` and `_`
//!     url: https://staging.example.com
//!     target:                       # where and how the application runs (optional)
//!       kind: process               # process | docker | ssh | script
//!       command: ./app              # process, ssh: starts one instance
//!       instances: 2                # process, docker, ssh (per host); default 1
//!       listen: 8080                # process, docker, ssh: the proxy's port, or `host:port`
//!       env: { RUST_LOG: info }     # process, docker, ssh
//!       workdir: .                  # process, ssh
//!       # docker: image: "ghcr.io/acme/app:{version}", container-port: 8080
//!       # ssh:    hosts: [deploy@web1:22, web2], identity-file: ~/.ssh/deploy
//!       # script: deploy: "…", rollback: "…", status: "…" (optional)
//!     strategy: rolling             # recreate | rolling | blue-green | canary, defaults below,
//!     # or one of them with settings:
//!     #   { rolling: { batch-size: 1, max-unavailable: 0 } }
//!     #   { canary: { initial: 10, increment: 25, step: 60s } }
//!     #   { blue-green: { keep-previous: 10m } }
//!     health: { path: /health, status: 200, timeout: 2s, retries: 10, interval: 1s }
//!     analysis:
//!       max-error-rate: 5           # percent: `5`, `5%`, `2.5`
//!       max-response-ms: 2000       # p95 latency
//!       min-availability: 95        # percent
//!       interval: 10s
//!       min-requests: 1
//!       prometheus: { url: http://prom:9090, query: "…", max: 0.05 }   # optional
//!     smoke: ["curl -fsS $URL/health"]   # run after the switch; a failure rolls back
//!     migrations: { up: "./migrate up", down: "./migrate down" }
//!     variables: { LOG_LEVEL: debug }
//!     secrets: [DB_PASSWORD]        # names only; the values live in the server
//!     protection:
//!       reviewers: { required: 2, users: [alice], roles: [maintainer, admin],
//!                    allow-self-approval: false }
//!       branches: [main, "release/*"]
//!       tags: ["v*"]
//!       windows: [{ days: mon-fri, hours: "09:00-17:00", timezone: Europe/Amsterdam }]
//!       wait-timer: 5m
//!       approval-timeout: 24h
//!     promotes-from: development    # or `order: 2`: where it sits in the pipeline
//! ```
//!
//! Every key but `target` has a default: the seeds' numbers from [`crate::model`], no
//! protection, no windows. Durations are `30s`, `5m`, `1h`, `1h30m`, `2d`, or a whole number of
//! seconds. `reviewers: 2` is short for `reviewers: { required: 2 }`; a `reviewers` mapping
//! without `required` requires one approval, and without `users` or `roles` maintainers and
//! admins review (see [`crate::protection`] for how approvals count). `days` and `hours` of a
//! window default to every day and the whole day, `timezone` to `UTC`.
//!
//! A `script` target deploys with its own commands, so only `recreate` applies to it (and is
//! its default). `{version}` in a Docker image is replaced by the version being deployed.
//!
//! Time zone names are not checked here: that needs the time zone database, which is I/O.
//! [`Environments::check_time_zones`] checks them with a lookup the edge passes in, and adds its
//! diagnostics to the others.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use gantry_syntax::suggest::{closest, list};
use gantry_syntax::yaml::{self, Node, Yaml};
use gantry_syntax::{Diagnostic, Span, Spanned};

use crate::model::{HealthCheck, Strategy, Thresholds};
use crate::protection::{Protection, RefPattern, Reviewers, Role};
use crate::window::{Days, Hours, Window};

/// Every environment of a repository, in the order of the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Environments {
    pub environments: Vec<Environment>,
}

/// One environment: where it runs, how versions reach it, and what protects it.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub name: Spanned<String>,
    pub url: Option<String>,
    /// `None` for an environment that only gates jobs (approvals, variables, secrets).
    pub target: Option<Target>,
    pub strategy: Strategy,
    pub health: HealthCheck,
    pub analysis: Analysis,
    /// Commands run after the switch.
    pub smoke: Vec<String>,
    pub migrations: Option<Migrations>,
    pub variables: Vec<(String, String)>,
    /// Names of the secrets the environment's jobs receive.
    pub secrets: Vec<String>,
    pub protection: Protection,
    /// Where the environment sits in the pipeline, when written as a number.
    pub order: Option<i64>,
    /// The environment whose version this one takes on promotion.
    pub promotes_from: Option<Spanned<String>>,
}

impl Environment {
    fn new(name: Spanned<String>) -> Environment {
        Environment {
            name,
            url: None,
            target: None,
            strategy: Strategy::default(),
            health: HealthCheck::default(),
            analysis: Analysis::default(),
            smoke: Vec::new(),
            migrations: None,
            variables: Vec::new(),
            secrets: Vec::new(),
            protection: Protection::default(),
            order: None,
            promotes_from: None,
        }
    }
}

/// Where an environment's application runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Instances supervised by Gantry on this host, behind its proxy.
    Process(ProcessTarget),
    /// The same with containers on the local engine.
    Docker(DockerTarget),
    /// The same on remote hosts over SSH.
    Ssh(SshTarget),
    /// User commands for any other platform.
    Script(ScriptTarget),
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Process(_) => "process",
            Target::Docker(_) => "docker",
            Target::Ssh(_) => "ssh",
            Target::Script(_) => "script",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProcessTarget {
    pub command: String,
    pub instances: u32,
    pub listen: Listen,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DockerTarget {
    /// The image, with `{version}` where the deployed version goes.
    pub image: String,
    pub container_port: u16,
    pub instances: u32,
    pub listen: Listen,
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SshTarget {
    pub hosts: Vec<SshHost>,
    pub command: String,
    /// Instances on each host.
    pub instances: u32,
    pub listen: Listen,
    pub identity_file: Option<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScriptTarget {
    pub deploy: String,
    pub rollback: String,
    /// Prints the running version, when the platform can say.
    pub status: Option<String>,
}

/// `user@host:port`, as written in `hosts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshHost {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
}

/// Where the proxy answers: a port, on every interface unless a host is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    pub host: Option<String>,
    pub port: u16,
}

/// What a rollout is analysed against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Analysis {
    pub thresholds: Thresholds,
    pub prometheus: Option<PrometheusCheck>,
}

/// A Prometheus query whose value must stay at or below `max`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusCheck {
    pub url: String,
    pub query: String,
    pub max: f64,
}

/// A deploy hook and the script that undoes it on rollback.
#[derive(Clone, Debug, PartialEq)]
pub struct Migrations {
    pub up: String,
    pub down: Option<String>,
}

impl Environments {
    pub fn get(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name.value == name)
    }

    /// The environments in pipeline order (development → staging → production): by `order`,
    /// or one after the environment they promote from, else first; ties in file order.
    pub fn ordered(&self) -> Vec<&Environment> {
        let mut ranked: Vec<(i64, usize, &Environment)> = self
            .environments
            .iter()
            .enumerate()
            .map(|(idx, env)| (self.rank(env), idx, env))
            .collect();
        ranked.sort_by_key(|(rank, idx, _)| (*rank, *idx));
        ranked.into_iter().map(|(_, _, env)| env).collect()
    }

    fn rank(&self, env: &Environment) -> i64 {
        let mut steps = 0;
        let mut current = env;
        // A cycle was reported by `parse`; the bound keeps this finite anyway.
        for _ in 0..=self.environments.len() {
            if let Some(order) = current.order {
                return order.saturating_add(steps);
            }
            match current
                .promotes_from
                .as_ref()
                .and_then(|from| self.get(&from.value))
            {
                Some(from) => {
                    current = from;
                    steps += 1;
                }
                None => return steps,
            }
        }
        steps
    }

    /// Errors for windows whose time zone `known` does not know, at the name. The edge passes
    /// `|name| jiff::tz::TimeZone::get(name).is_ok()`.
    pub fn check_time_zones(&self, file: &str, known: &dyn Fn(&str) -> bool) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for env in &self.environments {
            for window in &env.protection.windows {
                if !known(&window.time_zone.value) {
                    diags.push(
                        Diagnostic::error(
                            file,
                            window.time_zone.span,
                            format!(
                                "unknown time zone `{}` in `{}.protection.windows`",
                                window.time_zone.value, env.name.value
                            ),
                        )
                        .with_hint(
                            "use a name from the time zone database, like `Europe/Amsterdam` or `UTC`",
                        ),
                    );
                }
            }
        }
        diags
    }
}

/// Parses `.gantry/environments.yml` (`file` names it in diagnostics).
pub fn parse(file: &str, src: &str) -> (Environments, Vec<Diagnostic>) {
    let (root, diags) = yaml::parse(file, src);
    let mut ctx = Ctx { file, diags };
    let mut envs = Environments::default();
    if let Some(root) = root {
        ctx.root(&root, &mut envs);
    }
    let mut diags = ctx.diags;
    diags.sort_by_key(|d| (d.span.start.line, d.span.start.col));
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.span, d.message.clone())));
    (envs, diags)
}

const TOP_KEYS: &[&str] = &["environments"];
const ENV_KEYS: &[&str] = &[
    "url",
    "target",
    "strategy",
    "health",
    "analysis",
    "smoke",
    "migrations",
    "variables",
    "secrets",
    "protection",
    "order",
    "promotes-from",
];
const KINDS: &[&str] = &["process", "docker", "ssh", "script"];
const PROCESS_KEYS: &[&str] = &["kind", "command", "instances", "listen", "env", "workdir"];
const DOCKER_KEYS: &[&str] = &[
    "kind",
    "image",
    "container-port",
    "instances",
    "listen",
    "env",
];
const SSH_KEYS: &[&str] = &[
    "kind",
    "hosts",
    "command",
    "instances",
    "listen",
    "identity-file",
    "env",
    "workdir",
];
const SCRIPT_KEYS: &[&str] = &["kind", "deploy", "rollback", "status"];
const STRATEGIES: &[&str] = &["recreate", "rolling", "blue-green", "canary"];
const HEALTH_KEYS: &[&str] = &["path", "status", "timeout", "retries", "interval"];
const ANALYSIS_KEYS: &[&str] = &[
    "max-error-rate",
    "max-response-ms",
    "min-availability",
    "interval",
    "min-requests",
    "prometheus",
];
const PROMETHEUS_KEYS: &[&str] = &["url", "query", "max"];
const MIGRATION_KEYS: &[&str] = &["up", "down"];
const PROTECTION_KEYS: &[&str] = &[
    "reviewers",
    "branches",
    "tags",
    "windows",
    "wait-timer",
    "approval-timeout",
];
const REVIEWER_KEYS: &[&str] = &["required", "users", "roles", "allow-self-approval"];
const WINDOW_KEYS: &[&str] = &["days", "hours", "timezone"];

/// The diagnostics sink and the typed readers, which all word their errors alike:
/// "`staging.health.status` must be a whole number from 100 to 599, found `700`".
struct Ctx<'f> {
    file: &'f str,
    diags: Vec<Diagnostic>,
}

/// Where a listening port was claimed, to find two environments on one port.
struct PortClaim {
    env: String,
    listen: Listen,
    span: Span,
}

impl Ctx<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(self.file, span, message));
    }

    fn error_hint(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, span, message).with_hint(hint));
    }

    fn warning_hint(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::warning(self.file, span, message).with_hint(hint));
    }

    /// "`{what}` must be {expected}, found {…}".
    fn wrong(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            node.span,
            format!("`{what}` must be {expected}, found {}", found(node)),
        );
    }

    /// The known entries of a mapping (null is an empty one), reporting unknown and non-string
    /// keys; `elsewhere` gives a hint for keys that belong somewhere else.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
        elsewhere: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<(&'n str, &'n Node)> {
        let entries = match &node.value {
            Yaml::Null => return Vec::new(),
            Yaml::Map(entries) => entries,
            _ => {
                self.wrong(node, what, "a mapping");
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                self.error(
                    key.span,
                    format!(
                        "a key in {} must be a string, found {}",
                        place(what),
                        found(key)
                    ),
                );
                continue;
            };
            if known.contains(&name) {
                out.push((name, value));
                continue;
            }
            let hint = match (closest(name, known.iter().copied()), elsewhere(name)) {
                (Some(best), _) => format!("did you mean `{best}`?"),
                (None, Some(hint)) => hint,
                (None, None) => format!("expected one of {}", list(known)),
            };
            self.error_hint(
                key.span,
                format!("unknown key `{name}` {}", place(what)),
                hint,
            );
        }
        out
    }

    /// A non-empty string; numbers and booleans are read as their text.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar_text() {
            Some(text) if !text.trim().is_empty() => Some(text),
            Some(_) => {
                self.error(node.span, format!("`{what}` must not be empty"));
                None
            }
            None => {
                self.wrong(node, what, "a string");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    fn whole(&mut self, node: &Node, what: &str, min: i64, max: i64) -> Option<i64> {
        let expected = if max >= i64::from(u32::MAX) {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number from {min} to {max}")
        };
        match node.value {
            Yaml::Int(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.wrong(node, what, &expected);
                None
            }
        }
    }

    fn count(&mut self, node: &Node, what: &str, min: u32) -> Option<u32> {
        self.whole(node, what, i64::from(min), i64::from(u32::MAX))
            .and_then(|n| u32::try_from(n).ok())
    }

    fn port(&mut self, node: &Node, what: &str) -> Option<u16> {
        self.whole(node, what, 1, 65535)
            .and_then(|n| u16::try_from(n).ok())
    }

    /// A duration (`30s`, `1h30m`, or whole seconds); `positive` refuses zero.
    fn duration(&mut self, node: &Node, what: &str, positive: bool) -> Option<Duration> {
        let parsed = match &node.value {
            Yaml::Int(n) => u64::try_from(*n)
                .map(Duration::from_secs)
                .map_err(|_| String::new()),
            Yaml::String(text) => parse_duration(text),
            _ => Err(String::new()),
        };
        match parsed {
            Ok(d) if positive && d.is_zero() => {
                self.error(node.span, format!("`{what}` must be longer than zero"));
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                self.error_hint(
                    node.span,
                    format!("`{what}` must be a duration, found {}", found(node)),
                    "write a duration like `30s`, `5m`, `1h30m` or `2d`, or a number of seconds",
                );
                None
            }
        }
    }

    /// A percentage from `min` to 100 (`5`, `5%`, `2.5`).
    fn percent(&mut self, node: &Node, what: &str, min: f64) -> Option<f64> {
        let value = match &node.value {
            Yaml::Int(n) => Some(*n as f64),
            Yaml::Float(f) => Some(*f),
            Yaml::String(text) => parse_percent(text).ok(),
            _ => None,
        };
        match value {
            Some(v) if (min..=100.0).contains(&v) => Some(v),
            _ => {
                self.wrong(node, what, &format!("a percentage from {min} to 100"));
                None
            }
        }
    }

    /// A whole percentage from 1 to 100, for canary steps.
    fn whole_percent(&mut self, node: &Node, what: &str) -> Option<u8> {
        let value = match &node.value {
            Yaml::Int(n) => Some(*n),
            Yaml::String(text) => text
                .trim()
                .strip_suffix('%')
                .unwrap_or(text.trim())
                .trim()
                .parse::<i64>()
                .ok(),
            _ => None,
        };
        match value {
            Some(v @ 1..=100) => u8::try_from(v).ok(),
            _ => {
                self.wrong(node, what, "a whole percentage from 1 to 100");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        let value = node.as_bool();
        if value.is_none() {
            self.wrong(node, what, "`true` or `false`");
        }
        value
    }

    /// A list of non-empty strings, or one string.
    fn texts(&mut self, node: &Node, what: &str) -> Vec<Spanned<String>> {
        let items: Vec<&Node> = match &node.value {
            Yaml::Seq(items) => items.iter().collect(),
            Yaml::Null => Vec::new(),
            _ => vec![node],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.scalar_text() {
                Some(text) if !text.trim().is_empty() => out.push(Spanned::new(text, item.span)),
                Some(_) => self.error(item.span, format!("an entry of `{what}` is empty")),
                None => self.error(
                    item.span,
                    format!(
                        "each entry of `{what}` must be a string, found {}",
                        found(item)
                    ),
                ),
            }
        }
        out
    }

    /// Environment variables: names as shells accept them, scalar values.
    fn variables(&mut self, node: &Node, what: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let entries = match &node.value {
            Yaml::Null => return out,
            Yaml::Map(entries) => entries,
            _ => {
                self.wrong(node, what, "a mapping of names to values");
                return out;
            }
        };
        for (key, value) in entries {
            let name = key.scalar_text().unwrap_or_default();
            if !is_variable_name(&name) {
                self.error_hint(
                    key.span,
                    format!("`{name}` in `{what}` is not a variable name"),
                    VARIABLE_HINT,
                );
                continue;
            }
            match value.scalar_text() {
                Some(text) => out.push((name, text)),
                None if value.is_null() => self.error_hint(
                    key.span,
                    format!("`{what}.{name}` has no value"),
                    format!("write `{name}: ''` for an empty value"),
                ),
                None => self.wrong(value, &format!("{what}.{name}"), "a string"),
            }
        }
        out
    }

    fn root(&mut self, root: &Node, envs: &mut Environments) {
        if root.is_null() {
            self.warning_hint(
                root.span,
                "the file declares no environments",
                "start with `environments:` and one mapping per environment",
            );
            return;
        }
        let fields = self.fields(root, "", TOP_KEYS, &|key| {
            ENV_KEYS.contains(&key).then(|| {
                "environments are declared under `environments:`, one mapping each".to_string()
            })
        });
        let Some((_, list)) = fields.into_iter().next() else {
            if root.as_map().is_some_and(<[_]>::is_empty) {
                self.error_hint(
                    root.span,
                    "the file has no `environments:`",
                    "declare environments under `environments:`, one mapping each",
                );
            }
            return;
        };
        let Some(entries) = list.as_map() else {
            if !list.is_null() {
                self.wrong(list, "environments", "a mapping of environment names");
            }
            return;
        };
        let mut ports = Vec::new();
        for (key, value) in entries {
            let name = key.scalar_text().unwrap_or_default();
            if !is_environment_name(&name) {
                self.error_hint(
                    key.span,
                    format!("`{name}` is not a valid environment name"),
                    "use letters, digits, `-` and `_`, like `staging` or `eu-prod_2`",
                );
                continue;
            }
            let env = self.environment(Spanned::new(name, key.span), value, &mut ports);
            envs.environments.push(env);
        }
        self.check_promotions(envs);
        self.check_ports(&ports);
    }

    fn environment(
        &mut self,
        name: Spanned<String>,
        node: &Node,
        ports: &mut Vec<PortClaim>,
    ) -> Environment {
        let mut env = Environment::new(name);
        let n = env.name.value.clone();
        let fields = self.fields(node, &n, ENV_KEYS, &|key| {
            PROTECTION_KEYS
                .contains(&key)
                .then(|| format!("`{key}` belongs under `protection:`"))
        });
        let mut strategy_node = None;
        let mut order_node = None;
        for (key, value) in fields {
            let what = format!("{n}.{key}");
            match key {
                "url" => env.url = self.url(value, &what, "https://staging.example.com"),
                "target" => env.target = self.target(value, &what, &n, ports),
                "strategy" => {
                    strategy_node = Some(value);
                    if let Some(strategy) = self.strategy(value, &what) {
                        env.strategy = strategy;
                    }
                }
                "health" => self.health(value, &what, &mut env.health),
                "analysis" => self.analysis(value, &what, &mut env.analysis),
                "smoke" => {
                    env.smoke = self
                        .texts(value, &what)
                        .into_iter()
                        .map(|s| s.value)
                        .collect();
                }
                "migrations" => env.migrations = self.migrations(value, &what),
                "variables" => env.variables = self.variables(value, &what),
                "secrets" => env.secrets = self.secrets(value, &what, &env.variables),
                "protection" => self.protection(value, &what, &mut env.protection),
                "order" => {
                    order_node = Some(value);
                    env.order = self.whole(value, &what, i64::MIN, i64::MAX);
                }
                "promotes-from" => {
                    env.promotes_from =
                        self.text(value, &what).map(|t| Spanned::new(t, value.span));
                }
                _ => {}
            }
        }
        if let (Some(order), Some(_)) = (order_node, &env.promotes_from) {
            self.error_hint(
                order.span,
                format!("`{n}` has both `order` and `promotes-from`"),
                "keep one: `promotes-from` places it after that environment",
            );
        }
        if let Some(Target::Script(_)) = env.target {
            match strategy_node {
                None => env.strategy = Strategy::Recreate,
                Some(node) if env.strategy != Strategy::Recreate => self.error_hint(
                    node.span,
                    format!(
                        "`{n}.strategy` is `{}`, but a `script` target deploys with its own commands",
                        env.strategy.name()
                    ),
                    "use `strategy: recreate`, or a `process`, `docker` or `ssh` target for Gantry to shift traffic",
                ),
                Some(_) => {}
            }
        }
        env
    }

    /// An http(s) URL; `example` shows one in the hint.
    fn url(&mut self, node: &Node, what: &str, example: &str) -> Option<String> {
        let url = self.text(node, what)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            self.error_hint(
                node.span,
                format!("`{what}` must be an http:// or https:// URL, found `{url}`"),
                format!("write a full address, like `{example}`"),
            );
            return None;
        }
        Some(url)
    }

    fn target(
        &mut self,
        node: &Node,
        what: &str,
        env: &str,
        ports: &mut Vec<PortClaim>,
    ) -> Option<Target> {
        if node.as_map().is_none() {
            self.wrong(node, what, "a mapping with a `kind`");
            return None;
        }
        let Some(kind_node) = node.get("kind") else {
            self.error_hint(
                node.span,
                format!("`{what}` has no `kind`"),
                format!("add `kind:` with one of {}", list(KINDS)),
            );
            return None;
        };
        let kind = kind_node.as_str().unwrap_or_default();
        let known = match kind {
            "process" => PROCESS_KEYS,
            "docker" => DOCKER_KEYS,
            "ssh" => SSH_KEYS,
            "script" => SCRIPT_KEYS,
            _ => {
                let hint = match closest(kind, KINDS.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("use one of {}", list(KINDS)),
                };
                self.error_hint(
                    kind_node.span,
                    format!(
                        "`{what}.kind` must be a target kind, found {}",
                        found(kind_node)
                    ),
                    hint,
                );
                return None;
            }
        };
        let elsewhere = |key: &str| {
            [
                ("process", PROCESS_KEYS),
                ("docker", DOCKER_KEYS),
                ("ssh", SSH_KEYS),
                ("script", SCRIPT_KEYS),
            ]
            .into_iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(other, _)| format!("`{key}` is for `kind: {other}` targets"))
        };
        let fields = self.fields(node, what, known, &elsewhere);
        let mut values: HashMap<&str, &Node> = fields.into_iter().collect();
        values.remove("kind");
        let mut missing = Vec::new();
        let mut required = |key: &'static str| {
            let value = values.get(key).copied();
            if value.is_none() {
                missing.push(key);
            }
            value
        };
        let target = match kind {
            "process" => {
                let command = required("command");
                let listen = required("listen");
                let command = command.and_then(|c| self.text(c, &format!("{what}.command")));
                let listen = listen.and_then(|l| self.listen(l, &format!("{what}.listen")));
                let instances = self.instances(&values, what);
                let env_vars = self.target_env(&values, what);
                let workdir = self.optional_text(&values, "workdir", what);
                if let Some((listen, span)) = &listen {
                    ports.push(PortClaim {
                        env: env.to_string(),
                        listen: listen.clone(),
                        span: *span,
                    });
                }
                (|| {
                    Some(Target::Process(ProcessTarget {
                        command: command?,
                        instances: instances?,
                        listen: listen?.0,
                        env: env_vars,
                        workdir,
                    }))
                })()
            }
            "docker" => {
                let image = required("image");
                let container_port = required("container-port");
                let listen = required("listen");
                let image = image.and_then(|i| self.image(i, &format!("{what}.image")));
                let container_port =
                    container_port.and_then(|p| self.port(p, &format!("{what}.container-port")));
                let listen = listen.and_then(|l| self.listen(l, &format!("{what}.listen")));
                let instances = self.instances(&values, what);
                let env_vars = self.target_env(&values, what);
                if let Some((listen, span)) = &listen {
                    ports.push(PortClaim {
                        env: env.to_string(),
                        listen: listen.clone(),
                        span: *span,
                    });
                }
                (|| {
                    Some(Target::Docker(DockerTarget {
                        image: image?,
                        container_port: container_port?,
                        instances: instances?,
                        listen: listen?.0,
                        env: env_vars,
                    }))
                })()
            }
            "ssh" => {
                let hosts = required("hosts");
                let command = required("command");
                let listen = required("listen");
                let hosts = hosts.and_then(|h| self.hosts(h, &format!("{what}.hosts")));
                let command = command.and_then(|c| self.text(c, &format!("{what}.command")));
                let listen = listen.and_then(|l| self.listen(l, &format!("{what}.listen")));
                let instances = self.instances(&values, what);
                let env_vars = self.target_env(&values, what);
                let identity_file = self.optional_text(&values, "identity-file", what);
                let workdir = self.optional_text(&values, "workdir", what);
                (|| {
                    Some(Target::Ssh(SshTarget {
                        hosts: hosts?,
                        command: command?,
                        instances: instances?,
                        listen: listen?.0,
                        identity_file,
                        env: env_vars,
                        workdir,
                    }))
                })()
            }
            _ => {
                let deploy = required("deploy");
                let rollback = required("rollback");
                let deploy = deploy.and_then(|d| self.text(d, &format!("{what}.deploy")));
                let rollback = rollback.and_then(|r| self.text(r, &format!("{what}.rollback")));
                let status = self.optional_text(&values, "status", what);
                (|| {
                    Some(Target::Script(ScriptTarget {
                        deploy: deploy?,
                        rollback: rollback?,
                        status,
                    }))
                })()
            }
        };
        for key in missing {
            self.error_hint(
                node.span,
                format!("`{what}` (kind `{kind}`) has no `{key}`"),
                required_hint(key),
            );
        }
        target
    }

    fn instances(&mut self, values: &HashMap<&str, &Node>, what: &str) -> Option<u32> {
        match values.get("instances") {
            Some(node) => self.count(node, &format!("{what}.instances"), 1),
            None => Some(1),
        }
    }

    fn target_env(&mut self, values: &HashMap<&str, &Node>, what: &str) -> Vec<(String, String)> {
        values
            .get("env")
            .map(|node| self.variables(node, &format!("{what}.env")))
            .unwrap_or_default()
    }

    fn optional_text(
        &mut self,
        values: &HashMap<&str, &Node>,
        key: &str,
        what: &str,
    ) -> Option<String> {
        let node = values.get(key)?;
        self.text(node, &format!("{what}.{key}"))
    }

    /// `8080`, `"8080"` or `"127.0.0.1:8080"`, and where it is written.
    fn listen(&mut self, node: &Node, what: &str) -> Option<(Listen, Span)> {
        if let Yaml::Int(_) = node.value {
            let port = self.port(node, what)?;
            return Some((Listen { host: None, port }, node.span));
        }
        let text = node.as_str().unwrap_or_default().trim();
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (Some(host.trim_matches(['[', ']'])), port),
            None => (None, text),
        };
        match port.parse::<u16>() {
            Ok(port) if port > 0 && host.is_none_or(|h| !h.is_empty()) => Some((
                Listen {
                    host: host.map(str::to_string),
                    port,
                },
                node.span,
            )),
            _ => {
                self.error_hint(
                    node.span,
                    format!("`{what}` must be a port or `host:port`, found {}", found(node)),
                    "the port Gantry's proxy answers on, like `listen: 8080` or `listen: 127.0.0.1:8080`",
                );
                None
            }
        }
    }

    /// A Docker image, where the only placeholder is `{version}`.
    fn image(&mut self, node: &Node, what: &str) -> Option<String> {
        let image = self.text(node, what)?;
        let mut rest = image.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                self.error(node.span, format!("`{what}` has a `{{` without `}}`"));
                return None;
            };
            let name = &after[..close];
            if name != "version" {
                self.error_hint(
                    node.span,
                    format!("unknown placeholder `{{{name}}}` in `{what}`"),
                    "the only placeholder is `{version}`, the version being deployed",
                );
                return None;
            }
            rest = &after[close + 1..];
        }
        Some(image)
    }

    fn hosts(&mut self, node: &Node, what: &str) -> Option<Vec<SshHost>> {
        let texts = self.texts(node, what);
        if texts.is_empty() && node.as_seq().is_some_and(<[Node]>::is_empty) {
            self.error(node.span, format!("`{what}` lists no hosts"));
            return None;
        }
        let mut hosts = Vec::with_capacity(texts.len());
        let mut ok = true;
        for text in texts {
            match parse_ssh_host(&text.value) {
                Ok(host) => hosts.push(host),
                Err(message) => {
                    ok = false;
                    self.error_hint(
                        text.span,
                        format!("`{}` in `{what}` {message}", text.value),
                        "write `host`, `user@host` or `user@host:port`",
                    );
                }
            }
        }
        (ok && !hosts.is_empty()).then_some(hosts)
    }

    fn strategy(&mut self, node: &Node, what: &str) -> Option<Strategy> {
        let unknown = |ctx: &mut Self, name: &str, span: Span| {
            let hint = match closest(name, STRATEGIES.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("use one of {}", list(STRATEGIES)),
            };
            ctx.error_hint(span, format!("unknown strategy `{name}` in `{what}`"), hint);
        };
        match &node.value {
            Yaml::String(name) => match name.as_str() {
                "recreate" => Some(Strategy::Recreate),
                "rolling" => Some(Strategy::ROLLING),
                "blue-green" => Some(Strategy::BLUE_GREEN),
                "canary" => Some(Strategy::CANARY),
                _ => {
                    unknown(self, name, node.span);
                    None
                }
            },
            Yaml::Map(entries) if entries.len() == 1 => {
                let (key, settings) = &entries[0];
                let name = key.scalar_text().unwrap_or_default();
                let inner = format!("{what}.{name}");
                match name.as_str() {
                    "recreate" => {
                        self.fields(settings, &inner, &[], &|_| None);
                        Some(Strategy::Recreate)
                    }
                    "rolling" => {
                        let (mut batch_size, mut max_unavailable) = (1, 0);
                        let keys = &["batch-size", "max-unavailable"];
                        for (key, value) in self.fields(settings, &inner, keys, &|_| None) {
                            let field = format!("{inner}.{key}");
                            if key == "batch-size" {
                                batch_size = self.count(value, &field, 1)?;
                            } else {
                                max_unavailable = self.count(value, &field, 0)?;
                            }
                        }
                        Some(Strategy::Rolling {
                            batch_size,
                            max_unavailable,
                        })
                    }
                    "blue-green" => {
                        let mut keep_previous = Duration::from_secs(600);
                        for (_, value) in
                            self.fields(settings, &inner, &["keep-previous"], &|_| None)
                        {
                            keep_previous =
                                self.duration(value, &format!("{inner}.keep-previous"), false)?;
                        }
                        Some(Strategy::BlueGreen { keep_previous })
                    }
                    "canary" => {
                        let (mut initial, mut increment, mut step) =
                            (10, 25, Duration::from_secs(60));
                        let keys = &["initial", "increment", "step"];
                        let mut ok = true;
                        for (key, value) in self.fields(settings, &inner, keys, &|_| None) {
                            let field = format!("{inner}.{key}");
                            match key {
                                "initial" => match self.whole_percent(value, &field) {
                                    Some(v) => initial = v,
                                    None => ok = false,
                                },
                                "increment" => match self.whole_percent(value, &field) {
                                    Some(v) => increment = v,
                                    None => ok = false,
                                },
                                _ => match self.duration(value, &field, true) {
                                    Some(v) => step = v,
                                    None => ok = false,
                                },
                            }
                        }
                        ok.then_some(Strategy::Canary {
                            initial_percent: initial,
                            increment_percent: increment,
                            step_duration: step,
                        })
                    }
                    _ => {
                        unknown(self, &name, key.span);
                        None
                    }
                }
            }
            _ => {
                self.error_hint(
                    node.span,
                    format!("`{what}` must be a strategy's name or a mapping with one strategy, found {}", found(node)),
                    "like `strategy: rolling` or `strategy: { canary: { initial: 10, increment: 25, step: 60s } }`",
                );
                None
            }
        }
    }

    fn health(&mut self, node: &Node, what: &str, health: &mut HealthCheck) {
        for (key, value) in self.fields(node, what, HEALTH_KEYS, &|_| None) {
            let field = format!("{what}.{key}");
            match key {
                "path" => {
                    if let Some(path) = self.text(value, &field) {
                        if path.starts_with('/') {
                            health.path = path;
                        } else {
                            self.error_hint(
                                value.span,
                                format!("`{field}` must start with `/`, found `{path}`"),
                                format!("write `/{path}`"),
                            );
                        }
                    }
                }
                "status" => {
                    if let Some(status) = self.whole(value, &field, 100, 599) {
                        health.status = u16::try_from(status).unwrap_or(200);
                    }
                }
                "timeout" => {
                    if let Some(d) = self.duration(value, &field, true) {
                        health.timeout = d;
                    }
                }
                "retries" => {
                    if let Some(n) = self.count(value, &field, 1) {
                        health.retries = n;
                    }
                }
                _ => {
                    if let Some(d) = self.duration(value, &field, true) {
                        health.interval = d;
                    }
                }
            }
        }
    }

    fn analysis(&mut self, node: &Node, what: &str, analysis: &mut Analysis) {
        let t = &mut analysis.thresholds;
        for (key, value) in self.fields(node, what, ANALYSIS_KEYS, &|_| None) {
            let field = format!("{what}.{key}");
            match key {
                "max-error-rate" => {
                    if let Some(v) = self.percent(value, &field, 0.0) {
                        t.max_error_rate = v;
                    }
                }
                "min-availability" => {
                    if let Some(v) = self.percent(value, &field, 0.0) {
                        t.min_availability = v;
                    }
                }
                "max-response-ms" => {
                    if let Some(v) = self.whole(value, &field, 1, i64::MAX) {
                        t.max_response_ms = u64::try_from(v).unwrap_or(u64::MAX);
                    }
                }
                "interval" => {
                    if let Some(d) = self.duration(value, &field, true) {
                        t.interval = d;
                    }
                }
                "min-requests" => {
                    if let Some(v) = self.whole(value, &field, 0, i64::MAX) {
                        t.min_requests = u64::try_from(v).unwrap_or(0);
                    }
                }
                _ => analysis.prometheus = self.prometheus(value, &field),
            }
        }
    }

    fn prometheus(&mut self, node: &Node, what: &str) -> Option<PrometheusCheck> {
        let fields = self.fields(node, what, PROMETHEUS_KEYS, &|_| None);
        let (mut url, mut query, mut max) = (None, None, None);
        for (key, value) in &fields {
            let field = format!("{what}.{key}");
            match *key {
                "url" => url = self.url(value, &field, "http://prometheus:9090"),
                "query" => query = self.text(value, &field),
                _ => match value.value {
                    Yaml::Int(n) => max = Some(n as f64),
                    Yaml::Float(f) if f.is_finite() => max = Some(f),
                    _ => self.wrong(value, &field, "a number"),
                },
            }
        }
        for key in PROMETHEUS_KEYS {
            if !fields.iter().any(|(k, _)| k == key) && node.as_map().is_some() {
                self.error_hint(
                    node.span,
                    format!("`{what}` has no `{key}`"),
                    "a Prometheus check needs `url`, `query` and `max`, the highest value that passes",
                );
            }
        }
        Some(PrometheusCheck {
            url: url?,
            query: query?,
            max: max?,
        })
    }

    fn migrations(&mut self, node: &Node, what: &str) -> Option<Migrations> {
        let fields = self.fields(node, what, MIGRATION_KEYS, &|_| None);
        let mut up = None;
        let mut down = None;
        for (key, value) in &fields {
            let text = self.text(value, &format!("{what}.{key}"));
            if *key == "up" {
                up = text;
            } else {
                down = text;
            }
        }
        node.as_map()?;
        if !fields.iter().any(|(k, _)| *k == "up") {
            self.error_hint(
                node.span,
                format!("`{what}` has no `up`"),
                "`up` is the command that migrates the database before the new version starts",
            );
        } else if !fields.iter().any(|(k, _)| *k == "down") {
            self.warning_hint(
                node.span,
                format!("`{what}` has no `down`, so a rollback cannot undo the migration"),
                "add `down:` with the command that reverts `up`",
            );
        }
        Some(Migrations { up: up?, down })
    }

    fn secrets(&mut self, node: &Node, what: &str, variables: &[(String, String)]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in self.texts(node, what) {
            if !is_variable_name(&name.value) {
                self.error_hint(
                    name.span,
                    format!("`{}` in `{what}` is not a secret name", name.value),
                    VARIABLE_HINT,
                );
            } else if out.contains(&name.value) {
                self.error(
                    name.span,
                    format!("the secret `{}` is listed twice in `{what}`", name.value),
                );
            } else if variables.iter().any(|(v, _)| *v == name.value) {
                self.error_hint(
                    name.span,
                    format!("`{}` is both a variable and a secret", name.value),
                    "a secret's value lives in the server; remove it from `variables`",
                );
            } else {
                out.push(name.value);
            }
        }
        out
    }

    fn protection(&mut self, node: &Node, what: &str, protection: &mut Protection) {
        for (key, value) in self.fields(node, what, PROTECTION_KEYS, &|_| None) {
            let field = format!("{what}.{key}");
            match key {
                "reviewers" => self.reviewers(value, &field, &mut protection.reviewers),
                "branches" => protection.branches = Some(self.patterns(value, &field)),
                "tags" => protection.tags = Some(self.patterns(value, &field)),
                "windows" => {
                    let items: Vec<&Node> = match &value.value {
                        Yaml::Seq(items) => items.iter().collect(),
                        _ => vec![value],
                    };
                    let many = value.as_seq().is_some();
                    for (idx, item) in items.into_iter().enumerate() {
                        let field = if many {
                            format!("{field}[{idx}]")
                        } else {
                            field.clone()
                        };
                        if let Some(window) = self.window(item, &field) {
                            protection.windows.push(window);
                        }
                    }
                }
                "wait-timer" => {
                    if let Some(d) = self.duration(value, &field, false) {
                        protection.wait_timer = d;
                    }
                }
                _ => protection.approval_timeout = self.duration(value, &field, true),
            }
        }
    }

    fn reviewers(&mut self, node: &Node, what: &str, reviewers: &mut Reviewers) {
        if let Yaml::Int(_) = node.value {
            if let Some(required) = self.count(node, what, 0) {
                reviewers.required = required;
            }
            return;
        }
        reviewers.required = 1;
        let mut required_node = None;
        for (key, value) in self.fields(node, what, REVIEWER_KEYS, &|_| None) {
            let field = format!("{what}.{key}");
            match key {
                "required" => {
                    required_node = Some(value);
                    if let Some(n) = self.count(value, &field, 0) {
                        reviewers.required = n;
                    }
                }
                "users" => {
                    for user in self.texts(value, &field) {
                        if reviewers
                            .users
                            .iter()
                            .any(|u| u.eq_ignore_ascii_case(&user.value))
                        {
                            self.error(
                                user.span,
                                format!("`{}` is listed twice in `{field}`", user.value),
                            );
                        } else {
                            reviewers.users.push(user.value);
                        }
                    }
                }
                "roles" => {
                    for role in self.texts(value, &field) {
                        match Role::from_name(&role.value) {
                            Some(r) if !reviewers.roles.contains(&r) => reviewers.roles.push(r),
                            Some(_) => self.error(
                                role.span,
                                format!("`{}` is listed twice in `{field}`", role.value),
                            ),
                            None => {
                                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                                let hint = match closest(&role.value, names.iter().copied()) {
                                    Some(best) => format!("did you mean `{best}`?"),
                                    None => format!("use one of {}", list(&names)),
                                };
                                self.error_hint(
                                    role.span,
                                    format!("unknown role `{}` in `{field}`", role.value),
                                    hint,
                                );
                            }
                        }
                    }
                }
                _ => {
                    if let Some(allow) = self.boolean(value, &field) {
                        reviewers.allow_self_approval = allow;
                    }
                }
            }
        }
        let users = reviewers.users.len();
        if reviewers.roles.is_empty()
            && users > 0
            && usize::try_from(reviewers.required).unwrap_or(usize::MAX) > users
        {
            self.error_hint(
                required_node.map_or(node.span, |n| n.span),
                format!(
                    "`{what}` requires {} approvals, but only {users} user{} may give one",
                    reviewers.required,
                    if users == 1 { "" } else { "s" }
                ),
                "list more `users`, add `roles`, or lower `required`",
            );
        }
    }

    fn patterns(&mut self, node: &Node, what: &str) -> Vec<RefPattern> {
        let mut out = Vec::new();
        for text in self.texts(node, what) {
            match RefPattern::new(&text.value) {
                Ok(pattern) => out.push(pattern),
                Err(message) => self.error_hint(
                    text.span,
                    format!("bad pattern `{}` in `{what}`", text.value),
                    message,
                ),
            }
        }
        out
    }

    fn window(&mut self, node: &Node, what: &str) -> Option<Window> {
        if node.as_map().is_none() {
            self.error_hint(
                node.span,
                format!("`{what}` must be a mapping, found {}", found(node)),
                "like `{ days: mon-fri, hours: \"09:00-17:00\", timezone: Europe/Amsterdam }`",
            );
            return None;
        }
        let mut window = Window {
            days: Days::DAILY,
            hours: Hours::ALL_DAY,
            time_zone: Spanned::new("UTC".to_string(), node.span),
        };
        let mut ok = true;
        for (key, value) in self.fields(node, what, WINDOW_KEYS, &|_| None) {
            let field = format!("{what}.{key}");
            match key {
                "days" => {
                    let text = match &value.value {
                        Yaml::Seq(_) => self
                            .texts(value, &field)
                            .into_iter()
                            .map(|t| t.value)
                            .collect::<Vec<_>>()
                            .join(","),
                        _ => self.text(value, &field).unwrap_or_default(),
                    };
                    match Days::parse(&text) {
                        Ok(days) => window.days = days,
                        Err(message) => {
                            ok = false;
                            self.error_hint(
                                value.span,
                                format!("bad days in `{field}`: {message}"),
                                "use `daily`, `weekdays`, `weekends`, days like `mon`, ranges like `mon-fri` or lists like `sat,sun`",
                            );
                        }
                    }
                }
                "hours" => match self.text(value, &field).map(|t| Hours::parse(&t)) {
                    Some(Ok(hours)) => window.hours = hours,
                    Some(Err(message)) => {
                        ok = false;
                        self.error_hint(
                            value.span,
                            format!("bad hours in `{field}`: {message}"),
                            "write a range like `09:00-17:00`; `22:00-02:00` crosses midnight",
                        );
                    }
                    None => ok = false,
                },
                _ => match self.text(value, &field) {
                    Some(name) => {
                        window.time_zone = Spanned::new(name.trim().to_string(), value.span)
                    }
                    None => ok = false,
                },
            }
        }
        ok.then_some(window)
    }

    /// `promotes-from` names another environment, and following it never comes back.
    fn check_promotions(&mut self, envs: &Environments) {
        let names: Vec<&str> = envs
            .environments
            .iter()
            .map(|e| e.name.value.as_str())
            .collect();
        for env in &envs.environments {
            let Some(from) = &env.promotes_from else {
                continue;
            };
            if envs.get(&from.value).is_none() {
                let hint = match closest(&from.value, names.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("declared environments: {}", list(&names)),
                };
                self.error_hint(
                    from.span,
                    format!(
                        "`{}.promotes-from` names `{}`, which is not declared",
                        env.name.value, from.value
                    ),
                    hint,
                );
                continue;
            }
            let mut chain = vec![env.name.value.as_str()];
            let mut current = env;
            while let Some(next) = current
                .promotes_from
                .as_ref()
                .and_then(|f| envs.get(&f.value))
            {
                chain.push(next.name.value.as_str());
                if next.name.value == env.name.value {
                    self.error_hint(
                        from.span,
                        format!(
                            "`{}.promotes-from` makes a cycle: {}",
                            env.name.value,
                            chain.join(" ← ")
                        ),
                        "the first environment of a pipeline promotes from none",
                    );
                    break;
                }
                if chain.len() > envs.environments.len() {
                    break;
                }
                current = next;
            }
        }
    }

    /// Two environments on this host cannot listen on one port (of one address, when both
    /// name one).
    fn check_ports(&mut self, ports: &[PortClaim]) {
        for (idx, claim) in ports.iter().enumerate() {
            let clashes = |other: &&PortClaim| {
                other.listen.port == claim.listen.port
                    && (other.listen.host.is_none()
                        || claim.listen.host.is_none()
                        || other.listen.host == claim.listen.host)
            };
            if let Some(first) = ports[..idx].iter().find(clashes) {
                self.error_hint(
                    claim.span,
                    format!(
                        "`{}` listens on port {}, which `{}` already uses (line {})",
                        claim.env, claim.listen.port, first.env, first.span.start.line
                    ),
                    "give each environment on this host its own `listen` port",
                );
            }
        }
    }
}

/// "in `staging.target`", or "at the top of the file" for the empty path.
fn place(what: &str) -> String {
    if what.is_empty() {
        "at the top of the file".to_string()
    } else {
        format!("in `{what}`")
    }
}

/// What to say about a value that has the wrong type: its text for scalars, its kind otherwise.
fn found(node: &Node) -> String {
    match &node.value {
        Yaml::String(s) if s.is_empty() => "an empty string".to_string(),
        Yaml::Null => "nothing".to_string(),
        Yaml::Seq(_) | Yaml::Map(_) => node.kind().to_string(),
        _ => format!("`{}`", node.scalar_text().unwrap_or_default()),
    }
}

fn required_hint(key: &str) -> &'static str {
    match key {
        "command" => "the command that starts one instance, like `command: ./app`",
        "listen" => "the port Gantry's proxy answers on, like `listen: 8080`",
        "image" => "the image to run, like `image: \"ghcr.io/acme/app:{version}\"`",
        "container-port" => "the port the application listens on inside the container",
        "hosts" => "the machines to deploy to, like `hosts: [deploy@web1, deploy@web2:2222]`",
        "deploy" => "the command that deploys `$VERSION`",
        _ => "the command that goes back to `$PREVIOUS_VERSION`",
    }
}

/// Reads a duration: a whole number of seconds, or amounts with units from largest to smallest
/// (`2d`, `1h30m`, `90s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a duration like `30s`, `5m` or `1h30m`");
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut total: u64 = 0;
    let mut next_unit = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let amount: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let idx = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?
            + next_unit;
        total = amount
            .checked_mul(UNITS[idx].1)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(bad)?;
        next_unit = idx + 1;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Ok(Duration::from_secs(total))
}

/// Reads a percentage: `5`, `5%`, `2.5`, `2.5 %`.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let number = trimmed.strip_suffix('%').unwrap_or(trimmed).trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && !number.starts_with('+') => Ok(v),
        _ => Err(format!("`{text}` is not a percentage like `5` or `2.5%`")),
    }
}

/// `user@host:port`, `user@host`, `host`, with `[…]` around an IPv6 address.
fn parse_ssh_host(text: &str) -> Result<SshHost, String> {
    let (user, rest) = match text.split_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_string()), rest),
        Some(_) => return Err("has an empty user".to_string()),
        None => (None, text),
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "has a `[` without `]`".to_string())?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err("has text after `]`".to_string()),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("has no host".to_string());
    }
    let port = match port {
        None => 22,
        Some(port) => match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("has a bad port `{port}`")),
        },
    };
    Ok(SshHost {
        user,
        host: host.to_string(),
        port,
    })
}

fn is_environment_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A name a shell accepts as a variable: a letter or `_`, then letters, digits or `_`.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const VARIABLE_HINT: &str =
    "a name starts with a letter or `_` and contains only letters, digits and `_`";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every diagnostic as `line:col message (hint)`, warnings marked.
    fn diagnostics(src: &str) -> Vec<String> {
        let (_, diags) = parse("envs.yml", src);
        diags.iter().map(show).collect()
    }

    fn show(d: &Diagnostic) -> String {
        let mut line = format!("{}:{}", d.span.start.line, d.span.start.col);
        if !d.is_error() {
            line.push_str(" warning:");
        }
        line.push(' ');
        line.push_str(&d.message);
        if let Some(hint) = &d.hint {
            line.push_str(&format!(" ({hint})"));
        }
        line
    }

    /// Parses a file that must have no diagnostics.
    fn clean(src: &str) -> Environments {
        let (envs, diags) = parse("envs.yml", src);
        assert!(
            diags.is_empty(),
            "{}",
            diags.iter().map(show).collect::<Vec<_>>().join("\n")
        );
        envs
    }

    const SEEDS: &str = r#"
environments:
  development:
    url: http://localhost:8080
    target: { kind: process, command: "./app", instances: 2, listen: 8080, env: {RUST_LOG: debug}, workdir: . }
    strategy: recreate
    variables: { LOG_LEVEL: debug }
  staging:
    url: https://staging.example.com
    promotes-from: development
    target:
      kind: docker
      image: "ghcr.io/acme/app:{version}"
      container-port: 3000
      listen: 127.0.0.1:8081
    strategy: { blue-green: { keep-previous: 15m } }
    protection:
      reviewers: 1
    smoke: ["curl -fsS $URL/health"]
  production:
    url: https://example.com
    promotes-from: acceptance
    target:
      kind: ssh
      hosts: [deploy@web1:2222, web2, "ops@[::1]"]
      command: ./app
      instances: 3
      listen: 80
      identity-file: ~/.ssh/deploy
    strategy:
      canary: { initial: 10%, increment: 25, step: 1m30s }
    health: { path: /healthz, status: 204, timeout: 3s, retries: 5, interval: 500 }
    analysis:
      max-error-rate: 2.5%
      max-response-ms: 1500
      min-availability: 99
      interval: 30s
      min-requests: 20
      prometheus: { url: "http://prom:9090", query: "sum(rate(errors[1m]))", max: 0.5 }
    migrations: { up: ./migrate up, down: ./migrate down }
    secrets: [DB_PASSWORD, API_TOKEN]
    protection:
      reviewers: { required: 2, users: [alice, bob], roles: [admin], allow-self-approval: false }
      branches: [main, "release/*"]
      tags: ["v*"]
      windows:
        - { days: mon-fri, hours: "09:00-17:00", timezone: Europe/Amsterdam }
        - { days: [sat, sun], hours: "22:00-02:00" }
      wait-timer: 5m
      approval-timeout: 24h
  acceptance:
    order: 2
    target: { kind: script, deploy: ./deploy.sh, rollback: ./rollback.sh }
"#;

    #[test]
    fn the_seeds_environments_are_read_with_every_setting() {
        let envs = clean(SEEDS);
        let names: Vec<&str> = envs
            .ordered()
            .iter()
            .map(|e| e.name.value.as_str())
            .collect();
        assert_eq!(
            names,
            ["development", "staging", "acceptance", "production"]
        );

        let dev = envs.get("development").unwrap();
        assert_eq!(dev.name.span.start.line, 3);
        assert_eq!(dev.url.as_deref(), Some("http://localhost:8080"));
        assert_eq!(
            dev.target,
            Some(Target::Process(ProcessTarget {
                command: "./app".into(),
                instances: 2,
                listen: Listen {
                    host: None,
                    port: 8080
                },
                env: vec![("RUST_LOG".into(), "debug".into())],
                workdir: Some(".".into()),
            }))
        );
        assert_eq!(dev.strategy, Strategy::Recreate);
        assert_eq!(dev.variables, [("LOG_LEVEL".into(), "debug".into())]);
        assert_eq!(dev.health, HealthCheck::default());
        assert_eq!(dev.analysis, Analysis::default());
        assert_eq!(dev.protection, Protection::default());

        let staging = envs.get("staging").unwrap();
        assert_eq!(
            staging.target,
            Some(Target::Docker(DockerTarget {
                image: "ghcr.io/acme/app:{version}".into(),
                container_port: 3000,
                instances: 1,
                listen: Listen {
                    host: Some("127.0.0.1".into()),
                    port: 8081
                },
                env: Vec::new(),
            }))
        );
        assert_eq!(
            staging.strategy,
            Strategy::BlueGreen {
                keep_previous: Duration::from_secs(900)
            }
        );
        assert_eq!(staging.protection.reviewers.required, 1);
        assert_eq!(staging.smoke, ["curl -fsS $URL/health"]);
        assert_eq!(
            staging.promotes_from.as_ref().map(|p| p.value.as_str()),
            Some("development")
        );

        let prod = envs.get("production").unwrap();
        let Some(Target::Ssh(ssh)) = &prod.target else {
            panic!("{:?}", prod.target)
        };
        assert_eq!(
            ssh.hosts,
            [
                SshHost {
                    user: Some("deploy".into()),
                    host: "web1".into(),
                    port: 2222
                },
                SshHost {
                    user: None,
                    host: "web2".into(),
                    port: 22
                },
                SshHost {
                    user: Some("ops".into()),
                    host: "::1".into(),
                    port: 22
                },
            ]
        );
        assert_eq!(
            (ssh.instances, ssh.identity_file.as_deref()),
            (3, Some("~/.ssh/deploy"))
        );
        assert_eq!(
            prod.strategy,
            Strategy::Canary {
                initial_percent: 10,
                increment_percent: 25,
                step_duration: Duration::from_secs(90)
            }
        );
        assert_eq!(
            prod.health,
            HealthCheck {
                path: "/healthz".into(),
                status: 204,
                timeout: Duration::from_secs(3),
                retries: 5,
                interval: Duration::from_secs(500),
            }
        );
        assert_eq!(
            prod.analysis,
            Analysis {
                thresholds: Thresholds {
                    max_error_rate: 2.5,
                    max_response_ms: 1500,
                    min_availability: 99.0,
                    interval: Duration::from_secs(30),
                    min_requests: 20,
                },
                prometheus: Some(PrometheusCheck {
                    url: "http://prom:9090".into(),
                    query: "sum(rate(errors[1m]))".into(),
                    max: 0.5
                }),
            }
        );
        assert_eq!(
            prod.migrations,
            Some(Migrations {
                up: "./migrate up".into(),
                down: Some("./migrate down".into())
            })
        );
        assert_eq!(prod.secrets, ["DB_PASSWORD", "API_TOKEN"]);
        let p = &prod.protection;
        assert_eq!(
            p.reviewers,
            Reviewers {
                required: 2,
                users: vec!["alice".into(), "bob".into()],
                roles: vec![Role::Admin],
                allow_self_approval: false
            }
        );
        let texts = |patterns: &Option<Vec<RefPattern>>| -> Vec<String> {
            patterns
                .iter()
                .flatten()
                .map(|p| p.as_str().to_string())
                .collect()
        };
        assert_eq!(texts(&p.branches), ["main", "release/*"]);
        assert_eq!(texts(&p.tags), ["v*"]);
        let windows: Vec<String> = p.windows.iter().map(Window::to_string).collect();
        assert_eq!(
            windows,
            [
                "mon-fri 09:00-17:00 Europe/Amsterdam",
                "sat,sun 22:00-02:00 UTC"
            ]
        );
        assert_eq!(p.wait_timer, Duration::from_secs(300));
        assert_eq!(p.approval_timeout, Some(Duration::from_secs(86_400)));

        let acceptance = envs.get("acceptance").unwrap();
        assert_eq!(acceptance.order, Some(2));
        assert_eq!(
            acceptance.strategy,
            Strategy::Recreate,
            "a script target defaults to recreate"
        );
        assert_eq!(
            acceptance.target,
            Some(Target::Script(ScriptTarget {
                deploy: "./deploy.sh".into(),
                rollback: "./rollback.sh".into(),
                status: None
            }))
        );
    }
    #[test]
    fn every_problem_is_reported_where_it_is_written() {
        // Each file, and every diagnostic it gets as `line:col message (hint)`.
        let cases: &[(&str, &[&str])] = &[
            (
                r#"environments:
  prod:
    target: { kind: process, comand: ./app, listen: 8080 }
"#,
                &[
                    "3:13 `prod.target` (kind `process`) has no `command` (the command that starts one instance, like `command: ./app`)",
                    "3:30 unknown key `comand` in `prod.target` (did you mean `command`?)",
                ],
            ),
            (
                r#"environments:
  prod:
    target: { kind: process, command: ./app, listen: 8080, image: x }
"#,
                &[
                    "3:60 unknown key `image` in `prod.target` (`image` is for `kind: docker` targets)",
                ],
            ),
            (
                r#"environments:
  prod:
    target: { kind: proces, command: ./app }
"#,
                &[
                    "3:21 `prod.target.kind` must be a target kind, found `proces` (did you mean `process`?)",
                ],
            ),
            (
                r#"environments:
  prod:
    target: { command: ./app }
"#,
                &[
                    "3:13 `prod.target` has no `kind` (add `kind:` with one of `process`, `docker`, `ssh` or `script`)",
                ],
            ),
            (
                r#"environments:
  prod:
    target:
      kind: docker
      image: "app:{tag}"
"#,
                &[
                    "4:7 `prod.target` (kind `docker`) has no `container-port` (the port the application listens on inside the container)",
                    "4:7 `prod.target` (kind `docker`) has no `listen` (the port Gantry's proxy answers on, like `listen: 8080`)",
                    "5:14 unknown placeholder `{tag}` in `prod.target.image` (the only placeholder is `{version}`, the version being deployed)",
                ],
            ),
            (
                r#"environments:
  prod:
    target: { kind: process, command: ./app, listen: 8080, instances: 0 }
  dev:
    target: { kind: process, command: ./app, listen: 8080 }
"#,
                &[
                    "3:71 `prod.target.instances` must be a whole number of at least 1, found `0`",
                    "5:54 `dev` listens on port 8080, which `prod` already uses (line 3) (give each environment on this host its own `listen` port)",
                ],
            ),
            (
                r#"environments:
  prod:
    target: { kind: ssh, hosts: ["@web", "web:99999", "[::1"], command: ./app, listen: x }
"#,
                &[
                    "3:34 `@web` in `prod.target.hosts` has an empty user (write `host`, `user@host` or `user@host:port`)",
                    "3:42 `web:99999` in `prod.target.hosts` has a bad port `99999` (write `host`, `user@host` or `user@host:port`)",
                    "3:55 `[::1` in `prod.target.hosts` has a `[` without `]` (write `host`, `user@host` or `user@host:port`)",
                    "3:88 `prod.target.listen` must be a port or `host:port`, found `x` (the port Gantry's proxy answers on, like `listen: 8080` or `listen: 127.0.0.1:8080`)",
                ],
            ),
            (
                r#"environments:
  prod:
    strategy: canarie
  dev:
    strategy: { canary: { initial: 0, increment: 2.5, step: 0s } }
  qa:
    strategy: { rolling: { batch-size: 0, max-unavalable: 1 } }
  st:
    strategy: [rolling]
"#,
                &[
                    "3:15 unknown strategy `canarie` in `prod.strategy` (did you mean `canary`?)",
                    "5:36 `dev.strategy.canary.initial` must be a whole percentage from 1 to 100, found `0`",
                    "5:50 `dev.strategy.canary.increment` must be a whole percentage from 1 to 100, found `2.5`",
                    "5:61 `dev.strategy.canary.step` must be longer than zero",
                    "7:40 `qa.strategy.rolling.batch-size` must be a whole number of at least 1, found `0`",
                    "7:43 unknown key `max-unavalable` in `qa.strategy.rolling` (did you mean `max-unavailable`?)",
                    "9:15 `st.strategy` must be a strategy's name or a mapping with one strategy, found a list (like `strategy: rolling` or `strategy: { canary: { initial: 10, increment: 25, step: 60s } }`)",
                ],
            ),
            (
                r#"environments:
  prod:
    health: { path: health, status: 700, timeout: 5x, retries: 0 }
    analysis: { max-error-rate: 150, min-availability: "95 %", max-response-ms: 0, prometheus: { url: prom } }
"#,
                &[
                    "3:21 `prod.health.path` must start with `/`, found `health` (write `/health`)",
                    "3:37 `prod.health.status` must be a whole number from 100 to 599, found `700`",
                    "3:51 `prod.health.timeout` must be a duration, found `5x` (write a duration like `30s`, `5m`, `1h30m` or `2d`, or a number of seconds)",
                    "3:64 `prod.health.retries` must be a whole number of at least 1, found `0`",
                    "4:33 `prod.analysis.max-error-rate` must be a percentage from 0 to 100, found `150`",
                    "4:81 `prod.analysis.max-response-ms` must be a whole number of at least 1, found `0`",
                    "4:96 `prod.analysis.prometheus` has no `query` (a Prometheus check needs `url`, `query` and `max`, the highest value that passes)",
                    "4:96 `prod.analysis.prometheus` has no `max` (a Prometheus check needs `url`, `query` and `max`, the highest value that passes)",
                    "4:103 `prod.analysis.prometheus.url` must be an http:// or https:// URL, found `prom` (write a full address, like `http://prometheus:9090`)",
                ],
            ),
            (
                r#"environments:
  prod:
    reviewers: 2
    protection:
      reviewers: { required: 3, users: [alice, bob, Alice], roles: [maintainr, owner] }
      branches: ["refs/heads/main", "v[1-"]
      windows:
        - { days: mon-fry, hours: "9-17", timezone: Europe/Amsterdam }
        - { days: daily, hours: "09:00-09:00" }
        - weekends
      wait-timer: soon
      approval-timeout: 0
"#,
                &[
                    "3:5 unknown key `reviewers` in `prod` (`reviewers` belongs under `protection:`)",
                    "5:30 `prod.protection.reviewers` requires 3 approvals, but only 2 users may give one (list more `users`, add `roles`, or lower `required`)",
                    "5:53 `Alice` is listed twice in `prod.protection.reviewers.users`",
                    "5:69 unknown role `maintainr` in `prod.protection.reviewers.roles` (did you mean `maintainer`?)",
                    "5:80 unknown role `owner` in `prod.protection.reviewers.roles` (use one of `viewer`, `developer`, `maintainer` or `admin`)",
                    "6:18 bad pattern `refs/heads/main` in `prod.protection.branches` (write the name without its `refs/…/` prefix: `main`)",
                    "6:37 bad pattern `v[1-` in `prod.protection.branches` (`[` is not closed by `]`)",
                    "8:19 bad days in `prod.protection.windows[0].days`: unknown day `fry` (use `daily`, `weekdays`, `weekends`, days like `mon`, ranges like `mon-fri` or lists like `sat,sun`)",
                    "8:35 bad hours in `prod.protection.windows[0].hours`: `9` is not a time like `09:30` (write a range like `09:00-17:00`; `22:00-02:00` crosses midnight)",
                    "9:33 bad hours in `prod.protection.windows[1].hours`: `09:00-09:00` starts and ends at the same time; write `00:00-24:00` for the whole day (write a range like `09:00-17:00`; `22:00-02:00` crosses midnight)",
                    "10:11 `prod.protection.windows[2]` must be a mapping, found `weekends` (like `{ days: mon-fri, hours: \"09:00-17:00\", timezone: Europe/Amsterdam }`)",
                    "11:19 `prod.protection.wait-timer` must be a duration, found `soon` (write a duration like `30s`, `5m`, `1h30m` or `2d`, or a number of seconds)",
                    "12:25 `prod.protection.approval-timeout` must be longer than zero",
                ],
            ),
            (
                r#"environments:
  prod:
    variables: { LOG-LEVEL: x, EMPTY: , OK: 1 }
    secrets: [DB, DB, OK, "1BAD"]
    migrations: { up: ./m }
    url: ftp://x
    order: 1
    promotes-from: stagin
  staging:
    promotes-from: qa
  qa:
    promotes-from: staging
"#,
                &[
                    "3:18 `LOG-LEVEL` in `prod.variables` is not a variable name (a name starts with a letter or `_` and contains only letters, digits and `_`)",
                    "3:32 `prod.variables.EMPTY` has no value (write `EMPTY: ''` for an empty value)",
                    "4:19 the secret `DB` is listed twice in `prod.secrets`",
                    "4:23 `OK` is both a variable and a secret (a secret's value lives in the server; remove it from `variables`)",
                    "4:27 `1BAD` in `prod.secrets` is not a secret name (a name starts with a letter or `_` and contains only letters, digits and `_`)",
                    "5:17 warning: `prod.migrations` has no `down`, so a rollback cannot undo the migration (add `down:` with the command that reverts `up`)",
                    "6:10 `prod.url` must be an http:// or https:// URL, found `ftp://x` (write a full address, like `https://staging.example.com`)",
                    "7:12 `prod` has both `order` and `promotes-from` (keep one: `promotes-from` places it after that environment)",
                    "8:20 `prod.promotes-from` names `stagin`, which is not declared (did you mean `staging`?)",
                    "10:20 `staging.promotes-from` makes a cycle: staging ← qa ← staging (the first environment of a pipeline promotes from none)",
                    "12:20 `qa.promotes-from` makes a cycle: qa ← staging ← qa (the first environment of a pipeline promotes from none)",
                ],
            ),
            (
                r#"environments:
  "bad name!":
    url: http://x
  good:
    unknown-thing: 1
    target: { kind: script, deploy: d, rollback: r }
    strategy: canary
"#,
                &[
                    "2:3 `bad name!` is not a valid environment name (use letters, digits, `-` and `_`, like `staging` or `eu-prod_2`)",
                    "5:5 unknown key `unknown-thing` in `good` (expected one of `url`, `target`, `strategy`, `health`, `analysis`, `smoke`, `migrations`, `variables`, `secrets`, `protection`, `order` or `promotes-from`)",
                    "7:15 `good.strategy` is `canary`, but a `script` target deploys with its own commands (use `strategy: recreate`, or a `process`, `docker` or `ssh` target for Gantry to shift traffic)",
                ],
            ),
            (
                r#"environment:
  prod: {}
"#,
                &[
                    "1:1 unknown key `environment` at the top of the file (did you mean `environments`?)",
                ],
            ),
            (
                r#"
"#,
                &[
                    "2:1 warning: the file declares no environments (start with `environments:` and one mapping per environment)",
                ],
            ),
            (
                r#"environments: [prod]
"#,
                &["1:15 `environments` must be a mapping of environment names, found a list"],
            ),
            (
                r#"environments:
  prod:
    target: { kind: process, command: ./app, listen: 8080 }
    url: http://x
  prod:
    url: http://y
"#,
                &["5:3 duplicate key `prod` (`prod` is first defined on line 2)"],
            ),
            (
                r#"environments:
  prod: {
"#,
                &["2:9 invalid YAML: unclosed bracket '{'"],
            ),
        ];
        for (src, expected) in cases {
            assert_eq!(diagnostics(src), *expected, "{src}");
        }
        // One port on two addresses is fine; on all addresses and one of them it is not.
        let ports = |a: &str, b: &str| {
            diagnostics(&format!(
                "environments:\n  a:\n    target: {{ kind: process, command: x, listen: \"{a}\" }}\n  \
                 b:\n    target: {{ kind: docker, image: x, container-port: 80, listen: \"{b}\" }}\n"
            ))
        };
        assert_eq!(ports("127.0.0.1:80", "10.0.0.2:80"), Vec::<String>::new());
        for (a, b) in [("80", "10.0.0.2:80"), ("127.0.0.1:80", "127.0.0.1:80")] {
            assert_eq!(
                ports(a, b),
                [
                    "5:67 `b` listens on port 80, which `a` already uses (line 3) \
                  (give each environment on this host its own `listen` port)"
                ],
                "{a} {b}"
            );
        }
    }

    #[test]
    fn strategies_are_names_with_defaults_or_one_mapping_with_settings() {
        let cases: &[(&str, Strategy)] = &[
            ("recreate", Strategy::Recreate),
            ("rolling", Strategy::ROLLING),
            ("blue-green", Strategy::BLUE_GREEN),
            ("canary", Strategy::CANARY),
            ("{ recreate: }", Strategy::Recreate),
            ("{ canary: {} }", Strategy::CANARY),
            (
                "{ canary: { increment: 50% } }",
                Strategy::Canary {
                    initial_percent: 10,
                    increment_percent: 50,
                    step_duration: Duration::from_secs(60),
                },
            ),
            (
                "{ rolling: { batch-size: 2 } }",
                Strategy::Rolling {
                    batch_size: 2,
                    max_unavailable: 0,
                },
            ),
            (
                "{ rolling: { max-unavailable: 1 } }",
                Strategy::Rolling {
                    batch_size: 1,
                    max_unavailable: 1,
                },
            ),
            (
                "{ blue-green: { keep-previous: 0 } }",
                Strategy::BlueGreen {
                    keep_previous: Duration::ZERO,
                },
            ),
        ];
        for (written, expected) in cases {
            let src = format!("environments:\n  prod:\n    strategy: {written}\n");
            let envs = clean(&src);
            assert_eq!(&envs.get("prod").unwrap().strategy, expected, "{written}");
        }
        assert_eq!(
            diagnostics("environments:\n  prod:\n    strategy: { rolling: {}, canary: {} }\n"),
            [
                "3:15 `prod.strategy` must be a strategy's name or a mapping with one strategy, \
              found a mapping (like `strategy: rolling` or \
              `strategy: { canary: { initial: 10, increment: 25, step: 60s } }`)"
            ]
        );
    }

    #[test]
    fn durations_and_percentages_read_the_usual_forms() {
        let durations: &[(&str, Option<u64>)] = &[
            ("30s", Some(30)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
            ("1h30m", Some(5400)),
            ("2d", Some(172_800)),
            ("1d2h3m4s", Some(93_784)),
            ("90", Some(90)),
            (" 10s ", Some(10)),
            ("0", Some(0)),
            ("", None),
            ("5", Some(5)),
            ("5x", None),
            ("m", None),
            ("30m1h", None),
            ("1h1h", None),
            ("1.5h", None),
            ("-5s", None),
            ("99999999999999999999d", None),
        ];
        for (text, secs) in durations {
            assert_eq!(
                parse_duration(text).ok(),
                secs.map(Duration::from_secs),
                "{text:?}"
            );
        }
        assert_eq!(
            parse_duration("soon").unwrap_err(),
            "`soon` is not a duration like `30s`, `5m` or `1h30m`"
        );
        let percentages: &[(&str, Option<f64>)] = &[
            ("5", Some(5.0)),
            ("5%", Some(5.0)),
            ("2.5", Some(2.5)),
            ("2.5 %", Some(2.5)),
            ("99.9%", Some(99.9)),
            ("%", None),
            ("five", None),
            ("inf", None),
            ("+5", None),
        ];
        for (text, value) in percentages {
            assert_eq!(parse_percent(text).ok(), *value, "{text:?}");
        }
    }

    #[test]
    fn ssh_hosts_take_an_optional_user_and_port() {
        // What is written, and the user, host and port read from it, or the complaint.
        type Case<'a> = (&'a str, Result<(Option<&'a str>, &'a str, u16), &'a str>);
        let cases: &[Case] = &[
            ("web1", Ok((None, "web1", 22))),
            ("deploy@web1", Ok((Some("deploy"), "web1", 22))),
            ("deploy@web1:2222", Ok((Some("deploy"), "web1", 2222))),
            ("10.0.0.5:22", Ok((None, "10.0.0.5", 22))),
            ("[::1]:2222", Ok((None, "::1", 2222))),
            ("root@[fe80::1]", Ok((Some("root"), "fe80::1", 22))),
            ("@web", Err("has an empty user")),
            ("web:0", Err("has a bad port `0`")),
            ("web:", Err("has a bad port ``")),
            ("user@", Err("has no host")),
            ("[::1", Err("has a `[` without `]`")),
            ("[::1]x", Err("has text after `]`")),
        ];
        for (text, expected) in cases {
            let parsed = parse_ssh_host(text);
            let parsed = parsed
                .as_ref()
                .map(|h| (h.user.as_deref(), h.host.as_str(), h.port))
                .map_err(String::as_str);
            assert_eq!(parsed, *expected, "{text}");
        }
    }

    #[test]
    fn time_zones_are_checked_by_the_lookup_the_edge_passes() {
        let src = "environments:\n  prod:\n    protection:\n      windows:\n        \
                   - { timezone: Europe/Amsterdam }\n        - { timezone: Europe/Amsterdm }\n        \
                   - { days: daily }\n";
        let envs = clean(src);
        let known = |name: &str| jiff::tz::TimeZone::get(name).is_ok();
        let diags: Vec<String> = envs
            .check_time_zones("envs.yml", &known)
            .iter()
            .map(show)
            .collect();
        assert_eq!(
            diags,
            [
                "6:23 unknown time zone `Europe/Amsterdm` in `prod.protection.windows` \
              (use a name from the time zone database, like `Europe/Amsterdam` or `UTC`)"
            ]
        );
        let zones: Vec<&str> = envs.environments[0]
            .protection
            .windows
            .iter()
            .map(|w| w.time_zone.value.as_str())
            .collect();
        assert_eq!(zones, ["Europe/Amsterdam", "Europe/Amsterdm", "UTC"]);
    }

    #[test]
    fn diagnostics_render_with_the_workflow_front_ends_style() {
        let src = "environments:\n  prod:\n    health: { retires: 3 }\n";
        let (_, diags) = parse(".gantry/environments.yml", src);
        assert_eq!(
            gantry_syntax::render(&diags[0], src),
            "error: unknown key `retires` in `prod.health`\n\
             \x20 --> .gantry/environments.yml:3:15\n\
             \x20  |\n\
             \x203 |     health: { retires: 3 }\n\
             \x20  |               ^^^^^^^\n\
             \x20  = help: did you mean `retries`?\n"
        );
    }

    #[test]
    fn an_environment_with_nothing_but_a_name_gets_every_default() {
        let envs = clean("environments:\n  preview:\n");
        let preview = envs.get("preview").unwrap();
        assert_eq!(*preview, Environment::new(preview.name.clone()));
        assert_eq!(preview.strategy, Strategy::ROLLING);
    }
}
