//! The preflight: what `sigship up` checks before it creates anything (and `sigship doctor`
//! alone) — the account and region, whether the region has what the stack needs (arm64 Fargate,
//! CodeBuild's ARM containers), CodeBuild's ARM/Large build quota (0 or 1 in new accounts: the
//! first release would fail at StartBuild), the stack's state, and what the node costs a month.
//! Each failure says how to fix it.

use pipeline::network::Network;

use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::stack;

use pipeline::quota::{Quota, QuotaValues, CODEBUILD_ARM_LARGE_BUILDS, FARGATE_ON_DEMAND_VCPUS};
use pipeline::sizing::NodeSizes;

/// Regions where AWS documents CodeBuild's ARM_CONTAINER environment (the CodeBuild user guide,
/// "Build environment compute modes and types"; EnvironmentType in the API reference).
const CODEBUILD_ARM_REGIONS: [&str; 10] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

/// Regions where Fargate has no Linux/ARM64 tasks (the ECS developer guide, "Amazon ECS task
/// definitions for 64-bit ARM workloads").
const NO_FARGATE_ARM64: [&str; 6] =
    ["af-south-1", "me-south-1", "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    pub message: String,
}

impl Finding {
    fn new(check: &'static str, level: Level, message: impl Into<String>) -> Self {
        Finding { check, level, message: message.into() }
    }
}

/// What the preflight found.
pub struct Preflight {
    pub findings: Vec<Finding>,
    /// No stack yet: `up` creates billable resources.
    pub creates: bool,
    /// The steady node's monthly bill for the network, USD (the sizing table).
    pub monthly_dollars: f64,
}

impl Preflight {
    /// Err naming every failed check (with its fix), as `up` and `doctor` end on it.
    pub fn check(&self) -> Result<()> {
        let failed: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.level == Level::Fail)
            .map(|f| format!("{}: {}", f.check, f.message))
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Preflight(failed))
        }
    }

    pub fn print(&self) {
        println!("preflight");
        for finding in &self.findings {
            println!("{}", line(finding));
        }
    }
}

/// `bucket`: the artifacts bucket `up` is given (`--bucket`), if any.
pub async fn run(cloud: &Cloud, stack_name: &str, node: &NodeSizes, bucket: Option<&str>) -> Preflight {
    let network = node.network;
    let mut findings = vec![identity(cloud).await, region(&cloud.region)];
    findings.push(build_quota(cloud).await);
    findings.push(fargate_quota(cloud, node).await);
    let (stack_finding, creates) = stack_state(cloud, stack_name).await;
    findings.push(stack_finding);
    if let Some(finding) = bucket_namespace(&cloud.region, creates, bucket) {
        findings.push(finding);
    }
    let monthly_dollars = pipeline::sizing::total(&pipeline::sizing::monthly_cost(
        pipeline::sizing::for_network(network),
        Default::default(),
    ));
    findings.push(cost(network, monthly_dollars));
    Preflight { findings, creates, monthly_dollars }
}

/// The steady node's month, from the sizing table.
fn cost(network: Network, monthly_dollars: f64) -> Finding {
    let name = network.name();
    Finding::new(
        "cost",
        Level::Ok,
        format!("{name} node ≈ ${monthly_dollars:.0} a month at its steady size (`sigship plan --network {name}` itemises it)"),
    )
}

/// A finding as `print` writes it.
fn line(finding: &Finding) -> String {
    let mark = match finding.level {
        Level::Ok => "ok  ",
        Level::Warn => "warn",
        Level::Fail => "FAIL",
    };
    format!("  {mark} {:<18} {}", finding.check, finding.message)
}

async fn identity(cloud: &Cloud) -> Finding {
    match cloud.sts().get_caller_identity().send().await {
        Ok(who) => Finding::new(
            "account",
            Level::Ok,
            format!("{} as {} in {}", who.account().unwrap_or("?"), who.arn().unwrap_or("?"), cloud.region),
        ),
        Err(e) => Finding::new(
            "account",
            Level::Fail,
            format!(
                "no usable credentials ({}): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (default.env passes them to the container)",
                pipeline::Error::aws("sts:GetCallerIdentity", e)
            ),
        ),
    }
}

/// Regions where S3 does not offer the account regional namespace, which `up`'s default bucket
/// name (`<stack>-<account>-<region>-an`) is created in.
const NO_ACCOUNT_NAMESPACE: [&str; 2] = ["me-south-1", "me-central-1"];

/// A new stack's default bucket in a region without the account regional namespace: `--bucket`.
fn bucket_namespace(region: &str, creates: bool, bucket: Option<&str>) -> Option<Finding> {
    (creates && bucket.is_none() && NO_ACCOUNT_NAMESPACE.contains(&region)).then(|| {
        Finding::new(
            "bucket",
            Level::Fail,
            format!(
                "S3 offers no account regional namespace in {region}, where the default artifacts bucket \
                 (<stack>-<account>-{region}-an) would be created: name one with --bucket <name> (a bucket name \
                 nobody else holds, e.g. sigship-<account>-{region}-artifacts)"
            ),
        )
    })
}

fn region(region: &str) -> Finding {
    if NO_FARGATE_ARM64.contains(&region) {
        return Finding::new(
            "region",
            Level::Fail,
            format!("{region} has no arm64 (Graviton) Fargate tasks, which the node runs on: choose another region, e.g. us-east-1 (AWS_REGION)"),
        );
    }
    if !CODEBUILD_ARM_REGIONS.contains(&region) {
        return Finding::new(
            "region",
            Level::Warn,
            format!(
                "AWS does not document CodeBuild ARM containers in {region} (documented: {}): the first build may fail; choose one of those to be sure",
                CODEBUILD_ARM_REGIONS.join(", ")
            ),
        );
    }
    Finding::new("region", Level::Ok, format!("{region}: arm64 Fargate and CodeBuild ARM containers"))
}

/// The exact request that raises the ARM/Large build quota to one build.
pub fn quota_request(region: &str) -> String {
    CODEBUILD_ARM_LARGE_BUILDS.increase_request(region, 1.0)
}

async fn build_quota(cloud: &Cloud) -> Finding {
    judge_quota(&cloud.region, read_quota(cloud, CODEBUILD_ARM_LARGE_BUILDS).await)
}

/// A quota's value as Service Quotas reports it for the account and region.
async fn read_quota(cloud: &Cloud, quota: Quota) -> std::result::Result<Option<f64>, String> {
    pipeline::aws::ServiceQuotas::new(&cloud.sdk).value(quota).await.map_err(|e| e.to_string())
}

async fn fargate_quota(cloud: &Cloud, node: &NodeSizes) -> Finding {
    judge_fargate_quota(&cloud.region, node, read_quota(cloud, FARGATE_ON_DEMAND_VCPUS).await)
}

/// The Fargate quota's verdict: room for the sync size (the larger; one task runs at a time),
/// else the request that makes room, or the smaller sync size the user may choose instead.
pub fn judge_fargate_quota(region: &str, node: &NodeSizes, value: std::result::Result<Option<f64>, String>) -> Finding {
    const CHECK: &str = "Fargate quota";
    let sync = node.sync;
    let needed = node.fargate_vcpus();
    let request = FARGATE_ON_DEMAND_VCPUS.increase_request(region, needed.ceil());
    match value {
        Ok(Some(vcpus)) if vcpus >= needed => {
            Finding::new(CHECK, Level::Ok, format!("{vcpus:.0} On-Demand vCPUs: room for the sync size ({sync})"))
        }
        Ok(value) => Finding::new(
            CHECK,
            Level::Fail,
            format!(
                "{} On-Demand vCPUs allowed; a {} node syncs at {sync}, which could not be placed. Raise it: {request} \
                 (or choose a smaller sync task with SyncTaskCpu/SyncTaskMemory: `sigship plan --network {} --sync-cpu 4096 --sync-memory 30720` estimates it)",
                value.map_or("no".to_string(), |v| format!("{v:.0}")),
                node.network.name(),
                node.network.name(),
            ),
        ),
        Err(reason) => Finding::new(
            CHECK,
            Level::Warn,
            format!("cannot read it ({reason}); the sync size needs {needed:.0} vCPUs: {request}"),
        ),
    }
}

/// The quota's verdict: at least one concurrent ARM/Large build, else the request to raise it.
pub fn judge_quota(region: &str, value: std::result::Result<Option<f64>, String>) -> Finding {
    const CHECK: &str = "CodeBuild quota";
    match value {
        Ok(Some(builds)) if builds >= 1.0 => Finding::new(
            CHECK,
            Level::Ok,
            format!(
                "{builds:.0} concurrent ARM/Large builds (needed, not enough: some new accounts are refused builds \
                 whatever this says, until AWS Support raises the account's limit; a release then fails \
                 BuildLimitExceeded saying so)"
            ),
        ),
        Ok(value) => Finding::new(
            CHECK,
            Level::Fail,
            format!(
                "{} concurrent ARM/Large builds allowed: every release would fail at StartBuild. Raise it (AWS approves small requests in hours): {}",
                value.map_or("no".to_string(), |v| format!("{v:.0}")),
                quota_request(region)
            ),
        ),
        Err(reason) => Finding::new(
            CHECK,
            Level::Warn,
            format!(
                "cannot read it ({reason}); if a release fails BuildLimitExceeded: {}",
                quota_request(region)
            ),
        ),
    }
}

async fn stack_state(cloud: &Cloud, stack_name: &str) -> (Finding, bool) {
    match stack::describe(&cloud.cloudformation(), stack_name).await {
        Ok(None) => (Finding::new("stack", Level::Ok, format!("{stack_name}: none yet; up creates it")), true),
        Ok(Some(stack)) => {
            let status = stack.status.as_str().to_string();
            let finding = if status.ends_with("_IN_PROGRESS") {
                Finding::new(
                    "stack",
                    Level::Fail,
                    format!(
                        "{stack_name} is {status}: wait for it to settle (aws cloudformation wait), then run again"
                    ),
                )
            } else if status == "ROLLBACK_COMPLETE" {
                Finding::new(
                    "stack",
                    Level::Warn,
                    format!("{stack_name} failed its creation (ROLLBACK_COMPLETE): up deletes it and creates it again"),
                )
            } else {
                Finding::new("stack", Level::Ok, format!("{stack_name} is {status}; up updates it"))
            };
            (finding, status == "ROLLBACK_COMPLETE")
        }
        Err(e) => (Finding::new("stack", Level::Fail, format!("cannot read stack {stack_name}: {e}")), false),
    }
}

/// Asks before creating billable resources: yes with `--yes`, else a `y` typed at a terminal.
pub fn confirm(preflight: &Preflight, stack_name: &str, yes: bool) -> Result<()> {
    if !preflight.creates || yes {
        return Ok(());
    }
    use std::io::IsTerminal;
    let question = format!(
        "create stack {stack_name}? It bills ≈ ${:.0} a month once a release runs (less until then)",
        preflight.monthly_dollars
    );
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!("{question}: confirm with --yes (nothing was created)")));
    }
    print!("{question} [y/N] ");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Usage("not confirmed: nothing was created".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fargate_quota_below_the_sync_size_fails_with_the_request_that_raises_it() {
        let table = NodeSizes::of_table;
        let mainnet = table(Network::Mainnet);
        let short = judge_fargate_quota("us-east-1", &mainnet, Ok(Some(6.0)));
        assert_eq!(short.level, Level::Fail, "{}", short.message);
        assert!(
            short.message.contains(
                "aws service-quotas request-service-quota-increase --region us-east-1 --service-code fargate --quota-code L-3032A538 --desired-value 16 "
            ),
            "{}",
            short.message
        );
        assert!(short.message.contains("SyncTaskCpu/SyncTaskMemory"), "{}", short.message);
        assert_eq!(judge_fargate_quota("us-east-1", &mainnet, Ok(Some(16.0))).level, Level::Ok);
        assert_eq!(judge_fargate_quota("us-east-1", &table(Network::Testnet4), Ok(Some(6.0))).level, Level::Ok);
        assert_eq!(judge_fargate_quota("us-east-1", &mainnet, Err("AccessDenied".into())).level, Level::Warn);
        // A sync task the user chose to fit the quota passes it.
        let sync = pipeline::sizing::for_network(Network::Mainnet)
            .chosen(pipeline::sizing::Profile::Sync, Some("4096"), Some("30720"))
            .unwrap();
        let chosen = NodeSizes { sync, ..NodeSizes::of_table(Network::Mainnet) };
        assert_eq!(judge_fargate_quota("us-east-1", &chosen, Ok(Some(6.0))).level, Level::Ok);
    }

    #[test]
    fn a_new_stack_in_a_region_without_the_account_namespace_needs_a_bucket_name() {
        let fail = bucket_namespace("me-central-1", true, None).unwrap();
        assert_eq!(fail.level, Level::Fail);
        assert!(fail.message.contains("--bucket <name>"), "{}", fail.message);
        assert_eq!(bucket_namespace("me-central-1", true, Some("mine")), None);
        assert_eq!(bucket_namespace("me-south-1", false, None), None, "an existing stack keeps its bucket");
        assert_eq!(bucket_namespace("eu-central-1", true, None), None);
    }

    #[test]
    fn a_quota_of_zero_or_none_fails_with_the_request_that_raises_it() {
        let zero = judge_quota("eu-west-1", Ok(Some(0.0)));
        assert_eq!(zero.level, Level::Fail);
        assert!(zero.message.contains("0 concurrent ARM/Large builds allowed"), "{}", zero.message);
        assert!(zero.message.ends_with(
            "aws service-quotas request-service-quota-increase --region eu-west-1 --service-code codebuild --quota-code L-596BEAB4 --desired-value 1"
        ));
        assert_eq!(judge_quota("eu-west-1", Ok(Some(1.0))).level, Level::Ok);
        assert_eq!(judge_quota("eu-west-1", Err("AccessDenied".into())).level, Level::Warn);
    }

    /// docs/deploy-to-aws.md shows the preflight of a mainnet stack: its cost line is the table's.
    #[test]
    fn the_walkthrough_s_cost_line_is_the_sizing_table_s() {
        let mainnet = pipeline::sizing::for_network(Network::Mainnet);
        let dollars = pipeline::sizing::total(&pipeline::sizing::monthly_cost(mainnet, Default::default()));
        let expected = line(&cost(Network::Mainnet, dollars));
        let page = include_str!("../../docs/deploy-to-aws.md");
        assert!(page.contains(&format!("{expected}\n")), "docs/deploy-to-aws.md should show:\n{expected}");
    }

    #[test]
    fn regions_without_arm64_fargate_fail_and_undocumented_codebuild_arm_warns() {
        assert_eq!(region("us-east-1").level, Level::Ok);
        assert_eq!(region("af-south-1").level, Level::Fail);
        assert_eq!(region("eu-north-1").level, Level::Warn);
    }
}
