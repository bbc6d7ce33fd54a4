//! Step Functions executions: start one, then follow its history state by state with durations
//! until it ends.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use aws_sdk_sfn::Client;

use crate::error::{Error, Result};
use crate::stack::elapsed;

const POLL: Duration = Duration::from_secs(1);

pub struct Finished {
    pub output: Option<serde_json::Value>,
}

pub async fn start(sfn: &Client, state_machine: &str, name: &str, input: &serde_json::Value) -> Result<String> {
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| Error::aws("states:StartExecution", e))?;
    println!("execution {name} started with input {input}");
    Ok(started.execution_arn().to_string())
}

/// Prints each state as it is entered and left until the execution ends; a failed, timed-out
/// or aborted execution is an error carrying its error name and cause.
pub async fn follow(sfn: &Client, execution_arn: &str, name: &str) -> Result<Finished> {
    let mut next_event = 0;
    let mut progress = Progress::default();
    loop {
        // Read the status first: the history read after it then holds every event up to the end.
        let described = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| Error::aws("states:DescribeExecution", e))?;
        let history = history(sfn, execution_arn).await?;
        for event in history.iter().skip(next_event) {
            print_event(event, &mut progress);
        }
        next_event = history.len();
        let status = described.status().clone();
        if status != ExecutionStatus::Running {
            println!("execution {name}: {} after {}", status.as_str(), took(&described));
            if status == ExecutionStatus::Succeeded {
                let output = described.output().and_then(|o| serde_json::from_str(o).ok());
                return Ok(Finished { output });
            }
            return Err(Error::ExecutionFailed {
                name: name.into(),
                status: status.as_str().into(),
                error: described.error().unwrap_or("(no error name)").into(),
                cause: readable_cause(described.cause().unwrap_or("(no cause)")),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How long the execution ran (so far).
pub fn took(described: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput) -> String {
    let start = described.start_date().as_secs_f64();
    let end = described.stop_date().map(|d| d.as_secs_f64()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64()
    });
    elapsed(Duration::from_secs_f64((end - start).max(0.0)))
}

pub async fn history(sfn: &Client, execution_arn: &str) -> Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    let mut pages = sfn.get_execution_history().execution_arn(execution_arn).max_results(1000).into_paginator().send();
    while let Some(page) = pages.next().await {
        events.extend(page.map_err(|e| Error::aws("states:GetExecutionHistory", e))?.events().iter().cloned());
    }
    Ok(events)
}

/// What has been printed of an execution so far: entered states (with their start) and those
/// whose task failed, so leaving them shows ✗.
#[derive(Default)]
pub struct Progress {
    entered: HashMap<String, f64>,
    failed: std::collections::HashSet<String>,
    current: Option<String>,
}

pub fn print_event(event: &HistoryEvent, progress: &mut Progress) {
    let at = event.timestamp().as_secs_f64();
    if let Some(state) = event.state_entered_event_details() {
        progress.entered.insert(state.name().to_string(), at);
        progress.current = Some(state.name().to_string());
        println!("  → {}", state.name());
    } else if let Some(state) = event.state_exited_event_details() {
        let took = progress.entered.remove(state.name()).map(|start| at - start).unwrap_or_default();
        let mark = if progress.failed.remove(state.name()) { '✗' } else { '✓' };
        println!("  {mark} {} ({took:.2} s)", state.name());
    } else if event.r#type() == &HistoryEventType::TaskFailed {
        if let Some(failure) = event.task_failed_event_details() {
            progress.failed.extend(progress.current.clone());
            println!(
                "    ✗ {}: {}",
                failure.error().unwrap_or("?"),
                readable_cause(failure.cause().unwrap_or_default())
            );
        }
    }
}

/// A function's cause is its error payload as JSON; its `errorMessage` is what a person reads.
pub fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}
