//! In-memory stand-ins for the AWS traits, for the handlers' unit tests.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::build::{BuildPhase, BuildRecord, BuildService, BuildSettings, BuildStart, ImageRegistry, RecordedStatus};
use crate::error::Result;
use crate::running::{DeploymentRole, DeploymentView, RolloutState, ServiceSpec, ServiceStatus, ServiceView, Services};
use crate::task_definition::{TaskDefinitions, TaskSpec};
use crate::teardown::Teardown;
use crate::verify::{VerifiedSigner, VerifiedTag};

pub fn verified_tag(tag: &str) -> VerifiedTag {
    VerifiedTag {
        repository: "https://example.org/btcd.git".into(),
        tag: tag.into(),
        tag_object_id: "f".repeat(40),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        signers: vec![VerifiedSigner { label: "Test Maintainer".into(), fingerprint: "AB".repeat(20) }],
        signed_at: "2026-01-01T00:00:00Z".into(),
        allow_downgrade: false,
    }
}

pub struct FakeBuilds {
    pub started: Mutex<Vec<BuildStart>>,
    answer: BuildPhase,
    /// Builds recorded by hand: (source version, the build), oldest first.
    recorded: Mutex<Vec<(String, BuildRecord)>>,
    /// What every build this fake started exports as the base images it pulled…
    pub pulled: Mutex<Option<String>>,
    /// …and as the binaries' SHA-256…
    pub binaries: Mutex<Option<String>>,
    /// …and as what built them.
    pub built_with: Mutex<Option<String>>,
}

impl Default for FakeBuilds {
    fn default() -> Self {
        Self::answering(BuildPhase::InProgress)
    }
}

impl FakeBuilds {
    /// trigger-build's role, as [`crate::build::BuildConfig::initiator_role`] names it in tests.
    pub const ROLE: &'static str = "sigship-TriggerBuildRole-TEST";

    pub fn answering(answer: BuildPhase) -> Self {
        FakeBuilds {
            started: Mutex::new(Vec::new()),
            answer,
            recorded: Mutex::new(Vec::new()),
            pulled: Mutex::new(None),
            binaries: Mutex::new(None),
            built_with: Mutex::new(None),
        }
    }

    /// The project: what a build without overrides runs with.
    pub fn project() -> BuildSettings {
        BuildSettings {
            buildspec: None,
            source_type: "GITHUB".into(),
            source_location: "https://example.org/btcd.git".into(),
            image: "aws/codebuild/amazonlinux-aarch64-standard:3.0".into(),
            compute_type: "BUILD_GENERAL1_LARGE".into(),
            environment_type: "ARM_CONTAINER".into(),
            privileged_mode: true,
            variables: [("IMAGE_REPO_URI".to_string(), (FakeRegistry::URI.to_string(), "PLAINTEXT".to_string()))]
                .into(),
            secondary_sources: vec!["sigship S3 artifacts/source.zip".into()],
            secondary_source_versions: vec!["sigship@v1".into()],
            service_role: "arn:aws:iam::123456789012:role/sigship-BuildRole".into(),
        }
    }

    /// What CodeBuild records of a build trigger-build started with `start`.
    pub fn record_of(start: &BuildStart, id: String, status: RecordedStatus) -> BuildRecord {
        let mut settings = Self::project();
        settings.buildspec = Some(start.buildspec.to_string());
        for (name, value) in &start.environment {
            settings.variables.insert(name.clone(), (value.clone(), "PLAINTEXT".into()));
        }
        BuildRecord {
            id,
            status,
            initiator: format!("{}/sigship-trigger-build", Self::ROLE),
            settings,
            debug_session: false,
            exported_digest: None,
            exported_base_images: None,
            exported_binaries: None,
            exported_built_with: None,
        }
    }

    /// A successful build of the release `verified` names, started by trigger-build, that pushed
    /// `digest`; `change` makes it someone else's.
    pub fn record_build(&self, verified: &VerifiedTag, digest: &str, change: impl FnOnce(&mut BuildRecord)) {
        let source_version = crate::build::source_version(&verified.tag, &verified.commit);
        let start = BuildStart {
            project: "btcd-build".into(),
            source_version: source_version.clone(),
            environment: crate::build::build_environment(verified, &[]),
            buildspec: crate::build::BUILDSPEC,
        };
        let mut build = Self::record_of(&start, format!("btcd-build:recorded-{digest}"), RecordedStatus::Succeeded);
        build.exported_digest = Some(digest.into());
        change(&mut build);
        self.recorded.lock().unwrap().push((source_version, build));
    }
}

impl BuildService for FakeBuilds {
    async fn start(&self, start: &BuildStart) -> Result<String> {
        let mut started = self.started.lock().unwrap();
        started.push(start.clone());
        Ok(format!("{}:{}", start.project, started.len()))
    }

    async fn phase(&self, _build_id: &str) -> Result<BuildPhase> {
        Ok(self.answer.clone())
    }

    /// Those recorded, and every build this fake started: running while it answers InProgress.
    async fn builds_of(&self, project: &str, source_version: &str) -> Result<Vec<BuildRecord>> {
        let status =
            if self.answer == BuildPhase::InProgress { RecordedStatus::InProgress } else { RecordedStatus::Ended };
        let started = self.started.lock().unwrap();
        let started =
            started.iter().enumerate().filter(|(_, s)| s.project == project && s.source_version == source_version);
        let started = started.map(|(i, s)| Self::record_of(s, format!("{project}:{}", i + 1), status));
        let recorded = self.recorded.lock().unwrap();
        let recorded = recorded.iter().filter(|(source, _)| source == source_version).map(|(_, b)| b.clone());
        let mut builds: Vec<BuildRecord> = recorded.chain(started).collect();
        builds.reverse();
        Ok(builds)
    }

    async fn project(&self, _project: &str) -> Result<BuildSettings> {
        Ok(Self::project())
    }

    /// A build this fake started, as it answers, exporting [`FakeBuilds::pulled`].
    async fn record(&self, build_id: &str) -> Result<Option<BuildRecord>> {
        let started = self.started.lock().unwrap();
        let index = build_id.rsplit(':').next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
        Ok(started.get(index.wrapping_sub(1)).map(|start| {
            let mut build = Self::record_of(start, build_id.into(), RecordedStatus::Succeeded);
            build.exported_base_images = self.pulled.lock().unwrap().clone();
            build.exported_binaries = self.binaries.lock().unwrap().clone();
            build.exported_built_with = self.built_with.lock().unwrap().clone();
            build
        }))
    }
}

/// The base images' record, in memory.
#[derive(Default)]
pub struct FakeBaseImages(pub Mutex<Vec<String>>);

impl crate::build::BaseImageRecord for FakeBaseImages {
    async fn recorded(&self) -> Result<Vec<String>> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn set(&self, recorded: &[String]) -> Result<()> {
        *self.0.lock().unwrap() = recorded.to_vec();
        Ok(())
    }
}

#[derive(Default)]
pub struct FakeRegistry {
    images: Mutex<HashMap<String, String>>,
}

impl FakeRegistry {
    pub const URI: &'static str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/btcd";

    pub fn with_image(tag: &str, digest: &str) -> Self {
        let registry = FakeRegistry::default();
        registry.images.lock().unwrap().insert(tag.into(), digest.into());
        registry
    }
}

impl ImageRegistry for FakeRegistry {
    async fn digest_of(&self, image_tag: &str) -> Result<Option<String>> {
        Ok(self.images.lock().unwrap().get(image_tag).cloned())
    }

    async fn repository_uri(&self) -> Result<String> {
        Ok(Self::URI.into())
    }
}

/// Revisions, each with who registered it: register-task's role ([`REGISTRAR_ROLE`]) for
/// those `register` made.
#[derive(Default)]
pub struct FakeTaskDefinitions {
    pub registered: Mutex<Vec<TaskSpec>>,
    registrars: Mutex<Vec<String>>,
}

/// register-task's role in [`task_config`].
pub const REGISTRAR_ROLE: &str = "sigship-RegisterTaskRole-TEST";

impl FakeTaskDefinitions {
    /// A revision someone else registered (`registered_by`, a caller's ARN).
    pub fn registered_by(&self, spec: TaskSpec, registered_by: &str) {
        self.registered.lock().unwrap().push(spec);
        self.registrars.lock().unwrap().push(registered_by.into());
    }
}

impl TaskDefinitions for FakeTaskDefinitions {
    async fn latest(&self, family: &str) -> Result<Option<crate::task_definition::LatestRevision>> {
        let registered = self.registered.lock().unwrap();
        let registrars = self.registrars.lock().unwrap();
        Ok(registered.last().map(|spec| crate::task_definition::LatestRevision {
            arn: format!("{family}:{}", registered.len()),
            registered_by: registrars.last().cloned(),
            content: Some(spec.content()),
        }))
    }

    async fn register(&self, spec: &TaskSpec) -> Result<String> {
        let mut registered = self.registered.lock().unwrap();
        registered.push(spec.clone());
        let caller = format!("arn:aws:sts::123456789012:assumed-role/{REGISTRAR_ROLE}/sigship-register-task");
        self.registrars.lock().unwrap().push(caller);
        Ok(format!("{}:{}", spec.family, registered.len()))
    }
}

enum Behaviour {
    Settle,
    RollBackTo(String),
    Stick,
}

/// One service whose deployments settle, roll back, or never finish.
pub struct FakeServices {
    view: Mutex<Option<ServiceView>>,
    behaviour: Behaviour,
    pub calls: Mutex<Vec<String>>,
}

impl FakeServices {
    fn new(behaviour: Behaviour, view: Option<ServiceView>) -> Self {
        FakeServices { view: Mutex::new(view), behaviour, calls: Mutex::new(Vec::new()) }
    }

    pub fn settling() -> Self {
        Self::new(Behaviour::Settle, None)
    }

    /// Already running `previous`; any update fails and the circuit breaker restores `previous`.
    pub fn rolling_back(previous: &str) -> Self {
        Self::new(Behaviour::RollBackTo(previous.into()), Some(view(previous, RolloutState::Completed, None)))
    }

    pub fn stuck() -> Self {
        Self::new(Behaviour::Stick, None)
    }

    /// A settled service of `task_definition` running `running` of `desired` tasks.
    pub fn running(task_definition: &str, desired: i32, running: i32) -> Self {
        let settled = ServiceView {
            desired_count: desired,
            running_count: running,
            ..view(task_definition, RolloutState::Completed, None)
        };
        Self::new(Behaviour::Settle, Some(settled))
    }

    fn apply(&self, task_definition: &str) {
        let next = match &self.behaviour {
            Behaviour::Settle => view(task_definition, RolloutState::Completed, None),
            Behaviour::RollBackTo(previous) => view(previous, RolloutState::Failed, Some("tasks failed to start")),
            Behaviour::Stick => view(task_definition, RolloutState::InProgress, None),
        };
        *self.view.lock().unwrap() = Some(next);
    }
}

fn view(task_definition: &str, rollout: RolloutState, reason: Option<&str>) -> ServiceView {
    let running = if rollout == RolloutState::Completed { 1 } else { 0 };
    ServiceView {
        status: ServiceStatus::Active,
        task_definition: task_definition.into(),
        desired_count: 1,
        running_count: running,
        deployments: vec![DeploymentView {
            role: DeploymentRole::Primary,
            task_definition: task_definition.into(),
            rollout_state: Some(rollout),
            rollout_reason: reason.map(String::from),
        }],
    }
}

impl Services for FakeServices {
    async fn describe(&self, _cluster: &str, _service: &str) -> Result<Option<ServiceView>> {
        Ok(self.view.lock().unwrap().clone())
    }

    async fn create(&self, spec: &ServiceSpec) -> Result<()> {
        self.calls.lock().unwrap().push(format!("create {}", spec.task_definition));
        self.apply(&spec.task_definition);
        Ok(())
    }

    async fn update(&self, spec: &ServiceSpec) -> Result<()> {
        self.calls.lock().unwrap().push(format!("update {}", spec.task_definition));
        self.apply(&spec.task_definition);
        Ok(())
    }

    async fn delete(&self, _cluster: &str, _service: &str) -> Result<()> {
        if let Some(view) = self.view.lock().unwrap().as_mut() {
            view.status = ServiceStatus::Inactive;
        }
        Ok(())
    }
}

/// Task definitions and the release each carries in its tags (task definition, tag, commit), all
/// at `profile` (None: revisions from before profiles).
#[derive(Default)]
pub struct FakeRevisions(pub Vec<(&'static str, &'static str, &'static str)>, pub Option<crate::sizing::Profile>);

impl crate::running::Revisions for FakeRevisions {
    async fn deployed(&self, task_definition: &str) -> Result<Option<crate::running::DeployedRevision>> {
        Ok(self.0.iter().find(|(arn, _, _)| *arn == task_definition).map(|(arn, tag, commit)| {
            crate::running::DeployedRevision {
                task_definition: arn.to_string(),
                image: format!("{}@sha256:{}", FakeRegistry::URI, "a".repeat(64)),
                release_tag: Some(tag.to_string()),
                commit: Some(commit.to_string()),
                network: "testnet3",
                profile: self.1,
                size: None,
                registered_at_ms: None,
            }
        }))
    }
}

/// The newest release deployed, in memory.
#[derive(Default)]
pub struct FakeLedger(pub Mutex<Option<String>>);

impl crate::release::ReleaseLedger for FakeLedger {
    async fn newest_ran(&self) -> Result<Option<String>> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn record_ran(&self, tag: &str) -> Result<()> {
        *self.0.lock().unwrap() = Some(tag.to_string());
        Ok(())
    }
}

pub struct FakeTeardown {
    /// How many more looks see a task still stopping after the service is deleted.
    pub stopping_for: Mutex<u32>,
    images: Mutex<Vec<String>>,
    task_definitions: Mutex<Vec<String>>,
    file_system: Mutex<Option<String>>,
    pub access_point_deleted: Mutex<Option<String>>,
    managed: bool,
}

impl FakeTeardown {
    pub fn with(images: &[&str], task_definitions: &[&str], managed: bool) -> Self {
        let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        FakeTeardown {
            stopping_for: Mutex::new(0),
            images: Mutex::new(owned(images)),
            task_definitions: Mutex::new(owned(task_definitions)),
            file_system: Mutex::new(Some("fs-1".into())),
            access_point_deleted: Mutex::new(None),
            managed,
        }
    }
}

impl Teardown for FakeTeardown {
    async fn delete_images(&self) -> Result<Vec<String>> {
        Ok(std::mem::take(&mut *self.images.lock().unwrap()))
    }

    async fn deregister_task_definitions(&self, _family: &str) -> Result<Vec<String>> {
        Ok(std::mem::take(&mut *self.task_definitions.lock().unwrap()))
    }

    async fn delete_chain_data(&self, file_system_id: &str, access_point_id: Option<&str>) -> Result<Option<String>> {
        *self.access_point_deleted.lock().unwrap() = access_point_id.map(String::from);
        let mut fs = self.file_system.lock().unwrap();
        Ok(fs.take().filter(|id| id == file_system_id))
    }

    async fn service_is_managed(&self, _cluster: &str, _service: &str) -> Result<bool> {
        Ok(self.managed)
    }

    async fn unstopped_tasks(&self, cluster: &str, _service: &str) -> Result<Vec<String>> {
        let mut left = self.stopping_for.lock().unwrap();
        if *left == 0 {
            return Ok(vec![]);
        }
        *left -= 1;
        Ok(vec![format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/0123")])
    }
}

/// Executions of a state machine, in memory: names taken, and the running ones with start times.
#[derive(Default)]
pub struct FakeExecutions {
    pub started: Mutex<Vec<(String, serde_json::Value)>>,
    pub existing: Mutex<Vec<crate::execution::ListedExecution>>,
    running: Vec<crate::execution::RunningExecution>,
}

impl FakeExecutions {
    pub fn running(running: &[(&str, i64)]) -> Self {
        let running = running
            .iter()
            .map(|(arn, started_ms)| crate::execution::RunningExecution {
                arn: arn.to_string(),
                started_ms: *started_ms,
            })
            .collect();
        FakeExecutions { running, ..Default::default() }
    }

    /// Executions that ran and succeeded, by name.
    pub fn with_history(names: &[String]) -> Self {
        let succeeded = |name: &String| crate::execution::ListedExecution {
            name: name.clone(),
            status: "SUCCEEDED".into(),
            stopped_ms: Some(0),
        };
        Self::with_listed(names.iter().map(succeeded).collect())
    }

    pub fn with_listed(listed: Vec<crate::execution::ListedExecution>) -> Self {
        FakeExecutions { existing: Mutex::new(listed), ..Default::default() }
    }
}

impl crate::execution::Executions for FakeExecutions {
    /// As Step Functions: a name in use is ExecutionAlreadyExists — except for an execution this
    /// fake started (still running) asked again with an identical input, which returns that
    /// execution again (StartExecution's idempotency).
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<crate::execution::Started> {
        let arn = format!("arn:aws:states:us-east-1:123456789012:execution:sigship:{name}");
        if self.started.lock().unwrap().iter().any(|(n, i)| n == name && i == input) {
            return Ok(crate::execution::Started::New(arn));
        }
        let mut existing = self.existing.lock().unwrap();
        if existing.iter().any(|e| e.name == name) {
            return Ok(crate::execution::Started::AlreadyExists);
        }
        existing.push(crate::execution::ListedExecution {
            name: name.into(),
            status: "RUNNING".into(),
            stopped_ms: None,
        });
        self.started.lock().unwrap().push((name.to_string(), input.clone()));
        Ok(crate::execution::Started::New(arn))
    }

    async fn listed(&self) -> Result<Vec<crate::execution::ListedExecution>> {
        Ok(self.existing.lock().unwrap().clone())
    }

    async fn running(&self) -> Result<Vec<crate::execution::RunningExecution>> {
        Ok(self.running.clone())
    }
}

/// Every release tag verifies except those named (as an unsigned tag would fail).
pub struct Verdicts(pub &'static [&'static str]);

impl crate::trigger::ReleaseCheck for Verdicts {
    async fn check(&self, tag: &crate::verify::RemoteTag) -> Result<()> {
        match self.0.contains(&tag.name.as_str()) {
            true => Err(crate::Error::Unsigned { tag: tag.name.clone() }),
            false => Ok(()),
        }
    }
}

/// A remote's tags, in memory.
#[derive(Clone)]
pub struct FakeRemote(pub Vec<crate::verify::RemoteTag>);

impl crate::verify::RemoteTags for FakeRemote {
    fn url(&self) -> &str {
        "https://example.org/btcd.git"
    }

    async fn tags(&self) -> Result<Vec<crate::verify::RemoteTag>> {
        Ok(self.0.clone())
    }

    async fn tag_object(&self, tag: &str) -> Result<Option<String>> {
        Ok(self.0.iter().find(|t| t.name == tag).map(|t| t.object_id.clone()))
    }
}

/// A log group in memory; `matching` treats the filter as one quoted term, as the node's is.
#[derive(Default)]
pub struct FakeLogs {
    pub events: Vec<crate::node::LogEvent>,
    pub windows: Mutex<Vec<(i64, i64)>>,
}

impl FakeLogs {
    pub fn with(events: &[(i64, &str)]) -> Self {
        let events = events
            .iter()
            .map(|(timestamp_ms, message)| crate::node::LogEvent {
                timestamp_ms: *timestamp_ms,
                message: message.to_string(),
            })
            .collect();
        FakeLogs { events, windows: Mutex::new(Vec::new()) }
    }
}

impl crate::node::LogEvents for FakeLogs {
    async fn matching(
        &self,
        _group: &str,
        filter: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<crate::node::LogEvent>> {
        self.windows.lock().unwrap().push((start_ms, end_ms));
        let term = filter.trim_matches('"');
        Ok(self
            .events
            .iter()
            .filter(|e| (start_ms..end_ms).contains(&e.timestamp_ms) && e.message.contains(term))
            .cloned()
            .collect())
    }

    async fn last_event_ms(&self, _group: &str) -> Result<Option<i64>> {
        Ok(self.events.iter().map(|e| e.timestamp_ms).max())
    }
}

/// The watch's marks, as given.
#[derive(Clone, Default)]
pub struct Marks(pub crate::trigger::watch::WatchMarks);

impl crate::trigger::watch::WatchState for Marks {
    async fn read(&self) -> Result<crate::trigger::watch::WatchMarks> {
        Ok(self.0.clone())
    }

    /// Marks as given stay as given.
    async fn remember(&self, _refused: &[crate::trigger::watch::RefusedTag]) -> Result<()> {
        Ok(())
    }
}

/// The watch's marks, remembering what a run keeps.
pub struct SharedMarks(Mutex<crate::trigger::watch::WatchMarks>);

impl SharedMarks {
    pub fn new(marks: crate::trigger::watch::WatchMarks) -> Self {
        SharedMarks(Mutex::new(marks))
    }
}

impl crate::trigger::watch::WatchState for SharedMarks {
    async fn read(&self) -> Result<crate::trigger::watch::WatchMarks> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn remember(&self, refused: &[crate::trigger::watch::RefusedTag]) -> Result<()> {
        self.0.lock().unwrap().refused = refused.to_vec();
        Ok(())
    }
}

/// register-task's configuration for testnet3, as the unit tests register with it.
pub fn task_config() -> crate::task_definition::TaskConfig {
    crate::task_definition::TaskConfig {
        family: "btcd".into(),
        registrar_role: REGISTRAR_ROLE.into(),
        cluster: "sigship".into(),
        service: "btcd".into(),
        sizes: crate::sizing::NodeSizes::of_table(crate::network::Network::Testnet3),
        execution_role_arn: "arn:aws:iam::123456789012:role/exec".into(),
        task_role_arn: "arn:aws:iam::123456789012:role/task".into(),
        log_group: "/sigship/btcd".into(),
        region: "us-east-1".into(),
        file_system_id: "fs-1".into(),
        access_point_id: "fsap-1".into(),
        extra_args: vec!["--maxpeers=16".into()],
        health_check_timing: crate::task_definition::HEALTH_CHECK,
        rpc_secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rpc".into(),
    }
}

/// The release v0.26.0 at [`verified_tag`]'s commit.
pub fn release() -> crate::release::Release {
    crate::release::Release::from(&verified_tag("v0.26.0"))
}
