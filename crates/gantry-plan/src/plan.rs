//! The Plan IR: which workflows and jobs an event runs, in dependency order.
//!
//! A plan is immutable once built. Matrices whose values are known at plan
//! time are expanded here; a matrix built from `needs` outputs is expanded
//! by the engine when its job becomes ready, with [`crate::matrix::expand`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gantry_syntax::ast::{Job, Workflow};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::event::Event;
use crate::matrix::{self, Combination};

/// Finds the workflow a job's `uses:` names. I/O lives with the caller.
pub trait Resolver {
    /// `caller` is the file of the calling workflow; `uses` is the job's
    /// `uses:` value. The error says what to do.
    fn workflow(&self, caller: &str, uses: &str) -> Result<Arc<Workflow>, String>;
}

/// A resolver for plans that never call other workflows.
pub struct NoResolver;

impl Resolver for NoResolver {
    fn workflow(&self, _caller: &str, uses: &str) -> Result<Arc<Workflow>, String> {
        Err(format!("cannot resolve `{uses}` here"))
    }
}

/// How reusable workflows may nest at most (GitHub's limit is 4 levels).
pub const MAX_CALL_DEPTH: usize = 4;

#[derive(Debug, Clone)]
pub struct Plan {
    pub workflows: Vec<WorkflowPlan>,
    pub skipped: Vec<SkippedWorkflow>,
    /// Workflows the event triggers that cannot be planned (a call that
    /// cannot be resolved, a bad matrix), with every reason. The others
    /// still run.
    pub failed: Vec<PlanError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SkippedWorkflow {
    pub file: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct WorkflowPlan {
    pub file: String,
    pub name: String,
    pub workflow: Arc<Workflow>,
    /// The `inputs` context: typed dispatch inputs, or for a called workflow
    /// nothing yet (the engine types the caller's `with:` when it runs).
    pub inputs: Map<String, Value>,
    /// Jobs in a dependency order (every job after all of its needs).
    pub jobs: Vec<JobPlan>,
}

#[derive(Debug, Clone)]
pub struct JobPlan {
    pub id: String,
    pub job: Arc<Job>,
    pub needs: Vec<String>,
    pub matrix: MatrixPlan,
    /// The called workflow of a reusable-workflow job.
    pub call: Option<Box<WorkflowPlan>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MatrixPlan {
    /// No `strategy.matrix`: one instance.
    None,
    /// Known at plan time.
    Static(Vec<Combination>),
    /// Depends on expressions only known at run time (e.g. `needs` outputs).
    Dynamic,
}

/// Why a plan could not be made for a workflow that fires.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanError {
    pub file: String,
    pub message: String,
}

pub struct PlanRequest<'a> {
    pub event: &'a Event,
    pub workflows: &'a [Arc<Workflow>],
    /// Run only this job (and the jobs it needs).
    pub job: Option<&'a str>,
    /// The `vars` context.
    pub vars: &'a Map<String, Value>,
    pub resolver: &'a dyn Resolver,
}

/// Plans an event over a set of workflows. A workflow whose trigger does
/// not fire is skipped with its reason; one that fires but cannot be planned
/// is listed in [`Plan::failed`]. `Err` is kept for problems with the
/// request itself (an input no workflow declares, a missing required input,
/// a `--job` nothing has).
pub fn plan(req: &PlanRequest<'_>) -> Result<Plan, Vec<PlanError>> {
    let mut workflows = Vec::new();
    let mut skipped = Vec::new();
    let mut errors = Vec::new();
    let mut failed = Vec::new();
    // Dispatch inputs go to every dispatched workflow; each takes the ones it
    // declares, and an input no workflow declares is an error.
    let declared: Vec<&str> = req
        .workflows
        .iter()
        .filter(|w| crate::trigger::fires(w, req.event).is_ok())
        .filter_map(|w| w.on.workflow_dispatch.as_ref())
        .flat_map(|d| d.inputs.keys().map(String::as_str))
        .collect();
    if req.event.kind == crate::event::EventKind::WorkflowDispatch {
        for name in req.event.inputs.keys() {
            if !declared.contains(&name.as_str()) {
                let hint = crate::suggest::did_you_mean(name, declared.iter().copied())
                    .map(|s| format!(": did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        if declared.is_empty() {
                            ": no dispatched workflow declares inputs".to_string()
                        } else {
                            format!(" (declared: {})", declared.join(", "))
                        }
                    });
                errors.push(PlanError {
                    file: String::new(),
                    message: format!("unknown input `{name}`{hint}"),
                });
            }
        }
    }
    for workflow in req.workflows {
        let name = workflow_name(workflow);
        if let Err(reason) = crate::trigger::fires(workflow, req.event) {
            skipped.push(SkippedWorkflow {
                file: workflow.file.clone(),
                name,
                reason,
            });
            continue;
        }
        let inputs = if req.event.kind == crate::event::EventKind::WorkflowDispatch {
            let defs = workflow
                .on
                .workflow_dispatch
                .as_ref()
                .map(|d| d.inputs.clone())
                .unwrap_or_default();
            let given: IndexMap<String, Value> = req
                .event
                .inputs
                .iter()
                .filter(|(k, _)| defs.contains_key(*k))
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            match crate::inputs::resolve(&defs, &given, crate::inputs::InputSource::Dispatch) {
                Ok(inputs) => inputs,
                Err(messages) => {
                    errors.extend(messages.into_iter().map(|message| PlanError {
                        file: workflow.file.clone(),
                        message,
                    }));
                    continue;
                }
            }
        } else {
            Map::new()
        };
        match plan_workflow(workflow.clone(), inputs, req, 0) {
            Ok(mut planned) => {
                if let Some(job) = req.job {
                    match select(&planned, job) {
                        Some(keep) => planned.jobs.retain(|j| keep.contains(&j.id)),
                        None => {
                            skipped.push(SkippedWorkflow {
                                file: workflow.file.clone(),
                                name: planned.name.clone(),
                                reason: format!("has no job `{job}`"),
                            });
                            continue;
                        }
                    }
                }
                workflows.push(planned);
            }
            Err(messages) => failed.extend(messages.into_iter().map(|message| PlanError {
                file: workflow.file.clone(),
                message,
            })),
        }
    }
    if let Some(job) = req.job
        && workflows.is_empty()
        && errors.is_empty()
        && failed.is_empty()
    {
        let all: Vec<&str> = req
            .workflows
            .iter()
            .flat_map(|w| w.jobs.keys().map(String::as_str))
            .collect();
        let hint = crate::suggest::did_you_mean(job, all.iter().copied())
            .map(|s| format!(": did you mean `{s}`?"))
            .unwrap_or_default();
        errors.push(PlanError {
            file: String::new(),
            message: format!("no workflow that runs for this event has a job `{job}`{hint}"),
        });
    }
    if errors.is_empty() {
        Ok(Plan {
            workflows,
            skipped,
            failed,
        })
    } else {
        Err(errors)
    }
}

/// The name GitHub shows for a workflow: its `name:` or its file path.
pub fn workflow_name(workflow: &Workflow) -> String {
    workflow
        .name
        .as_ref()
        .map(|n| n.value.clone())
        .unwrap_or_else(|| workflow.file.clone())
}

/// Plans a workflow's jobs (used for called workflows too).
pub fn plan_workflow(
    workflow: Arc<Workflow>,
    inputs: Map<String, Value>,
    req: &PlanRequest<'_>,
    depth: usize,
) -> Result<WorkflowPlan, Vec<String>> {
    let order = topological_order(&workflow).map_err(|e| vec![e])?;
    let mut jobs = Vec::with_capacity(order.len());
    let mut errors = Vec::new();
    for id in order {
        let Some((_, job)) = workflow.jobs.get(&id) else {
            continue;
        };
        let matrix = match plan_matrix(job, &inputs, req.vars) {
            Ok(matrix) => matrix,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let call = match &job.uses {
            Some(uses) => match plan_call(&workflow, &id, &uses.value, req, depth) {
                Ok(called) => Some(Box::new(called)),
                Err(mut e) => {
                    errors.append(&mut e);
                    continue;
                }
            },
            None => None,
        };
        jobs.push(JobPlan {
            needs: job.needs.iter().map(|n| n.value.clone()).collect(),
            id,
            job: Arc::new(job.clone()),
            matrix,
            call,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(WorkflowPlan {
        file: workflow.file.clone(),
        name: workflow_name(&workflow),
        workflow,
        inputs,
        jobs,
    })
}

/// Resolves and plans the workflow a job calls.
fn plan_call(
    workflow: &Workflow,
    id: &str,
    uses: &str,
    req: &PlanRequest<'_>,
    depth: usize,
) -> Result<WorkflowPlan, Vec<String>> {
    if depth + 1 >= MAX_CALL_DEPTH {
        return Err(vec![format!(
            "job `{id}`: reusable workflows nest deeper than {MAX_CALL_DEPTH} levels"
        )]);
    }
    let called = req
        .resolver
        .workflow(&workflow.file, uses)
        .map_err(|e| vec![format!("job `{id}`: {e}")])?;
    if called.on.workflow_call.is_none() {
        return Err(vec![format!(
            "job `{id}` calls `{uses}`, which has no `on: workflow_call` trigger: add one to make it reusable"
        )]);
    }
    plan_workflow(called, Map::new(), req, depth + 1)
}

fn plan_matrix(
    job: &Job,
    inputs: &Map<String, Value>,
    vars: &Map<String, Value>,
) -> Result<MatrixPlan, String> {
    let Some(matrix) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return Ok(MatrixPlan::None);
    };
    let mut ctx = gantry_expr::MapContext::new();
    ctx = ctx
        .with("inputs", Value::Object(inputs.clone()))
        .with("vars", Value::Object(vars.clone()));
    match crate::template::evaluate_value(&matrix.value, &ctx) {
        Ok(value) => matrix::expand(&value)
            .map(MatrixPlan::Static)
            .map_err(|e| format!("job `{}`: {e}", job.id.value)),
        // The matrix reads contexts only known at run time (needs, github…).
        Err(_) => Ok(MatrixPlan::Dynamic),
    }
}

/// Orders jobs so that each comes after its needs, keeping file order where
/// free. Fails on an unknown need or a cycle (validation reports those with
/// spans; this is the safety net).
pub fn topological_order(workflow: &Workflow) -> Result<Vec<String>, String> {
    let ids: Vec<&String> = workflow.jobs.keys().collect();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; ids.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (i, (id, (_, job))) in workflow.jobs.iter().enumerate() {
        for need in &job.needs {
            let Some(&j) = index.get(need.value.as_str()) else {
                return Err(format!(
                    "job `{id}` needs `{}`, which does not exist",
                    need.value
                ));
            };
            indegree[i] += 1;
            dependents[j].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..ids.len()).filter(|i| indegree[*i] == 0).collect();
    let mut order = Vec::with_capacity(ids.len());
    while let Some(i) = ready.pop_first() {
        order.push(ids[i].clone());
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() != ids.len() {
        let stuck: Vec<&str> = (0..ids.len())
            .filter(|i| indegree[*i] > 0)
            .map(|i| ids[i].as_str())
            .collect();
        return Err(format!(
            "the `needs` of jobs {} form a cycle",
            stuck.join(", ")
        ));
    }
    Ok(order)
}

/// The job and everything it transitively needs.
fn select(plan: &WorkflowPlan, job: &str) -> Option<HashSet<String>> {
    let by_id: HashMap<&str, &JobPlan> = plan.jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    by_id.get(job)?;
    let mut keep = HashSet::new();
    let mut stack = vec![job.to_string()];
    while let Some(id) = stack.pop() {
        if keep.insert(id.clone())
            && let Some(j) = by_id.get(id.as_str())
        {
            stack.extend(j.needs.iter().cloned());
        }
    }
    Some(keep)
}
