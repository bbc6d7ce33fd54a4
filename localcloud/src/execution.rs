//! Runs and follows executions as the tests and `cargo xtask local` do, on the library's
//! [`pipeline::execution`] (the CLI follows and prints the same steps).

use std::time::Duration;

pub use aws_sdk_sfn::types::ExecutionStatus;
use pipeline::aws::StepFunctions;
use pipeline::execution::{self, Executions, Started, Step};

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

impl Finished {
    /// Panics, naming the error, its cause and where the logs are, unless the execution succeeded.
    pub fn assert_succeeded(&self, logs: &std::path::Path) {
        assert_eq!(
            self.status,
            ExecutionStatus::Succeeded,
            "{:?} {:?}; logs in {}",
            self.error,
            self.cause,
            logs.display()
        );
    }
}

pub async fn run(sfn: &StepFunctions, name: &str, input: &serde_json::Value, print: bool) -> Finished {
    let arn = match sfn.start(name, input).await {
        Ok(Started::New(arn)) => arn,
        Ok(Started::AlreadyExists) => panic!("an execution named {name} exists already"),
        Err(e) => panic!("start execution {name}: {e}"),
    };
    if print {
        println!("execution {name} started with input {input}");
    }
    follow(sfn, &arn, name, print).await
}

/// Follows a started execution until it ends.
pub async fn follow(sfn: &StepFunctions, arn: &str, name: &str, print: bool) -> Finished {
    let mut states = Vec::new();
    let ended = execution::follow(sfn, arn, Duration::from_millis(200), |step| {
        if print {
            println!("{step}");
        }
        if let Step::Left { state, seconds, .. } = step {
            states.push((state.clone(), *seconds));
        }
    })
    .await
    .unwrap_or_else(|e| panic!("follow execution {name}: {e}"));
    let finished = Finished {
        arn: arn.to_string(),
        status: ExecutionStatus::from(ended.status.as_str()),
        output: ended.output,
        error: ended.error,
        cause: ended.cause,
        states,
    };
    if print {
        println!("execution {name}: {}", finished.status.as_str());
        if let Some(error) = &finished.error {
            println!("  error {error}: {}", finished.cause.as_deref().unwrap_or(""));
        }
    }
    finished
}
