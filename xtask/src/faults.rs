//! `cargo xtask faults`: the pipeline on days that are not sunny. Each case stands the stack up on
//! a fresh local cloud, injects one fault (localcloud::faults), runs the pipeline through moto's
//! interpreter with the real functions, and compares how it ended, and what it left, with what an
//! operator must be able to count on. Prints one line per case, then `faults: N/M ended as expected`.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use localcloud::faults::{Fault, FunctionFault, GitFault, Kind, Often};
use localcloud::{execution::Finished, LocalCloud, Options};
use pipeline::execution::{ExecutionHistory, Executions, HistoryEntry, HistoryEvent};
use serde_json::json;

use crate::tools;

type Check = Pin<Box<dyn Future<Output = Result<String, String>>>>;

struct Case {
    fault: &'static str,
    expected: &'static str,
    run: fn(LocalCloud) -> Check,
}

pub fn run() -> Result<(), String> {
    tools::ensure_local_cloud()?;
    println!("building the function binaries…");
    tools::build_functions(false)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (passed, cases) = runtime.block_on(matrix());
    if passed == cases {
        Ok(())
    } else {
        Err(format!("{} fault cases did not end as expected", cases - passed))
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            fault: "ECR DescribeImages throttled twice",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(within(c, "ecr", Some("DescribeImages"), Kind::Throttle)),
        },
        Case {
            fault: "ECS RegisterTaskDefinition throttled twice",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(within(c, "ecs", Some("RegisterTaskDefinition"), Kind::Throttle)),
        },
        Case {
            fault: "CodeBuild StartBuild throttled twice",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(within(c, "codebuild", Some("StartBuild"), Kind::Throttle)),
        },
        Case {
            fault: "Step Functions ListExecutions throttled twice",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(within(c, "states", Some("ListExecutions"), Kind::Throttle)),
        },
        Case {
            fault: "ECR DescribeImages always throttled",
            expected: "FAILED Throttled, nothing deployed; rerun SUCCEEDED",
            run: |c| Box::pin(beyond(c, "ecr", Some("DescribeImages"), Kind::Throttle, "Throttled")),
        },
        Case {
            fault: "ECS CreateService always throttled",
            expected: "FAILED Throttled, no service; rerun SUCCEEDED",
            run: |c| Box::pin(beyond(c, "ecs", Some("CreateService"), Kind::Throttle, "Throttled")),
        },
        Case {
            fault: "CodeBuild StartBuild always throttled",
            expected: "FAILED Throttled, no build; rerun SUCCEEDED",
            run: |c| Box::pin(beyond(c, "codebuild", Some("StartBuild"), Kind::Throttle, "Throttled")),
        },
        Case {
            fault: "Step Functions ListExecutions always throttled",
            expected: "FAILED Throttled at Queue; rerun SUCCEEDED",
            run: |c| Box::pin(beyond(c, "states", Some("ListExecutions"), Kind::Throttle, "Throttled")),
        },
        Case {
            fault: "ECS DescribeServices answers 500 twice",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(within(c, "ecs", Some("DescribeServices"), Kind::ServerError(500))),
        },
        Case {
            fault: "ECR DescribeImages always answers 503",
            expected: "FAILED AwsUnavailable, nothing deployed; rerun SUCCEEDED",
            run: |c| Box::pin(beyond(c, "ecr", Some("DescribeImages"), Kind::ServerError(503), "AwsUnavailable")),
        },
        Case {
            fault: "ECR, CodeBuild and Step Functions answer 500 twice each",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(server_errors_everywhere(c)),
        },
        Case {
            fault: "S3 answers 503 twice while verify reads the trust root",
            expected: "SUCCEEDED (SDK retries)",
            run: |c| Box::pin(within(c, "s3", None, Kind::ServerError(503))),
        },
        Case {
            fault: "S3 always answers 503 while verify reads the trust root",
            expected: "FAILED AwsUnavailable; the same warm verify SUCCEEDS once S3 is back",
            run: |c| Box::pin(beyond(c, "s3", None, Kind::ServerError(503), "AwsUnavailable")),
        },
        Case {
            fault: "ECS connection dropped twice, 2 s latency on CodeBuild",
            expected: "SUCCEEDED",
            run: |c| Box::pin(dropped_and_slow(c)),
        },
        Case {
            fault: "the build fails",
            expected: "FAILED BuildFailed, no task definition, service untouched; rerun builds",
            run: |c| Box::pin(build_fails(c)),
        },
        Case {
            fault: "the new release's btcd exits at start (circuit breaker)",
            expected: "FAILED DeploymentRolledBack, service on the previous digest",
            run: |c| Box::pin(rollout_fails(c)),
        },
        Case {
            fault: "register-task crashes once",
            expected: "SUCCEEDED after one retry",
            run: |c| Box::pin(function_fault(c, "register-task", FunctionFault::Crash)),
        },
        Case {
            fault: "verify overruns its timeout once",
            expected: "SUCCEEDED after one retry",
            run: |c| Box::pin(function_fault(c, "verify", FunctionFault::Overrun)),
        },
        Case {
            fault: "StartBuild's function crashes once",
            expected: "FAILED Runtime.ExitError (not retried); rerun SUCCEEDED on the same build",
            run: |c| Box::pin(start_build_crashes(c)),
        },
        Case {
            fault: "the git remote drops every connection",
            expected: "FAILED RepositoryUnreachable after 3 tries, nothing built",
            run: |c| Box::pin(git_fault(c, GitFault::Drop)),
        },
        Case {
            fault: "the git remote accepts connections and never answers",
            expected: "FAILED RepositoryUnreachable after 3 bounded tries, nothing built",
            run: |c| Box::pin(git_fault(c, GitFault::Stall)),
        },
        Case {
            fault: "the same tag pushed 50 times at once",
            expected: "exactly one execution",
            run: |c| Box::pin(fifty_deliveries(c)),
        },
        Case {
            fault: "two releases at once (watch, all)",
            expected: "deployed one after the other, in version order",
            run: |c| Box::pin(two_releases(c, Duration::ZERO)),
        },
        Case {
            fault: "two releases at once while ListExecutions lags 3 s behind each start",
            expected: "neither goes unseen: deployed one after the other, in version order",
            run: |c| Box::pin(two_releases(c, Duration::from_secs(3))),
        },
        Case {
            fault: "destroy while a deploy runs",
            expected: "destroy waits its turn, then destroys; no service after",
            run: |c| Box::pin(destroy_during_deploy(c)),
        },
        Case {
            fault: "CodeBuild refuses a new account's build (AccountLimitExceededException, the quota shows 1)",
            expected: "FAILED BuildLimitExceeded naming what AWS Support must raise, not retried, nothing built",
            run: |c| Box::pin(build_refused(c)),
        },
        Case {
            fault: "other Fargate tasks of the account hold the vCPUs the sync size needs",
            expected:
                "the switch FAILED DeploymentRolledBack, the node back and running at its size, the retry waits; \
                       `run --profile sync` once room is made SUCCEEDED",
            run: |c| Box::pin(switch_cannot_be_placed(c)),
        },
        Case {
            fault: "someone pushes an image under the release's image tag before it is built",
            expected: "FAILED ImageNotRecorded, nothing built, nothing deployed",
            run: |c| Box::pin(image_pushed_by_someone_else(c)),
        },
        Case {
            fault: "someone starts a build of the release with their own buildspec",
            expected: "their build pushes; the pipeline FAILED ImageNotRecorded, nothing of theirs deployed",
            run: |c| Box::pin(someone_elses_build(c)),
        },
        Case {
            fault: "someone registers a revision with the release's tags and labels and their image",
            expected: "the next run registers its own revision; the service never runs their image",
            run: |c| Box::pin(someone_elses_revision(c)),
        },
        Case {
            fault: "a tampered build environment changes one byte of the btcd it compiles",
            expected: "the pipeline deploys it (its own build, its own record); `sigship reproduce --running` names btcd and exits 1",
            run: |c| Box::pin(tampered_build(c)),
        },
        Case {
            fault: "the trust root's policy is deleted from S3 after up",
            expected: "FAILED TrustRootChanged, nothing built",
            run: |c| Box::pin(trust_root_rewritten(c, "policy.toml", None)),
        },
        Case {
            fault: "an in-account writer adds a signer's certificate to the trust root after up",
            expected: "FAILED TrustRootChanged, nothing built",
            run: |c| {
                Box::pin(trust_root_rewritten(
                    c,
                    "writer.asc",
                    Some(localcloud::keys::Maintainer::generate("Writer").public_armored()),
                ))
            },
        },
    ]
}

/// How many cases run at once: each has a local cloud of its own, and most of a case is waiting
/// (retry intervals, polls), so three share two cores well (`SIGSHIP_FAULTS_AT_ONCE` overrides).
const AT_ONCE: usize = 3;

/// Runs every case (or those whose name contains SIGSHIP_FAULTS_ONLY), a few at once; returns
/// (as expected, cases).
pub async fn matrix() -> (usize, usize) {
    use futures::StreamExt;
    let only = std::env::var("SIGSHIP_FAULTS_ONLY").ok();
    let at_once = std::env::var("SIGSHIP_FAULTS_AT_ONCE").ok().and_then(|n| n.parse().ok()).unwrap_or(AT_ONCE);
    let cases: Vec<Case> =
        cases().into_iter().filter(|c| only.as_deref().is_none_or(|o| c.fault.contains(o))).collect();
    println!("NOTE: {}.", localcloud::REAL_AND_SIMULATED);
    println!("faults: {} cases, {at_once} at a time", cases.len());
    let started = Instant::now();
    let mut rows: Vec<(usize, bool, String)> = futures::stream::iter(cases.iter().enumerate())
        .map(|(index, case)| async move {
            let started = Instant::now();
            let cloud = LocalCloud::start(Options::default()).await;
            cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
            let outcome = (case.run)(cloud).await;
            let ok = outcome.is_ok();
            let observed = outcome.unwrap_or_else(|e| format!("UNEXPECTED: {e}"));
            let line = format!(
                "{} {} | expected: {} | observed: {} ({:.0} s)",
                if ok { "ok  " } else { "FAIL" },
                case.fault,
                case.expected,
                observed,
                started.elapsed().as_secs_f32()
            );
            println!("faults: {line}");
            (index, ok, line)
        })
        .buffer_unordered(at_once.max(1))
        .collect()
        .await;
    rows.sort_by_key(|(index, _, _)| *index);
    println!();
    for (_, _, row) in &rows {
        println!("{row}");
    }
    let passed = rows.iter().filter(|(_, ok, _)| *ok).count();
    println!("faults: {passed}/{} ended as expected, in {:.0} s", cases.len(), started.elapsed().as_secs_f32());
    (passed, cases.len())
}

// ---------------------------------------------------------------- what a run ended as, and left

async fn deploy(cloud: &LocalCloud, name: &str) -> Finished {
    cloud.run(json!({"tag": "v0.24.2"}), name, false).await
}

fn ended(run: &Finished) -> String {
    match &run.error {
        Some(error) => format!("{:?} {error}", run.status),
        None => format!("{:?}", run.status),
    }
}

fn expect_succeeded(run: &Finished) -> Result<(), String> {
    if run.status == ExecutionStatus::Succeeded {
        Ok(())
    } else {
        Err(format!("{}: {}", ended(run), run.cause.clone().unwrap_or_default()))
    }
}

fn expect_failed(run: &Finished, error: &str) -> Result<(), String> {
    if run.status == ExecutionStatus::Failed && run.error.as_deref() == Some(error) {
        Ok(())
    } else {
        Err(format!("{} (expected FAILED {error}): {}", ended(run), run.cause.clone().unwrap_or_default()))
    }
}

/// What the stack holds of the pipeline's work: the service's image, task definitions, images.
struct Left {
    service_image: Option<String>,
    task_definitions: usize,
    images: usize,
}

impl std::fmt::Display for Left {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let service = self.service_image.as_deref().map(|i| i.rsplit('@').next().unwrap_or(i)).unwrap_or("no service");
        write!(f, "left: service {service}, {} task definitions, {} images", self.task_definitions, self.images)
    }
}

async fn left(cloud: &LocalCloud) -> Left {
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let described = ecs.describe_services().cluster(&cloud.stack.cluster).services(&cloud.stack.service).send().await;
    let task_definition = described.ok().and_then(|d| {
        d.services().iter().find(|s| s.status() == Some("ACTIVE")).and_then(|s| s.task_definition().map(String::from))
    });
    let service_image = match task_definition {
        Some(arn) => ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .ok()
            .and_then(|d| d.task_definition()?.container_definitions().first()?.image().map(String::from)),
        None => None,
    };
    let task_definitions =
        ecs.list_task_definitions().send().await.map(|l| l.task_definition_arns().len()).unwrap_or(0);
    let ecr = aws_sdk_ecr::Client::new(&cloud.sdk);
    let images = ecr
        .list_images()
        .repository_name(&cloud.stack.ecr_repository)
        .send()
        .await
        .map(|l| l.image_ids().len())
        .unwrap_or(0);
    Left { service_image, task_definitions, images }
}

fn invocations_of(cloud: &LocalCloud, function: &str) -> usize {
    let name = cloud.stack.function(function);
    cloud.router.invocations.lock().unwrap().iter().filter(|(f, _)| *f == name).count()
}

// ---------------------------------------------------------------- the cases

/// A fault the SDK's own retries (3 attempts) outlast: the run succeeds as if nothing happened.
async fn within(cloud: LocalCloud, service: &str, operation: Option<&str>, kind: Kind) -> Result<String, String> {
    cloud.router.faults.on_call(Fault::new(service, operation, kind.clone(), Often::Next(2)));
    let run = deploy(&cloud, "within").await;
    expect_succeeded(&run)?;
    let injected = cloud.router.faults.injected.lock().unwrap().len();
    if injected != 2 {
        return Err(format!("{injected} faults injected, expected 2 (is {service} {operation:?} called?)"));
    }
    Ok(format!("SUCCEEDED, 2 × {kind:?} absorbed; {}", left(&cloud).await))
}

async fn beyond(
    cloud: LocalCloud,
    service: &str,
    operation: Option<&str>,
    kind: Kind,
    error: &str,
) -> Result<String, String> {
    cloud.router.faults.on_call(Fault::new(service, operation, kind, Often::Always));
    let run = deploy(&cloud, "beyond").await;
    expect_failed(&run, error)?;
    let after_failure = left(&cloud).await;
    if after_failure.service_image.is_some() {
        return Err(format!("a service runs after a failed run: {after_failure}"));
    }
    cloud.router.faults.clear();
    let rerun = deploy(&cloud, "rerun").await;
    expect_succeeded(&rerun).map_err(|e| format!("rerun: {e}"))?;
    Ok(format!("FAILED {error}, {after_failure}; rerun SUCCEEDED"))
}

async fn server_errors_everywhere(cloud: LocalCloud) -> Result<String, String> {
    for (service, operation) in
        [("ecr", "DescribeImages"), ("codebuild", "BatchGetBuilds"), ("states", "ListExecutions")]
    {
        cloud.router.faults.on_call(Fault::new(service, Some(operation), Kind::ServerError(500), Often::Next(2)));
    }
    let run = deploy(&cloud, "server-errors").await;
    expect_succeeded(&run)?;
    let injected = cloud.router.faults.injected.lock().unwrap().len();
    if injected != 6 {
        return Err(format!("{injected} faults injected, expected 6"));
    }
    Ok(format!("SUCCEEDED, 6 × 500 absorbed; {}", left(&cloud).await))
}

async fn dropped_and_slow(cloud: LocalCloud) -> Result<String, String> {
    cloud.router.faults.on_call(Fault::new("ecs", Some("DescribeServices"), Kind::Drop, Often::Next(2)));
    cloud.router.faults.on_call(Fault::new("codebuild", None, Kind::Latency(Duration::from_secs(2)), Often::Next(1)));
    let started = Instant::now();
    let run = deploy(&cloud, "dropped").await;
    expect_succeeded(&run)?;
    Ok(format!("SUCCEEDED in {:.1} s; {}", started.elapsed().as_secs_f32(), left(&cloud).await))
}

async fn build_fails(cloud: LocalCloud) -> Result<String, String> {
    cloud.router.faults.fail_next_build("go build: exit status 1 (injected)");
    let run = deploy(&cloud, "build-fails").await;
    expect_failed(&run, "BuildFailed")?;
    let cause = run.cause.clone().unwrap_or_default();
    if !cause.contains("BUILD") || !cause.contains("go build: exit status 1") {
        return Err(format!("the cause does not say which phase and why: {cause}"));
    }
    let after = left(&cloud).await;
    if after.task_definitions != 0 || after.service_image.is_some() || after.images != 0 {
        return Err(format!("a failed build left work behind: {after}"));
    }
    let rerun = deploy(&cloud, "rebuild").await;
    expect_succeeded(&rerun).map_err(|e| format!("rerun: {e}"))?;
    if rerun.output.as_ref().and_then(|o| o["buildSkipped"].as_bool()) != Some(false) {
        return Err("the rerun did not build".into());
    }
    Ok(format!("FAILED BuildFailed (BUILD phase, with the reason), {after}; rerun built and SUCCEEDED"))
}

async fn rollout_fails(cloud: LocalCloud) -> Result<String, String> {
    cloud.run(json!({"tag": "v0.24.2"}), "first", false).await;
    let before = left(&cloud).await.service_image.ok_or("the first release did not deploy")?;
    // A real failure: a release whose btcd exits at start; its tasks end, the circuit breaker
    // counts them and rolls back.
    cloud.repository.break_btcd_start();
    cloud.repository.signed_tag("v0.24.3", &cloud.maintainer);
    let run = cloud.run(json!({"tag": "v0.24.3"}), "second", false).await;
    expect_failed(&run, "DeploymentRolledBack")?;
    let after = left(&cloud).await;
    if after.service_image.as_deref() != Some(before.as_str()) {
        return Err(format!("service not on the previous image {before}: {after}"));
    }
    Ok(format!("FAILED DeploymentRolledBack; {after} (the previous digest)"))
}

/// New accounts meet this while Service Quotas shows a positive build quota (public reports,
/// 2021–2026): StartBuild answers AccountLimitExceededException on every try.
async fn build_refused(cloud: LocalCloud) -> Result<String, String> {
    let refused = Kind::Refused {
        status: 400,
        code: "AccountLimitExceededException",
        message: "Cannot have more than 0 builds in queue for the account",
    };
    cloud.router.faults.on_call(Fault::new("codebuild", Some("StartBuild"), refused, Often::Always));
    let run = deploy(&cloud, "refused").await;
    expect_failed(&run, "BuildLimitExceeded")?;
    let cause = run.cause.clone().unwrap_or_default();
    if !cause.contains("AWS Support") || !cause.contains("L-596BEAB4") {
        return Err(format!("the cause does not say what to ask for: {cause}"));
    }
    let tries = cloud.router.faults.injected.lock().unwrap().len();
    if tries != 1 {
        return Err(format!("StartBuild was tried {tries} times: a refusal is not retried"));
    }
    failed_before_building(&cloud, run, "BuildLimitExceeded").await
}

/// node-metrics starts the switch to the sync size (Service Quotas has room for it), but the
/// account's other Fargate tasks hold all but the steady task's share: the service stops the
/// node, cannot place the sync task, and ECS's circuit breaker puts the steady revision back.
async fn switch_cannot_be_placed(cloud: LocalCloud) -> Result<String, String> {
    expect_succeeded(&deploy(&cloud, "first").await)?;
    let steady = service_revision(&cloud).await;
    let table = pipeline::sizing::for_network(pipeline::network::Network::Regtest);
    let quota = localcloud::Quotas::default().fargate_on_demand_vcpus * 1024;
    cloud.router.fargate.run_elsewhere(quota - table.steady.cpu);
    cloud.daemon_catching_up("catching-up").await;
    let sample = cloud.invoke("node-metrics", "{}").await.map_err(|e| format!("node-metrics: {e}"))?;
    let switch = sample["profileSwitch"]["execution"].as_str().ok_or(format!("no switch started: {sample}"))?;
    let run = cloud.finish(switch).await;
    expect_failed(&run, "DeploymentRolledBack")?;
    let after = service_revision(&cloud).await;
    let running = cloud.tasks().iter().filter(|t| t.is_running()).count();
    if after != steady || running != 1 {
        return Err(format!("the node is not back on {steady:?}: {after:?}, {running} tasks running"));
    }
    let again = cloud.invoke("node-metrics", "{}").await.map_err(|e| format!("node-metrics: {e}"))?;
    if again["profileSwitch"]["state"] != "retrying" || again["profile"] != "steady" {
        return Err(format!("the next sample does not wait to retry: {again}"));
    }
    // Room made: the operator's retry places the sync size.
    cloud.router.fargate.run_elsewhere(0);
    let retried = cloud.run(json!({"profile": "sync"}), "retry-sync", false).await;
    expect_succeeded(&retried).map_err(|e| format!("retry: {e}"))?;
    let back = after.as_deref().map_or("?", pipeline::arn::name_of);
    Ok(format!("{switch} FAILED DeploymentRolledBack; back on {back}, 1 task running; retry waits; run --profile sync SUCCEEDED"))
}

/// The task definition the service runs.
async fn service_revision(cloud: &LocalCloud) -> Option<String> {
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let described = ecs.describe_services().cluster(&cloud.stack.cluster).services(&cloud.stack.service).send().await;
    described.ok()?.services().first()?.task_definition().map(String::from)
}

async fn function_fault(cloud: LocalCloud, function: &'static str, fault: FunctionFault) -> Result<String, String> {
    cloud.router.faults.on_function(&cloud.stack.function(function), fault);
    let run = deploy(&cloud, "function-fault").await;
    expect_succeeded(&run)?;
    let calls = invocations_of(&cloud, function);
    if calls != 2 {
        return Err(format!("{function} ran {calls} times, expected 2 (the fault, then the retry)"));
    }
    Ok(format!(
        "SUCCEEDED; {function} invoked twice (Retry on {}); {}",
        match fault {
            FunctionFault::Crash => "Runtime.ExitError",
            FunctionFault::Overrun => "Sandbox.Timedout",
        },
        left(&cloud).await
    ))
}

async fn start_build_crashes(cloud: LocalCloud) -> Result<String, String> {
    cloud.router.faults.on_function(&cloud.stack.function("trigger-build"), FunctionFault::Crash);
    let run = deploy(&cloud, "start-crashes").await;
    expect_failed(&run, "Runtime.ExitError")?;
    let after = left(&cloud).await;
    let rerun = deploy(&cloud, "after-crash").await;
    expect_succeeded(&rerun).map_err(|e| format!("rerun: {e}"))?;
    // The crashed start's build ran on: the rerun skips it (image pushed) or follows it (still
    // running). A second build of the same commit would fail at its push (immutable tags).
    let builds = cloud.builds().len();
    if builds != 1 {
        return Err(format!("rerun: {builds} builds of one commit"));
    }
    let skipped = rerun.output.as_ref().and_then(|o| o["buildSkipped"].as_bool()).unwrap_or(false);
    Ok(format!(
        "FAILED Runtime.ExitError, {after}; rerun SUCCEEDED, one build ({})",
        if skipped {
            "the crashed start's build had pushed the image: skipped"
        } else {
            "followed the crashed start's build"
        }
    ))
}

async fn git_fault(cloud: LocalCloud, fault: GitFault) -> Result<String, String> {
    cloud.router.faults.git(fault);
    let started = Instant::now();
    let run = deploy(&cloud, "git-drops").await;
    expect_failed(&run, "RepositoryUnreachable")?;
    let calls = invocations_of(&cloud, "verify");
    if calls != 3 || !cloud.builds().is_empty() {
        return Err(format!("verify ran {calls} times (expected 3), {} builds", cloud.builds().len()));
    }
    Ok(format!(
        "FAILED RepositoryUnreachable after {calls} verify calls in {:.0} s; {}",
        started.elapsed().as_secs_f32(),
        left(&cloud).await
    ))
}

async fn fifty_deliveries(cloud: LocalCloud) -> Result<String, String> {
    let body = r#"{"ref":"refs/tags/v0.24.2","deleted":false}"#;
    let headers = cloud.github_headers("push", body);
    let answers = futures::future::join_all((0..50).map(|_| cloud.deliver_webhook(&headers, body))).await;
    // Each delivery is answered 202 {started} or 200 {duplicate}, naming the one execution: its
    // name is the tag object's, and Step Functions starts a name once (a start with the same
    // name and input while it runs returns that execution).
    let named: Vec<String> = answers
        .iter()
        .filter(|(status, _)| matches!(status, 200 | 202))
        .filter_map(|(_, a)| a["started"].as_str().or(a["duplicate"].as_str()).map(String::from))
        .collect();
    let executions = pipeline_of(&cloud).names().await.map_err(|e| e.to_string())?;
    if executions.len() != 1 || named.len() != 50 || named.iter().any(|n| *n != executions[0]) {
        return Err(format!("executions {executions:?}; {} of 50 deliveries named one", named.len()));
    }
    let started = answers.iter().filter(|(status, _)| *status == 202).count();
    Ok(format!("1 execution; all 50 deliveries answered with it ({started} × 202, {} × 200 duplicate)", 50 - started))
}

/// `lag`: ListExecutions shows an execution only this long after it started (AWS calls the
/// listing eventually consistent): the twins cannot see each other at first.
async fn two_releases(cloud: LocalCloud, lag: Duration) -> Result<String, String> {
    // The watch ran v0.24.2 before; two newer releases appear at once; in "all" mode it starts
    // both, oldest first, and the queue deploys them one after the other.
    *cloud.router.faults.listing_lag.lock().unwrap() = lag;
    let watch = || async {
        let report = cloud.invoke("tag-watch", r#"{"mode":"all"}"#).await?;
        Ok::<Vec<String>, String>(
            report["started"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect(),
        )
    };
    let first = watch().await?;
    let arn_of = |name: &str| cloud.stack.execution_arn(name);
    for name in &first {
        expect_succeeded(&localcloud::execution::follow(&cloud.step_functions(), &arn_of(name), name, false).await)?;
    }
    for tag in ["v0.24.3", "v0.24.4"] {
        cloud.repository.commit("CHANGES", &format!("{tag}\n"), tag);
        cloud.repository.signed_tag(tag, &cloud.maintainer);
    }
    let started = watch().await?;
    if started.len() != 2 {
        return Err(format!("the watch started {started:?} after {first:?}"));
    }
    let mut ends = Vec::new();
    for name in &started {
        let run = localcloud::execution::follow(&cloud.step_functions(), &arn_of(name), name, false).await;
        expect_succeeded(&run)?;
        let history = pipeline_of(&cloud).history(&arn_of(name)).await.map_err(|e| e.to_string())?;
        ends.push((
            name.clone(),
            entered(&history, "Proceed").unwrap_or_default(),
            entered(&history, "Deployed").unwrap_or_default(),
        ));
    }
    let (first, second) = (&ends[0], &ends[1]);
    if !(first.0.contains("v0_24_3") && second.0.contains("v0_24_4") && second.1 >= first.2) {
        return Err(format!("order: {ends:?}"));
    }
    if !lag.is_zero() {
        // The older one, with nothing ahead of it, still waited until the listing showed it.
        let history = pipeline_of(&cloud).history(&arn_of(&first.0)).await.map_err(|e| e.to_string())?;
        if entered(&history, "WaitForTurn").is_none() {
            return Err(format!("{} went before ListExecutions showed it", first.0));
        }
    }
    let image = left(&cloud).await.service_image.unwrap_or_default();
    if !image.contains('@') {
        return Err("no service at the end".into());
    }
    Ok(format!("v0.24.3 deployed, then v0.24.4 went on after it had ended; {}", left(&cloud).await))
}

async fn destroy_during_deploy(cloud: LocalCloud) -> Result<String, String> {
    let pipeline = pipeline_of(&cloud);
    pipeline.start("deploying", &json!({"tag": "v0.24.2"})).await.map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    pipeline.start("destroying", &json!({"destroy": "everything"})).await.map_err(|e| e.to_string())?;
    let arn = |name: &str| cloud.stack.execution_arn(name);
    let deployed = localcloud::execution::follow(&cloud.step_functions(), &arn("deploying"), "deploying", false).await;
    let destroyed =
        localcloud::execution::follow(&cloud.step_functions(), &arn("destroying"), "destroying", false).await;
    expect_succeeded(&deployed)?;
    expect_succeeded(&destroyed)?;
    let deploy_history = pipeline.history(&arn("deploying")).await.map_err(|e| e.to_string())?;
    let destroy_history = pipeline.history(&arn("destroying")).await.map_err(|e| e.to_string())?;
    let waited = entered(&destroy_history, "WaitForTurn").is_some();
    let deploy_end = deploy_history.last().map(|e| e.at).unwrap_or_default();
    let destroy_went = entered(&destroy_history, "Proceed").unwrap_or_default();
    let after = left(&cloud).await;
    if !waited || destroy_went < deploy_end || after.service_image.is_some() {
        return Err(format!("waited {waited}, went at {destroy_went} vs deploy end {deploy_end}; {after}"));
    }
    Ok(format!("destroy waited, went on after the deploy ended; {after}"))
}

async fn trust_root_rewritten(cloud: LocalCloud, file: &str, text: Option<Vec<u8>>) -> Result<String, String> {
    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cloud.sdk).force_path_style(true).build());
    let key = format!("{}trust-root/{file}", cloud.stack.parameters["ArtifactsPrefix"]);
    let bucket = &cloud.stack.artifacts_bucket;
    let changed = match text {
        Some(text) => s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(text.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        None => s3.delete_object().bucket(bucket).key(&key).send().await.map(|_| ()).map_err(|e| format!("{e:?}")),
    };
    changed?;
    failed_before_building(&cloud, deploy(&cloud, "trust-root").await, "TrustRootChanged").await
}

/// The run failed with `error` and nothing was built: the case's observation, or what differs.
async fn failed_before_building(cloud: &LocalCloud, run: Finished, error: &str) -> Result<String, String> {
    expect_failed(&run, error)?;
    if !cloud.builds().is_empty() {
        return Err("something was built".into());
    }
    Ok(format!(
        "FAILED {error}: {}; {}",
        run.cause.unwrap_or_default().chars().take(80).collect::<String>(),
        left(cloud).await
    ))
}

/// An image under the release's predictable tag that the build did not push is not deployed,
/// and nothing is built over it (the tag is immutable): the execution names it and the fix.
async fn image_pushed_by_someone_else(cloud: LocalCloud) -> Result<String, String> {
    let commit = cloud.repository.git(&["rev-parse", "v0.24.2^{commit}"]);
    let image_tag = pipeline::build::image_tag("v0.24.2", commit.trim());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", "e".repeat(64)), "size": 2},
        "layers": []
    });
    aws_sdk_ecr::Client::new(&cloud.sdk)
        .put_image()
        .repository_name(&cloud.stack.ecr_repository)
        .image_tag(&image_tag)
        .image_manifest(manifest.to_string())
        .send()
        .await
        .map_err(|e| format!("pushing {image_tag}: {e:?}"))?;
    failed_before_building(&cloud, deploy(&cloud, "pre-pushed").await, "ImageNotRecorded").await
}

/// StartBuild on the project (in AWS's managed developer policies) with a buildspec of one's own:
/// the build runs as the build role and pushes the release's image tag. trigger-build did not
/// start it, so its image is not the release's.
async fn someone_elses_build(cloud: LocalCloud) -> Result<String, String> {
    use pipeline::build::{BUILDSPEC, BUILD_ENV_COMMIT, BUILD_ENV_IMAGE_TAG, BUILD_ENV_VERSION};
    let commit = cloud.repository.git(&["rev-parse", "v0.24.2^{commit}"]).trim().to_string();
    let image_tag = pipeline::build::image_tag("v0.24.2", &commit);
    let variable = |name: &str, value: &str| {
        aws_sdk_codebuild::types::EnvironmentVariable::builder().name(name).value(value).build().unwrap()
    };
    let codebuild = aws_sdk_codebuild::Client::new(&cloud.sdk);
    let started = codebuild
        .start_build()
        .project_name(&cloud.stack.build_project)
        .source_version(pipeline::build::source_version("v0.24.2", &commit))
        .buildspec_override(format!("{BUILDSPEC}\n# and a step of mine\n"))
        .environment_variables_override(variable(BUILD_ENV_COMMIT, &commit))
        .environment_variables_override(variable(BUILD_ENV_VERSION, "v0.24.2"))
        .environment_variables_override(variable(BUILD_ENV_IMAGE_TAG, &image_tag))
        .send()
        .await
        .map_err(|e| format!("their StartBuild: {}", aws_sdk_codebuild::error::DisplayErrorContext(e)))?;
    let id = started.build_value().and_then(|b| b.id()).ok_or("no build id")?.to_string();
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        let described = codebuild.batch_get_builds().ids(&id).send().await.map_err(|e| e.to_string())?;
        let status = described.builds().first().and_then(|b| b.build_status().cloned());
        match status {
            Some(aws_sdk_codebuild::types::StatusType::InProgress) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await
            }
            other => break other,
        }
    };
    if status != Some(aws_sdk_codebuild::types::StatusType::Succeeded) {
        return Err(format!("their build did not push: {status:?}"));
    }
    let theirs = cloud.builds().first().map(|b| b.status.clone());
    let run = deploy(&cloud, "after-their-build").await;
    expect_failed(&run, "ImageNotRecorded")?;
    let after = left(&cloud).await;
    if after.service_image.is_some() || after.task_definitions != 0 || cloud.builds().len() != 1 {
        return Err(format!("their image went further, or another build ran: {after}"));
    }
    Ok(format!("their build {theirs:?} pushed {image_tag}; the pipeline FAILED ImageNotRecorded; {after}"))
}

/// A build environment that changes what it compiles — a poisoned build image, a compromised
/// CodeBuild host — writes a btcd one byte off the source and a SHA256SUMS that agrees with it.
/// Nothing in the pipeline can tell (the build is its own); a rebuild of the signed source can.
async fn tampered_build(cloud: LocalCloud) -> Result<String, String> {
    cloud.router.faults.tamper_next_build();
    expect_succeeded(&deploy(&cloud, "tampered").await)?;
    let trust = cloud.trust_root.to_str().unwrap().to_string();
    let (code, stdout, stderr) = cloud.sigship_as_operator(&["reproduce", "--running", "--trust", &trust]).await;
    let differs = stdout.lines().find(|l| l.starts_with("DIFFERS")).unwrap_or_default().to_string();
    if code != 1 || !differs.starts_with("DIFFERS   btcd ") || !stdout.contains("MISMATCH: btcd in the image is not") {
        return Err(format!("reproduce exited {code}:\n{stdout}\n{stderr}"));
    }
    let btcctl_matched = stdout.lines().any(|l| l.starts_with("MATCH     btcctl"));
    if !btcctl_matched {
        return Err(format!("btcctl was not tampered with, and should match:\n{stdout}"));
    }
    let (_, status, _) = cloud.sigship_as_operator(&["status"]).await;
    let kept = status.lines().find(|l| l.trim_start().starts_with("rebuilt")).unwrap_or_default().trim().to_string();
    if !kept.contains("MISMATCH") {
        return Err(format!("status does not show the verdict:\n{status}"));
    }
    Ok(format!(
        "deployed; reproduce: {}; status: {kept}",
        differs.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    ))
}

/// A revision in the stack's family that copies the running one — tags, labels, everything but
/// the image — registered by someone allowed ecs:RegisterTaskDefinition. register-task did not
/// register it, so it is never reused, whatever its tags say.
async fn someone_elses_revision(cloud: LocalCloud) -> Result<String, String> {
    expect_succeeded(&deploy(&cloud, "first").await)?;
    let ours = left(&cloud).await.service_image.ok_or("the release did not deploy")?;
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let service = ecs.describe_services().cluster(&cloud.stack.cluster).services(&cloud.stack.service).send().await;
    let running =
        service.ok().and_then(|s| s.services().first()?.task_definition().map(String::from)).ok_or("no service")?;
    let described = ecs
        .describe_task_definition()
        .task_definition(&running)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let revision = described.task_definition().ok_or("no revision")?;
    let theirs = format!("{}@sha256:{}", ours.split('@').next().unwrap_or_default(), "e".repeat(64));
    let mut container = revision.container_definitions().first().ok_or("no container")?.clone();
    container.image = Some(theirs.clone());
    ecs.register_task_definition()
        .family(revision.family().unwrap_or_default())
        .set_cpu(revision.cpu().map(String::from))
        .set_memory(revision.memory().map(String::from))
        .set_network_mode(revision.network_mode().cloned())
        .set_requires_compatibilities(Some(revision.requires_compatibilities().to_vec()))
        .set_runtime_platform(revision.runtime_platform().cloned())
        .set_execution_role_arn(revision.execution_role_arn().map(String::from))
        .set_task_role_arn(revision.task_role_arn().map(String::from))
        .container_definitions(container)
        .set_volumes(Some(revision.volumes().to_vec()))
        .set_tags(Some(described.tags().to_vec()))
        .send()
        .await
        .map_err(|e| format!("their RegisterTaskDefinition: {e:?}"))?;
    let again = deploy(&cloud, "again").await;
    expect_succeeded(&again)?;
    let after = left(&cloud).await;
    if after.service_image.as_deref() != Some(ours.as_str()) {
        return Err(format!("the service runs another image than the release's: {after}"));
    }
    let deployed = again.output.as_ref().and_then(|o| o["taskDefinitionArn"].as_str().map(String::from));
    Ok(format!(
        "SUCCEEDED on a revision of its own ({}); {after}",
        deployed.unwrap_or_default().rsplit('/').next().unwrap_or_default()
    ))
}

/// The pipeline's state machine, through the library's own adapter.
fn pipeline_of(cloud: &LocalCloud) -> pipeline::aws::StepFunctions {
    pipeline::aws::StepFunctions::new(&cloud.sdk, cloud.stack.state_machine_arn.clone())
}

/// When `state` was first entered in `history`, Unix seconds.
fn entered(history: &[HistoryEvent], state: &str) -> Option<f64> {
    history.iter().find(|e| matches!(&e.entry, HistoryEntry::Entered(name) if name == state)).map(|e| e.at)
}
