//! Starts a Step Functions execution and follows its history state by state until it ends.

use std::time::Duration;

pub use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::types::HistoryEventType;

#[derive(Debug)]
pub struct Finished {
    pub arn: String,
    pub status: ExecutionStatus,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// (state name, seconds spent) in the order they were left.
    pub states: Vec<(String, f64)>,
}

pub async fn run(
    sfn: &aws_sdk_sfn::Client,
    state_machine: &str,
    name: &str,
    input: &serde_json::Value,
    print: bool,
) -> Finished {
    let arn = sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("start execution: {}", aws_sdk_sfn::error::DisplayErrorContext(e)))
        .execution_arn()
        .to_string();
    if print {
        println!("execution {name} started with input {input}");
    }
    follow(sfn, &arn, name, print).await
}

/// Follows a started execution until it ends.
pub async fn follow(sfn: &aws_sdk_sfn::Client, arn: &str, name: &str, print: bool) -> Finished {
    let arn = arn.to_string();
    let mut seen = 0;
    let mut entered: Vec<(String, f64)> = Vec::new();
    let mut states = Vec::new();
    loop {
        let described = sfn.describe_execution().execution_arn(&arn).send().await.expect("describe execution");
        let history = sfn.get_execution_history().execution_arn(&arn).max_results(1000).send().await.expect("history");
        for event in &history.events()[seen..] {
            let at = event.timestamp().as_secs_f64();
            match event.r#type() {
                HistoryEventType::TaskStateEntered
                | HistoryEventType::ChoiceStateEntered
                | HistoryEventType::WaitStateEntered
                | HistoryEventType::PassStateEntered
                | HistoryEventType::SucceedStateEntered
                | HistoryEventType::FailStateEntered => {
                    let name = event.state_entered_event_details().map(|d| d.name().to_string()).unwrap_or_default();
                    if print {
                        println!("  → {name}");
                    }
                    entered.push((name, at));
                }
                HistoryEventType::TaskStateExited
                | HistoryEventType::ChoiceStateExited
                | HistoryEventType::WaitStateExited
                | HistoryEventType::PassStateExited
                | HistoryEventType::SucceedStateExited => {
                    let name = event.state_exited_event_details().map(|d| d.name().to_string()).unwrap_or_default();
                    let started = entered.iter().rev().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or(at);
                    if print {
                        println!("  ← {name} ({:.2} s)", at - started);
                    }
                    states.push((name, at - started));
                }
                HistoryEventType::TaskFailed => {
                    if let (true, Some(details)) = (print, event.task_failed_event_details()) {
                        println!("    ✗ {}: {}", details.error().unwrap_or("?"), details.cause().unwrap_or(""));
                    }
                }
                _ => {}
            }
        }
        seen = history.events().len();
        if described.status() != &ExecutionStatus::Running {
            let finished = Finished {
                arn,
                status: described.status().clone(),
                output: described.output().and_then(|o| serde_json::from_str(o).ok()),
                error: described.error().map(String::from),
                cause: described.cause().map(String::from),
                states,
            };
            if print {
                println!("execution {name}: {}", finished.status.as_str());
                if let Some(error) = &finished.error {
                    println!("  error {error}: {}", finished.cause.as_deref().unwrap_or(""));
                }
            }
            return finished;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
