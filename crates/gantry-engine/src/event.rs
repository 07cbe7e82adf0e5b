//! What a run reports while it goes: the engine's output events.
//!
//! Every byte of log text in these events has already been masked.

use std::time::Duration;

use indexmap::IndexMap;

/// Identifies one job instance in a run, e.g. `build (ubuntu, 18)` or
/// `call / inner`.
pub type JobKey = String;

/// The result of a job or a step, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationLevel {
    Error,
    Warning,
    Notice,
}

impl AnnotationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Error => "error",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Notice => "notice",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub level: AnnotationLevel,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
}

/// One event of a run, in the order it happened for its job.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// A workflow of the plan starts.
    WorkflowStarted {
        file: String,
        name: String,
    },
    JobStarted {
        job: JobKey,
        name: String,
    },
    /// The job did not run: its `if` was false, a need failed, or the run
    /// was cancelled before it started.
    JobSkipped {
        job: JobKey,
        name: String,
        reason: String,
    },
    StepStarted {
        job: JobKey,
        step: usize,
        name: String,
    },
    /// Masked output of a step: one or more whole lines (a very long line
    /// may arrive in pieces).
    Output {
        job: JobKey,
        text: Vec<u8>,
    },
    GroupStarted {
        job: JobKey,
        title: String,
    },
    GroupEnded {
        job: JobKey,
    },
    Debug {
        job: JobKey,
        message: String,
    },
    Annotation {
        job: JobKey,
        annotation: Annotation,
    },
    /// A message from Gantry itself about a job (retry, skipped step, …).
    Notice {
        job: JobKey,
        message: String,
    },
    StepFinished {
        job: JobKey,
        step: usize,
        name: String,
        outcome: Outcome,
        conclusion: Outcome,
        duration: Duration,
    },
    JobFinished {
        job: JobKey,
        name: String,
        result: Outcome,
        duration: Duration,
        outputs: IndexMap<String, String>,
    },
    /// The step summary written to `$GITHUB_STEP_SUMMARY` (Markdown).
    Summary {
        job: JobKey,
        markdown: String,
    },
    /// A warning about the run as a whole (missing secret, short secret…).
    Warning {
        message: String,
    },
}

/// Makes the channel the engine reports on. Step output in flight (sent but
/// not yet received) is bounded by `max_output_bytes`: a step printing
/// faster than the consumer shows it is slowed down instead of filling
/// memory.
pub fn channel(max_output_bytes: usize) -> (EventSender, EventReceiver) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let budget = std::sync::Arc::new(Budget {
        used: std::sync::Mutex::new(0),
        freed: std::sync::Condvar::new(),
        max: max_output_bytes.max(1),
    });
    (
        EventSender {
            tx,
            budget: budget.clone(),
        },
        EventReceiver { rx, budget },
    )
}

struct Budget {
    used: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    max: usize,
}

/// The engine's end of [`channel`].
#[derive(Clone)]
pub struct EventSender {
    tx: tokio::sync::mpsc::UnboundedSender<RunEvent>,
    budget: std::sync::Arc<Budget>,
}

impl EventSender {
    /// Sends an event; output waits while too much output is in flight.
    /// A closed receiver is not an error: the run goes on unobserved.
    pub fn send(&self, event: RunEvent) {
        if let RunEvent::Output { text, .. } = &event {
            self.reserve(text.len());
        }
        let _ = self.tx.send(event);
    }

    fn reserve(&self, n: usize) {
        let budget = &self.budget;
        let Ok(mut used) = budget.used.lock() else {
            return;
        };
        if *used > 0 && *used + n > budget.max && !self.tx.is_closed() {
            // Waiting blocks this thread; tell the runtime so its other
            // tasks move on (only a multi-threaded runtime can).
            let multi = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if multi {
                used = tokio::task::block_in_place(|| {
                    let mut used = used;
                    while *used > 0 && *used + n > budget.max && !self.tx.is_closed() {
                        used = match budget
                            .freed
                            .wait_timeout(used, std::time::Duration::from_millis(50))
                        {
                            Ok((guard, _)) => guard,
                            Err(poisoned) => poisoned.into_inner().0,
                        };
                    }
                    used
                });
            }
        }
        *used += n;
    }
}

/// The consumer's end of [`channel`].
pub struct EventReceiver {
    rx: tokio::sync::mpsc::UnboundedReceiver<RunEvent>,
    budget: std::sync::Arc<Budget>,
}

impl EventReceiver {
    pub async fn recv(&mut self) -> Option<RunEvent> {
        let event = self.rx.recv().await?;
        self.received(&event);
        Some(event)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<RunEvent> {
        let event = self.rx.try_recv().ok()?;
        self.received(&event);
        Some(event)
    }

    fn received(&self, event: &RunEvent) {
        if let RunEvent::Output { text, .. } = event
            && let Ok(mut used) = self.budget.used.lock()
        {
            *used = used.saturating_sub(text.len());
            self.budget.freed.notify_all();
        }
    }
}
