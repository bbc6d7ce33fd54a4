use aws_sdk_codebuild::types::{
    Build, EnvironmentVariable, EnvironmentVariableType, ProjectEnvironment, ProjectSource, ProjectSourceVersion,
    SortOrderType, StatusType,
};

use crate::build::{
    BuildPhase, BuildRecord, BuildService, BuildSettings, BuildStart, RecordedStatus, BUILD_EXPORTED_BASE_IMAGES,
    BUILD_EXPORTED_BINARIES, BUILD_EXPORTED_BUILT_WITH, BUILD_EXPORTED_DIGEST,
};
use crate::error::{Error, Result};

pub struct CodeBuild {
    client: aws_sdk_codebuild::Client,
}

impl CodeBuild {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        CodeBuild { client: aws_sdk_codebuild::Client::new(config) }
    }
}

impl BuildService for CodeBuild {
    async fn start(&self, start: &BuildStart) -> Result<String> {
        let environment = start
            .environment
            .iter()
            .map(|(name, value)| {
                EnvironmentVariable::builder()
                    .name(name)
                    .value(value)
                    .r#type(EnvironmentVariableType::Plaintext)
                    .build()
                    .map_err(|e| Error::Internal(format!("CodeBuild request: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let response = self
            .client
            .start_build()
            .project_name(&start.project)
            .source_version(&start.source_version)
            .buildspec_override(start.buildspec)
            .set_environment_variables_override(Some(environment))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(refused) if refused.is_account_limit_exceeded_exception() => {
                    Error::BuildLimitExceeded { message: refused.meta().message().unwrap_or("no message").to_string() }
                }
                _ => Error::aws("codebuild:StartBuild", e),
            })?;
        response.build_value().and_then(|b| b.id()).map(String::from).ok_or_else(|| Error::AwsAnswerIncomplete {
            operation: "codebuild:StartBuild",
            missing: "a build id".into(),
        })
    }

    async fn builds_of(&self, project: &str, source_version: &str) -> Result<Vec<BuildRecord>> {
        let builds = self.newest(project, |b| b.source_version() == Some(source_version)).await?;
        Ok(builds.iter().map(record_of).collect())
    }

    async fn project(&self, project: &str) -> Result<BuildSettings> {
        let described = self
            .client
            .batch_get_projects()
            .names(project)
            .send()
            .await
            .map_err(|e| Error::aws("codebuild:BatchGetProjects", e))?;
        let found = described.projects().first().ok_or_else(|| Error::AwsAnswerIncomplete {
            operation: "codebuild:BatchGetProjects",
            missing: format!("project {project}"),
        })?;
        Ok(settings_of(
            found.source(),
            found.environment(),
            found.secondary_sources(),
            found.secondary_source_versions(),
            found.service_role(),
        ))
    }

    async fn record(&self, build_id: &str) -> Result<Option<BuildRecord>> {
        Ok(self.described(build_id).await?.as_ref().map(record_of))
    }

    async fn phase(&self, build_id: &str) -> Result<BuildPhase> {
        let build = self
            .described(build_id)
            .await?
            .ok_or_else(|| Error::BuildFailed { build_id: build_id.into(), phase: "build not found".into() })?;
        // A finished build's current phase is COMPLETED: name the phase that failed, and why.
        let failed = build.phases().iter().find(|p| p.phase_status().is_some_and(|s| s.as_str() == "FAILED"));
        let phase = match failed {
            Some(failed) => {
                let why: Vec<&str> = failed.contexts().iter().filter_map(|c| c.message()).collect();
                let name = failed.phase_type().map(|t| t.as_str().to_string()).unwrap_or_default();
                if why.is_empty() {
                    name
                } else {
                    format!("{name}: {}", why.join("; "))
                }
            }
            None => build.current_phase().unwrap_or("UNKNOWN").to_string(),
        };
        Ok(match build.build_status() {
            Some(StatusType::Succeeded) => BuildPhase::Succeeded,
            Some(StatusType::InProgress) | None => BuildPhase::InProgress,
            Some(StatusType::Stopped) => BuildPhase::Stopped,
            Some(StatusType::TimedOut) => BuildPhase::TimedOut,
            Some(_) => BuildPhase::Failed { phase },
        })
    }
}

impl CodeBuild {
    async fn described(&self, build_id: &str) -> Result<Option<Build>> {
        let response = self
            .client
            .batch_get_builds()
            .ids(build_id)
            .send()
            .await
            .map_err(|e| Error::aws("codebuild:BatchGetBuilds", e))?;
        Ok(response.builds().first().cloned())
    }

    /// The project's builds that `wanted` accepts, newest first (by build number): every page is
    /// looked at (100 ids, and one BatchGetBuilds, per page), up to the newest 1,000 builds.
    async fn newest(&self, project: &str, wanted: impl Fn(&Build) -> bool) -> Result<Vec<Build>> {
        let mut pages = self
            .client
            .list_builds_for_project()
            .project_name(project)
            .sort_order(SortOrderType::Descending)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        for _ in 0..10 {
            let Some(listed) = pages.next().await else { break };
            let listed = listed.map_err(|e| Error::aws("codebuild:ListBuildsForProject", e))?;
            if listed.ids().is_empty() {
                continue;
            }
            let described = self
                .client
                .batch_get_builds()
                .set_ids(Some(listed.ids().to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("codebuild:BatchGetBuilds", e))?;
            // BatchGetBuilds answers in no promised order: keep the listing's.
            for id in listed.ids() {
                found.extend(described.builds().iter().filter(|b| b.id() == Some(id.as_str()) && wanted(b)).cloned());
            }
        }
        Ok(found)
    }
}

/// What CodeBuild recorded of `build`.
fn record_of(build: &Build) -> BuildRecord {
    let status = match build.build_status() {
        Some(StatusType::InProgress) | None => RecordedStatus::InProgress,
        Some(StatusType::Succeeded) => RecordedStatus::Succeeded,
        Some(_) => RecordedStatus::Ended,
    };
    let exported = |name: &str| {
        let variable = build.exported_environment_variables().iter().find(|v| v.name() == Some(name));
        variable.and_then(|v| v.value()).filter(|value| !value.is_empty()).map(str::to_string)
    };
    BuildRecord {
        id: build.id().unwrap_or_default().to_string(),
        status,
        initiator: build.initiator().unwrap_or_default().to_string(),
        settings: settings_of(
            build.source(),
            build.environment(),
            build.secondary_sources(),
            build.secondary_source_versions(),
            build.service_role(),
        ),
        debug_session: build.debug_session().and_then(|d| d.session_enabled()).unwrap_or(false),
        exported_digest: exported(BUILD_EXPORTED_DIGEST),
        exported_base_images: exported(BUILD_EXPORTED_BASE_IMAGES),
        exported_binaries: exported(BUILD_EXPORTED_BINARIES),
        exported_built_with: exported(BUILD_EXPORTED_BUILT_WITH),
    }
}

/// One shape for a build's record and a project's definition.
fn settings_of(
    source: Option<&ProjectSource>,
    environment: Option<&ProjectEnvironment>,
    secondary: &[ProjectSource],
    versions: &[ProjectSourceVersion],
    service_role: Option<&str>,
) -> BuildSettings {
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    BuildSettings {
        buildspec: source.and_then(|s| s.buildspec()).map(str::to_string),
        source_type: text(source.map(|s| s.r#type().as_str())),
        source_location: text(source.and_then(|s| s.location())),
        image: text(environment.map(|e| e.image())),
        compute_type: text(environment.map(|e| e.compute_type().as_str())),
        environment_type: text(environment.map(|e| e.r#type().as_str())),
        privileged_mode: environment.and_then(|e| e.privileged_mode()).unwrap_or(false),
        variables: environment
            .map(|e| e.environment_variables())
            .unwrap_or_default()
            .iter()
            .map(|v| {
                let kind = v.r#type().map_or("PLAINTEXT", |t| t.as_str());
                (v.name().to_string(), (v.value().to_string(), kind.to_string()))
            })
            .collect(),
        secondary_sources: secondary
            .iter()
            .map(|s| format!("{} {} {}", text(s.source_identifier()), s.r#type().as_str(), text(s.location())))
            .collect(),
        secondary_source_versions: versions
            .iter()
            .map(|v| format!("{}@{}", v.source_identifier(), v.source_version()))
            .collect(),
        service_role: text(service_role),
    }
}
