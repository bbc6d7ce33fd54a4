//! Operating a deployed pipeline: `run`, `status`, `destroy` and `logs`. Each finds the state
//! machine from the stack's outputs (or `--state-machine-arn`), and following an execution can be
//! interrupted with Ctrl-C without stopping it.

use pipeline::execution::{ExecutionHistory, Steps};

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
    /// btcd's log group [default: the stack's DaemonLogGroup output].
    #[arg(long)]
    pub log_group: Option<String>,
}

pub struct Pipeline {
    pub state_machine_arn: String,
    /// Where the node runs and logs, when known.
    pub node: Option<pipeline::node::NodeConfig>,
    /// The watch's marks (baseline and pin), when the stack has them.
    pub watch: Option<pipeline::aws::WatchParameters>,
    /// The network and sizes the stack runs, when it is described.
    pub sizes: Option<pipeline::sizing::NodeSizes>,
    /// The last `sigship reproduce` verdict's mark, when the stack has one.
    pub reproduced: Option<pipeline::aws::ReproducedParameter>,
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
    let log_group = options.log_group.clone().or_else(|| output("DaemonLogGroup"));
    // The stack's sizes, when it is described (not with --state-machine-arn): `status` shows the
    // switch node-metrics would start (node-metrics alone starts it), `run --profile` checks the quota.
    let sizes = match &outputs {
        Some(stack) => Some(
            pipeline::sizing::NodeSizes::from_settings(|key| stack.parameter(key).map(String::from))
                .map_err(Error::Pipeline)?,
        ),
        None => None,
    };
    let switching = outputs.as_ref().is_some_and(|stack| stack.parameter("ProfileSwitching") != Some("off"));
    let node = cluster.zip(service).zip(log_group).map(|((cluster, service), log_group)| pipeline::node::NodeConfig {
        cluster,
        service,
        log_group,
        switching,
        sizes: sizes.unwrap_or_else(|| pipeline::sizing::NodeSizes::of_table(pipeline::network::Network::Mainnet)),
        region: cloud.region.clone(),
    });
    // The marks are the stack's (`up` makes them); a pipeline named by ARN alone has none known.
    let watch = outputs.as_ref().map(|_| pipeline::aws::WatchParameters::of_stack(&cloud.sdk, stack_name));
    let reproduced = outputs.as_ref().map(|_| pipeline::aws::ReproducedParameter::of_stack(&cloud.sdk, stack_name));
    Ok(Pipeline { state_machine_arn, node, watch, sizes, reproduced })
}

/// Deploys `tag` as an operator's run: starts and follows the execution, and once the release
/// deployed pins it when it is older than the newest release known (or lifts a pin when it is
/// not). A run that fails — a tag that does not verify, a refused downgrade — changes no pin.
pub async fn run_release(cloud: &Cloud, pipeline: &Pipeline, tag: &str, allow_downgrade: bool) -> Result<()> {
    if let Some(parameters) = &pipeline.watch {
        crate::releases::check_before_run(parameters, tag, allow_downgrade).await?;
    }
    // The stack's repository: the only one its build project builds.
    let request =
        pipeline::verify::TagRequest { tag: tag.to_string(), repository: None, allow_downgrade, requested_by: None };
    let input = serde_json::to_value(&request).expect("a request serialises");
    start_and_follow(cloud, pipeline, &run_name(tag), input).await?;
    if let Some(parameters) = &pipeline.watch {
        if let Some(said) = crate::releases::pin_after_run(parameters, tag).await? {
            println!("{said}");
        }
    }
    Ok(())
}

/// What the watch will do, for `status`, `follow` and `up`.
pub async fn watch_line(pipeline: &Pipeline) -> Result<Option<String>> {
    let Some(parameters) = &pipeline.watch else { return Ok(None) };
    let (marks, newest) = crate::releases::state(parameters).await?;
    Ok(Some(crate::releases::describe(&marks, newest.as_deref())))
}

/// The node at its sync size, if it is (and the stack names its service).
async fn syncing(cloud: &Cloud, pipeline: &Pipeline) -> Result<Option<pipeline::node::Syncing>> {
    use pipeline::node::SyncGate;
    let Some(node) = &pipeline.node else { return Ok(None) };
    let running = pipeline::node::RunningNode {
        ecs: pipeline::aws::Ecs::new(&cloud.sdk),
        cluster: node.cluster.clone(),
        service: node.service.clone(),
    };
    running.syncing().await.map_err(Error::Node)
}

/// `run --profile`: a size the account's Fargate quota cannot place is refused before the
/// service stops the node for it (as node-metrics never starts one); a quota that cannot be read
/// is said and the run goes on (a task that cannot be placed comes back).
pub async fn check_profile_fits(cloud: &Cloud, pipeline: &Pipeline, profile: pipeline::sizing::Profile) -> Result<()> {
    use pipeline::quota::QuotaValues;
    let Some(sizes) = &pipeline.sizes else { return Ok(()) };
    let vcpus = sizes.size(profile).vcpu();
    match pipeline::aws::ServiceQuotas::new(&cloud.sdk).value(pipeline::quota::FARGATE_ON_DEMAND_VCPUS).await {
        Ok(Some(quota)) if quota < vcpus => {
            let blocked = pipeline::node::profile_switch::Switch::AboveQuota { to: profile, vcpus, quota };
            Err(Error::Usage(blocked.describe(&cloud.region)))
        }
        Ok(_) => Ok(()),
        Err(err) => {
            println!("the Fargate vCPU quota cannot be read ({err}); the {profile} size needs {vcpus} vCPUs");
            Ok(())
        }
    }
}

/// A deliberate stop of a syncing node (a release, or the steady size) is refused unless `now`,
/// with what it costs; with `now` the cost is said and the run goes on.
pub async fn check_not_syncing(cloud: &Cloud, pipeline: &Pipeline, tag: Option<&str>, now: bool) -> Result<()> {
    let Some(syncing) = syncing(cloud, pipeline).await? else { return Ok(()) };
    let what = tag.map_or("switching to the steady size".to_string(), |tag| format!("deploying {tag}"));
    let cost = syncing.stop_cost();
    if now {
        println!("the node syncs at its sync size ({}): {what} stops it now. {cost}", syncing.task_definition);
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the node syncs at its sync size ({}); {what} would stop it: {cost}. The watch deploys new releases once it \
         is current (node-metrics moves it to the steady size then); to stop it anyway, add --now",
        syncing.task_definition
    )))
}

/// Starts an execution and follows it; Ctrl-C stops following, not the execution.
pub async fn start_and_follow(cloud: &Cloud, pipeline: &Pipeline, name: &str, input: serde_json::Value) -> Result<()> {
    let sfn = cloud.step_functions(&pipeline.state_machine_arn);
    let arn = execution::start(&sfn, name, &input).await?;
    follow_interruptibly(&sfn, &arn, name).await?;
    print_node(cloud, pipeline).await;
    Ok(())
}

async fn follow_interruptibly(sfn: &pipeline::aws::StepFunctions, arn: &str, name: &str) -> Result<()> {
    tokio::select! {
        finished = execution::follow(sfn, arn, name) => finished.map(|_| ()),
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted { name: name.to_string() }),
    }
}

/// A manual run's name (see [`pipeline::trigger::run_name`]).
pub fn run_name(tag: &str) -> String {
    pipeline::trigger::run_name(tag, unix_seconds())
}

pub fn profile_name(profile: pipeline::sizing::Profile) -> String {
    format!("profile-{}-{}", profile.name(), unix_seconds())
}

pub fn destroy_name(scope: &str) -> String {
    format!("destroy-{scope}-{}", unix_seconds())
}

pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// The execution named (by name or ARN), or the newest; None when there is none yet.
async fn find_execution(cloud: &Cloud, pipeline: &Pipeline, execution: Option<&str>) -> Result<Option<String>> {
    if let Some(given) = execution {
        if given.starts_with("arn:") {
            return Ok(Some(given.to_string()));
        }
        let arn = pipeline::queue::execution_arn(&pipeline.state_machine_arn, given)
            .map_err(|e| Error::Usage(format!("--state-machine-arn: {e}")))?;
        return Ok(Some(arn));
    }
    cloud.step_functions(&pipeline.state_machine_arn).newest().await.map_err(Error::Pipeline)
}

async fn find_existing_execution(cloud: &Cloud, pipeline: &Pipeline, execution: Option<&str>) -> Result<String> {
    find_execution(cloud, pipeline, execution)
        .await?
        .ok_or_else(|| Error::Usage("the state machine has no executions yet".into()))
}

/// How `status` prints: for people, or one JSON document for scripts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

pub async fn status(
    cloud: &Cloud,
    pipeline: &Pipeline,
    execution: Option<&str>,
    follow: bool,
    output: Output,
) -> Result<()> {
    let sfn = cloud.step_functions(&pipeline.state_machine_arn);
    let described = match find_execution(cloud, pipeline, execution).await? {
        None => None,
        Some(arn) => Some(
            sfn.describe(&arn)
                .await
                .map_err(Error::Pipeline)?
                .ok_or_else(|| Error::Usage(format!("no execution {arn}")))?,
        ),
    };
    if output == Output::Json {
        let node = read_node(cloud, pipeline).await;
        let execution = described.as_ref().map(|d| {
            serde_json::json!({
                "name": d.name,
                "arn": d.arn,
                "status": d.status,
                "startedAt": d.started_at,
                "stoppedAt": d.stopped_at,
                "input": d.input.as_deref().and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok()),
                "error": d.error,
                "cause": d.cause.as_deref().map(pipeline::execution::readable_cause),
            })
        });
        let mut document = serde_json::json!({ "execution": execution });
        match node {
            Ok(node) => document["node"] = serde_json::json!(node),
            Err(err) => document["nodeError"] = err.to_string().into(),
        }
        if let Some(parameters) = &pipeline.watch {
            match crate::releases::state(parameters).await {
                Ok((marks, newest)) => {
                    document["watch"] = serde_json::json!({"after": marks.after, "pinned": marks.pin, "ran": marks.ran, "newestKnown": newest});
                }
                Err(err) => document["watchError"] = err.to_string().into(),
            }
        }
        if let Some(parameter) = &pipeline.reproduced {
            match parameter.read().await {
                Ok(verdict) => document["reproduced"] = serde_json::json!(verdict),
                Err(err) => document["reproducedError"] = err.to_string().into(),
            }
        }
        println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
        return Ok(());
    }
    match &described {
        None => println!("no executions yet: deploy a release with `sigship run <tag>`"),
        Some(described) => {
            println!("execution {}", described.name);
            println!("  arn       {}", described.arn);
            println!("  status    {}", described.status);
            println!(
                "  started   {} UTC ({} {})",
                pipeline::node::utc_date_time(described.started_at as i64),
                if described.stopped_at.is_some() { "ran" } else { "running for" },
                took(described)
            );
            println!("  input     {}", described.input.as_deref().unwrap_or("{}"));
            // What the build made: a rebuild of the signed commit must give these bytes.
            if let Some(binaries) = described.output.as_ref().and_then(|o| o["binaries"].as_object()) {
                let sums: Vec<String> =
                    binaries.iter().map(|(name, hash)| format!("{name} {}", hash.as_str().unwrap_or("?"))).collect();
                let with = described.output.as_ref().and_then(|o| o["builtWith"].as_str()).map(|w| format!(" ({w})"));
                println!("  built     sha256 {}{}", sums.join(", "), with.unwrap_or_default());
            }
            if follow && described.is_running() {
                follow_interruptibly(&sfn, &described.arn, &described.name).await?;
            } else {
                println!("states");
                let mut steps = Steps::default();
                for event in sfn.history(&described.arn).await.map_err(Error::Pipeline)? {
                    if let Some(step) = steps.read(&event) {
                        println!("{step}");
                    }
                }
                if let Some(error) = &described.error {
                    let cause = pipeline::execution::readable_cause(described.cause.as_deref().unwrap_or_default());
                    println!("error {error}: {cause}");
                }
            }
        }
    }
    print_node(cloud, pipeline).await;
    Ok(())
}

/// The node as the library reads it: the service, its revision and btcd's own progress lines.
pub async fn read_node(cloud: &Cloud, pipeline: &Pipeline) -> Result<Option<pipeline::node::NodeStatus>> {
    let Some(config) = &pipeline.node else {
        return Ok(None);
    };
    let ecs = pipeline::aws::Ecs::new(&cloud.sdk);
    let logs = pipeline::aws::Logs::new(&cloud.sdk);
    let executions = cloud.step_functions(&pipeline.state_machine_arn);
    let quotas = pipeline::aws::ServiceQuotas::new(&cloud.sdk);
    let now = pipeline::config::now_ms();
    pipeline::node::status(config, &ecs, &ecs, &logs, &executions, &quotas, now).await.map(Some).map_err(Error::Node)
}

/// The node section; a node that cannot be read is said so, not an error.
async fn print_node(cloud: &Cloud, pipeline: &Pipeline) {
    let node = match read_node(cloud, pipeline).await {
        Ok(Some(node)) => node,
        Ok(None) => return,
        Err(err) => {
            println!("node: cannot be read: {err}");
            return;
        }
    };
    let now = pipeline::config::now_ms() / 1000;
    let Some(status) = &node.service_status else {
        println!("node {} on cluster {}: not deployed", node.service, node.cluster);
        return;
    };
    println!(
        "node {} on cluster {}: {status}, {} of {} tasks running",
        node.service, node.cluster, node.running_tasks, node.desired_tasks
    );
    if let Some(revision) = &node.revision {
        println!("  network   {}", revision.network);
        let commit = revision.commit.as_deref().map(|c| format!(" (commit {})", &c[..c.len().min(12)]));
        println!("  release   {}{}", revision.release_tag.as_deref().unwrap_or("?"), commit.unwrap_or_default());
        println!("  image     {}", revision.image);
        if let Some(line) = reproduced_line(pipeline, &revision.image).await {
            println!("  rebuilt   {line}");
        }
        println!("  revision  {}", pipeline::arn::name_of(&revision.task_definition));
        let size = revision.size.map(|size| format!(" ({size})")).unwrap_or_default();
        let since = revision
            .registered_at_ms
            .map(|ms| format!(" since {} UTC", pipeline::node::utc_date_time(ms / 1000)))
            .unwrap_or_default();
        println!("  profile   {}{size}{since}", revision.profile.unwrap_or_default().name());
        if revision.profile == Some(pipeline::sizing::Profile::Sync) {
            println!(
                "  releases  wait while it syncs: a deploy would stop the sync; the watch starts them once it is \
                 current, or now: `sigship run --tag <tag> --now`"
            );
        }
    }
    match &node.sync {
        Some(sync) => {
            println!(
                "  height    {} (newest block {} UTC, {} behind now)",
                sync.height,
                pipeline::node::utc_date_time(sync.block_time),
                span(sync.sync_lag_seconds)
            );
            println!("  progress  last block processed {} ago", span(sync.progress_age_seconds));
            match (&node.pace, node.hours_to_tip) {
                (Some(pace), _) => {
                    let (rate, finish) = pace.describe(now * 1000);
                    println!("  pace      {rate}");
                    println!("  tip       {finish}");
                }
                (None, Some(hours)) => {
                    println!("  tip       ≈ {hours:.0} h to the tip at the chain time gained in the last hour")
                }
                (None, None) => {}
            }
        }
        None => println!("  height    unknown: no progress line in btcd's log in the last 6 h"),
    }
    if let Some(switch) = &node.profile_switch {
        println!("  switch    {}", switch.describe(&cloud.region));
    }
    if let Some(waiting) = node.seconds_without_blocks.filter(|s| *s > 0) {
        println!(
            "  blocks    none received since btcd started {} ago; if this lasts, it reaches no peer: outbound \
             traffic blocked (security group, route, NAT), DNS seeds unreachable, or --connect/--addpeer \
             naming a node that is down or on another network",
            span(waiting)
        );
    }
    match node.last_log_ms {
        Some(at) => {
            println!("  last log  {} UTC ({} ago)", pipeline::node::utc_date_time(at / 1000), span(now - at / 1000))
        }
        None => println!("  last log  none in {}", pipeline.node.as_ref().map_or("", |n| n.log_group.as_str())),
    }
}

/// The last `reproduce` verdict about the image the service runs, or how to get one.
async fn reproduced_line(pipeline: &Pipeline, image: &str) -> Option<String> {
    let verdict = match pipeline.reproduced.as_ref()?.read().await {
        Ok(verdict) => verdict,
        Err(err) => return Some(format!("the last verdict cannot be read: {err}")),
    };
    Some(match verdict {
        Some(verdict) if image.ends_with(&format!("@{}", verdict.image)) => {
            format!("{} ({} UTC)", verdict.describe(), pipeline::node::utc_date_time(verdict.at))
        }
        _ => "not checked: `sigship reproduce --running` rebuilds it from the signed source and compares".into(),
    })
}

/// A duration in its two largest units: `45s`, `12m 3s`, `5h 12m`, `3d 4h`, `14y 18d` (365-day years).
fn span(seconds: i64) -> String {
    const DAY: i64 = 86_400;
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..DAY => format!("{}h {}m", s / 3600, s / 60 % 60),
        DAY..31_536_000 => format!("{}d {}h", s / DAY, s / 3600 % 24),
        _ => format!("{}y {}d", s / (365 * DAY), s / DAY % 365),
    }
}

/// The functions' log lines written while the execution ran.
pub async fn logs(cloud: &Cloud, pipeline: &Pipeline, execution: Option<&str>, group_prefix: &str) -> Result<()> {
    let arn = find_existing_execution(cloud, pipeline, execution).await?;
    let described = cloud
        .step_functions(&pipeline.state_machine_arn)
        .describe(&arn)
        .await
        .map_err(Error::Pipeline)?
        .ok_or_else(|| Error::Usage(format!("no execution {arn}")))?;
    let from = (described.started_at * 1000.0) as i64 - 1_000;
    let to = described.stopped_at.map_or(i64::MAX - 1_001, |at| (at * 1000.0) as i64) + 1_000;
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
    println!("logs of {} ({} log groups under {group_prefix}, {} lines)", described.name, groups.len(), lines.len());
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

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_in_their_two_largest_units() {
        let spans: Vec<String> = [-5, 45, 723, 18_720, 273_600, 443_098_370].into_iter().map(super::span).collect();
        assert_eq!(spans, ["0s", "45s", "12m 3s", "5h 12m", "3d 4h", "14y 18d"]);
    }
}
