//! Task definition: the btcd container on Fargate, its image pinned by digest, never by tag;
//! registered, or the newest revision reused when it already holds exactly that content.

mod config;
mod container;

pub use config::{HealthCheckTiming, TaskConfig, HEALTH_CHECK};
pub use container::*;

use serde::{Deserialize, Serialize};

use crate::build::{BuildState, ImageRegistry};
use crate::error::{Error, Result};
use crate::release::Release;
use crate::running::{Revisions, ServiceStatus, Services};
use crate::sizing::Profile;
use crate::verify::VerifiedTag;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredTask {
    pub task_definition_arn: String,
    pub image: String,
    /// False when the latest revision already had exactly this content and was reused.
    pub registered: bool,
    /// The execution asked to deploy it even if it is older than the running release.
    #[serde(default)]
    pub allow_downgrade: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    pub verified: VerifiedTag,
    pub build: BuildState,
}

/// The newest ACTIVE revision of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestRevision {
    pub arn: String,
    /// Who registered it (`registeredBy`: the caller's ARN).
    pub registered_by: Option<String>,
    /// What it holds ([`TaskSpec::content`]); None when it holds anything register-task never
    /// registers (another container, an entry point, a writable root, …).
    pub content: Option<TaskSpec>,
}

/// The role name in a caller's ARN: `…:assumed-role/<name>/<session>` or `…:role/<path>/<name>`.
pub fn role_of(caller: &str) -> Option<&str> {
    let resource = caller.splitn(6, ':').nth(5)?;
    match resource.split('/').collect::<Vec<_>>().as_slice() {
        ["assumed-role", name, _session] => Some(name),
        ["role", .., name] => Some(name),
        _ => None,
    }
}

pub trait TaskDefinitions {
    async fn latest(&self, family: &str) -> Result<Option<LatestRevision>>;
    async fn register(&self, spec: &TaskSpec) -> Result<String>;
}

/// What register-task is asked: a release's revision (at the profile that runs now), or the
/// running release's revision at another profile (an execution `{"profile": …}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RegisterInput {
    Release(Box<RegisterRequest>),
    Reprofile(ReprofileRequest),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReprofileRequest {
    pub profile: Profile,
}

pub async fn handle(
    input: &RegisterInput,
    config: &TaskConfig,
    images: &impl ImageRegistry,
    tasks: &impl TaskDefinitions,
    services: &impl Services,
    revisions: &impl Revisions,
) -> Result<RegisteredTask> {
    let running = match services.describe(&config.cluster, &config.service).await? {
        Some(service) if service.status != ServiceStatus::Inactive => {
            revisions.deployed(&service.task_definition).await?
        }
        _ => None,
    };
    match input {
        RegisterInput::Release(request) => {
            let profile = running.and_then(|r| r.profile).unwrap_or_default();
            register(request, profile, config, images, tasks).await
        }
        RegisterInput::Reprofile(ReprofileRequest { profile }) => {
            let running = running.ok_or_else(|| {
                Error::InvalidInput(format!("no release runs: nothing to run at the {} profile", profile.name()))
            })?;
            let (Some(tag), Some(commit)) = (running.release_tag, running.commit) else {
                return Err(Error::InvalidInput(format!(
                    "the running revision {} names no release (sigship:tag, sigship:commit)",
                    running.task_definition
                )));
            };
            let spec = task_spec(config, *profile, running.image.clone(), &Release { tag, commit });
            tracing::info!(profile = profile.name(), release = ?spec.tags, "the running release at another profile");
            register_spec(spec, config, tasks, false).await
        }
    }
}

pub async fn register(
    request: &RegisterRequest,
    profile: Profile,
    config: &TaskConfig,
    images: &impl ImageRegistry,
    tasks: &impl TaskDefinitions,
) -> Result<RegisteredTask> {
    config.sizes.network.check_release(&request.verified.tag)?;
    let repository = images.repository_uri().await?;
    let digest = images.digest_of(&request.build.image_tag).await?.ok_or_else(|| Error::ImageMissing {
        repository_uri: repository.clone(),
        image_tag: request.build.image_tag.clone(),
    })?;
    let spec = task_spec(config, profile, format!("{repository}@{digest}"), &Release::from(&request.verified));
    register_spec(spec, config, tasks, request.verified.allow_downgrade).await
}

/// Registers `spec`, or reuses the latest revision when register-task registered it (its role,
/// `registeredBy`) with exactly this content, compared field by field. Tags decide nothing: anyone
/// allowed to register task definitions or tag them could copy them.
async fn register_spec(
    spec: TaskSpec,
    config: &TaskConfig,
    tasks: &impl TaskDefinitions,
    allow_downgrade: bool,
) -> Result<RegisteredTask> {
    let image = spec.image.clone();
    if let Some(latest) = tasks.latest(&config.family).await? {
        let ours = latest.registered_by.as_deref().and_then(role_of) == Some(config.registrar_role.as_str());
        if ours && latest.content.as_ref() == Some(&spec.content()) {
            tracing::info!(task_definition = %latest.arn, %image, "latest revision already has this content; reusing it");
            return Ok(RegisteredTask { task_definition_arn: latest.arn, image, registered: false, allow_downgrade });
        }
        if !ours {
            tracing::warn!(task_definition = %latest.arn, registered_by = ?latest.registered_by, "the latest revision was not registered by register-task: not reused");
        }
    }
    let arn = tasks.register(&spec).await?;
    tracing::info!(task_definition = %arn, %image, "task definition registered");
    Ok(RegisteredTask { task_definition_arn: arn, image, registered: true, allow_downgrade })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::BuildStatus;
    use crate::network::Network;
    use crate::testing::{task_config as config, verified_tag, FakeRegistry, FakeTaskDefinitions};

    /// A release keeps the profile that runs; `{"profile": …}` re-registers the running release at
    /// the other size (image, release tags kept; size and cache flag from the table).
    #[tokio::test]
    async fn a_release_keeps_the_running_profile_and_a_reprofile_runs_the_same_release_at_the_other_size() {
        use crate::testing::{FakeRevisions, FakeServices};
        let services = FakeServices::running("td:7", 1, 1);
        let images = FakeRegistry::with_image("v0.24.2-0123456789ab", "sha256:bb");
        let tasks = FakeTaskDefinitions::default();
        let syncing = FakeRevisions(vec![("td:7", "v0.24.1", "1111111111111111")], Some(Profile::Sync));
        let table = crate::sizing::for_network(Network::Testnet3);

        let released =
            handle(&RegisterInput::Release(Box::new(request())), &config(), &images, &tasks, &services, &syncing).await;
        released.unwrap();
        let spec = tasks.registered.lock().unwrap().last().cloned().unwrap();
        assert_eq!((spec.cpu, spec.memory), (table.sync.cpu.to_string(), table.sync.memory_mib.to_string()));
        assert!(spec.tags.contains(&(PROFILE_TAG.into(), "sync".into())), "{:?}", spec.tags);
        assert!(spec.command.contains(&format!("--utxocachemaxsize={}", table.sync.utxo_cache_mib)));
        let limit = format!("{}MiB", table.sync.memory_mib / 10 * 9);
        assert!(spec.environment.contains(&("GOMEMLIMIT".into(), limit)), "{:?}", spec.environment);
        assert!(spec.environment.contains(&("GOGC".into(), "100".into())), "btcd would set 10: {:?}", spec.environment);

        let input: RegisterInput = serde_json::from_value(serde_json::json!({"profile": "steady"})).unwrap();
        let steady = handle(&input, &config(), &images, &tasks, &services, &syncing).await.unwrap();
        assert!(steady.registered);
        let spec = tasks.registered.lock().unwrap().last().cloned().unwrap();
        assert_eq!((spec.cpu, spec.memory), (table.steady.cpu.to_string(), table.steady.memory_mib.to_string()));
        assert_eq!(spec.image, format!("{}@sha256:{}", FakeRegistry::URI, "a".repeat(64)), "the running image");
        assert!(spec.tags.contains(&(RELEASE_TAG.into(), "v0.24.1".into())), "the running release");
        assert!(spec.tags.contains(&(PROFILE_TAG.into(), "steady".into())));

        // Without a running release there is nothing to resize; a revision from before profiles is steady.
        let none = FakeServices::settling();
        let err = handle(&input, &config(), &images, &tasks, &none, &FakeRevisions::default()).await.unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
        let old = FakeRevisions(vec![("td:7", "v0.24.1", "1111111111111111")], None);
        handle(&RegisterInput::Release(Box::new(request())), &config(), &images, &tasks, &services, &old)
            .await
            .unwrap();
        let spec = tasks.registered.lock().unwrap().last().cloned().unwrap();
        assert_eq!(spec.cpu, table.steady.cpu.to_string());
    }

    fn request() -> RegisterRequest {
        let verified = verified_tag("v0.24.2");
        RegisterRequest {
            build: BuildState {
                status: BuildStatus::Succeeded,
                image_tag: crate::build::image_tag(&verified.tag, &verified.commit),
                commit: verified.commit.clone(),
                build_id: None,
                skipped: true,
                attempt: 0,
                poll_seconds: 5,
                binaries: Default::default(),
                built_with: None,
            },
            verified,
        }
    }

    #[tokio::test]
    async fn register_task_refuses_a_release_that_cannot_run_the_network() {
        let mut request = request();
        request.verified.tag = "v0.24.2".into();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let config = TaskConfig { sizes: crate::sizing::NodeSizes::of_table(Network::Testnet4), ..config() };
        let err = register(&request, Profile::Steady, &config, &images, &tasks).await.unwrap_err();
        assert_eq!(err.name(), "NetworkUnsupported", "{err}");
        assert!(tasks.registered.lock().unwrap().is_empty(), "no task definition for a release that would crash-loop");
    }

    #[tokio::test]
    async fn registers_the_image_by_digest_with_secrets_by_reference() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let registered = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        assert!(registered.registered);
        assert_eq!(registered.image, format!("{}@sha256:abc", FakeRegistry::URI));
        let specs = tasks.registered.lock().unwrap();
        let spec = &specs[0];
        assert_eq!(spec.image, registered.image);
        assert!(spec.command.contains(&"--testnet".to_string()));
        assert!(spec.command.contains(&"--maxpeers=16".to_string()));
        assert_eq!(spec.p2p_port, 18333);
        assert!(spec.health_check[1].contains("--rpcserver=127.0.0.1:18334 "), "{:?}", spec.health_check);
        assert!(spec.secrets.iter().all(|(_, from)| from.starts_with("arn:aws:secretsmanager:")));
        assert!(spec.tags.contains(&(COMMIT_TAG.into(), request.verified.commit.clone())));
    }

    #[tokio::test]
    async fn reuses_the_latest_revision_when_it_runs_the_same_image() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let first = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        let second = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        assert_eq!(first.task_definition_arn, second.task_definition_arn);
        assert!(!second.registered);
        assert_eq!(tasks.registered.lock().unwrap().len(), 1);
    }

    /// A revision with the same content and every tag copied, registered by anyone but
    /// register-task's role, is never reused; nor is one of register-task's with other content.
    #[tokio::test]
    async fn only_a_revision_register_task_registered_with_this_content_is_reused() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let expected = task_spec(
            &config(),
            Profile::Steady,
            format!("{}@sha256:abc", FakeRegistry::URI),
            &Release::from(&request.verified),
        );
        for someone in [
            "arn:aws:sts::123456789012:assumed-role/Developer/mallory",
            "arn:aws:iam::123456789012:user/mallory",
            "arn:aws:sts::123456789012:assumed-role/sigship-RegisterTaskRole-TEST-copy/x",
        ] {
            let tasks = FakeTaskDefinitions::default();
            tasks.registered_by(expected.clone(), someone);
            let registered = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
            assert!(registered.registered, "{someone}");
            assert_eq!(registered.task_definition_arn, "btcd:2");
        }
        // register-task's, but another image under the same tags.
        let tasks = FakeTaskDefinitions::default();
        let mut other = expected.clone();
        other.image = format!("{}@sha256:{}", FakeRegistry::URI, "e".repeat(64));
        tasks.register(&other).await.unwrap();
        let registered = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        assert!(registered.registered);
        assert_eq!(registered.image, expected.image);
    }

    #[test]
    fn the_role_of_a_caller_is_read_from_either_arn_form() {
        assert_eq!(
            role_of("arn:aws:sts::1:assumed-role/sigship-RegisterTaskRole-A/sigship-register-task"),
            Some("sigship-RegisterTaskRole-A")
        );
        assert_eq!(
            role_of("arn:aws:iam::1:role/service/sigship-RegisterTaskRole-A"),
            Some("sigship-RegisterTaskRole-A")
        );
        assert_eq!(role_of("arn:aws:iam::1:user/sigship-RegisterTaskRole-A"), None);
        assert_eq!(role_of("sigship-RegisterTaskRole-A"), None);
    }

    #[tokio::test]
    async fn a_configuration_change_registers_a_new_revision() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let first = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        let bigger = TaskConfig {
            sizes: crate::sizing::NodeSizes {
                steady: crate::sizing::TaskSize { memory_mib: 8192, ..config().sizes.steady },
                ..config().sizes
            },
            ..config()
        };
        let second = register(&request, Profile::Steady, &bigger, &images, &tasks).await.unwrap();
        assert!(second.registered);
        assert_ne!(first.task_definition_arn, second.task_definition_arn);
        assert_eq!(tasks.registered.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_missing_image_is_a_named_error() {
        let err =
            register(&request(), Profile::Steady, &config(), &FakeRegistry::default(), &FakeTaskDefinitions::default())
                .await
                .unwrap_err();
        assert_eq!(err.name(), "ImageMissing");
    }
}
