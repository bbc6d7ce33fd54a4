use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, CpuArchitecture, DeploymentCircuitBreaker,
    DeploymentConfiguration, DeploymentRolloutState, DesiredStatus, EfsAuthorizationConfig, EfsAuthorizationConfigIam,
    EfsTransitEncryption, EfsVolumeConfiguration, HealthCheck, KernelCapabilities, KeyValuePair, LaunchType,
    LinuxParameters, LogConfiguration, LogDriver, MountPoint, NetworkConfiguration, NetworkMode, OsFamily, PortMapping,
    PropagateTags, RuntimePlatform, Secret, ServiceField, SortOrder, Tag, TaskDefinitionField, TaskDefinitionStatus,
    TransportProtocol, Volume,
};

use crate::error::{Error, Result};
use crate::running::{DeploymentRole, DeploymentView, RolloutState, ServiceSpec, ServiceStatus, ServiceView, Services};
use crate::task_definition::{
    HealthCheckTiming, LatestRevision, TaskDefinitions, TaskSpec, CHAIN_DATA_PATH, CHAIN_DATA_VOLUME, COMMIT_LABEL,
    COMMIT_TAG, CONTAINER_NAME, PROFILE_LABEL, PROFILE_TAG, RELEASE_LABEL, RELEASE_TAG,
};
use crate::MANAGED_TAG;

type DescribedRevision = aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;

fn tag_value(described: &DescribedRevision, key: &str) -> Option<String> {
    described.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value()).map(String::from)
}

/// The container's label `label`: part of the revision's content. Revisions from before the
/// labels have only the tag `tag`.
fn release_value(described: &DescribedRevision, label: &str, tag: &str) -> Option<String> {
    let labels = described.task_definition()?.container_definitions().first()?.docker_labels();
    match labels {
        Some(labels) if labels.keys().any(|k| k.starts_with("sigship.")) => labels.get(label).cloned(),
        _ => tag_value(described, tag),
    }
}

/// What `described` holds, as the spec that would register it; None when it holds anything
/// [`container_definition`] and [`Ecs::register`] never set.
fn content_of(described: &DescribedRevision) -> Option<TaskSpec> {
    let revision = described.task_definition()?;
    let [container] = revision.container_definitions() else { return None };
    let [volume] = revision.volumes() else { return None };
    let efs = volume.efs_volume_configuration()?;
    let unusual = !container.entry_point().is_empty()
        || container.user().is_some()
        || container.privileged() == Some(true)
        || container.readonly_root_filesystem() != Some(true)
        || !container.volumes_from().is_empty()
        || !container.depends_on().is_empty()
        || container.mount_points().len() != 1
        || volume.name() != Some(CHAIN_DATA_VOLUME)
        || efs.root_directory().is_some_and(|r| r != "/")
        || container
            .linux_parameters()
            .and_then(|l| l.capabilities())
            .is_none_or(|c| c.drop() != ["ALL"] || !c.add().is_empty());
    if unusual {
        return None;
    }
    let health = container.health_check()?;
    let log = container.log_configuration()?;
    let option = |key: &str| log.options().and_then(|o| o.get(key)).cloned().unwrap_or_default();
    let spec = TaskSpec {
        family: revision.family()?.to_string(),
        cpu: revision.cpu()?.to_string(),
        memory: revision.memory()?.to_string(),
        execution_role_arn: revision.execution_role_arn()?.to_string(),
        task_role_arn: revision.task_role_arn()?.to_string(),
        image: container.image()?.to_string(),
        command: container.command().to_vec(),
        p2p_port: match container.port_mappings() {
            [mapping] => u16::try_from(mapping.container_port()?).ok()?,
            _ => return None,
        },
        health_check: health.command().to_vec(),
        health_check_timing: HealthCheckTiming {
            interval: health.interval()? as u32,
            timeout: health.timeout()? as u32,
            retries: health.retries()? as u32,
            start_period: health.start_period()? as u32,
        },
        environment: container
            .environment()
            .iter()
            .map(|v| (v.name().unwrap_or_default().into(), v.value().unwrap_or_default().into()))
            .collect(),
        secrets: container.secrets().iter().map(|s| (s.name().to_string(), s.value_from().to_string())).collect(),
        log_group: option("awslogs-group"),
        log_region: option("awslogs-region"),
        file_system_id: efs.file_system_id().to_string(),
        access_point_id: efs.authorization_config()?.access_point_id()?.to_string(),
        labels: container
            .docker_labels()
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        tags: Vec::new(),
    };
    Some(spec.content())
}

/// The btcd container of a revision, as registered; the local cloud's Fargate starts exactly this.
pub fn container_definition(spec: &TaskSpec) -> Result<ContainerDefinition> {
    let secrets = spec
        .secrets
        .iter()
        .map(|(name, from)| Secret::builder().name(name).value_from(from).build().map_err(invalid))
        .collect::<Result<Vec<_>>>()?;
    Ok(ContainerDefinition::builder()
        .name(CONTAINER_NAME)
        .image(&spec.image)
        .essential(true)
        .set_command(Some(spec.command.clone()))
        .port_mappings(
            PortMapping::builder().container_port(i32::from(spec.p2p_port)).protocol(TransportProtocol::Tcp).build(),
        )
        .health_check(
            HealthCheck::builder()
                .set_command(Some(spec.health_check.clone()))
                .interval(spec.health_check_timing.interval as i32)
                .timeout(spec.health_check_timing.timeout as i32)
                .retries(spec.health_check_timing.retries as i32)
                .start_period(spec.health_check_timing.start_period as i32)
                .build()
                .map_err(invalid)?,
        )
        .set_environment(Some(
            spec.environment
                .iter()
                .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
                .collect(),
        ))
        .set_secrets(Some(secrets))
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", &spec.log_group)
                .options("awslogs-region", &spec.log_region)
                .options("awslogs-stream-prefix", CONTAINER_NAME)
                .build()
                .map_err(invalid)?,
        )
        .mount_points(MountPoint::builder().source_volume(CHAIN_DATA_VOLUME).container_path(CHAIN_DATA_PATH).build())
        .set_docker_labels(Some(spec.labels.iter().cloned().collect()))
        // btcd writes only to the chain-data volume: nothing else in the container is writable,
        // and it needs no Linux capability (it binds ports above 1024 as uid 10001).
        .readonly_root_filesystem(true)
        .linux_parameters(
            LinuxParameters::builder().capabilities(KernelCapabilities::builder().drop("ALL").build()).build(),
        )
        .stop_timeout(crate::task_definition::STOP_TIMEOUT_SECONDS as i32)
        .build())
}

pub struct Ecs {
    client: aws_sdk_ecs::Client,
}

/// The SDK refused to build a request sigship made: a defect, not the input's fault.
fn invalid(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("ECS request: {e}"))
}

impl Ecs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Ecs { client: aws_sdk_ecs::Client::new(config) }
    }

    /// ACTIVE revisions of exactly `family` (the API matches a prefix), newest first.
    async fn active_revisions(&self, family: &str) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("ecs:ListTaskDefinitions", e))?;
            arns.extend(
                page.task_definition_arns()
                    .iter()
                    .filter(|arn| {
                        crate::arn::Arn::parse(arn).is_some_and(
                            |arn| matches!(arn.resource_parts()[..], ["task-definition", f, _] if f == family),
                        )
                    })
                    .cloned(),
            );
        }
        Ok(arns)
    }

    /// One revision with its tags; None when ECS does not know it (a client error).
    async fn revision(&self, arn: &str) -> Result<Option<DescribedRevision>> {
        match self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
        {
            Ok(described) => Ok(Some(described)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_client_exception()) => Ok(None),
            Err(e) => Err(Error::aws("ecs:DescribeTaskDefinition", e)),
        }
    }

    pub async fn deregister_managed(&self, family: &str) -> Result<Vec<String>> {
        let mut deregistered = Vec::new();
        for arn in self.active_revisions(family).await? {
            let Some(described) = self.revision(&arn).await? else { continue };
            if !super::tagged_managed(described.tags().iter().map(|t| (t.key(), t.value()))) {
                continue;
            }
            self.client
                .deregister_task_definition()
                .task_definition(&arn)
                .send()
                .await
                .map_err(|e| Error::aws("ecs:DeregisterTaskDefinition", e))?;
            deregistered.push(arn);
        }
        Ok(deregistered)
    }

    /// The service's tasks whose last status is not STOPPED: those desired running, and those
    /// told to stop that have not finished stopping. Once the deleted service is INACTIVE,
    /// ListTasks by its name answers ServiceNotFoundException (its API reference lists it): then
    /// the cluster's tasks of the service's group (`service:<name>`) are the ones still stopping.
    pub async fn unstopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut by_group = false;
        for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let list = |by_name: bool| {
                let request = self.client.list_tasks().cluster(cluster).desired_status(desired.clone());
                if by_name {
                    request.service_name(service)
                } else {
                    request
                }
            };
            let listed = match list(!by_group).send().await {
                Err(e) if e.code() == Some("ServiceNotFoundException") => {
                    by_group = true;
                    list(false).send().await
                }
                other => other,
            };
            arns.extend(listed.map_err(|e| Error::aws("ecs:ListTasks", e))?.task_arns().iter().cloned());
        }
        if arns.is_empty() {
            return Ok(arns);
        }
        let described = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeTasks", e))?;
        let group = format!("service:{service}");
        Ok(described
            .tasks()
            .iter()
            .filter(|task| task.last_status() != Some("STOPPED"))
            .filter(|task| !by_group || task.group() == Some(group.as_str()))
            .filter_map(|task| task.task_arn().map(str::to_string))
            .collect())
    }

    pub async fn service_is_managed(&self, cluster: &str, service: &str) -> Result<bool> {
        let described = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeServices", e))?;
        Ok(described
            .services()
            .first()
            .is_some_and(|s| super::tagged_managed(s.tags().iter().map(|t| (t.key(), t.value())))))
    }

    fn deployment_configuration() -> DeploymentConfiguration {
        DeploymentConfiguration::builder()
            .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
            // One btcd per data directory: stop the old task before the new one mounts the volume.
            .minimum_healthy_percent(0)
            .maximum_percent(100)
            .build()
    }

    fn network(spec: &ServiceSpec) -> Result<NetworkConfiguration> {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(spec.subnets.clone()))
            .set_security_groups(Some(spec.security_groups.clone()))
            .assign_public_ip(if spec.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
            .build()
            .map_err(invalid)?;
        Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
    }
}

impl TaskDefinitions for Ecs {
    async fn latest(&self, family: &str) -> Result<Option<LatestRevision>> {
        let Some(arn) = self.active_revisions(family).await?.into_iter().next() else { return Ok(None) };
        let Some(described) = self.revision(&arn).await? else { return Ok(None) };
        let registered_by = described.task_definition().and_then(|t| t.registered_by()).map(String::from);
        Ok(Some(LatestRevision { arn, registered_by, content: content_of(&described) }))
    }

    async fn register(&self, spec: &TaskSpec) -> Result<String> {
        let container = container_definition(spec)?;
        let volume = Volume::builder()
            .name(CHAIN_DATA_VOLUME)
            .efs_volume_configuration(
                EfsVolumeConfiguration::builder()
                    .file_system_id(&spec.file_system_id)
                    .transit_encryption(EfsTransitEncryption::Enabled)
                    .authorization_config(
                        EfsAuthorizationConfig::builder()
                            .access_point_id(&spec.access_point_id)
                            .iam(EfsAuthorizationConfigIam::Enabled)
                            .build(),
                    )
                    .build()
                    .map_err(invalid)?,
            )
            .build();
        let tags = spec.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let response = self
            .client
            .register_task_definition()
            .family(&spec.family)
            .cpu(&spec.cpu)
            .memory(&spec.memory)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .execution_role_arn(&spec.execution_role_arn)
            .task_role_arn(&spec.task_role_arn)
            .container_definitions(container)
            .volumes(volume)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| Error::aws("ecs:RegisterTaskDefinition", e))?;
        response.task_definition().and_then(|td| td.task_definition_arn()).map(String::from).ok_or_else(|| {
            Error::AwsAnswerIncomplete { operation: "ecs:RegisterTaskDefinition", missing: "the revision's ARN".into() }
        })
    }
}

impl Services for Ecs {
    async fn describe(&self, cluster: &str, service: &str) -> Result<Option<ServiceView>> {
        let described = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DescribeServices", e))?;
        Ok(described.services().first().map(|s| ServiceView {
            status: match s.status() {
                Some("ACTIVE") => ServiceStatus::Active,
                Some("DRAINING") => ServiceStatus::Draining,
                _ => ServiceStatus::Inactive,
            },
            task_definition: s.task_definition().unwrap_or_default().to_string(),
            desired_count: s.desired_count(),
            running_count: s.running_count(),
            deployments: s
                .deployments()
                .iter()
                .map(|d| DeploymentView {
                    role: match d.status() {
                        Some("PRIMARY") => DeploymentRole::Primary,
                        Some("ACTIVE") => DeploymentRole::Active,
                        _ => DeploymentRole::Inactive,
                    },
                    task_definition: d.task_definition().unwrap_or_default().to_string(),
                    rollout_state: d.rollout_state().and_then(|r| match r {
                        DeploymentRolloutState::InProgress => Some(RolloutState::InProgress),
                        DeploymentRolloutState::Completed => Some(RolloutState::Completed),
                        DeploymentRolloutState::Failed => Some(RolloutState::Failed),
                        _ => None,
                    }),
                    rollout_reason: d.rollout_state_reason().map(String::from),
                })
                .collect(),
        }))
    }

    async fn create(&self, spec: &ServiceSpec) -> Result<()> {
        self.client
            .create_service()
            .cluster(&spec.cluster)
            .service_name(&spec.service)
            .task_definition(&spec.task_definition)
            .desired_count(spec.desired_count)
            .launch_type(LaunchType::Fargate)
            .platform_version("LATEST")
            .network_configuration(Self::network(spec)?)
            .deployment_configuration(Self::deployment_configuration())
            .propagate_tags(PropagateTags::TaskDefinition)
            .tags(Tag::builder().key(MANAGED_TAG).value("true").build())
            .send()
            .await
            .map_err(|e| Error::aws("ecs:CreateService", e))?;
        Ok(())
    }

    async fn update(&self, spec: &ServiceSpec) -> Result<()> {
        self.client
            .update_service()
            .cluster(&spec.cluster)
            .service(&spec.service)
            .task_definition(&spec.task_definition)
            .desired_count(spec.desired_count)
            .network_configuration(Self::network(spec)?)
            .deployment_configuration(Self::deployment_configuration())
            .send()
            .await
            .map_err(|e| Error::aws("ecs:UpdateService", e))?;
        Ok(())
    }

    async fn delete(&self, cluster: &str, service: &str) -> Result<()> {
        self.client
            .delete_service()
            .cluster(cluster)
            .service(service)
            .force(true)
            .send()
            .await
            .map_err(|e| Error::aws("ecs:DeleteService", e))?;
        Ok(())
    }
}

impl crate::running::Revisions for Ecs {
    async fn deployed(&self, task_definition: &str) -> Result<Option<crate::running::DeployedRevision>> {
        let Some(described) = self.revision(task_definition).await? else { return Ok(None) };
        let Some(container) = described.task_definition().and_then(|t| t.container_definitions().first()) else {
            return Ok(None);
        };
        Ok(Some(crate::running::DeployedRevision {
            task_definition: task_definition.to_string(),
            image: container.image().unwrap_or_default().to_string(),
            release_tag: release_value(&described, RELEASE_LABEL, RELEASE_TAG),
            commit: release_value(&described, COMMIT_LABEL, COMMIT_TAG),
            network: crate::network::Network::of_command(container.command()).name(),
            profile: release_value(&described, PROFILE_LABEL, PROFILE_TAG)
                .and_then(|p| crate::sizing::Profile::parse(&p)),
            size: described.task_definition().and_then(|t| {
                Some(crate::sizing::TaskSize {
                    cpu: t.cpu()?.parse().ok()?,
                    memory_mib: t.memory()?.parse().ok()?,
                    utxo_cache_mib: container
                        .command()
                        .iter()
                        .find_map(|arg| {
                            arg.strip_prefix(crate::task_definition::UTXO_CACHE_FLAG)?.strip_prefix('=')?.parse().ok()
                        })
                        .unwrap_or(crate::sizing::BTCD_DEFAULT_CACHE_MIB),
                })
            }),
            registered_at_ms: described
                .task_definition()
                .and_then(|t| t.registered_at())
                .and_then(|at| at.to_millis().ok()),
        }))
    }
}
