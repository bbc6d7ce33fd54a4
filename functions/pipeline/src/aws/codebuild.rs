use aws_sdk_codebuild::types::{Build, EnvironmentVariable, EnvironmentVariableType, SortOrderType, StatusType};

use crate::build::{BuildPhase, BuildService, BuildStart, BUILD_EXPORTED_DIGEST};
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

    async fn running(&self, project: &str, source_version: &str) -> Result<Option<String>> {
        let running =
            |b: &Build| b.build_status() == Some(&StatusType::InProgress) && b.source_version() == Some(source_version);
        Ok(self.find(project, running).await?.and_then(|b| b.id().map(str::to_string)))
    }

    async fn recorded_image(&self, project: &str, source_version: &str) -> Result<Option<String>> {
        let succeeded =
            |b: &Build| b.build_status() == Some(&StatusType::Succeeded) && b.source_version() == Some(source_version);
        let Some(build) = self.find(project, succeeded).await? else { return Ok(None) };
        let exported = build.exported_environment_variables().iter().find(|v| v.name() == Some(BUILD_EXPORTED_DIGEST));
        Ok(exported.and_then(|v| v.value()).filter(|digest| !digest.is_empty()).map(str::to_string))
    }

    async fn phase(&self, build_id: &str) -> Result<BuildPhase> {
        let response = self
            .client
            .batch_get_builds()
            .ids(build_id)
            .send()
            .await
            .map_err(|e| Error::aws("codebuild:BatchGetBuilds", e))?;
        let build = response
            .builds()
            .first()
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
    /// The newest of the project's builds that `wanted` accepts. Newest first (by build
    /// number): every page is looked at (100 ids, and one BatchGetBuilds, per
    /// page), up to the newest 1,000 builds.
    async fn find(&self, project: &str, wanted: impl Fn(&Build) -> bool) -> Result<Option<Build>> {
        let mut pages = self
            .client
            .list_builds_for_project()
            .project_name(project)
            .sort_order(SortOrderType::Descending)
            .into_paginator()
            .send();
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
            if let Some(found) = described.builds().iter().find(|b| wanted(b)) {
                return Ok(Some(found.clone()));
            }
        }
        Ok(None)
    }
}
