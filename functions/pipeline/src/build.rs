//! Build: start CodeBuild on exactly the verified commit, skip it when ECR already holds the
//! image an earlier build of that commit pushed, and poll it from the state machine's bounded
//! wait loop.

use serde::{Deserialize, Serialize};

use crate::config::{Env, Polling};
use crate::error::{Error, Result};
use crate::verify::VerifiedTag;

pub mod image;
pub mod provenance;
pub mod recipe;
pub mod reproduce;

pub use provenance::{BuildRecord, BuildSettings, RecordedStatus};

/// The environment the buildspec (`source/buildspec.yml`) reads; a contract test keeps both in step.
pub const BUILD_ENV_COMMIT: &str = "SIGSHIP_COMMIT";
pub const BUILD_ENV_VERSION: &str = "SIGSHIP_VERSION";
pub const BUILD_ENV_IMAGE_TAG: &str = "SIGSHIP_IMAGE_TAG";
/// The base images' recorded digests (`reference@sha256:…`, space-separated; see
/// [`BaseImageRecord`]), or [`NO_BASE_IMAGES`].
pub const BUILD_ENV_BASE_IMAGES: &str = "SIGSHIP_BASE_IMAGES";
/// What [`BUILD_ENV_BASE_IMAGES`] holds while nothing is recorded (a variable is never empty).
pub const NO_BASE_IMAGES: &str = "none";
pub const BUILD_ENVIRONMENT: [&str; 4] =
    [BUILD_ENV_COMMIT, BUILD_ENV_VERSION, BUILD_ENV_IMAGE_TAG, BUILD_ENV_BASE_IMAGES];
/// What a build exports (`env.exported-variables`): the digest of the image it pushed…
pub const BUILD_EXPORTED_DIGEST: &str = "SIGSHIP_IMAGE_DIGEST";
/// …and each base image as it pulled it (`reference@sha256:…`, space-separated)…
pub const BUILD_EXPORTED_BASE_IMAGES: &str = "SIGSHIP_BASE_IMAGES_PULLED";
/// …and the SHA-256 of the binaries it built (`btcd=<hex> btcctl=<hex>`, from the image's
/// `/usr/local/share/btcd/SHA256SUMS`).
pub const BUILD_EXPORTED_BINARIES: &str = "SIGSHIP_BINARIES_SHA256";
/// …and what built them: the exact Go release and the platform (`go1.26.8 linux/arm64`).
pub const BUILD_EXPORTED_BUILT_WITH: &str = "SIGSHIP_BUILT_WITH";
pub const BUILD_EXPORTED: [&str; 4] =
    [BUILD_EXPORTED_DIGEST, BUILD_EXPORTED_BASE_IMAGES, BUILD_EXPORTED_BINARIES, BUILD_EXPORTED_BUILT_WITH];

/// `btcd=<hex> btcctl=<hex>` → binary → SHA-256 (what is not `name=<64 hex>` is left out).
pub fn binaries_of(exported: &str) -> std::collections::BTreeMap<String, String> {
    exported
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(_, hash)| hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        .map(|(name, hash)| (name.to_string(), hash.to_ascii_lowercase()))
        .collect()
}
/// The buildspec every StartBuild sends (`buildspecOverride`): part of this code, pinned with
/// it, so no object in the artifacts bucket decides what a build runs.
pub const BUILDSPEC: &str = include_str!("../../../source/buildspec.yml");

#[derive(Debug, Clone, PartialEq)]
pub enum BuildPhase {
    InProgress,
    Succeeded,
    Failed { phase: String },
    Stopped,
    TimedOut,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildStart {
    pub project: String,
    /// What CodeBuild checks out: see [`source_version`].
    pub source_version: String,
    pub environment: Vec<(String, String)>,
    /// Always [`BUILDSPEC`].
    pub buildspec: &'static str,
}

/// CodeBuild's documented form for "this commit, fetched through this ref":
/// `refs/tags/<tag>^{<commit>}`. A bare commit id with a shallow clone (`GitCloneDepth: 1`)
/// clones the default branch's tip, which misses a release commit anywhere else.
pub fn source_version(tag: &str, commit: &str) -> String {
    format!("refs/tags/{tag}^{{{commit}}}")
}

pub trait BuildService {
    /// Starts a build and returns its id.
    async fn start(&self, start: &BuildStart) -> Result<String>;
    async fn phase(&self, build_id: &str) -> Result<BuildPhase>;
    /// The builds of `project` at `source_version`, newest first, as CodeBuild recorded them.
    async fn builds_of(&self, project: &str, source_version: &str) -> Result<Vec<BuildRecord>>;
    /// One build, as CodeBuild recorded it.
    async fn record(&self, build_id: &str) -> Result<Option<BuildRecord>>;
    /// What the project itself says a build runs with.
    async fn project(&self, project: &str) -> Result<BuildSettings>;
}

/// The digests the base images were first pulled at (`reference@sha256:…`): every build pulls
/// by them, so a tag moved upstream changes nothing until an operator moves the record.
pub trait BaseImageRecord {
    async fn recorded(&self) -> Result<Vec<String>>;
    async fn set(&self, recorded: &[String]) -> Result<()>;
}

/// `reference@sha256:<64 hex>`: what a recorded or pulled base image looks like — the pattern
/// `source/base-images.sh` holds a recorded entry to.
pub fn is_pinned_reference(entry: &str) -> bool {
    static PINNED: std::sync::LazyLock<regex_lite::Regex> = std::sync::LazyLock::new(|| {
        regex_lite::Regex::new(r"^[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$").expect("a valid pattern")
    });
    PINNED.is_match(entry)
}

/// The record with what a build pulled: a reference not recorded yet is recorded at the digest
/// it was pulled at; a recorded one keeps its digest. Returns the new record and what it added.
pub fn record_pulled(recorded: &[String], pulled: &str) -> (Vec<String>, Vec<String>) {
    let reference = |entry: &str| entry.rsplit_once('@').map_or(entry.to_string(), |(r, _)| r.to_string());
    let mut record = recorded.to_vec();
    let mut added = Vec::new();
    for entry in pulled.split_whitespace().filter(|e| is_pinned_reference(e)) {
        if !record.iter().any(|r| reference(r) == reference(entry)) {
            record.push(entry.to_string());
            added.push(entry.to_string());
        }
    }
    (record, added)
}

pub trait ImageRegistry {
    /// The digest (`sha256:…`) of the image with this tag, if the repository holds it.
    async fn digest_of(&self, image_tag: &str) -> Result<Option<String>>;
    /// `account.dkr.ecr.region.amazonaws.com/name`.
    async fn repository_uri(&self) -> Result<String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildStatus {
    InProgress,
    Succeeded,
}

/// Carried through the state machine between start and the polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildState {
    pub status: BuildStatus,
    pub image_tag: String,
    pub commit: String,
    /// None when the image already existed and no build ran.
    pub build_id: Option<String>,
    pub skipped: bool,
    pub attempt: u32,
    pub poll_seconds: u32,
    /// The SHA-256 of the binaries as built (`btcd`, `btcctl`), once the build succeeded (or the
    /// build whose image is reused recorded them): what a rebuild of the commit must match.
    #[serde(default)]
    pub binaries: std::collections::BTreeMap<String, String>,
    /// The Go release and platform that built them (`go1.26.8 linux/arm64`), from the same build.
    #[serde(default)]
    pub built_with: Option<String>,
}

impl BuildState {
    /// What the build that made the image recorded of its binaries, carried to the execution.
    fn carry(&mut self, record: Option<&BuildRecord>) {
        self.binaries = binaries_of(record.and_then(|b| b.exported_binaries.as_deref()).unwrap_or_default());
        self.built_with = record.and_then(|b| b.exported_built_with.clone()).filter(|w| !w.trim().is_empty());
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
pub enum BuildRequest {
    Start { verified: VerifiedTag },
    Poll { build: BuildState },
}

pub struct BuildConfig {
    pub project: String,
    pub repository: String,
    pub polling: Polling,
    /// trigger-build's own role (name): the only initiator whose builds count.
    pub initiator_role: String,
}

impl BuildConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(BuildConfig {
            project: env.required("SIGSHIP_BUILD_PROJECT")?,
            repository: env.required("SIGSHIP_REPOSITORY")?,
            polling: Polling::from_env(env, "SIGSHIP_BUILD", 30, 120)?,
            initiator_role: env.required("SIGSHIP_BUILD_INITIATOR_ROLE")?,
        })
    }
}

/// Immutable image tag for one tag at one commit, e.g. `v0.24.2-1a2b3c4d5e6f`.
pub fn image_tag(tag: &str, commit: &str) -> String {
    let safe: String =
        tag.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    format!("{safe}-{}", &commit[..commit.len().min(12)])
}

/// The variables trigger-build sends with a build of `verified` ([`BUILD_ENVIRONMENT`]), the base
/// images pinned to `base_images`.
pub fn build_environment(verified: &VerifiedTag, base_images: &[String]) -> Vec<(String, String)> {
    vec![
        (BUILD_ENV_COMMIT.into(), verified.commit.clone()),
        (BUILD_ENV_VERSION.into(), verified.tag.clone()),
        (BUILD_ENV_IMAGE_TAG.into(), image_tag(&verified.tag, &verified.commit)),
        (
            BUILD_ENV_BASE_IMAGES.into(),
            if base_images.is_empty() { NO_BASE_IMAGES.into() } else { base_images.join(" ") },
        ),
    ]
}

/// What trigger-build works with besides its configuration.
pub struct BuildWorld<'a, B, I, R> {
    pub builds: &'a B,
    pub images: &'a I,
    pub base_images: &'a R,
}

pub async fn handle(
    request: BuildRequest,
    config: &BuildConfig,
    world: &BuildWorld<'_, impl BuildService, impl ImageRegistry, impl BaseImageRecord>,
) -> Result<BuildState> {
    match request {
        BuildRequest::Start { verified } => start(&verified, config, world).await,
        BuildRequest::Poll { build } => poll(build, config, world).await,
    }
}

async fn start(
    verified: &VerifiedTag,
    config: &BuildConfig,
    world: &BuildWorld<'_, impl BuildService, impl ImageRegistry, impl BaseImageRecord>,
) -> Result<BuildState> {
    let BuildWorld { builds, images, base_images } = *world;
    if verified.repository != config.repository {
        return Err(Error::InvalidInput(format!(
            "the build project compiles {}, but the tag was verified in {}",
            config.repository, verified.repository
        )));
    }
    let image_tag = image_tag(&verified.tag, &verified.commit);
    let mut state = BuildState {
        status: BuildStatus::Succeeded,
        image_tag: image_tag.clone(),
        commit: verified.commit.clone(),
        build_id: None,
        skipped: true,
        attempt: 0,
        poll_seconds: config.polling.interval_seconds,
        binaries: Default::default(),
        built_with: None,
    };
    let source_version = source_version(&verified.tag, &verified.commit);
    let environment = build_environment(verified, &base_images.recorded().await?);
    let (ours, foreign) = builds_by_origin(config, builds, &source_version, &environment).await?;
    for (build, why) in &foreign {
        tracing::warn!(build_id = %build.id, why = %why.join("; "), "a build of this commit that trigger-build did not start: ignored");
    }
    if let Some(digest) = images.digest_of(&image_tag).await? {
        // Only an image our build pushed: anyone who could push to the repository, or start a
        // build of their own, could otherwise put the predictable tag there and have it deployed.
        let recorded =
            ours.iter().find(|b| b.status == RecordedStatus::Succeeded).and_then(|b| b.exported_digest.as_deref());
        if recorded != Some(digest.as_str()) {
            let uri = images.repository_uri().await?;
            return Err(Error::ImageNotRecorded {
                project: config.project.clone(),
                repository: uri.rsplit('/').next().unwrap_or(&uri).to_string(),
                image_tag,
                digest,
            });
        }
        tracing::info!(%image_tag, %digest, "image already built for this commit; skipping the build");
        let recorded = ours.iter().find(|b| b.status == RecordedStatus::Succeeded);
        state.carry(recorded);
        return Ok(state);
    }
    state.status = BuildStatus::InProgress;
    state.skipped = false;
    // A build of ours of this commit still running (an earlier execution's start whose answer was
    // lost): follow it. A second build would fail at its push, the image tag being immutable.
    if let Some(running) = ours.iter().find(|b| b.status == RecordedStatus::InProgress) {
        tracing::info!(build_id = %running.id, %image_tag, "a build of this commit is already running; following it");
        state.build_id = Some(running.id.clone());
        return Ok(state);
    }
    let build_id = builds
        .start(&BuildStart { project: config.project.clone(), source_version, environment, buildspec: BUILDSPEC })
        .await?;
    tracing::info!(%build_id, commit = %verified.commit, %image_tag, "build started");
    state.build_id = Some(build_id);
    Ok(state)
}

/// Records the base images a finished build pulled that were not recorded yet. A record that
/// cannot be read or written is logged and the release goes on: its next build records them.
async fn record_base_images(base_images: &impl BaseImageRecord, build_id: &str, build: Option<&BuildRecord>) {
    let outcome = async {
        let pulled = build.and_then(|b| b.exported_base_images.clone()).unwrap_or_default();
        let (record, added) = record_pulled(&base_images.recorded().await?, &pulled);
        if !added.is_empty() {
            base_images.set(&record).await?;
            tracing::info!(%build_id, added = ?added, "base images recorded: later builds pull them by these digests");
        }
        Ok::<_, Error>(())
    };
    if let Err(err) = outcome.await {
        tracing::warn!(%build_id, error = %err, "the base images this build pulled were not recorded");
    }
}

/// The project's builds of `source_version`, split into those trigger-build started as it would
/// now (newest first) and the others, each with why it is not ours.
async fn builds_by_origin(
    config: &BuildConfig,
    builds: &impl BuildService,
    source_version: &str,
    environment: &[(String, String)],
) -> Result<(Vec<BuildRecord>, Vec<(BuildRecord, Vec<String>)>)> {
    let recorded = builds.builds_of(&config.project, source_version).await?;
    if recorded.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let project = builds.project(&config.project).await?;
    let (mut ours, mut foreign) = (Vec::new(), Vec::new());
    for build in recorded {
        match provenance::foreign(&build, &project, &config.initiator_role, environment) {
            why if why.is_empty() => ours.push(build),
            why => foreign.push((build, why)),
        }
    }
    Ok((ours, foreign))
}

async fn poll(
    mut state: BuildState,
    config: &BuildConfig,
    world: &BuildWorld<'_, impl BuildService, impl ImageRegistry, impl BaseImageRecord>,
) -> Result<BuildState> {
    let BuildWorld { builds, images, base_images } = *world;
    let Some(build_id) = state.build_id.clone() else {
        return Ok(state);
    };
    state.attempt += 1;
    match builds.phase(&build_id).await? {
        BuildPhase::InProgress if state.attempt >= config.polling.max_attempts => {
            Err(Error::BuildWaitExceeded { build_id, attempts: state.attempt })
        }
        BuildPhase::InProgress => Ok(state),
        BuildPhase::Failed { phase } => Err(Error::BuildFailed { build_id, phase }),
        BuildPhase::Stopped => Err(Error::BuildStopped { build_id }),
        BuildPhase::TimedOut => Err(Error::BuildTimedOut { build_id }),
        BuildPhase::Succeeded => {
            // A green build that pushed nothing must not pass: the next step pins this image.
            if images.digest_of(&state.image_tag).await?.is_none() {
                return Err(Error::ImageMissing {
                    repository_uri: images.repository_uri().await?,
                    image_tag: state.image_tag,
                });
            }
            let record = builds.record(&build_id).await?;
            record_base_images(base_images, &build_id, record.as_ref()).await;
            state.carry(record.as_ref());
            tracing::info!(%build_id, binaries = ?state.binaries, built_with = ?state.built_with, "built");
            state.status = BuildStatus::Succeeded;
            Ok(state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{verified_tag, FakeBaseImages, FakeBuilds, FakeRegistry};

    fn config() -> BuildConfig {
        BuildConfig {
            project: "btcd-build".into(),
            repository: "https://example.org/btcd.git".into(),
            polling: Polling { interval_seconds: 5, max_attempts: 3 },
            initiator_role: FakeBuilds::ROLE.into(),
        }
    }

    /// The buildspec reads exactly the SIGSHIP_* variables trigger-build sends plus the digest it
    /// exports, and declares each.
    #[test]
    fn buildspec_reads_exactly_what_trigger_build_sends() {
        let code: String =
            BUILDSPEC.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
        let read: std::collections::BTreeSet<&str> = regex_lite::Regex::new(r"\$\{?(SIGSHIP_[A-Z0-9_]+)")
            .unwrap()
            .captures_iter(&code)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        let sent: std::collections::BTreeSet<&str> = BUILD_ENVIRONMENT.into_iter().collect();
        let exported = BUILD_EXPORTED;
        let mut expected = sent.clone();
        expected.extend(exported);
        assert_eq!(read, expected);
        for name in BUILD_ENVIRONMENT.into_iter().chain(exported) {
            assert!(code.contains(&format!("    {name}: \"\"")), "{name} is not declared in env.variables");
        }
        let declared = exported.map(|name| format!("    - {name}\n")).concat();
        assert!(code.contains(&format!("  exported-variables:\n{declared}")), "{code}");
        let started = start_environment();
        assert_eq!(started.iter().map(|(k, _)| k.as_str()).collect::<std::collections::BTreeSet<_>>(), sent);
    }

    /// trigger-build's handler with nothing recorded of the base images.
    async fn run(request: BuildRequest, builds: &FakeBuilds, images: &FakeRegistry) -> Result<BuildState> {
        handle(request, &config(), &BuildWorld { builds, images, base_images: &FakeBaseImages::default() }).await
    }

    fn start_environment() -> Vec<(String, String)> {
        let builds = FakeBuilds::default();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime
            .block_on(run(BuildRequest::Start { verified: verified_tag("v0.24.2") }, &builds, &FakeRegistry::default()))
            .unwrap();
        let started = builds.started.lock().unwrap();
        started[0].environment.clone()
    }

    #[test]
    fn image_tags_are_safe_for_ecr() {
        let commit = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(image_tag("v0.24.2", commit), "v0.24.2-0123456789ab");
        assert_eq!(image_tag("btcec/v2.4.0", commit), "btcec-v2.4.0-0123456789ab");
    }

    #[tokio::test]
    async fn starts_a_build_on_exactly_the_verified_commit() {
        let (builds, images) = (FakeBuilds::default(), FakeRegistry::default());
        let verified = verified_tag("v0.24.2");
        let state = run(BuildRequest::Start { verified: verified.clone() }, &builds, &images).await.unwrap();
        assert_eq!(state.status, BuildStatus::InProgress);
        assert!(!state.skipped);
        let started = builds.started.lock().unwrap();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].source_version, format!("refs/tags/v0.24.2^{{{}}}", verified.commit));
        assert!(started[0].environment.contains(&(BUILD_ENV_IMAGE_TAG.into(), state.image_tag.clone())));
        assert!(started[0].environment.contains(&(BUILD_ENV_COMMIT.into(), verified.commit.clone())));
        assert_eq!(started[0].buildspec, BUILDSPEC);
    }

    #[tokio::test]
    async fn skips_the_build_only_for_the_image_an_earlier_build_of_the_commit_recorded() {
        let verified = verified_tag("v0.24.2");
        let images = FakeRegistry::with_image(&image_tag(&verified.tag, &verified.commit), "sha256:aa");
        let builds = FakeBuilds::default();
        builds.record_build(&verified, "sha256:aa", |_| {});
        let state = run(BuildRequest::Start { verified: verified.clone() }, &builds, &images).await.unwrap();
        assert!(state.skipped);
        assert_eq!(state.status, BuildStatus::Succeeded);
        assert!(builds.started.lock().unwrap().is_empty());

        // Pushed by someone else under the expected tag: no build recorded it, or another digest,
        // or a build that trigger-build did not start as it starts them recorded it.
        type Change = fn(&mut BuildRecord);
        let others: [(Option<&str>, Change); 4] = [
            (None, |_| {}),
            (Some("sha256:bb"), |_| {}),
            (Some("sha256:aa"), |b| b.settings.buildspec = Some(format!("{BUILDSPEC}\n# and mine"))),
            (Some("sha256:aa"), |b| b.initiator = "someone".into()),
        ];
        for (recorded, change) in others {
            let builds = FakeBuilds::default();
            if let Some(digest) = recorded {
                builds.record_build(&verified, digest, change);
            }
            let err = run(BuildRequest::Start { verified: verified.clone() }, &builds, &images).await.unwrap_err();
            assert_eq!(err.name(), "ImageNotRecorded", "{recorded:?}");
            assert!(
                err.to_string().contains("batch-delete-image --repository-name btcd --image-ids imageTag=v0.24.2-"),
                "{err}"
            );
            assert!(builds.started.lock().unwrap().is_empty(), "nothing is built over a pushed tag");
        }
    }

    /// The first build that pulls a base image records the digest it pulled; every later build
    /// is sent the record (and pulls by it); a recorded image keeps its digest.
    #[tokio::test]
    async fn base_images_are_recorded_once_and_sent_with_every_later_build() {
        let (alpine, golang) =
            ("public.ecr.aws/docker/library/alpine:3.23", "public.ecr.aws/docker/library/golang:1.26-bookworm");
        let (a1, a2, g1) = ("a".repeat(64), "c".repeat(64), "b".repeat(64));
        let base_images = FakeBaseImages::default();
        let builds = FakeBuilds::answering(BuildPhase::Succeeded);
        *builds.pulled.lock().unwrap() = Some(format!("{golang}@sha256:{g1} {alpine}@sha256:{a1}"));
        let images = FakeRegistry::with_image("v0.24.2-0123456789ab", "sha256:bb");
        let world = BuildWorld { builds: &builds, images: &images, base_images: &base_images };
        let verified = verified_tag("v0.24.2");
        let started =
            handle(BuildRequest::Start { verified: verified_tag("v0.24.3") }, &config(), &world).await.unwrap();
        assert_eq!(
            builds.started.lock().unwrap()[0].environment[3],
            (BUILD_ENV_BASE_IMAGES.into(), NO_BASE_IMAGES.into())
        );
        let state = BuildState { image_tag: image_tag(&verified.tag, &verified.commit), ..started };
        handle(BuildRequest::Poll { build: state.clone() }, &config(), &world).await.unwrap();
        let recorded = base_images.0.lock().unwrap().clone();
        assert_eq!(recorded, [format!("{golang}@sha256:{g1}"), format!("{alpine}@sha256:{a1}")]);

        // alpine:3.23 moved upstream; a build that pulled it anew records nothing over it.
        *builds.pulled.lock().unwrap() = Some(format!("{alpine}@sha256:{a2}"));
        handle(BuildRequest::Poll { build: state }, &config(), &world).await.unwrap();
        assert_eq!(*base_images.0.lock().unwrap(), recorded);
        handle(BuildRequest::Start { verified: verified_tag("v0.24.4") }, &config(), &world).await.unwrap();
        let sent = builds.started.lock().unwrap()[1].environment[3].1.clone();
        assert_eq!(sent, recorded.join(" "), "the next build pulls by the record");
        assert!(!is_pinned_reference("evil/golang:latest") && is_pinned_reference(&recorded[0]));
    }

    /// The SHA-256 of btcd and btcctl as the build made them reach the execution's output, from
    /// the build that ran or the one whose image is reused: what a rebuild of the commit must match.
    #[tokio::test]
    async fn the_binaries_as_built_are_carried_to_the_execution() {
        let (btcd, btcctl) = ("1".repeat(64), "2".repeat(64));
        let builds = FakeBuilds::answering(BuildPhase::Succeeded);
        *builds.binaries.lock().unwrap() = Some(format!("btcd={btcd} btcctl={btcctl}"));
        *builds.built_with.lock().unwrap() = Some("go1.26.8 linux/arm64".into());
        let state = in_progress(0);
        let images = FakeRegistry::with_image(&state.image_tag, "sha256:bb");
        builds
            .start(&BuildStart {
                project: "p".into(),
                source_version: "s".into(),
                environment: vec![],
                buildspec: BUILDSPEC,
            })
            .await
            .unwrap();
        let done =
            run(BuildRequest::Poll { build: BuildState { build_id: Some("p:1".into()), ..state } }, &builds, &images)
                .await
                .unwrap();
        let expected: std::collections::BTreeMap<String, String> =
            [("btcctl".to_string(), btcctl.clone()), ("btcd".to_string(), btcd.clone())].into();
        assert_eq!(done.binaries, expected);
        assert_eq!(done.built_with.as_deref(), Some("go1.26.8 linux/arm64"));

        let verified = verified_tag("v0.24.2");
        let images = FakeRegistry::with_image(&image_tag(&verified.tag, &verified.commit), "sha256:aa");
        let builds = FakeBuilds::default();
        builds.record_build(&verified, "sha256:aa", |b| {
            b.exported_binaries = Some(format!("btcd={btcd} btcctl={btcctl}"));
            b.exported_built_with = Some("go1.26.8 linux/arm64".into());
        });
        let skipped = run(BuildRequest::Start { verified }, &builds, &images).await.unwrap();
        assert!(skipped.skipped);
        assert_eq!(skipped.binaries, expected, "from the build whose image is reused");
        assert_eq!(skipped.built_with.as_deref(), Some("go1.26.8 linux/arm64"));
        assert!(binaries_of("btcd=short btcctl").is_empty());
    }

    #[tokio::test]
    async fn a_running_build_someone_else_started_is_not_followed() {
        let verified = verified_tag("v0.24.2");
        let builds = FakeBuilds::default();
        builds.record_build(&verified, "sha256:aa", |b| {
            b.status = RecordedStatus::InProgress;
            b.exported_digest = None;
            b.settings.image = "attacker/build-image".into();
        });
        let state = run(BuildRequest::Start { verified }, &builds, &FakeRegistry::default()).await.unwrap();
        assert_eq!(builds.started.lock().unwrap().len(), 1, "a build of its own is started");
        assert_eq!(state.build_id.as_deref(), Some("btcd-build:1"));
    }

    #[tokio::test]
    async fn follows_a_build_of_the_same_commit_still_running_instead_of_starting_another() {
        let (builds, images) = (FakeBuilds::default(), FakeRegistry::default());
        let verified = verified_tag("v0.24.2");
        let first = run(BuildRequest::Start { verified: verified.clone() }, &builds, &images).await.unwrap();
        let again = run(BuildRequest::Start { verified }, &builds, &images).await.unwrap();
        assert_eq!(builds.started.lock().unwrap().len(), 1, "one build of one commit");
        assert_eq!(again.build_id, first.build_id);
        assert_eq!((again.status, again.skipped), (BuildStatus::InProgress, false));
        // Another release tag is another build.
        let other = BuildRequest::Start { verified: verified_tag("v0.24.3") };
        let other = run(other, &builds, &images).await.unwrap();
        assert_ne!(other.build_id, first.build_id);
    }

    #[tokio::test]
    async fn refuses_a_tag_verified_in_another_repository() {
        let mut verified = verified_tag("v0.24.2");
        verified.repository = "https://evil.example/btcd.git".into();
        let err =
            run(BuildRequest::Start { verified }, &FakeBuilds::default(), &FakeRegistry::default()).await.unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
    }

    #[tokio::test]
    async fn poll_outcomes_become_named_errors_and_the_wait_is_bounded() {
        let cases = [
            (BuildPhase::Failed { phase: "BUILD".into() }, "BuildFailed"),
            (BuildPhase::Stopped, "BuildStopped"),
            (BuildPhase::TimedOut, "BuildTimedOut"),
            (BuildPhase::Succeeded, "ImageMissing"),
        ];
        for (phase, expected) in cases {
            let builds = FakeBuilds::answering(phase);
            let state = in_progress(0);
            let err = run(BuildRequest::Poll { build: state }, &builds, &FakeRegistry::default()).await.unwrap_err();
            assert_eq!(err.name(), expected);
        }
        let builds = FakeBuilds::answering(BuildPhase::InProgress);
        let next = run(BuildRequest::Poll { build: in_progress(1) }, &builds, &FakeRegistry::default()).await.unwrap();
        assert_eq!((next.attempt, next.status), (2, BuildStatus::InProgress));
        let err = run(BuildRequest::Poll { build: next }, &builds, &FakeRegistry::default()).await.unwrap_err();
        assert_eq!(err.name(), "BuildWaitExceeded");
    }

    #[tokio::test]
    async fn a_successful_build_with_its_image_completes() {
        let builds = FakeBuilds::answering(BuildPhase::Succeeded);
        let state = in_progress(0);
        let images = FakeRegistry::with_image(&state.image_tag, "sha256:bb");
        let done = run(BuildRequest::Poll { build: state }, &builds, &images).await.unwrap();
        assert_eq!(done.status, BuildStatus::Succeeded);
    }

    fn in_progress(attempt: u32) -> BuildState {
        BuildState {
            status: BuildStatus::InProgress,
            image_tag: "v0.24.2-0123456789ab".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            build_id: Some("btcd-build:1".into()),
            skipped: false,
            attempt,
            poll_seconds: 5,
            binaries: Default::default(),
            built_with: None,
        }
    }
}
