//! Operating a deployed pipeline: `run`, `status`, `destroy` and `logs`. Each finds the state
//! machine from the stack's outputs (or `--state-machine-arn`), and following an execution can be
//! interrupted with Ctrl-C without stopping it.

use aws_sdk_sfn::types::ExecutionStatus;

use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::execution::{self, took};
use crate::stack;

/// Where the pipeline is: from the stack, or given by hand (any field given wins).
#[derive(clap::Args, Clone, Default)]
pub struct PipelineOptions {
    /// The state machine [default: the stack's StateMachineArn output].
    #[arg(long, env = "SIGSHIP_STATE_MACHINE_ARN")]
    pub state_machine_arn: Option<String>,
    /// ECS cluster of the service [default: the stack's ClusterName output].
    #[arg(long)]
    pub cluster: Option<String>,
    /// ECS service [default: the stack's ServiceName output].
    #[arg(long)]
    pub service: Option<String>,
}

pub struct Pipeline {
    pub state_machine_arn: String,
    /// Cluster and service, when known.
    pub service: Option<(String, String)>,
}

pub async fn locate(cloud: &Cloud, stack_name: &str, options: &PipelineOptions) -> Result<Pipeline> {
    let outputs = match &options.state_machine_arn {
        Some(_) => None,
        None => Some(stack::describe(&cloud.cloudformation(), stack_name).await?.ok_or_else(|| {
            Error::Usage(format!(
                "no stack {stack_name} in {}: run `sigship up`, or name the state machine with --state-machine-arn",
                cloud.region
            ))
        })?),
    };
    let output = |key: &str| outputs.as_ref().and_then(|s| s.output(key)).map(str::to_string);
    let state_machine_arn = options
        .state_machine_arn
        .clone()
        .or_else(|| output("StateMachineArn"))
        .ok_or_else(|| Error::Usage(format!("stack {stack_name} has no StateMachineArn output")))?;
    let cluster = options.cluster.clone().or_else(|| output("ClusterName"));
    let service = options.service.clone().or_else(|| output("ServiceName"));
    Ok(Pipeline { state_machine_arn, service: cluster.zip(service) })
}

/// Starts an execution and follows it; Ctrl-C stops following, not the execution.
pub async fn start_and_follow(cloud: &Cloud, pipeline: &Pipeline, name: &str, input: serde_json::Value) -> Result<()> {
    let sfn = cloud.step_functions();
    let arn = execution::start(&sfn, &pipeline.state_machine_arn, name, &input).await?;
    follow_interruptibly(cloud, &arn, name).await?;
    if let Some((cluster, service)) = &pipeline.service {
        print_service(cloud, cluster, service).await;
    }
    Ok(())
}

async fn follow_interruptibly(cloud: &Cloud, arn: &str, name: &str) -> Result<()> {
    let sfn = cloud.step_functions();
    tokio::select! {
        finished = execution::follow(&sfn, arn, name) => finished.map(|_| ()),
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted { name: name.to_string() }),
    }
}

/// `run-<tag>-<unix seconds>`: a manual run is always a new execution (the triggers' names are
/// per tag object, so a manual run can deploy the same tag again on purpose).
pub fn run_name(tag: &str) -> String {
    format!("run-{}-{}", pipeline::trigger::tag_in_name(tag), unix_seconds())
}

pub fn destroy_name(scope: &str) -> String {
    format!("destroy-{scope}-{}", unix_seconds())
}

pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The execution named (by name or ARN), or the newest.
async fn find_execution(cloud: &Cloud, pipeline: &Pipeline, execution: Option<&str>) -> Result<String> {
    if let Some(given) = execution {
        if given.starts_with("arn:") {
            return Ok(given.to_string());
        }
        return Ok(format!("{}:{given}", pipeline.state_machine_arn.replacen(":stateMachine:", ":execution:", 1)));
    }
    let listed = cloud
        .step_functions()
        .list_executions()
        .state_machine_arn(&pipeline.state_machine_arn)
        .max_results(1)
        .send()
        .await
        .map_err(|e| Error::aws("states:ListExecutions", e))?;
    listed
        .executions()
        .first()
        .map(|e| e.execution_arn().to_string())
        .ok_or_else(|| Error::Usage("the state machine has no executions yet".into()))
}

pub async fn status(cloud: &Cloud, pipeline: &Pipeline, execution: Option<&str>, follow: bool) -> Result<()> {
    let sfn = cloud.step_functions();
    let arn = find_execution(cloud, pipeline, execution).await?;
    let described = sfn.describe_execution().execution_arn(&arn).send().await.map_err(|e| {
        if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) {
            Error::Usage(format!("no execution {arn}"))
        } else {
            Error::aws("states:DescribeExecution", e)
        }
    })?;
    let name = described.name().unwrap_or_default().to_string();
    println!("execution {name}");
    println!("  arn       {arn}");
    println!("  status    {}", described.status().as_str());
    println!(
        "  started   {} ({} {})",
        described.start_date().fmt(aws_sdk_sfn::primitives::DateTimeFormat::DateTime).unwrap_or_default(),
        if described.stop_date().is_some() { "ran" } else { "running for" },
        took(&described)
    );
    println!("  input     {}", described.input().unwrap_or("{}"));
    if follow && described.status() == &ExecutionStatus::Running {
        follow_interruptibly(cloud, &arn, &name).await?;
    } else {
        println!("states");
        let mut progress = execution::Progress::default();
        for event in execution::history(&sfn, &arn).await? {
            execution::print_event(&event, &mut progress);
        }
        if let (Some(error), cause) = (described.error(), described.cause()) {
            println!("error {error}: {}", execution::readable_cause(cause.unwrap_or_default()));
        }
    }
    if let Some((cluster, service)) = &pipeline.service {
        print_service(cloud, cluster, service).await;
    }
    Ok(())
}

/// One line about the deployed service; a service that cannot be read is said so, not an error.
async fn print_service(cloud: &Cloud, cluster: &str, service: &str) {
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let described = match ecs.describe_services().cluster(cluster).services(service).send().await {
        Ok(described) => described,
        Err(e) => {
            println!("service {service}: cannot be read: {}", Error::aws("ecs:DescribeServices", e));
            return;
        }
    };
    let Some(found) = described.services().iter().find(|s| s.status() != Some("INACTIVE")) else {
        println!("service {service} on cluster {cluster}: not deployed");
        return;
    };
    let task_definition = found.task_definition().unwrap_or_default();
    let image = match ecs.describe_task_definition().task_definition(task_definition).send().await {
        Ok(td) => td
            .task_definition()
            .and_then(|t| t.container_definitions().first())
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_string(),
        Err(_) => "?".into(),
    };
    println!(
        "service {service} on cluster {cluster}: {}, running {}/{}, task definition {}",
        found.status().unwrap_or("?"),
        found.running_count(),
        found.desired_count(),
        task_definition.rsplit('/').next().unwrap_or(task_definition)
    );
    println!("  image {image}");
}

/// The functions' log lines written while the execution ran.
pub async fn logs(cloud: &Cloud, pipeline: &Pipeline, execution: Option<&str>, group_prefix: &str) -> Result<()> {
    let arn = find_execution(cloud, pipeline, execution).await?;
    let described = cloud
        .step_functions()
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .map_err(|e| Error::aws("states:DescribeExecution", e))?;
    let from = described.start_date().to_millis().unwrap_or_default() - 1_000;
    let to = described.stop_date().and_then(|d| d.to_millis().ok()).unwrap_or(i64::MAX - 1) + 1_000;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&cloud.sdk);
    let unreachable = |e: Error| Error::Usage(format!("CloudWatch Logs is not reachable: {e}"));
    let mut groups = Vec::new();
    let mut pages = logs.describe_log_groups().log_group_name_prefix(group_prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| unreachable(Error::aws("logs:DescribeLogGroups", e)))?;
        groups.extend(page.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)));
    }
    let mut lines = Vec::new();
    for group in &groups {
        let function = group.strip_prefix(group_prefix).unwrap_or(group).to_string();
        let mut pages =
            logs.filter_log_events().log_group_name(group).start_time(from).end_time(to).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unreachable(Error::aws("logs:FilterLogEvents", e)))?;
            for event in page.events() {
                lines.push((
                    event.timestamp().unwrap_or_default(),
                    function.clone(),
                    event.message().unwrap_or_default().trim_end().to_string(),
                ));
            }
        }
    }
    lines.sort();
    println!(
        "logs of {} ({} log groups under {group_prefix}, {} lines)",
        described.name().unwrap_or_default(),
        groups.len(),
        lines.len()
    );
    for (at, function, message) in lines {
        let secs = (at / 1000).rem_euclid(86_400);
        println!(
            "{:02}:{:02}:{:02}.{:03}  {function:<14} {message}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            at.rem_euclid(1000)
        );
    }
    Ok(())
}
