//! The CloudFormation stack: create or update and wait, printing each resource event as it
//! happens; on failure, the failed resources and their reasons.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Output, Parameter, StackEvent, StackStatus, Tag};
use aws_sdk_cloudformation::Client;

use crate::error::{Error, Result};

/// CloudFormation's own limit for the slowest resources here (EFS mount targets, ECS) is far
/// below this; it only stops a stuck wait.
const MAX_WAIT: Duration = Duration::from_secs(2 * 60 * 60);
const POLL: Duration = Duration::from_secs(5);

pub struct Stack {
    pub status: StackStatus,
    pub outputs: Vec<Output>,
    /// (key, value) of each parameter; NoEcho values are masked by CloudFormation.
    pub parameters: Vec<(String, String)>,
}

impl Stack {
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs.iter().find(|o| o.output_key() == Some(key)).and_then(|o| o.output_value())
    }
}

pub enum Change {
    Created,
    Updated,
    Unchanged,
}

pub async fn describe(cfn: &Client, name: &str) -> Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(found) => Ok(found.stacks().first().map(|stack| Stack {
            status: stack.stack_status().cloned().unwrap_or(StackStatus::from("UNKNOWN")),
            outputs: stack.outputs().to_vec(),
            parameters: stack
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((p.parameter_key()?.to_string(), p.parameter_value().unwrap_or_default().to_string()))
                })
                .collect(),
        })),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(Error::aws("cloudformation:DescribeStacks", e)),
    }
}

fn is_missing<E: aws_sdk_cloudformation::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.message().is_some_and(|m| m.contains("does not exist"))
}

/// Creates the stack, or updates it keeping every parameter the caller does not set at its
/// previous value (an update must not silently reset `Network` to its default).
pub async fn deploy(cfn: &Client, name: &str, template_url: &str, parameters: &[(String, String)]) -> Result<Change> {
    let mut existing = describe(cfn, name).await?;
    if let Some(stack) = &existing {
        let status = stack.status.as_str();
        if status.ends_with("_IN_PROGRESS") {
            return Err(Error::StackBusy { stack: name.into(), status: status.into() });
        }
        // A stack whose creation failed cannot be updated; it has no resources left to keep.
        if stack.status == StackStatus::RollbackComplete {
            println!("stack {name} never finished creating ({status}); deleting it first");
            delete(cfn, name).await?;
            existing = None;
        }
    }
    let known = event_ids(cfn, name).await?;
    let given = |key: &str| parameters.iter().any(|(k, _)| k == key);
    let mut stack_parameters: Vec<Parameter> = parameters
        .iter()
        .map(|(key, value)| Parameter::builder().parameter_key(key).parameter_value(value).build())
        .collect();
    let change = match existing {
        None => {
            println!("stack {name}: creating");
            cfn.create_stack()
                .stack_name(name)
                .template_url(template_url)
                .set_parameters(Some(stack_parameters))
                .capabilities(Capability::CapabilityIam)
                .tags(Tag::builder().key(pipeline::MANAGED_TAG).value("true").build())
                .send()
                .await
                .map_err(|e| Error::aws("cloudformation:CreateStack", e))?;
            Change::Created
        }
        Some(stack) => {
            for (key, _) in stack.parameters.iter().filter(|(k, _)| !given(k)) {
                stack_parameters.push(Parameter::builder().parameter_key(key).use_previous_value(true).build());
            }
            println!("stack {name}: updating");
            let update = cfn
                .update_stack()
                .stack_name(name)
                .template_url(template_url)
                .set_parameters(Some(stack_parameters))
                .capabilities(Capability::CapabilityIam)
                .send()
                .await;
            match update {
                Ok(_) => Change::Updated,
                Err(e)
                    if e.as_service_error()
                        .and_then(|s| aws_sdk_cloudformation::error::ProvideErrorMetadata::message(s))
                        .is_some_and(|m| m.contains("No updates are to be performed")) =>
                {
                    return Ok(Change::Unchanged)
                }
                Err(e) => return Err(Error::aws("cloudformation:UpdateStack", e)),
            }
        }
    };
    wait(cfn, name, known).await?;
    Ok(change)
}

/// Deletes the stack and waits until it is gone. Returns false when there was none.
pub async fn delete(cfn: &Client, name: &str) -> Result<bool> {
    let Some(stack) = describe(cfn, name).await? else { return Ok(false) };
    if stack.status == StackStatus::DeleteComplete {
        return Ok(false);
    }
    let known = event_ids(cfn, name).await?;
    println!("stack {name}: deleting");
    cfn.delete_stack().stack_name(name).send().await.map_err(|e| Error::aws("cloudformation:DeleteStack", e))?;
    wait(cfn, name, known).await?;
    Ok(true)
}

/// The ids of the stack's latest events: what happened before an operation, not to be shown again.
async fn event_ids(cfn: &Client, name: &str) -> Result<HashSet<String>> {
    Ok(events(cfn, name).await?.into_iter().map(|e| e.event_id().unwrap_or_default().to_string()).collect())
}

/// The latest page of events, newest first; none for a stack that does not exist (any more).
async fn events(cfn: &Client, name: &str) -> Result<Vec<StackEvent>> {
    match cfn.describe_stack_events().stack_name(name).send().await {
        Ok(page) => Ok(page.stack_events().to_vec()),
        Err(e) if is_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(Error::aws("cloudformation:DescribeStackEvents", e)),
    }
}

/// Waits for the stack to settle, printing its events; Ok only for a *_COMPLETE that is not a rollback.
async fn wait(cfn: &Client, name: &str, mut seen: HashSet<String>) -> Result<()> {
    let started = Instant::now();
    let mut failed = Vec::new();
    loop {
        let fresh: Vec<StackEvent> = events(cfn, name)
            .await?
            .into_iter()
            .filter(|e| seen.insert(e.event_id().unwrap_or_default().to_string()))
            .collect();
        // The API returns newest first.
        for event in fresh.iter().rev() {
            let status = event.resource_status().map(|s| s.as_str()).unwrap_or("?");
            let resource =
                format!("{} ({})", event.logical_resource_id().unwrap_or("?"), event.resource_type().unwrap_or("?"));
            let reason = event.resource_status_reason().unwrap_or_default();
            println!("  {:<8}  {status:<28} {resource} {reason}", clock(event.timestamp()));
            if status.ends_with("_FAILED") && event.resource_type() != Some("AWS::CloudFormation::Stack") {
                failed.push(format!("{resource}: {reason}"));
            }
        }
        let status = match describe(cfn, name).await? {
            None => {
                println!("stack {name}: DELETE_COMPLETE after {}", elapsed(started.elapsed()));
                return Ok(());
            }
            Some(stack) => stack.status,
        };
        let text = status.as_str();
        if !text.ends_with("_IN_PROGRESS") {
            let succeeded = text.ends_with("_COMPLETE") && !text.contains("ROLLBACK");
            println!("stack {name}: {text} after {}", elapsed(started.elapsed()));
            return if succeeded {
                Ok(())
            } else {
                Err(Error::StackFailed { stack: name.into(), status: text.into(), events: failed })
            };
        }
        if started.elapsed() > MAX_WAIT {
            return Err(Error::TimedOut(format!("stack {name} still {text} after {}", elapsed(started.elapsed()))));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn clock(at: Option<&aws_sdk_cloudformation::primitives::DateTime>) -> String {
    let secs = at.map(|t| t.secs()).unwrap_or_default().rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

pub fn elapsed(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{}m{:02}s", duration.as_secs() / 60, duration.as_secs() % 60)
    }
}
