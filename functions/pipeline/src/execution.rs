//! The pipeline's executions: starting them and listing the running ones ([`Executions`], for the
//! triggers and the queue), and following one — its history read as state changes, and how it
//! ended ([`ExecutionHistory`], for the CLI and the local cloud). Step Functions is behind both in
//! `aws::StepFunctions`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Started {
    /// A new execution, by ARN.
    New(String),
    /// An execution with this name exists already (running or finished): nothing started.
    AlreadyExists,
}

/// A running execution, as the queue orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningExecution {
    pub arn: String,
    /// Milliseconds since the epoch.
    pub started_ms: i64,
}

/// An execution in the state machine's history, as ListExecutions lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedExecution {
    pub name: String,
    /// Step Functions' status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, …
    pub status: String,
    /// When it stopped, Unix milliseconds; None while it runs.
    pub stopped_ms: Option<i64>,
}

impl ListedExecution {
    pub fn is_running(&self) -> bool {
        self.status == ExecutionView::RUNNING
    }
}

/// The state machine's executions, as the triggers start them and the queue orders them.
pub trait Executions {
    /// Starts an execution named `name`; [`Started::AlreadyExists`] when the name is taken.
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<Started>;
    /// Every execution still in the history (any status), newest first.
    async fn listed(&self) -> Result<Vec<ListedExecution>>;
    /// Their names.
    async fn names(&self) -> Result<Vec<String>> {
        Ok(self.listed().await?.into_iter().map(|e| e.name).collect())
    }
    async fn running(&self) -> Result<Vec<RunningExecution>>;
}

/// One history event, as far as following an execution needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryEntry {
    Entered(String),
    Exited(String),
    TaskFailed { error: String, cause: String },
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// Unix seconds.
    pub at: f64,
    pub entry: HistoryEntry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionView {
    pub name: String,
    pub arn: String,
    /// Step Functions' status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, …
    pub status: String,
    pub started_at: f64,
    pub stopped_at: Option<f64>,
    pub input: Option<String>,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl ExecutionView {
    pub const RUNNING: &'static str = "RUNNING";
    pub const SUCCEEDED: &'static str = "SUCCEEDED";

    pub fn is_running(&self) -> bool {
        self.status == Self::RUNNING
    }

    pub fn succeeded(&self) -> bool {
        self.status == Self::SUCCEEDED
    }

    /// How long it ran, or has been running at `now` (Unix seconds).
    pub fn seconds(&self, now: f64) -> f64 {
        (self.stopped_at.unwrap_or(now) - self.started_at).max(0.0)
    }
}

pub trait ExecutionHistory {
    /// None when there is no such execution.
    async fn describe(&self, arn: &str) -> Result<Option<ExecutionView>>;
    /// Every event so far, oldest first.
    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>>;
}

/// A state change as an operator reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Entered {
        state: String,
    },
    /// `failed`: a task of the state failed on the way (it was caught or retried).
    Left {
        state: String,
        seconds: f64,
        failed: bool,
    },
    TaskFailed {
        error: String,
        cause: String,
    },
}

/// The line an operator reads: `  → Verify`, `  ✓ Verify (0.43 s)` (✗ if a task of it failed),
/// `    ✗ UnknownSigner: tag v1 is signed by …`.
impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Entered { state } => write!(f, "  → {state}"),
            Step::Left { state, seconds, failed } => {
                write!(f, "  {} {state} ({seconds:.2} s)", if *failed { '✗' } else { '✓' })
            }
            Step::TaskFailed { error, cause } => write!(f, "    ✗ {error}: {cause}"),
        }
    }
}

/// Turns history events into [`Step`]s, remembering when each state was entered.
#[derive(Debug, Default)]
pub struct Steps {
    entered: HashMap<String, f64>,
    failed: HashSet<String>,
    current: Option<String>,
}

impl Steps {
    pub fn read(&mut self, event: &HistoryEvent) -> Option<Step> {
        match &event.entry {
            HistoryEntry::Entered(state) => {
                self.entered.insert(state.clone(), event.at);
                self.current = Some(state.clone());
                Some(Step::Entered { state: state.clone() })
            }
            HistoryEntry::Exited(state) => {
                let seconds = self.entered.remove(state).map(|start| event.at - start).unwrap_or_default();
                Some(Step::Left { state: state.clone(), seconds, failed: self.failed.remove(state) })
            }
            HistoryEntry::TaskFailed { error, cause } => {
                self.failed.extend(self.current.clone());
                Some(Step::TaskFailed { error: error.clone(), cause: readable_cause(cause) })
            }
            HistoryEntry::Other => None,
        }
    }
}

/// Reads the execution every `poll` until it ends, handing each new step to `on_step`; returns
/// how it ended. The status is read before the history, so the last history read holds every
/// event up to the end.
pub async fn follow(
    executions: &impl ExecutionHistory,
    arn: &str,
    poll: Duration,
    mut on_step: impl FnMut(&Step),
) -> Result<ExecutionView> {
    let mut steps = Steps::default();
    let mut seen = 0;
    loop {
        let view =
            executions.describe(arn).await?.ok_or_else(|| crate::Error::InvalidInput(format!("no execution {arn}")))?;
        let history = executions.history(arn).await?;
        for event in history.iter().skip(seen) {
            if let Some(step) = steps.read(event) {
                on_step(&step);
            }
        }
        seen = history.len();
        if !view.is_running() {
            return Ok(view);
        }
        tokio::time::sleep(poll).await;
    }
}

/// A function's cause is its error payload as JSON; its `errorMessage` is what a person reads.
pub fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: f64, entry: HistoryEntry) -> HistoryEvent {
        HistoryEvent { at, entry }
    }

    #[test]
    fn steps_time_each_state_and_mark_the_ones_whose_task_failed() {
        let mut steps = Steps::default();
        let cause = r#"{"errorType":"UnknownSigner","errorMessage":"tag v1 is signed by X"}"#;
        let read: Vec<Step> = [
            event(10.0, HistoryEntry::Entered("Verify".into())),
            event(10.1, HistoryEntry::Other),
            event(10.5, HistoryEntry::TaskFailed { error: "UnknownSigner".into(), cause: cause.into() }),
            event(10.75, HistoryEntry::Exited("Verify".into())),
            event(11.0, HistoryEntry::Entered("PipelineFailed".into())),
            event(11.5, HistoryEntry::Exited("PipelineFailed".into())),
        ]
        .iter()
        .filter_map(|e| steps.read(e))
        .collect();
        assert_eq!(
            read,
            [
                Step::Entered { state: "Verify".into() },
                Step::TaskFailed { error: "UnknownSigner".into(), cause: "tag v1 is signed by X".into() },
                Step::Left { state: "Verify".into(), seconds: 0.75, failed: true },
                Step::Entered { state: "PipelineFailed".into() },
                Step::Left { state: "PipelineFailed".into(), seconds: 0.5, failed: false },
            ]
        );
        assert_eq!(readable_cause("not json"), "not json");
        let lines: Vec<String> = read.iter().map(Step::to_string).collect();
        assert_eq!(lines[..3], ["  → Verify", "    ✗ UnknownSigner: tag v1 is signed by X", "  ✗ Verify (0.75 s)"]);
    }
}
