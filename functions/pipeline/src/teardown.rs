//! Teardown by execution input. Touches only what sigship created (tagged `sigship:managed`),
//! is idempotent, and keeps chain data unless the input asks for its deletion by name.

use serde::{Deserialize, Serialize};

use crate::config::{Env, Polling};
use crate::error::{Error, Result};
use crate::running::Services;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Scope {
    /// The running service and its task definitions.
    Service,
    /// The built images in ECR.
    Images,
    Everything,
}

impl Scope {
    pub const ALL: &'static [Scope] = <Scope as strum::VariantArray>::VARIANTS;

    /// The name the execution input and the CLI use.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainData {
    #[default]
    Keep,
    Delete,
}

/// The destroy execution's input, e.g. `{"destroy": "everything", "chainData": "keep"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestroyRequest {
    pub destroy: Scope,
    #[serde(default)]
    pub chain_data: ChainData,
}

impl DestroyRequest {
    /// As JSON, the execution's input.
    pub fn input(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestroyReport {
    pub scope: Scope,
    pub deleted: Vec<String>,
    pub kept: Vec<String>,
    pub nothing_to_do: bool,
}

pub trait Teardown {
    /// Deletes every image in sigship's repository; returns what it deleted.
    async fn delete_images(&self) -> Result<Vec<String>>;
    /// Deregisters the sigship-tagged ACTIVE revisions of `family`; returns their ARNs.
    async fn deregister_task_definitions(&self, family: &str) -> Result<Vec<String>>;
    /// Deletes the sigship-tagged file system (mount targets and access points first); returns
    /// its id, or None when it is already gone.
    /// Deletes the chain data file system, and first the stack's access point on it (the only
    /// one its role may delete) and its mount targets.
    async fn delete_chain_data(&self, file_system_id: &str, access_point_id: Option<&str>) -> Result<Option<String>>;
    /// Whether the service carries the `sigship:managed` tag.
    async fn service_is_managed(&self, cluster: &str, service: &str) -> Result<bool>;
    /// The service's tasks not STOPPED yet (running, or still stopping): their network
    /// interfaces are still attached, and a stack deletion right now would fail on them.
    async fn unstopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>>;
}

pub struct TeardownConfig {
    pub cluster: String,
    pub service: String,
    pub family: String,
    pub file_system_id: Option<String>,
    /// The stack's access point on it.
    pub access_point_id: Option<String>,
    /// How often and how long to wait for a deleted service's tasks to stop.
    pub drain: Polling,
}

impl TeardownConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(TeardownConfig {
            cluster: env.required("SIGSHIP_CLUSTER")?,
            service: env.optional("SIGSHIP_SERVICE").unwrap_or_else(|| "btcd".into()),
            family: env.optional("SIGSHIP_TASK_FAMILY").unwrap_or_else(|| "btcd".into()),
            file_system_id: env.optional("SIGSHIP_FILE_SYSTEM_ID"),
            access_point_id: env.optional("SIGSHIP_ACCESS_POINT_ID"),
            // A task gets the container's stop timeout (120 s) and then gives its interface back:
            // 5 s × 120 = 10 min is well past both.
            drain: Polling::from_env(env, "SIGSHIP_DRAIN", 5, 120)?,
        })
    }
}

pub async fn destroy(
    request: &DestroyRequest,
    config: &TeardownConfig,
    services: &impl Services,
    teardown: &impl Teardown,
) -> Result<DestroyReport> {
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    if matches!(request.destroy, Scope::Service | Scope::Everything) {
        let active = services.describe(&config.cluster, &config.service).await?.is_some_and(|s| s.is_active());
        if active {
            if teardown.service_is_managed(&config.cluster, &config.service).await? {
                services.delete(&config.cluster, &config.service).await?;
                wait_until_stopped(config, services, teardown).await?;
                deleted.push(format!("service {}/{}", config.cluster, config.service));
            } else {
                kept.push(format!("service {}/{} (not tagged sigship:managed)", config.cluster, config.service));
            }
        }
        for arn in teardown.deregister_task_definitions(&config.family).await? {
            deleted.push(format!("task definition {arn}"));
        }
    }
    if matches!(request.destroy, Scope::Images | Scope::Everything) {
        for image in teardown.delete_images().await? {
            deleted.push(format!("image {image}"));
        }
    }
    if let Some(fs) = &config.file_system_id {
        match (request.destroy, request.chain_data) {
            (Scope::Everything, ChainData::Delete) => {
                if let Some(id) = teardown.delete_chain_data(fs, config.access_point_id.as_deref()).await? {
                    deleted.push(format!("chain data file system {id}"));
                }
            }
            (_, ChainData::Delete) => kept.push(format!(
                "chain data file system {fs} (chainData \"delete\" only applies with destroy \"everything\")"
            )),
            (_, ChainData::Keep) => kept.push(format!("chain data file system {fs}")),
        }
    }
    for item in &deleted {
        tracing::info!(%item, "deleted");
    }
    Ok(DestroyReport { scope: request.destroy, nothing_to_do: deleted.is_empty(), deleted, kept })
}

/// Done only when the service is INACTIVE (or gone) and none of its tasks is still stopping.
async fn wait_until_stopped(config: &TeardownConfig, services: &impl Services, teardown: &impl Teardown) -> Result<()> {
    let (cluster, service) = (&config.cluster, &config.service);
    for look in 1..=config.drain.max_attempts {
        let active = services.describe(cluster, service).await?.is_some_and(|s| s.is_active());
        let unstopped = teardown.unstopped_tasks(cluster, service).await?;
        if !active && unstopped.is_empty() {
            return Ok(());
        }
        tracing::info!(look, active, tasks = unstopped.len(), "waiting for the service's tasks to stop");
        tokio::time::sleep(std::time::Duration::from_secs(config.drain.interval_seconds.into())).await;
    }
    Err(Error::TeardownTimedOut { service: format!("{cluster}/{service}"), attempts: config.drain.max_attempts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_requests_read_back_what_they_write() {
        for &scope in Scope::ALL {
            assert_eq!(scope.name().parse::<Scope>(), Ok(scope));
        }
        assert!("all".parse::<Scope>().is_err());
        assert_eq!(crate::config::names::<Scope>(), "service, images, everything");
        let request = DestroyRequest { destroy: Scope::Everything, chain_data: ChainData::Delete };
        assert_eq!(request.input(), serde_json::json!({"destroy": "everything", "chainData": "delete"}));
        let back: DestroyRequest = serde_json::from_value(request.input()).unwrap();
        assert_eq!((back.destroy, back.chain_data), (Scope::Everything, ChainData::Delete));
    }
    use crate::running::ServiceSpec;
    use crate::testing::{FakeServices, FakeTeardown};

    fn config() -> TeardownConfig {
        TeardownConfig {
            cluster: "sigship".into(),
            service: "btcd".into(),
            family: "btcd".into(),
            file_system_id: Some("fs-1".into()),
            access_point_id: Some("fsap-1".into()),
            drain: Polling { interval_seconds: 0, max_attempts: 3 },
        }
    }

    async fn running_service() -> FakeServices {
        let services = FakeServices::settling();
        let spec = ServiceSpec {
            cluster: "sigship".into(),
            service: "btcd".into(),
            task_definition: "td:1".into(),
            desired_count: 1,
            subnets: vec![],
            security_groups: vec![],
            assign_public_ip: true,
        };
        services.create(&spec).await.unwrap();
        services
    }

    #[tokio::test]
    async fn everything_twice_deletes_once_and_keeps_chain_data() {
        let services = running_service().await;
        let teardown = FakeTeardown::with(&["sha256:aa"], &["td:1"], true);
        let request = DestroyRequest { destroy: Scope::Everything, chain_data: ChainData::Keep };
        let first = destroy(&request, &config(), &services, &teardown).await.unwrap();
        assert_eq!(first.deleted, ["service sigship/btcd", "task definition td:1", "image sha256:aa"]);
        assert_eq!(first.kept, ["chain data file system fs-1"]);
        let second = destroy(&request, &config(), &services, &teardown).await.unwrap();
        assert!(second.nothing_to_do && second.deleted.is_empty());
    }

    #[tokio::test]
    async fn done_only_once_the_deleted_services_tasks_have_stopped() {
        let services = running_service().await;
        let teardown = FakeTeardown::with(&[], &[], true);
        *teardown.stopping_for.lock().unwrap() = 2;
        let request = DestroyRequest { destroy: Scope::Service, chain_data: ChainData::Keep };
        let report = destroy(&request, &config(), &services, &teardown).await.unwrap();
        assert_eq!(report.deleted, ["service sigship/btcd"]);
        assert_eq!(*teardown.stopping_for.lock().unwrap(), 0, "it waited through both looks");

        // Still stopping after the bound: a named error, not "done".
        let services = running_service().await;
        *teardown.stopping_for.lock().unwrap() = 5;
        let err = destroy(&request, &config(), &services, &teardown).await.unwrap_err();
        assert_eq!(err.name(), "TeardownTimedOut");
        assert_eq!(err.to_string(), "service sigship/btcd deleted, but its tasks had not all stopped after 3 checks");
    }

    #[tokio::test]
    async fn chain_data_goes_only_when_asked_with_everything() {
        let teardown = FakeTeardown::with(&[], &[], true);
        let services = FakeServices::settling();
        let request = DestroyRequest { destroy: Scope::Service, chain_data: ChainData::Delete };
        let report = destroy(&request, &config(), &services, &teardown).await.unwrap();
        assert!(report.kept[0].contains("only applies with destroy \"everything\""));
        let request = DestroyRequest { destroy: Scope::Everything, chain_data: ChainData::Delete };
        let report = destroy(&request, &config(), &services, &teardown).await.unwrap();
        assert_eq!(report.deleted, ["chain data file system fs-1"]);
        // The stack's access point, the only one DestroyRole may delete.
        assert_eq!(*teardown.access_point_deleted.lock().unwrap(), Some("fsap-1".to_string()));
    }

    #[tokio::test]
    async fn an_untagged_service_is_left_alone() {
        let services = running_service().await;
        let teardown = FakeTeardown::with(&[], &[], false);
        let request = DestroyRequest { destroy: Scope::Service, chain_data: ChainData::Keep };
        let report = destroy(&request, &config(), &services, &teardown).await.unwrap();
        assert!(report.deleted.is_empty());
        assert!(report.kept[0].contains("not tagged sigship:managed"));
    }

    #[test]
    fn the_input_names_its_scope() {
        let request: DestroyRequest = serde_json::from_str(r#"{"destroy":"everything"}"#).unwrap();
        assert_eq!((request.destroy, request.chain_data), (Scope::Everything, ChainData::Keep));
        assert!(serde_json::from_str::<DestroyRequest>(r#"{"destroy":"all"}"#).is_err());
    }
}
