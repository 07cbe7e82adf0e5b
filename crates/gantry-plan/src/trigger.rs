//! Does a workflow fire for an event? And if not, why not.

use gantry_syntax::Spanned;
use gantry_syntax::ast::{RefFilter, Workflow};

use crate::event::{Event, EventKind};
use crate::filter::PatternList;

/// The pull request activity types a bare `pull_request:` listens to.
pub const DEFAULT_PR_TYPES: [&str; 3] = ["opened", "synchronize", "reopened"];

/// `Ok(())` when the workflow runs for the event; otherwise the reason it is
/// skipped, phrased for `gantry plan`.
pub fn fires(workflow: &Workflow, event: &Event) -> Result<(), String> {
    let on = &workflow.on;
    match event.kind {
        EventKind::Push => {
            let filter = on
                .push
                .as_ref()
                .ok_or_else(|| no_trigger("push", workflow))?;
            push_fires(filter, event)
        }
        EventKind::PullRequest | EventKind::PullRequestTarget => {
            let name = event.kind.name();
            let filter = if event.kind == EventKind::PullRequest {
                &on.pull_request
            } else {
                &on.pull_request_target
            };
            let filter = filter.as_ref().ok_or_else(|| no_trigger(name, workflow))?;
            pull_request_fires(filter, event)
        }
        EventKind::Schedule => {
            if on.schedule.is_empty() {
                return Err(no_trigger("schedule", workflow));
            }
            match &event.schedule {
                Some(cron) if !on.schedule.iter().any(|c| c.value.trim() == cron.trim()) => {
                    Err(format!("no `schedule` entry is `{cron}`"))
                }
                _ => Ok(()),
            }
        }
        EventKind::WorkflowDispatch => on
            .workflow_dispatch
            .as_ref()
            .map(|_| ())
            .ok_or_else(|| no_trigger("workflow_dispatch", workflow)),
    }
}

fn no_trigger(event: &str, workflow: &Workflow) -> String {
    let mut listens: Vec<&str> = Vec::new();
    let on = &workflow.on;
    for (name, present) in [
        ("push", on.push.is_some()),
        ("pull_request", on.pull_request.is_some()),
        ("pull_request_target", on.pull_request_target.is_some()),
        ("schedule", !on.schedule.is_empty()),
        ("workflow_dispatch", on.workflow_dispatch.is_some()),
        ("workflow_call", on.workflow_call.is_some()),
    ] {
        if present {
            listens.push(name);
        }
    }
    listens.extend(on.other.keys().map(String::as_str));
    if listens.is_empty() {
        format!("does not listen to `{event}`")
    } else {
        format!(
            "does not listen to `{event}` (listens to: {})",
            listens.join(", ")
        )
    }
}

fn push_fires(filter: &RefFilter, event: &Event) -> Result<(), String> {
    let has_branch_filter = filter.branches.is_some() || filter.branches_ignore.is_some();
    let has_tag_filter = filter.tags.is_some() || filter.tags_ignore.is_some();
    if let Some(tag) = event.tag() {
        if has_tag_filter {
            ref_filter("tag", tag, &filter.tags, &filter.tags_ignore)?;
        } else if has_branch_filter {
            return Err(format!(
                "tag `{tag}` pushed, but `push` filters branches only"
            ));
        }
        // GitHub does not evaluate path filters for tag pushes.
        return Ok(());
    }
    let branch = event.branch().unwrap_or(&event.git_ref);
    if has_branch_filter {
        ref_filter("branch", branch, &filter.branches, &filter.branches_ignore)?;
    } else if has_tag_filter {
        return Err(format!(
            "branch `{branch}` pushed, but `push` filters tags only"
        ));
    }
    path_filter(filter, event)
}

fn pull_request_fires(filter: &RefFilter, event: &Event) -> Result<(), String> {
    let action = event.action.as_deref().unwrap_or("opened");
    match &filter.types {
        Some(types) => {
            if !types.iter().any(|t| t.value == action) {
                let listed: Vec<&str> = types.iter().map(|t| t.value.as_str()).collect();
                return Err(format!(
                    "activity `{action}` is not in `types` [{}]",
                    listed.join(", ")
                ));
            }
        }
        None => {
            if !DEFAULT_PR_TYPES.contains(&action) {
                return Err(format!(
                    "activity `{action}` is not one of the default types [{}]",
                    DEFAULT_PR_TYPES.join(", ")
                ));
            }
        }
    }
    let base = event
        .base_ref
        .as_deref()
        .map(crate::event::short_ref)
        .unwrap_or("");
    ref_filter(
        "base branch",
        base,
        &filter.branches,
        &filter.branches_ignore,
    )?;
    path_filter(filter, event)
}

type Patterns = Option<Vec<Spanned<String>>>;

fn ref_filter(what: &str, name: &str, include: &Patterns, ignore: &Patterns) -> Result<(), String> {
    if let Some(patterns) = include {
        let list = compile(patterns)?;
        if !list.includes(name) {
            return Err(format!("{what} `{name}` does not match {}", show(patterns)));
        }
    }
    if let Some(patterns) = ignore {
        let list = compile(patterns)?;
        if list.includes(name) {
            return Err(format!("{what} `{name}` is ignored by {}", show(patterns)));
        }
    }
    Ok(())
}

fn path_filter(filter: &RefFilter, event: &Event) -> Result<(), String> {
    let Some(files) = &event.changed_files else {
        return Ok(());
    };
    if let Some(patterns) = &filter.paths {
        let list = compile(patterns)?;
        if !files.iter().any(|f| list.includes(f)) {
            return Err(format!(
                "no changed file matches `paths` {}",
                show(patterns)
            ));
        }
    }
    if let Some(patterns) = &filter.paths_ignore {
        let list = compile(patterns)?;
        if !files.is_empty() && files.iter().all(|f| list.includes(f)) {
            return Err(format!(
                "every changed file matches `paths-ignore` {}",
                show(patterns)
            ));
        }
    }
    Ok(())
}

fn compile(patterns: &[Spanned<String>]) -> Result<PatternList, String> {
    PatternList::new(patterns.iter().map(|p| p.value.as_str()))
}

fn show(patterns: &[Spanned<String>]) -> String {
    let items: Vec<String> = patterns.iter().map(|p| format!("'{}'", p.value)).collect();
    format!("[{}]", items.join(", "))
}
