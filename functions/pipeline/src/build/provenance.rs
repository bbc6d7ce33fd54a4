//! Which builds trigger-build made. `codebuild:StartBuild` on the project lets its caller override
//! the buildspec, the image, the environment and the sources, and such a build still runs as the
//! build role and pushes where ours push. So a build counts — is followed, or its exported digest
//! trusted — only when CodeBuild's own record of it says trigger-build's role started it with
//! exactly the project's settings and the buildspec compiled into this code.

use std::collections::BTreeMap;

use super::{is_pinned_reference, BUILDSPEC, BUILD_ENV_BASE_IMAGES, NO_BASE_IMAGES};

/// What a build runs with, as CodeBuild records it for a build (`BatchGetBuilds`) or a project
/// (`BatchGetProjects`, whose buildspec is None: sigship's project names none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildSettings {
    pub buildspec: Option<String>,
    pub source_type: String,
    pub source_location: String,
    pub image: String,
    pub compute_type: String,
    pub environment_type: String,
    pub privileged_mode: bool,
    /// Name → (value, type).
    pub variables: BTreeMap<String, (String, String)>,
    /// `identifier type location` of each secondary source.
    pub secondary_sources: Vec<String>,
    /// `identifier@version` of each.
    pub secondary_source_versions: Vec<String>,
    pub service_role: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedStatus {
    InProgress,
    Succeeded,
    /// Failed, stopped, timed out, faulted.
    Ended,
}

/// One of the project's builds, as CodeBuild recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildRecord {
    pub id: String,
    pub status: RecordedStatus,
    /// Who started it: `<role name>/<session name>` for a role's session.
    pub initiator: String,
    pub settings: BuildSettings,
    /// A Session Manager session into the build container was asked for.
    pub debug_session: bool,
    /// What the buildspec exported as [`super::BUILD_EXPORTED_DIGEST`], once it succeeded.
    pub exported_digest: Option<String>,
    /// …and as [`super::BUILD_EXPORTED_BASE_IMAGES`]…
    pub exported_base_images: Option<String>,
    /// …and as [`super::BUILD_EXPORTED_BINARIES`]…
    pub exported_binaries: Option<String>,
    /// …and as [`super::BUILD_EXPORTED_BUILT_WITH`].
    pub exported_built_with: Option<String>,
}

/// Why `build` is not one trigger-build started for these `variables`; empty when it is.
/// `initiator_role` is trigger-build's role name; `project` the project's own settings.
pub fn foreign(
    build: &BuildRecord,
    project: &BuildSettings,
    initiator_role: &str,
    variables: &[(String, String)],
) -> Vec<String> {
    let mut why = Vec::new();
    if !started_by(&build.initiator, initiator_role) {
        why.push(format!("started by {:?}, not trigger-build's role {initiator_role}", build.initiator));
    }
    let recorded = &build.settings;
    if recorded.buildspec.as_deref() != Some(BUILDSPEC) {
        why.push("its buildspec is not sigship's".into());
    }
    let mut differs = |what: &str, recorded: &dyn std::fmt::Debug, expected: &dyn std::fmt::Debug| {
        let (recorded, expected) = (format!("{recorded:?}"), format!("{expected:?}"));
        if recorded != expected {
            why.push(format!("{what} {recorded}, the project's {expected}"));
        }
    };
    differs(
        "source",
        &(&recorded.source_type, &recorded.source_location),
        &(&project.source_type, &project.source_location),
    );
    differs("image", &recorded.image, &project.image);
    differs(
        "compute type",
        &(&recorded.compute_type, &recorded.environment_type),
        &(&project.compute_type, &project.environment_type),
    );
    differs("privileged mode", &recorded.privileged_mode, &project.privileged_mode);
    differs("secondary sources", &recorded.secondary_sources, &project.secondary_sources);
    differs("secondary source versions", &recorded.secondary_source_versions, &project.secondary_source_versions);
    differs("service role", &recorded.service_role, &project.service_role);
    if build.debug_session {
        why.push("a debug session into the build was enabled".into());
    }
    // Every variable is the project's or ours, with that value; ours are all there. (Whether a
    // build's record repeats the project's own variables does not matter: it cannot drop them.)
    // The base images are the record's when the build started, which may have grown since: any
    // well-formed record is trigger-build's.
    let ours: BTreeMap<&str, &str> = variables.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for (name, (value, kind)) in &recorded.variables {
        if name == BUILD_ENV_BASE_IMAGES && kind == "PLAINTEXT" && ours.contains_key(name.as_str()) {
            if value != NO_BASE_IMAGES && !value.split_whitespace().all(is_pinned_reference) {
                why.push(format!("variable {name} is not a record of base images"));
            }
            continue;
        }
        let expected = match ours.get(name.as_str()) {
            Some(value) => Some((*value, "PLAINTEXT")),
            None => project.variables.get(name).map(|(v, k)| (v.as_str(), k.as_str())),
        };
        if expected != Some((value.as_str(), kind.as_str())) {
            why.push(format!("variable {name} is not the project's or trigger-build's"));
        }
    }
    for name in ours.keys().filter(|name| !recorded.variables.contains_key(**name)) {
        why.push(format!("variable {name} is missing"));
    }
    why
}

/// CodeBuild names a role's session `<role name>/<session name>` (an IAM user, whose name cannot
/// hold a `/`, by its name alone).
fn started_by(initiator: &str, role: &str) -> bool {
    initiator.split_once('/').is_some_and(|(name, session)| name == role && !session.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "sigship-TriggerBuildRole-ABC";

    fn project() -> BuildSettings {
        crate::testing::FakeBuilds::project()
    }

    fn ours() -> Vec<(String, String)> {
        vec![
            ("SIGSHIP_COMMIT".into(), "abc".into()),
            ("SIGSHIP_IMAGE_TAG".into(), "v0.24.2-abc".into()),
            (BUILD_ENV_BASE_IMAGES.into(), NO_BASE_IMAGES.into()),
        ]
    }

    fn build_of_ours() -> BuildRecord {
        let mut settings = project();
        settings.buildspec = Some(BUILDSPEC.into());
        for (name, value) in ours() {
            settings.variables.insert(name, (value, "PLAINTEXT".into()));
        }
        BuildRecord {
            id: "p:1".into(),
            status: RecordedStatus::Succeeded,
            initiator: format!("{ROLE}/sigship-trigger-build"),
            settings,
            debug_session: false,
            exported_digest: Some("sha256:aa".into()),
            exported_base_images: None,
            exported_binaries: None,
            exported_built_with: None,
        }
    }

    #[test]
    fn a_build_trigger_build_started_as_the_project_says_is_ours() {
        assert_eq!(foreign(&build_of_ours(), &project(), ROLE, &ours()), Vec::<String>::new());
        // Whether the record repeats the project's variables or not.
        let mut without = build_of_ours();
        without.settings.variables.remove("IMAGE_REPO_URI");
        assert!(foreign(&without, &project(), ROLE, &ours()).is_empty());
    }

    #[test]
    fn each_override_or_another_initiator_makes_a_build_foreign() {
        type Change = fn(&mut BuildRecord);
        let changes: [(&str, Change); 12] = [
            ("started by", |b| b.initiator = "MyUserName".into()),
            ("started by", |b| b.initiator = "OtherRole/sigship-trigger-build".into()),
            ("buildspec", |b| b.settings.buildspec = Some(format!("{BUILDSPEC}\n# and mine"))),
            ("image", |b| b.settings.image = "attacker/image".into()),
            ("source", |b| b.settings.source_location = "https://evil.example/btcd.git".into()),
            ("compute type", |b| b.settings.compute_type = "BUILD_GENERAL1_SMALL".into()),
            ("privileged", |b| b.settings.privileged_mode = false),
            ("secondary sources", |b| b.settings.secondary_sources.push("mine S3 evil/x.zip".into())),
            ("secondary source versions", |b| b.settings.secondary_source_versions = vec!["sigship@v0".into()]),
            ("service role", |b| b.settings.service_role = "arn:aws:iam::123:role/other".into()),
            ("debug session", |b| b.debug_session = true),
            ("IMAGE_REPO_URI", |b| {
                b.settings.variables.insert("IMAGE_REPO_URI".into(), ("evil/btcd".into(), "PLAINTEXT".into()));
            }),
        ];
        for (expected, change) in changes {
            let mut build = build_of_ours();
            change(&mut build);
            let why = foreign(&build, &project(), ROLE, &ours());
            assert!(why.iter().any(|w| w.contains(expected)), "{expected}: {why:?}");
        }
        // The record of base images may have grown since the build started; a made-up one is not ours.
        let mut earlier = build_of_ours();
        let digest = "b".repeat(64);
        earlier.settings.variables.insert(
            BUILD_ENV_BASE_IMAGES.into(),
            (format!("public.ecr.aws/docker/library/alpine:3.23@sha256:{digest}"), "PLAINTEXT".into()),
        );
        assert!(
            foreign(&earlier, &project(), ROLE, &ours()).is_empty(),
            "{:?}",
            foreign(&earlier, &project(), ROLE, &ours())
        );
        earlier
            .settings
            .variables
            .insert(BUILD_ENV_BASE_IMAGES.into(), ("evil/golang:latest".into(), "PLAINTEXT".into()));
        assert!(foreign(&earlier, &project(), ROLE, &ours()).iter().any(|w| w.contains("not a record of base images")));
        let mut extra = build_of_ours();
        extra.settings.variables.insert("GOFLAGS".into(), ("-toolexec=evil".into(), "PLAINTEXT".into()));
        assert!(!foreign(&extra, &project(), ROLE, &ours()).is_empty());
        let mut missing = build_of_ours();
        missing.settings.variables.remove("SIGSHIP_COMMIT");
        assert!(foreign(&missing, &project(), ROLE, &ours()).iter().any(|w| w.contains("SIGSHIP_COMMIT is missing")));
    }
}
