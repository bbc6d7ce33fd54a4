use aws_sdk_sfn::types::ExecutionStatus;

use crate::error::{Error, Result};
use crate::trigger::{Executions, Started};

/// The pipeline's own state machine, as the triggers and the queue see it.
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(config: &aws_config::SdkConfig, state_machine_arn: String) -> Self {
        StepFunctions { client: aws_sdk_sfn::Client::new(config), state_machine_arn }
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

    async fn names(&self) -> Result<Vec<String>> {
        Ok(self.list(None).await?.into_iter().map(|e| e.name().to_string()).collect())
    }

    async fn running(&self) -> Result<Vec<(String, i64)>> {
        Ok(self
            .list(Some(ExecutionStatus::Running))
            .await?
            .into_iter()
            .map(|e| (e.execution_arn().to_string(), e.start_date().to_millis().unwrap_or_default()))
            .collect())
    }
}
