//! `down` stops what starts deployments before it destroys: the watch's schedule, node-metrics'
//! schedule (its profile switches) and the webhook (the tag-push function, throttled to zero).
//! A release or a switch started while the destroy runs would recreate the service, and the
//! stack's deletion would then fail on the cluster. If the destroy fails, they start again.

use crate::cloud::Cloud;
use crate::error::{Error, Result};

/// The stack's resources that start executions, by logical id: its schedules, and its webhook.
const SCHEDULES: [&str; 2] = ["WatchScheduleRule", "NodeMetricsSchedule"];
const WEBHOOK: &str = "TagPushFunction";

/// What [`stop`] stopped, to [`restart`] it.
pub struct Stopped {
    rules: Vec<String>,
    webhook: Option<String>,
}

impl Stopped {
    /// `watch schedule sigship-WatchScheduleRule-1A2B, …, webhook sigship-tag-push`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.rules.iter().map(|r| format!("schedule {r}")).collect();
        parts.extend(self.webhook.iter().map(|w| format!("webhook {w}")));
        if parts.is_empty() {
            "nothing (none in the stack)".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Disables the stack's schedules and throttles its webhook to zero.
pub async fn stop(cloud: &Cloud, stack: &str) -> Result<Stopped> {
    let resources = cloud
        .cloudformation()
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| Error::aws("cloudformation:DescribeStackResources", e))?;
    let physical = |logical: &str| {
        resources
            .stack_resources()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical))
            .and_then(|r| r.physical_resource_id())
            .map(String::from)
    };
    let events = aws_sdk_eventbridge::Client::new(&cloud.sdk);
    let mut rules = Vec::new();
    for rule in SCHEDULES.iter().filter_map(|logical| physical(logical)) {
        events.disable_rule().name(&rule).send().await.map_err(|e| Error::aws("events:DisableRule", e))?;
        rules.push(rule);
    }
    let webhook = physical(WEBHOOK);
    if let Some(function) = &webhook {
        aws_sdk_lambda::Client::new(&cloud.sdk)
            .put_function_concurrency()
            .function_name(function)
            .reserved_concurrent_executions(0)
            .send()
            .await
            .map_err(|e| Error::aws("lambda:PutFunctionConcurrency", e))?;
    }
    Ok(Stopped { rules, webhook })
}

/// Undoes [`stop`]: the schedules enabled, the webhook's concurrency back to the account's pool.
pub async fn restart(cloud: &Cloud, stopped: &Stopped) -> Result<()> {
    let events = aws_sdk_eventbridge::Client::new(&cloud.sdk);
    for rule in &stopped.rules {
        events.enable_rule().name(rule).send().await.map_err(|e| Error::aws("events:EnableRule", e))?;
    }
    if let Some(function) = &stopped.webhook {
        aws_sdk_lambda::Client::new(&cloud.sdk)
            .delete_function_concurrency()
            .function_name(function)
            .send()
            .await
            .map_err(|e| Error::aws("lambda:DeleteFunctionConcurrency", e))?;
    }
    Ok(())
}
