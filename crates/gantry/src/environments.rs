//! `gantry run`'s environment gate. When the repository declares its environments
//! (`.gantry/environments.yml`), a job with `environment: NAME` enters a declared one only as its
//! protection allows: the ref rules and deployment windows apply as on a server, the wait timer
//! is waited out, and the required reviewers are stood in for by the person at the terminal —
//! `--approve NAME` approves ahead of time, otherwise an interactive run asks, and a
//! non-interactive one fails the job saying what to pass. The environment's `variables` reach the
//! job's `vars` context. Environments the file does not declare (or a repository without the
//! file) are names only, as on GitHub.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use gantry_deploy::config::{Environment, Environments};
use gantry_deploy::protection::{self, Decision, GitRef, Reason, RefKind, Request};
use gantry_engine::environment::{EnvironmentGate, GateFuture, GateRequest, Grant};
use serde_json::Value;

use crate::UserError;

/// Where a repository declares its environments.
pub const FILE: &str = ".gantry/environments.yml";

/// The environments of the repository at `root`; `None` without the file. Every problem of the
/// file is an error naming its place.
pub fn load(root: &Path) -> Result<Option<Environments>, UserError> {
    let Some((environments, diagnostics, source)) = read(root)? else {
        return Ok(None);
    };
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| gantry_syntax::render(d, &source))
        .collect();
    if errors.is_empty() {
        Ok(Some(environments))
    } else {
        Err(UserError(format!(
            "`{FILE}` has {} problem{}; fix {} and run again:\n{}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            if errors.len() == 1 { "it" } else { "them" },
            errors.join("\n")
        )))
    }
}

/// The environments file of the repository at `root`, read and checked: what it declares, every
/// problem (time zones included), and its text; `None` without the file.
pub fn read(
    root: &Path,
) -> Result<Option<(Environments, Vec<gantry_syntax::Diagnostic>, String)>, UserError> {
    let source = match std::fs::read_to_string(root.join(FILE)) {
        Ok(source) => source,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UserError(format!("cannot read `{FILE}`: {e}"))),
    };
    let (environments, mut diagnostics) = gantry_deploy::config::parse(FILE, &source);
    diagnostics
        .extend(environments.check_time_zones(FILE, &|name| jiff::tz::TimeZone::get(name).is_ok()));
    Ok(Some((environments, diagnostics, source)))
}

/// The gate of one local run.
pub struct LocalGate {
    environments: Environments,
    /// `--approve NAME`: environments whose reviewers the caller stands in for.
    approved: Vec<String>,
    git_ref: GitRef,
    actor: String,
    queued_at: jiff::Timestamp,
    /// Whether to ask on the terminal when an approval is needed.
    interactive: bool,
    /// One question on the terminal at a time.
    asking: tokio::sync::Mutex<()>,
}

impl LocalGate {
    /// `git_ref` is the event's full ref (`refs/heads/main`, `refs/tags/v1.2.0`).
    pub fn new(
        environments: Environments,
        approved: Vec<String>,
        git_ref: &str,
        actor: &str,
        interactive: bool,
    ) -> LocalGate {
        let git_ref = match git_ref.strip_prefix("refs/tags/") {
            Some(tag) => GitRef {
                kind: RefKind::Tag,
                name: tag.to_string(),
            },
            None => GitRef {
                kind: RefKind::Branch,
                name: git_ref
                    .strip_prefix("refs/heads/")
                    .unwrap_or(git_ref)
                    .to_string(),
            },
        };
        LocalGate {
            environments,
            approved,
            git_ref,
            actor: actor.to_string(),
            queued_at: jiff::Timestamp::now(),
            interactive,
            asking: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether stdin and stderr are a terminal a person answers at.
    pub fn terminal() -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    async fn admit(&self, request: &GateRequest, environment: &Environment) -> Result<(), String> {
        let zones = |zone: &str| jiff::tz::TimeZone::get(zone).ok();
        let deployment = Request {
            git_ref: self.git_ref.clone(),
            triggered_by: self.actor.clone(),
            commit_author: None,
            queued_at: self.queued_at,
            reviews: Vec::new(),
        };
        // The person at the terminal stands in for the reviewers; the other rules stay.
        let mut protection = environment.protection.clone();
        protection.reviewers.required = 0;
        // What no approval changes (a ref that may not deploy) is refused before anyone is asked.
        if let Decision::Denied { reason } =
            protection::evaluate(&protection, &deployment, jiff::Timestamp::now(), &zones)
        {
            return Err(reason.to_string());
        }
        let name = &request.environment;
        let required = environment.protection.reviewers.required;
        if required > 0 {
            let approved = self.approved.iter().any(|a| a == name)
                || (self.interactive && self.ask(request, environment).await?);
            if !approved {
                return Err(format!(
                    "it needs {required} approval{} from {}: pass `--approve {name}` to approve it yourself, or run it on a Gantry server where its reviewers approve it",
                    if required == 1 { "" } else { "s" },
                    environment.protection.reviewers.describe(),
                ));
            }
        }
        loop {
            let now = jiff::Timestamp::now();
            match protection::evaluate(&protection, &deployment, now, &zones) {
                Decision::Allowed => return Ok(()),
                Decision::Denied { reason } => return Err(reason.to_string()),
                Decision::Waiting {
                    reasons,
                    recheck_at,
                } => {
                    let only_timer = reasons
                        .iter()
                        .all(|r| matches!(r, Reason::WaitTimer { .. }));
                    match recheck_at {
                        Some(at) if only_timer => {
                            eprintln!(
                                "gantry: job `{}` waits for environment `{name}`: {}",
                                request.name,
                                reasons
                                    .iter()
                                    .map(|r| r.to_string())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            );
                            let wait = at.duration_since(now);
                            let wait = std::time::Duration::try_from(wait).unwrap_or_default();
                            tokio::time::sleep(wait.max(std::time::Duration::from_millis(10)))
                                .await;
                        }
                        _ => {
                            let said: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
                            return Err(format!(
                                "{} (a local run does not wait for it)",
                                said.join("; ")
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Asks the person at the terminal to approve; their answer.
    async fn ask(&self, request: &GateRequest, environment: &Environment) -> Result<bool, String> {
        let _one_at_a_time = self.asking.lock().await;
        let question = format!(
            "\njob `{}` deploys to `{}`, which needs {} approval{} from {}.\nApprove it yourself? [y/N] ",
            request.name,
            request.environment,
            environment.protection.reviewers.required,
            if environment.protection.reviewers.required == 1 {
                ""
            } else {
                "s"
            },
            environment.protection.reviewers.describe(),
        );
        tokio::task::spawn_blocking(move || {
            let mut err = std::io::stderr();
            let _ = err.write_all(question.as_bytes());
            let _ = err.flush();
            let mut answer = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .map_err(|e| format!("cannot read the answer: {e}"))?;
            Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
        })
        .await
        .map_err(|e| format!("cannot ask: {e}"))?
    }
}

impl EnvironmentGate for LocalGate {
    fn enter<'a>(&'a self, request: &'a GateRequest) -> GateFuture<'a> {
        Box::pin(async move {
            let Some(environment) = self.environments.get(&request.environment) else {
                return Ok(Grant::default());
            };
            self.admit(request, environment).await?;
            Ok(Grant {
                vars: environment
                    .variables
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
                secrets: Default::default(),
            })
        })
    }
}

/// The gate for a run, when the repository declares environments.
pub fn gate(
    root: &Path,
    approved: &[String],
    git_ref: &str,
    actor: &str,
    json: bool,
) -> Result<Option<Arc<dyn EnvironmentGate>>, UserError> {
    let Some(environments) = load(root)? else {
        if let Some(name) = approved.first() {
            return Err(UserError(format!(
                "`--approve {name}`: this repository declares no environments (`{FILE}`)"
            )));
        }
        return Ok(None);
    };
    for name in approved {
        if environments.get(name).is_none() {
            let known: Vec<&str> = environments
                .environments
                .iter()
                .map(|e| e.name.value.as_str())
                .collect();
            return Err(UserError(format!(
                "`--approve {name}`: `{FILE}` declares no environment `{name}` (it declares {})",
                known.join(", ")
            )));
        }
    }
    let interactive = !json && LocalGate::terminal();
    Ok(Some(Arc::new(LocalGate::new(
        environments,
        approved.to_vec(),
        git_ref,
        actor,
        interactive,
    ))))
}
