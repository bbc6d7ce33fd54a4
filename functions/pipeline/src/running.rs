//! What runs: the ECS service and the revision it runs, as the deployment, the node's operation
//! and teardown read them. The traits are implemented over ECS in `aws/`.

use serde::Serialize;

use crate::error::Result;
use crate::release::ReleaseRef;
use crate::sizing::{Profile, TaskSize};

/// A deployment's place in its service: the newest (PRIMARY), an older one still running
/// (ACTIVE), or one that has finished draining (INACTIVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentRole {
    Primary,
    Active,
    Inactive,
}

/// How the deployment circuit breaker judges a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    InProgress,
    Completed,
    /// Rolled back: the circuit breaker gave up on it.
    Failed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentView {
    pub role: DeploymentRole,
    pub task_definition: String,
    pub rollout_state: Option<RolloutState>,
    pub rollout_reason: Option<String>,
}

/// ECS's status of a service: deleted services stay visible as INACTIVE for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceStatus {
    Active,
    Draining,
    Inactive,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Active => "ACTIVE",
            ServiceStatus::Draining => "DRAINING",
            ServiceStatus::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub status: ServiceStatus,
    pub task_definition: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub deployments: Vec<DeploymentView>,
}

impl ServiceView {
    pub fn is_active(&self) -> bool {
        self.status == ServiceStatus::Active
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    pub desired_count: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

pub trait Services {
    async fn describe(&self, cluster: &str, service: &str) -> Result<Option<ServiceView>>;
    async fn create(&self, spec: &ServiceSpec) -> Result<()>;
    async fn update(&self, spec: &ServiceSpec) -> Result<()>;
    /// Scales to zero and deletes; chain data lives on EFS and is untouched.
    async fn delete(&self, cluster: &str, service: &str) -> Result<()>;
}

/// What the deployed revision says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedRevision {
    pub task_definition: String,
    pub image: String,
    pub release_tag: Option<String>,
    pub commit: Option<String>,
    pub network: &'static str,
    /// Its `sigship:profile` (None for revisions from before profiles: steady).
    pub profile: Option<Profile>,
    /// Its size: CPU, memory, and the UTXO cache its command gives btcd (btcd's default without
    /// the flag).
    pub size: Option<TaskSize>,
    /// When it was registered, Unix ms: since when its profile runs, near enough.
    pub registered_at_ms: Option<i64>,
}

impl DeployedRevision {
    /// The release it names, if sigship's release tags are on it (a revision made by hand has none).
    pub fn release(&self) -> Option<ReleaseRef<'_>> {
        Some(ReleaseRef { tag: self.release_tag.as_deref()?, commit: self.commit.as_deref() })
    }
}

pub trait Revisions {
    async fn deployed(&self, task_definition: &str) -> Result<Option<DeployedRevision>>;
}
