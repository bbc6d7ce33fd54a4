//! Adapters from the domain traits to the AWS SDK. Each holds its client, built once per execution environment.
//! They honour `AWS_ENDPOINT_URL`, which is how the local cloud points them at moto.

mod codebuild;
mod ecr;
mod ecs;
mod efs;
mod logs;
mod quotas;
#[cfg(test)]
mod replay;
mod s3;
mod secrets;
mod sfn;
mod ssm;

pub use codebuild::CodeBuild;
pub use ecr::Ecr;
pub use ecs::{container_definition, Ecs};
pub use efs::Efs;
pub use logs::Logs;
pub use quotas::ServiceQuotas;
pub use s3::load_trust_root;
pub use secrets::secret_string;
pub use sfn::StepFunctions;
pub use ssm::{BaseImagesParameter, RanParameter, ReproducedParameter, WatchParameters, MARKS, UNSET};

use crate::error::Result;
use crate::teardown::Teardown;

/// What both triggers set up once per environment: the trust root (the webhook uses its tag
/// patterns, the watch verifies with all of it), the repository, the state machine they start
/// and the node's service (no release starts while it syncs).
pub async fn trigger_setup(
    sdk: &aws_config::SdkConfig,
    env: &crate::config::Env,
) -> Result<(crate::verify::TrustRoot, crate::verify::GitRemote, TriggerTarget)> {
    let config = crate::trigger::TriggerConfig::from_env(env)?;
    let trust = load_trust_root(&config.trust_root, sdk).await?;
    let remote = config.remote();
    let node = crate::node::RunningNode { ecs: Ecs::new(sdk), cluster: config.cluster, service: config.service };
    Ok((trust, remote, crate::trigger::Target { executions: StepFunctions::new(sdk, config.state_machine_arn), node }))
}

/// Where the triggers start releases, over the real services.
pub type TriggerTarget = crate::trigger::Target<StepFunctions, crate::node::RunningNode<Ecs>>;

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// Everything destroy needs, over the real services.
pub struct AwsTeardown {
    pub ecr: Ecr,
    pub ecs: Ecs,
    pub efs: Efs,
}

impl Teardown for AwsTeardown {
    async fn delete_images(&self) -> Result<Vec<String>> {
        self.ecr.delete_all_images().await
    }

    async fn deregister_task_definitions(&self, family: &str) -> Result<Vec<String>> {
        self.ecs.deregister_managed(family).await
    }

    async fn delete_chain_data(&self, file_system_id: &str, access_point_id: Option<&str>) -> Result<Option<String>> {
        self.efs.delete_managed(file_system_id, access_point_id).await
    }

    async fn service_is_managed(&self, cluster: &str, service: &str) -> Result<bool> {
        self.ecs.service_is_managed(cluster, service).await
    }

    async fn unstopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>> {
        self.ecs.unstopped_tasks(cluster, service).await
    }
}

fn tagged_managed<'a>(mut tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> bool {
    tags.any(|(k, v)| k == Some(crate::MANAGED_TAG) && v == Some("true"))
}
