//! Service deployment: create or update the Fargate service, then judge each poll as stable,
//! still rolling, or rolled back by the deployment circuit breaker.

use serde::{Deserialize, Serialize};

use crate::config::{Env, Polling};
use crate::error::{Error, Result};
use crate::release::check_not_a_downgrade;
use crate::running::{DeploymentRole, Revisions, RolloutState, ServiceSpec, ServiceView, Services};
use crate::task_definition::RegisteredTask;

pub struct DeployConfig {
    pub cluster: String,
    pub service: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    pub polling: Polling,
}

/// Fargate's time to place a task, attach its network interface and pull the ~30 MB image, with
/// room to spare; measured rollouts start in 30-90 s.
pub const TASK_PROVISIONING_SECONDS: u32 = 180;

/// The longest the deployment circuit breaker can take to decide a rollout of `desired` tasks,
/// in seconds. ECS rolls back after `min(max(ceil(desired / 2), 3), 200)` failed tasks; a task
/// that never turns healthy fails after provisioning, the health check's start period and
/// `retries` failed checks; then the previous revision starts and turns healthy. With
/// HEALTH_CHECK (30 s interval, 10 s timeout, 3 retries, 300 s start period) and one task:
/// 3 × (180 + 300 + 3 × 40) + (180 + 300 + 30) = 2310 s (38.5 min).
pub fn rollout_bound_seconds(desired: u32) -> u32 {
    let h = crate::task_definition::HEALTH_CHECK;
    let failures_to_roll_back = desired.div_ceil(2).clamp(3, 200);
    let failing_task = TASK_PROVISIONING_SECONDS + h.start_period + h.retries * (h.interval + h.timeout);
    let rollback = TASK_PROVISIONING_SECONDS + h.start_period + h.interval;
    failures_to_roll_back * failing_task + rollback
}

/// Poll every SIGSHIP_DEPLOY_POLL_SECONDS (15), for as long as the circuit breaker may take to
/// decide, so a slow rollout ends "rolled back", never "timed out" first.
/// SIGSHIP_DEPLOY_MAX_POLLS overrides the derived count.
fn deploy_polling(env: &Env) -> Result<Polling> {
    let interval: u32 = env.parsed_or("SIGSHIP_DEPLOY_POLL_SECONDS", 15)?;
    let derived = rollout_bound_seconds(DESIRED_COUNT).div_ceil(interval.max(1));
    Polling::from_env(env, "SIGSHIP_DEPLOY", interval, derived)
}

/// One btcd per service: two must never open the same chain data.
pub const DESIRED_COUNT: u32 = 1;

impl DeployConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        let subnets = env.list("SIGSHIP_SUBNETS");
        let security_groups = env.list("SIGSHIP_SECURITY_GROUPS");
        if subnets.is_empty() || security_groups.is_empty() {
            return Err(Error::config("SIGSHIP_SUBNETS and SIGSHIP_SECURITY_GROUPS must each name at least one id"));
        }
        Ok(DeployConfig {
            cluster: env.required("SIGSHIP_CLUSTER")?,
            service: env.optional("SIGSHIP_SERVICE").unwrap_or_else(|| "btcd".into()),
            subnets,
            security_groups,
            // Public subnets without a NAT gateway: the task needs a public IP to reach ECR and peers.
            assign_public_ip: env.parsed_or("SIGSHIP_ASSIGN_PUBLIC_IP", true)?,
            polling: deploy_polling(env)?,
        })
    }

    fn spec(&self, task_definition: &str) -> ServiceSpec {
        ServiceSpec {
            cluster: self.cluster.clone(),
            service: self.service.clone(),
            task_definition: task_definition.to_string(),
            desired_count: DESIRED_COUNT as i32,
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.clone(),
            assign_public_ip: self.assign_public_ip,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    InProgress,
    Stable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentState {
    pub status: DeploymentStatus,
    pub cluster: String,
    pub service: String,
    pub task_definition_arn: String,
    /// "created", "updated" or "unchanged".
    pub change: String,
    pub attempt: u32,
    pub poll_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
pub enum DeployRequest {
    Start { task: RegisteredTask },
    Poll { deployment: DeploymentState },
}

enum Progress {
    Stable,
    Rolling,
    RolledBack(String),
}

/// Stable: the service runs our revision, in one COMPLETED deployment, at its desired count.
/// Rolled back: the circuit breaker failed our deployment or put another revision back.
fn judge(view: &ServiceView, task_definition: &str) -> Progress {
    let ours = view.deployments.iter().find(|d| d.role == DeploymentRole::Primary);
    if let Some(primary) = ours {
        if primary.rollout_state == Some(RolloutState::Failed) {
            return Progress::RolledBack(primary.rollout_reason.clone().unwrap_or_else(|| "rollout FAILED".into()));
        }
    }
    if view.task_definition != task_definition {
        return Progress::RolledBack(format!("service is back on {}", view.task_definition));
    }
    let completed = ours.is_some_and(|d| d.rollout_state == Some(RolloutState::Completed));
    if completed && view.deployments.len() == 1 && view.running_count == view.desired_count {
        Progress::Stable
    } else {
        Progress::Rolling
    }
}

use crate::release::ReleaseLedger;

/// Raises the ledger to `tag` unless it holds a newer release (a downgrade run keeps the newest).
pub async fn record_release(ledger: &impl ReleaseLedger, tag: &str) -> Result<()> {
    let newest = ledger.newest_ran().await?;
    if newest.as_deref().is_none_or(|newest| crate::release::compare(tag, newest) == std::cmp::Ordering::Greater) {
        ledger.record_ran(tag).await?;
    }
    Ok(())
}

pub async fn handle(
    request: DeployRequest,
    config: &DeployConfig,
    services: &impl Services,
    revisions: &impl Revisions,
    ledger: &impl ReleaseLedger,
) -> Result<DeploymentState> {
    let mut state = match request {
        DeployRequest::Start { task } => start(&task, config, services, revisions).await?,
        DeployRequest::Poll { mut deployment } => {
            deployment.attempt += 1;
            deployment
        }
    };
    let view =
        services.describe(&state.cluster, &state.service).await?.filter(ServiceView::is_active).ok_or_else(|| {
            Error::DeploymentRolledBack {
                service: state.service.clone(),
                reason: "the service disappeared during the deployment".into(),
            }
        })?;
    match judge(&view, &state.task_definition_arn) {
        Progress::Stable => {
            let deployed = revisions.deployed(&state.task_definition_arn).await?;
            if let Some(tag) = deployed.and_then(|r| r.release_tag) {
                record_release(ledger, &tag).await?;
            }
            state.status = DeploymentStatus::Stable
        }
        Progress::RolledBack(reason) => return Err(Error::DeploymentRolledBack { service: state.service, reason }),
        Progress::Rolling if state.attempt >= config.polling.max_attempts => {
            return Err(Error::DeploymentTimedOut { service: state.service, attempts: state.attempt })
        }
        Progress::Rolling => state.status = DeploymentStatus::InProgress,
    }
    Ok(state)
}

async fn start(
    task: &RegisteredTask,
    config: &DeployConfig,
    services: &impl Services,
    revisions: &impl Revisions,
) -> Result<DeploymentState> {
    let task_definition = task.task_definition_arn.as_str();
    let spec = config.spec(task_definition);
    let existing = services.describe(&config.cluster, &config.service).await?.filter(ServiceView::is_active);
    let change = match existing {
        None => {
            services.create(&spec).await?;
            "created"
        }
        Some(view) if view.task_definition == task_definition => "unchanged",
        Some(view) => {
            // Judged against what runs now, not when the execution started: an older execution
            // queued behind a newer one meets the newer release here.
            let running = revisions.deployed(&view.task_definition).await?;
            let requested = revisions.deployed(task_definition).await?;
            if let (Some(running), Some(requested)) =
                (running.as_ref().and_then(|r| r.release()), requested.as_ref().and_then(|r| r.release()))
            {
                check_not_a_downgrade(running, requested, task.allow_downgrade)?;
            }
            services.update(&spec).await?;
            "updated"
        }
    };
    tracing::info!(service = %config.service, %task_definition, change, "deployment started");
    Ok(DeploymentState {
        status: DeploymentStatus::InProgress,
        cluster: config.cluster.clone(),
        service: config.service.clone(),
        task_definition_arn: task_definition.to_string(),
        change: change.to_string(),
        attempt: 0,
        poll_seconds: config.polling.interval_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeLedger, FakeRevisions, FakeServices};

    fn config() -> DeployConfig {
        DeployConfig {
            cluster: "sigship".into(),
            service: "btcd".into(),
            subnets: vec!["subnet-1".into()],
            security_groups: vec!["sg-1".into()],
            assign_public_ip: true,
            polling: Polling { interval_seconds: 1, max_attempts: 2 },
        }
    }

    fn task(arn: &str) -> RegisteredTask {
        RegisteredTask {
            task_definition_arn: arn.into(),
            image: "repo@sha256:aa".into(),
            registered: true,
            allow_downgrade: false,
        }
    }

    #[test]
    fn the_deploy_wait_outlasts_the_circuit_breaker() {
        // One task: three failed tasks, then the rollback to the previous revision.
        assert_eq!(rollout_bound_seconds(1), 3 * (180 + 300 + 3 * 40) + (180 + 300 + 30));
        assert_eq!(rollout_bound_seconds(10), 5 * (180 + 300 + 3 * 40) + (180 + 300 + 30));
        let env = Env::from_pairs([
            ("SIGSHIP_SUBNETS", "subnet-1"),
            ("SIGSHIP_SECURITY_GROUPS", "sg-1"),
            ("SIGSHIP_CLUSTER", "c"),
        ]);
        let polling = DeployConfig::from_env(&env).unwrap().polling;
        assert_eq!((polling.interval_seconds, polling.max_attempts), (15, 154));
        assert!(polling.interval_seconds * polling.max_attempts >= rollout_bound_seconds(1));
        let local = Env::from_pairs([
            ("SIGSHIP_SUBNETS", "subnet-1"),
            ("SIGSHIP_SECURITY_GROUPS", "sg-1"),
            ("SIGSHIP_CLUSTER", "c"),
            ("SIGSHIP_DEPLOY_POLL_SECONDS", "1"),
        ]);
        assert_eq!(DeployConfig::from_env(&local).unwrap().polling.max_attempts, 2310, "same bound in time");
        // The old fixed 15 s × 80 = 20 min gave up before the breaker could decide.
        assert!(15 * 80 < rollout_bound_seconds(1));
    }

    /// `request` to deploy on `services`, no release tags on the revisions.
    async fn deploy_on(services: &FakeServices, request: DeployRequest) -> Result<DeploymentState> {
        let (revisions, ledger) = (FakeRevisions::default(), FakeLedger::default());
        handle(request, &config(), services, &revisions, &ledger).await
    }

    async fn start_on(services: &FakeServices, arn: &str) -> Result<DeploymentState> {
        deploy_on(services, DeployRequest::Start { task: task(arn) }).await
    }

    #[tokio::test]
    async fn creates_then_updates_then_leaves_alone() {
        let services = FakeServices::settling();
        let created = start_on(&services, "td:1").await.unwrap();
        assert_eq!((created.change.as_str(), created.status), ("created", DeploymentStatus::Stable));
        let updated = start_on(&services, "td:2").await.unwrap();
        assert_eq!(updated.change, "updated");
        let same = start_on(&services, "td:2").await.unwrap();
        assert_eq!(same.change, "unchanged");
        assert_eq!(services.calls.lock().unwrap().as_slice(), ["create td:1", "update td:2"]);
    }

    #[tokio::test]
    async fn a_circuit_breaker_rollback_is_a_named_error() {
        let services = FakeServices::rolling_back("td:1");
        let err = start_on(&services, "td:2").await.unwrap_err();
        assert_eq!(err.name(), "DeploymentRolledBack");
    }

    #[tokio::test]
    async fn waiting_for_stability_is_bounded() {
        let services = FakeServices::stuck();
        let first = start_on(&services, "td:1").await.unwrap();
        assert_eq!(first.status, DeploymentStatus::InProgress);
        let second = deploy_on(&services, DeployRequest::Poll { deployment: first }).await.unwrap();
        assert_eq!((second.attempt, second.status), (1, DeploymentStatus::InProgress));
        let err = deploy_on(&services, DeployRequest::Poll { deployment: second }).await.unwrap_err();
        assert_eq!(err.name(), "DeploymentTimedOut");
    }

    #[tokio::test]
    async fn an_older_release_is_refused_unless_the_execution_allows_it() {
        let services = FakeServices::settling();
        let revisions = FakeRevisions(
            vec![
                ("td:1", "v0.24.2", "2222222222222222"),
                ("td:2", "v0.24.0", "0000000000000000"),
                ("td:3", "v0.24.2", "3333333333333333"),
                ("td:4", "v0.25.0", "5555555555555555"),
            ],
            None,
        );
        let config = config();
        let ledger = FakeLedger::default();
        let start = |task| handle(DeployRequest::Start { task }, &config, &services, &revisions, &ledger);
        start(task("td:1")).await.unwrap();
        let older = start(task("td:2")).await.unwrap_err();
        assert_eq!(older.name(), "Downgrade");
        assert!(
            older.to_string().starts_with(
                "release v0.24.0 (commit 000000000000) is older than the running v0.24.2 (commit 222222222222)"
            ),
            "{older}"
        );
        let rebuilt = start(task("td:3")).await.unwrap_err();
        assert_eq!(rebuilt.name(), "Downgrade", "the same version from another commit");
        assert_eq!(services.calls.lock().unwrap().as_slice(), ["create td:1"], "nothing changed");

        // Each stable release is recorded as the newest that ran; an allowed downgrade keeps it.
        assert_eq!(*ledger.0.lock().unwrap(), Some("v0.24.2".to_string()));
        let allowed = start(RegisteredTask { allow_downgrade: true, ..task("td:2") }).await.unwrap();
        assert_eq!(allowed.change, "updated");
        assert_eq!(*ledger.0.lock().unwrap(), Some("v0.24.2".to_string()));
        assert_eq!(start(task("td:4")).await.unwrap().change, "updated", "newer: no question asked");
        assert_eq!(*ledger.0.lock().unwrap(), Some("v0.25.0".to_string()));
        // A revision without sigship's tags (registered by hand) is not judged.
        assert_eq!(start(task("td:9")).await.unwrap().change, "updated");
    }
}
