//! Executions on the terminal: start one, then print the library's steps
//! ([`pipeline::execution`]) as the execution goes, with durations, until it ends.

use std::time::Duration;

use pipeline::aws::StepFunctions;
use pipeline::execution::{self, ExecutionView, Executions, Started};

use crate::error::{Error, Result};
use crate::stack::elapsed;

const POLL: Duration = Duration::from_secs(1);

pub struct Finished {
    pub output: Option<serde_json::Value>,
}

pub async fn start(sfn: &StepFunctions, name: &str, input: &serde_json::Value) -> Result<String> {
    match sfn.start(name, input).await.map_err(Error::Pipeline)? {
        Started::New(arn) => {
            println!("execution {name} started with input {input}");
            Ok(arn)
        }
        Started::AlreadyExists => Err(Error::Usage(format!("an execution named {name} exists already"))),
    }
}

/// Prints each state as it is entered and left until the execution ends; a failed, timed-out
/// or aborted execution is an error carrying its error name and cause.
pub async fn follow(sfn: &StepFunctions, execution_arn: &str, name: &str) -> Result<Finished> {
    let ended =
        execution::follow(sfn, execution_arn, POLL, |step| println!("{step}")).await.map_err(Error::Pipeline)?;
    println!("execution {name}: {} after {}", ended.status, took(&ended));
    if ended.succeeded() {
        return Ok(Finished { output: ended.output });
    }
    Err(Error::ExecutionFailed {
        name: name.into(),
        status: ended.status,
        error: ended.error.unwrap_or_else(|| "(no error name)".into()),
        cause: execution::readable_cause(ended.cause.as_deref().unwrap_or("(no cause)")),
    })
}

/// How long the execution ran (so far).
pub fn took(view: &ExecutionView) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    elapsed(Duration::from_secs_f64(view.seconds(now.as_secs_f64())))
}
