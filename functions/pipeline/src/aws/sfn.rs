use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};

use crate::error::{Error, Result};
use crate::execution::{
    ExecutionHistory, ExecutionView, Executions, HistoryEntry, HistoryEvent, ListedExecution, RunningExecution, Started,
};

/// The pipeline's own state machine, as the triggers, the queue and the CLI see it.
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: String) -> Self {
        StepFunctions { client: aws_sdk_sfn::Client::new(config), state_machine_arn }
    }

    /// The newest execution's ARN, if there is one.
    pub async fn newest(&self) -> Result<Option<String>> {
        let listed = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| Error::aws("states:ListExecutions", e))?;
        Ok(listed.executions().first().map(|e| e.execution_arn().to_string()))
    }

    async fn list(&self, status: Option<ExecutionStatus>) -> Result<Vec<aws_sdk_sfn::types::ExecutionListItem>> {
        let mut items = Vec::new();
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .set_status_filter(status)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            items.extend(page.map_err(|e| Error::aws("states:ListExecutions", e))?.executions().iter().cloned());
        }
        Ok(items)
    }
}

impl Executions for StepFunctions {
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<Started> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match started {
            Ok(out) => Ok(Started::New(out.execution_arn().to_string())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                Ok(Started::AlreadyExists)
            }
            Err(e) => Err(Error::aws("states:StartExecution", e)),
        }
    }

    async fn listed(&self) -> Result<Vec<ListedExecution>> {
        Ok(self
            .list(None)
            .await?
            .into_iter()
            .map(|e| ListedExecution {
                name: e.name().to_string(),
                status: e.status().as_str().to_string(),
                stopped_ms: e.stop_date().and_then(|d| d.to_millis().ok()),
            })
            .collect())
    }

    async fn running(&self) -> Result<Vec<RunningExecution>> {
        Ok(self
            .list(Some(ExecutionStatus::Running))
            .await?
            .into_iter()
            .map(|e| RunningExecution {
                arn: e.execution_arn().to_string(),
                started_ms: e.start_date().to_millis().unwrap_or_default(),
            })
            .collect())
    }
}

impl ExecutionHistory for StepFunctions {
    async fn describe(&self, arn: &str) -> Result<Option<ExecutionView>> {
        let described = match self.client.describe_execution().execution_arn(arn).send().await {
            Ok(described) => described,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => return Ok(None),
            Err(e) => return Err(Error::aws("states:DescribeExecution", e)),
        };
        Ok(Some(ExecutionView {
            name: described.name().unwrap_or_default().to_string(),
            arn: described.execution_arn().to_string(),
            status: described.status().as_str().to_string(),
            started_at: described.start_date().as_secs_f64(),
            stopped_at: described.stop_date().map(|d| d.as_secs_f64()),
            input: described.input().map(String::from),
            output: described.output().and_then(|o| serde_json::from_str(o).ok()),
            error: described.error().map(String::from),
            cause: described.cause().map(String::from),
        }))
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>> {
        let mut events = Vec::new();
        let mut pages =
            self.client.get_execution_history().execution_arn(arn).max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("states:GetExecutionHistory", e))?;
            events.extend(page.events().iter().map(|event| {
                let entry = if let Some(state) = event.state_entered_event_details() {
                    HistoryEntry::Entered(state.name().to_string())
                } else if let Some(state) = event.state_exited_event_details() {
                    HistoryEntry::Exited(state.name().to_string())
                } else if let (HistoryEventType::TaskFailed, Some(failure)) =
                    (event.r#type(), event.task_failed_event_details())
                {
                    HistoryEntry::TaskFailed {
                        error: failure.error().unwrap_or("?").to_string(),
                        cause: failure.cause().unwrap_or_default().to_string(),
                    }
                } else {
                    HistoryEntry::Other
                };
                HistoryEvent { at: event.timestamp().as_secs_f64(), entry }
            }));
        }
        Ok(events)
    }
}
