//! The local Fargate: ECS services whose tasks really run. moto keeps services and task
//! definitions but starts nothing; here each service's deployments are scheduled as ECS does
//! for sigship's configuration (minimum healthy 0 %, maximum 100 %: the old task stops before the
//! new one starts), and each task is the registered container started as a process:
//!
//! - its image pulled by digest from ECR with the task execution role (the manifest's layer names
//!   the image's directory in the [`ImageStore`]), started with the image's ENTRYPOINT and the
//!   task definition's command, environment and secrets (from Secrets Manager, with the execution
//!   role), as the image's user, with its home — the host's /etc/passwd does not know that user,
//!   so HOME says where it is, as the image's /etc/passwd would;
//! - in a network namespace of its own, as awsvpc gives each task its own interface: its ports
//!   are its own, and it reaches nothing but the addresses the local cloud forwards into it (the
//!   local peers), never the internet;
//! - a local folder stands for the EFS access point (its root directory, owner and permissions),
//!   named by the container path in the command (`/data` → that folder);
//! - stdout and stderr go to the task definition's awslogs group, stream
//!   `<prefix>/<container>/<task id>`, as the awslogs driver sends them (with the execution role);
//! - the health check runs every interval from the start; failures within the start period do
//!   not count, `retries` consecutive failures after it make the task UNHEALTHY; one pass makes
//!   it HEALTHY;
//! - stopping sends SIGTERM and SIGKILL after stopTimeout; a task that exits or turns unhealthy
//!   is replaced, and the deployment circuit breaker counts those failures: at
//!   `min(max(ceil(desired / 2), 3), 200)` the rollout is FAILED and, with rollback on, the
//!   service goes back to the last completed deployment's task definition.
//!
//! DescribeServices, ListTasks and DescribeTasks answers are rewritten with this state.
//! Not modelled: task IAM role credentials (btcd calls no AWS API), ENIs and security groups.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use crate::codebuild::ImageStore;
use crate::image::ImageConfig;

/// The ECS clients the scheduler uses: as the administrator for what ECS itself knows, and a
/// way to get clients as a task's execution role.
pub struct Fargate {
    ecs: aws_sdk_ecs::Client,
    efs: aws_sdk_efs::Client,
    /// Credentials of each task execution role, as ECS assumes it (see [`Fargate::assume_role`]).
    roles: Mutex<HashMap<String, aws_credential_types::Credentials>>,
    sdk: aws_config::SdkConfig,
    images: Arc<ImageStore>,
    /// Task folders and the folders standing for EFS access points.
    root: PathBuf,
    /// Host loopback ports reachable from inside every task at the same address.
    forwards: Mutex<Vec<u16>>,
    services: Mutex<HashMap<String, Service>>,
    logs: PathBuf,
    next_id: Mutex<u64>,
    /// Set when the cloud stops: the reconciler ends.
    stopped: std::sync::atomic::AtomicBool,
    /// The account's Fargate On-Demand vCPU quota.
    vcpu_quota: std::sync::atomic::AtomicU32,
    /// CPU units the account's other Fargate tasks hold of the quota (none unless a test says).
    elsewhere_cpu_units: std::sync::atomic::AtomicU32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    InProgress,
    Completed,
    Failed,
}

#[derive(Debug, Clone)]
struct Deployment {
    id: String,
    task_definition: String,
    primary: bool,
    rollout: Rollout,
    reason: Option<String>,
    failed_tasks: u32,
    rollback: bool,
    created_at: f64,
}

struct Service {
    cluster: String,
    name: String,
    desired: u32,
    deployments: Vec<Deployment>,
    tasks: Vec<Arc<Task>>,
    deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Healthy,
    Unhealthy,
}

/// One running (or stopped) task: a process in its own network namespace.
pub struct Task {
    pub arn: String,
    pub id: String,
    pub task_definition: String,
    deployment: String,
    started_at: f64,
    state: Mutex<TaskState>,
    pid: Option<u32>,
    namespace: String,
    stop_timeout: Duration,
    /// Counted against its deployment by the circuit breaker already.
    counted: std::sync::atomic::AtomicBool,
    /// The task definition's CPU units: what it holds of the account's Fargate vCPU quota.
    cpu_units: u32,
}

#[derive(Debug, Clone)]
struct TaskState {
    health: Health,
    running: bool,
    desired_running: bool,
    stopped_reason: Option<String>,
    exit_code: Option<i32>,
    stopped_at: Option<f64>,
}

fn now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The circuit breaker's threshold for `desired` tasks (ECS: half the desired count, 3 to 200).
pub fn failure_threshold(desired: u32) -> u32 {
    desired.div_ceil(2).clamp(3, 200)
}

/// Where a task's health stands after one check, as ECS judges it.
pub fn judge_health(
    current: Health,
    passed: bool,
    consecutive_failures: u32,
    in_start_period: bool,
    retries: u32,
) -> Health {
    match (passed, in_start_period) {
        (true, _) => Health::Healthy,
        (false, true) => current,
        (false, false) if consecutive_failures >= retries => Health::Unhealthy,
        (false, false) => current,
    }
}

impl Fargate {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        moto_port: u16,
        images: Arc<ImageStore>,
        logs: PathBuf,
        vcpu_quota: u32,
    ) -> Arc<Self> {
        let moto = format!("http://127.0.0.1:{moto_port}");
        let ecs = aws_sdk_ecs::config::Builder::from(sdk).endpoint_url(&moto).build();
        let efs = aws_sdk_efs::config::Builder::from(sdk).endpoint_url(&moto).build();
        // Folders a task's user (not root) must reach: world-traversable.
        let root = tempfile::Builder::new().prefix("sigship-fargate-").tempdir().unwrap().keep();
        set_mode(&root, 0o755);
        let fargate = Arc::new(Fargate {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            efs: aws_sdk_efs::Client::from_conf(efs),
            roles: Mutex::new(HashMap::new()),
            sdk: aws_config::SdkConfig::builder()
                .region(sdk.region().cloned())
                .endpoint_url(moto)
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
            images,
            root,
            forwards: Mutex::new(Vec::new()),
            services: Mutex::new(HashMap::new()),
            logs,
            next_id: Mutex::new(0),
            stopped: std::sync::atomic::AtomicBool::new(false),
            vcpu_quota: vcpu_quota.into(),
            elsewhere_cpu_units: 0.into(),
        });
        let weak = Arc::downgrade(&fargate);
        tokio::spawn(async move {
            // Until the cloud is dropped (the router's server keeps this alive past that).
            while let Some(fargate) = weak.upgrade().filter(|f| !f.stopped.load(std::sync::atomic::Ordering::SeqCst)) {
                fargate.reconcile().await;
                drop(fargate);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        fargate
    }

    /// ECS assumes a task's execution role as `ecs-tasks.amazonaws.com`; here it is assumed once,
    /// before IAM is enforced, as the functions' roles are.
    pub async fn assume_role(&self, sts: &aws_sdk_sts::Client, role_arn: &str) {
        let credentials = crate::iam::assume(sts, role_arn, "ecs-task-execution").await;
        self.roles.lock().unwrap().insert(role_arn.to_string(), credentials);
    }

    /// Makes `port` on the host's loopback reachable at 127.0.0.1:`port` inside every task
    /// started from now on (a peer on the task's network).
    pub fn forward(&self, port: u16) {
        self.forwards.lock().unwrap().push(port);
    }

    /// After moto accepted CreateService, UpdateService or DeleteService.
    pub fn service_changed(&self, operation: &str, request: &[u8]) {
        let request: Value = serde_json::from_slice(request).unwrap_or_default();
        let name = request["service"].as_str().or(request["serviceName"].as_str()).unwrap_or_default().to_string();
        let name = last_segment(&name);
        let cluster = last_segment(request["cluster"].as_str().unwrap_or("default"));
        let mut services = self.services.lock().unwrap();
        let key = format!("{cluster}/{name}");
        let breaker = &request["deploymentConfiguration"]["deploymentCircuitBreaker"];
        let rollback = breaker["enable"].as_bool().unwrap_or(false) && breaker["rollback"].as_bool().unwrap_or(false);
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            format!("ecs-svc/{:010}{:06}", now() as u64, *next)
        };
        let deployment = |task_definition: &str| Deployment {
            id: id.clone(),
            task_definition: task_definition.to_string(),
            primary: true,
            rollout: Rollout::InProgress,
            reason: None,
            failed_tasks: 0,
            rollback,
            created_at: now(),
        };
        match operation {
            "CreateService" => {
                let task_definition = request["taskDefinition"].as_str().unwrap_or_default();
                services.insert(
                    key,
                    Service {
                        cluster,
                        name,
                        desired: request["desiredCount"].as_u64().unwrap_or(1) as u32,
                        deployments: vec![deployment(task_definition)],
                        tasks: Vec::new(),
                        deleted: false,
                    },
                );
            }
            "UpdateService" => {
                let Some(service) = services.get_mut(&key) else { return };
                if let Some(desired) = request["desiredCount"].as_u64() {
                    service.desired = desired as u32;
                }
                let current = service.primary().map(|d| d.task_definition.clone()).unwrap_or_default();
                let wanted = request["taskDefinition"].as_str().map(String::from).unwrap_or(current.clone());
                if wanted != current || request["forceNewDeployment"].as_bool() == Some(true) {
                    service.deployments.iter_mut().for_each(|d| d.primary = false);
                    service.deployments.push(deployment(&wanted));
                }
            }
            "DeleteService" => {
                if let Some(service) = services.get_mut(&key) {
                    service.desired = 0;
                    service.deleted = true;
                }
            }
            _ => {}
        }
    }

    /// DescribeServices as ECS would answer it for the services running here.
    pub fn describe_services(&self, body: Bytes) -> Bytes {
        let mut answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        let services = self.services.lock().unwrap();
        for described in answer["services"].as_array_mut().into_iter().flatten() {
            let cluster = last_segment(described["clusterArn"].as_str().unwrap_or_default());
            let name = described["serviceName"].as_str().unwrap_or_default();
            let Some(service) = services.get(&format!("{cluster}/{name}")) else { continue };
            let running = |deployment: &str| {
                service.tasks.iter().filter(|t| t.deployment == deployment && t.state().running).count()
            };
            described["deployments"] = service
                .deployments
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id,
                        "status": if d.primary { "PRIMARY" } else { "ACTIVE" },
                        "taskDefinition": d.task_definition,
                        "desiredCount": if d.primary { service.desired } else { 0 },
                        "runningCount": running(&d.id),
                        "pendingCount": 0,
                        "failedTasks": d.failed_tasks,
                        "launchType": "FARGATE",
                        "createdAt": d.created_at,
                        "updatedAt": now(),
                        "rolloutState": match d.rollout {
                            Rollout::InProgress => "IN_PROGRESS",
                            Rollout::Completed => "COMPLETED",
                            Rollout::Failed => "FAILED",
                        },
                        "rolloutStateReason": d.reason.clone().unwrap_or_else(|| match d.rollout {
                            Rollout::Completed => "ECS deployment completed.".into(),
                            _ => "ECS deployment in progress.".into(),
                        }),
                    })
                })
                .collect();
            described["runningCount"] = service.tasks.iter().filter(|t| t.state().running).count().into();
            described["pendingCount"] = 0.into();
            if !service.deleted {
                described["desiredCount"] = service.desired.into();
            }
            if let Some(primary) = service.primary() {
                described["taskDefinition"] = primary.task_definition.clone().into();
            }
        }
        Bytes::from(answer.to_string())
    }

    /// ListTasks: the tasks of the cluster (and service, and desired status) the request names.
    pub fn list_tasks(&self, request: &[u8], body: Bytes) -> Bytes {
        let request: Value = serde_json::from_slice(request).unwrap_or_default();
        let cluster = last_segment(request["cluster"].as_str().unwrap_or("default"));
        let service = request["serviceName"].as_str().map(last_segment);
        let stopped = request["desiredStatus"].as_str() == Some("STOPPED");
        let services = self.services.lock().unwrap();
        let arns: Vec<String> = services
            .values()
            .filter(|s| s.cluster == cluster && service.as_ref().is_none_or(|name| &s.name == name))
            .flat_map(|s| s.tasks.iter())
            .filter(|t| t.state().desired_running != stopped)
            .map(|t| t.arn.clone())
            .collect();
        let mut answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        answer["taskArns"] = arns.into();
        Bytes::from(answer.to_string())
    }

    /// DescribeTasks: the tasks here among those the request names.
    pub fn describe_tasks(&self, request: &[u8], body: Bytes) -> Bytes {
        let request: Value = serde_json::from_slice(request).unwrap_or_default();
        let wanted: Vec<&str> = request["tasks"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let services = self.services.lock().unwrap();
        let tasks: Vec<Value> = services
            .values()
            .flat_map(|s| s.tasks.iter().map(move |t| (s, t)))
            .filter(|(_, t)| wanted.iter().any(|w| *w == t.arn || *w == t.id))
            .map(|(service, task)| {
                let state = task.state();
                let status = match (state.running, state.desired_running) {
                    (true, true) => "RUNNING",
                    (true, false) => "DEACTIVATING",
                    (false, _) => "STOPPED",
                };
                let health = match state.health {
                    Health::Unknown => "UNKNOWN",
                    Health::Healthy => "HEALTHY",
                    Health::Unhealthy => "UNHEALTHY",
                };
                json!({
                    "taskArn": task.arn,
                    "taskDefinitionArn": task.task_definition,
                    "group": format!("service:{}", service.name),
                    "lastStatus": status,
                    "desiredStatus": if state.desired_running { "RUNNING" } else { "STOPPED" },
                    "healthStatus": health,
                    "launchType": "FARGATE",
                    "startedAt": task.started_at,
                    "stoppedAt": state.stopped_at,
                    "stoppedReason": state.stopped_reason,
                    "containers": [{"name": pipeline::task_definition::CONTAINER_NAME, "lastStatus": status,
                                    "healthStatus": health, "exitCode": state.exit_code}],
                })
            })
            .collect();
        let mut answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        answer["tasks"] = tasks.into();
        answer["failures"] = json!([]);
        Bytes::from(answer.to_string())
    }

    /// Every running task of every service (for tests and `xtask local`).
    pub fn tasks(&self) -> Vec<Arc<Task>> {
        self.services.lock().unwrap().values().flat_map(|s| s.tasks.iter().cloned()).collect()
    }

    /// One pass of the scheduler over every service.
    async fn reconcile(self: &Arc<Self>) {
        let mut starts = Vec::new();
        {
            let mut services = self.services.lock().unwrap();
            for service in services.values_mut() {
                service.judge_and_stop();
                if let Some(task_definition) = service.wants_a_task() {
                    let deployment = service.primary().map(|d| d.id.clone()).unwrap_or_default();
                    // A placeholder keeps this pass from starting two; the real task replaces it.
                    service.tasks.push(Arc::new(Task::pending(&deployment)));
                    starts.push((format!("{}/{}", service.cluster, service.name), task_definition, deployment));
                }
            }
        }
        for (key, task_definition, deployment) in starts {
            let started = self.start_task(&key, &task_definition, &deployment).await;
            let mut services = self.services.lock().unwrap();
            let Some(service) = services.get_mut(&key) else { continue };
            service.tasks.retain(|t| !t.is_pending());
            match started {
                Ok(task) => service.tasks.push(task),
                Err(why) => {
                    println!("  [local Fargate] {key}: task failed to start: {why}");
                    if let Some(primary) = service.deployments.iter_mut().find(|d| d.primary) {
                        primary.failed_tasks += 1;
                    }
                }
            }
        }
    }

    pub fn set_vcpu_quota(&self, vcpus: u32) {
        self.vcpu_quota.store(vcpus, std::sync::atomic::Ordering::SeqCst);
    }

    /// The account's other Fargate tasks (another team's, another stack's) hold `cpu_units` of
    /// the vCPU quota from now on.
    pub fn run_elsewhere(&self, cpu_units: u32) {
        self.elsewhere_cpu_units.store(cpu_units, std::sync::atomic::Ordering::SeqCst);
    }

    /// Fargate's On-Demand vCPU quota: a task that would take the account's running vCPUs above
    /// it is not placed (ECS: "You've reached the limit on the number of vCPUs you can run
    /// concurrently").
    fn check_vcpu_quota(&self, cpu_units: u32) -> Result<(), String> {
        let quota = self.vcpu_quota.load(std::sync::atomic::Ordering::SeqCst);
        let elsewhere = self.elsewhere_cpu_units.load(std::sync::atomic::Ordering::SeqCst);
        let running: u32 = elsewhere
            + self
                .services
                .lock()
                .unwrap()
                .values()
                .flat_map(|s| s.tasks.iter())
                .filter(|t| t.is_running())
                .map(|t| t.cpu_units)
                .sum::<u32>();
        if running + cpu_units > quota * 1024 {
            return Err(format!(
                "You've reached the limit on the number of vCPUs you can run concurrently \
                 (Fargate On-Demand vCPU quota {}; running {} vCPU, this task {} vCPU)",
                quota,
                f64::from(running) / 1024.0,
                f64::from(cpu_units) / 1024.0
            ));
        }
        Ok(())
    }

    async fn start_task(
        self: &Arc<Self>,
        service: &str,
        task_definition: &str,
        deployment: &str,
    ) -> Result<Arc<Task>, String> {
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|e| format!("DescribeTaskDefinition: {}", aws_sdk_ecs::error::DisplayErrorContext(e)))?;
        let definition = described.task_definition().ok_or("no task definition")?;
        let cpu_units: u32 = definition.cpu().and_then(|c| c.parse().ok()).unwrap_or(0);
        self.check_vcpu_quota(cpu_units)?;
        let container = definition.container_definitions().first().ok_or("no container")?;
        let role = definition.execution_role_arn().ok_or("no execution role")?;
        let credentials =
            self.roles.lock().unwrap().get(role).cloned().ok_or(format!(
                "the execution role {role} is not the stack's (the local cloud assumed only that one)"
            ))?;
        let as_role = aws_config::SdkConfig::builder()
            .region(self.sdk.region().cloned())
            .endpoint_url(self.sdk.endpoint_url().unwrap_or_default())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .build();

        // Pull: the manifest by digest, its layer in the image store.
        let image = container.image().unwrap_or_default();
        let (repository, digest) = image
            .split_once('@')
            .map(|(r, d)| (r.rsplit_once('/').map_or(r, |(_, name)| name), d))
            .ok_or(format!("image {image} is not pinned by digest"))?;
        let ecr = aws_sdk_ecr::Client::new(&as_role);
        let pulled = ecr
            .batch_get_image()
            .repository_name(repository)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
            .map_err(|e| format!("CannotPullContainerError: {}", aws_sdk_ecr::error::DisplayErrorContext(e)))?;
        let manifest: Value = pulled
            .images()
            .first()
            .and_then(|i| i.image_manifest())
            .and_then(|m| serde_json::from_str(m).ok())
            .ok_or(format!("CannotPullContainerError: {image} not found"))?;
        let layer = manifest["layers"][0]["digest"].as_str().unwrap_or_default();
        let (image_root, config) =
            self.images.get(layer).ok_or(format!("CannotPullContainerError: layer {layer} of {image} is not here"))?;

        // Secrets, with the execution role.
        let secrets = aws_sdk_secretsmanager::Client::new(&as_role);
        let mut env: Vec<(String, String)> = container
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_string(), kv.value()?.to_string())))
            .collect();
        for secret in container.secrets() {
            env.push((secret.name().to_string(), resolve_secret(&secrets, secret.value_from()).await?));
        }

        let mut volumes = Vec::new();
        for mount in container.mount_points() {
            let volume = definition.volumes().iter().find(|v| v.name() == mount.source_volume()).ok_or("no volume")?;
            volumes.push((
                mount.container_path().unwrap_or_default().to_string(),
                self.access_point_folder(volume).await?,
            ));
        }
        let launch = Launch {
            container,
            image_root: &image_root,
            image: &config,
            env,
            volumes,
            forwards: self.forwards.lock().unwrap().clone(),
            cpu_units,
        };
        let (task, lines) = launch.start(&self.root, service, task_definition, deployment)?;

        // awslogs: stdout and stderr, line by line, to the group's stream for this task.
        let log_options = container.log_configuration().and_then(|l| l.options()).cloned().unwrap_or_default();
        let group = log_options.get("awslogs-group").cloned().unwrap_or_default();
        let stream = format!(
            "{}/{}/{}",
            log_options.get("awslogs-stream-prefix").cloned().unwrap_or_default(),
            container.name().unwrap_or_default(),
            task.id
        );
        let logs = aws_sdk_cloudwatchlogs::Client::new(&as_role);
        let local_log = self.logs.join(format!("task-{}.log", task.id));
        tokio::spawn(ship_logs(logs, group, stream, lines, local_log));
        Ok(task)
    }

    /// The local folder standing for the volume's EFS access point: its root directory, created
    /// with the access point's owner and permissions, kept across tasks (the chain data).
    async fn access_point_folder(&self, volume: &aws_sdk_ecs::types::Volume) -> Result<PathBuf, String> {
        let efs = volume.efs_volume_configuration().ok_or("only EFS volumes are modelled")?;
        let access_point = efs.authorization_config().and_then(|a| a.access_point_id()).ok_or("no access point")?;
        let described = self
            .efs
            .describe_access_points()
            .access_point_id(access_point)
            .send()
            .await
            .map_err(|e| format!("ResourceInitializationError: {}", aws_sdk_efs::error::DisplayErrorContext(e)))?;
        let point = described.access_points().first().ok_or("access point not found")?;
        let root = point.root_directory().and_then(|r| r.path()).unwrap_or("/");
        let folder = crate::image::inside(&self.root.join("efs").join(efs.file_system_id()), root);
        if !folder.exists() {
            std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
            set_mode(&self.root.join("efs"), 0o755);
            if let Some(info) = point.root_directory().and_then(|r| r.creation_info()) {
                chown(&folder, info.owner_uid() as u32, info.owner_gid() as u32);
                set_mode(&folder, u32::from_str_radix(info.permissions(), 8).unwrap_or(0o755));
            }
        }
        Ok(folder)
    }

    /// Stops every task (SIGTERM, then SIGKILL after its stop timeout) and waits for them.
    pub async fn stop_all(&self) {
        let tasks = self.tasks();
        for task in &tasks {
            task.stop("the local cloud is stopping");
        }
        for task in tasks {
            while task.state().running {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Drop for Fargate {
    fn drop(&mut self) {
        self.kill_all();
    }
}

impl Fargate {
    /// Ends every task at once (SIGKILL), removes its namespace and the folders, and stops the
    /// reconciler: the local cloud is going away, its moto with it.
    pub fn kill_all(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        for task in self.services.lock().unwrap().values().flat_map(|s| s.tasks.iter()) {
            if let Some(pid) = task.pid.filter(|_| task.state().running) {
                let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
            delete_namespace(&task.namespace);
        }
        // The tasks' folders and the access points' stand-ins (the chain data) go with the cloud.
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A container ready to start: what [`Fargate::start_task`] gathers from ECS, ECR and Secrets
/// Manager — or what a test makes of the library's container definition and an image it built.
pub struct Launch<'a> {
    pub container: &'a aws_sdk_ecs::types::ContainerDefinition,
    pub image_root: &'a Path,
    pub image: &'a ImageConfig,
    /// The container's environment with its secrets resolved.
    pub env: Vec<(String, String)>,
    /// (container path, local folder) of each mount point.
    pub volumes: Vec<(String, PathBuf)>,
    /// Host loopback ports reachable from inside the task.
    pub forwards: Vec<u16>,
    /// The task definition's CPU units.
    pub cpu_units: u32,
}

impl Launch<'_> {
    /// Starts the container under `root` as a task of `service` (`cluster/name`): its own
    /// folder and network namespace, its health check and exit watched. Answers the task and
    /// its output, line by line, for the log driver.
    pub fn start(
        self,
        root: &Path,
        service: &str,
        task_definition: &str,
        deployment: &str,
    ) -> Result<(Arc<Task>, tokio::sync::mpsc::UnboundedReceiver<String>), String> {
        let container = self.container;
        // The id, its folders, the volume.
        // Unique across every local cloud on this machine (namespaces are machine-wide).
        static TASKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = TASKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("{:016x}{:08x}{:08x}", now() as u64, std::process::id(), n);
        let cluster = service.split('/').next().unwrap_or_default();
        let arn = format!("arn:aws:ecs:{}:{}:task/{cluster}/{id}", crate::REGION, crate::ACCOUNT);
        let task_dir = root.join(&id);
        let home = crate::image::inside(&task_dir, &self.image.user.home);
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        set_mode(&task_dir, 0o755);
        // The home as the image has it (its config files), the user's; read-only when the task
        // definition makes the root file system read-only, as the container would find it.
        let read_only = container.readonly_root_filesystem() == Some(true);
        let in_image = crate::image::inside(self.image_root, &self.image.user.home);
        home_from_image(&in_image, &home, (self.image.user.uid, self.image.user.gid), read_only)
            .map_err(|e| format!("home {}: {e}", self.image.user.home))?;
        // A volume's container path, in a flag (`--datadir=/data/…`) or as a whole value (an
        // environment variable), becomes its local folder.
        let translate = |value: &str| {
            self.volumes.iter().fold(value.to_string(), |v, (container, local)| {
                let v = v.replace(&format!("={container}"), &format!("={}", local.display()));
                match v.strip_prefix(container.as_str()) {
                    Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{}{rest}", local.display()),
                    _ => v,
                }
            })
        };
        let image_path: Vec<String> =
            self.image.path.iter().map(|p| crate::image::inside(self.image_root, p).display().to_string()).collect();
        let mut env = self.env;
        env.push(("PATH".into(), format!("{}:/usr/bin:/bin", image_path[0])));
        env.push(("HOME".into(), home.display().to_string()));
        env.push(("HOSTNAME".into(), id[..12].to_string()));
        let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k, translate(&v))).collect();
        let mut argv: Vec<String> = self
            .image
            .entrypoint
            .iter()
            .map(|p| crate::image::inside(self.image_root, p).display().to_string())
            .collect();
        argv.extend(container.command().iter().map(|a| translate(a)));

        // Its own network namespace, with the forwarded peers.
        let namespace = format!("sigship-{}", &id[16..]);
        run("ip", &["netns", "add", &namespace])?;
        run("ip", &["-n", &namespace, "link", "set", "lo", "up"])?;
        for &port in &self.forwards {
            forward_into(&namespace, port)?;
        }
        let user = (self.image.user.uid, self.image.user.gid);
        let mut process = in_namespace(&namespace, user, &argv, &env);
        process.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(false);
        let mut child = process.spawn().map_err(|e| format!("CannotStartContainerError: {e}"))?;
        let task = Arc::new(Task {
            arn,
            id: id.clone(),
            task_definition: task_definition.to_string(),
            deployment: deployment.to_string(),
            started_at: now(),
            state: Mutex::new(TaskState {
                health: Health::Unknown,
                running: true,
                desired_running: true,
                stopped_reason: None,
                exit_code: None,
                stopped_at: None,
            }),
            pid: child.id(),
            namespace: namespace.clone(),
            stop_timeout: Duration::from_secs(container.stop_timeout().unwrap_or(30) as u64),
            cpu_units: self.cpu_units,
            counted: Default::default(),
        });
        println!(
            "  [local Fargate] {service}: task {id} started: {} (uid {}, netns {namespace})",
            container.command().join(" "),
            user.0
        );

        // stdout and stderr, line by line, for the log driver.
        let (lines, receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
        for pipe in [child.stdout.take().map(Pipe::Out), child.stderr.take().map(Pipe::Err)].into_iter().flatten() {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut reader = pipe.lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    let _ = lines.send(line);
                }
            });
        }
        drop(lines);

        // The health check, on its interval from the start.
        if let Some(check) = container.health_check() {
            let command = check.command().to_vec();
            let shell = match command.first().map(String::as_str) {
                Some("CMD-SHELL") => vec!["/bin/sh".to_string(), "-c".into(), command[1..].join(" ")],
                _ => command[1..].to_vec(),
            };
            let timing = (
                check.interval().unwrap_or(30),
                check.timeout().unwrap_or(5),
                check.retries().unwrap_or(3),
                check.start_period().unwrap_or(0),
            );
            tokio::spawn(health_checks(task.clone(), shell, env.clone(), user, timing));
        }

        // The exit.
        let watched = task.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let code = status.ok().and_then(|s| s.code());
            let mut state = watched.state.lock().unwrap();
            state.running = false;
            state.exit_code = code;
            state.stopped_at = Some(now());
            if state.desired_running {
                state.desired_running = false;
                state.stopped_reason = Some(format!("Essential container in task exited (exit code {code:?})"));
            }
            println!(
                "  [local Fargate] task {}: stopped ({})",
                watched.id,
                state.stopped_reason.clone().unwrap_or_default()
            );
            delete_namespace(&watched.namespace);
        });
        Ok((task, receiver))
    }
}

impl Service {
    fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().rev().find(|d| d.primary)
    }

    /// Judges each task and each deployment, as ECS's scheduler and circuit breaker do, and stops
    /// what must stop.
    fn judge_and_stop(&mut self) {
        let threshold = failure_threshold(self.desired.max(1));
        // Tasks that ended or turned unhealthy: stopped, and counted against their deployment.
        for task in &self.tasks {
            let state = task.state();
            let failed_now = !state.running
                && state.stopped_reason.as_deref().is_some_and(|r| r.starts_with("Essential"))
                || state.health == Health::Unhealthy && state.desired_running;
            if failed_now && task.count_failure_once() {
                if state.health == Health::Unhealthy {
                    task.stop("Task failed container health checks");
                }
                if let Some(d) = self.deployments.iter_mut().find(|d| d.id == task.deployment) {
                    if d.rollout == Rollout::InProgress {
                        d.failed_tasks += 1;
                    }
                }
            }
        }
        self.tasks.retain(|t| t.is_pending() || t.state().running || t.stopped_recently());
        // Old deployments' tasks stop (minimum healthy 0 %: before the new one starts).
        let primary = self.primary().map(|d| d.id.clone());
        for task in &self.tasks {
            if Some(&task.deployment) != primary.as_ref() || self.deleted {
                task.stop("Service deployment replaced");
            }
        }
        let Some(primary_index) = self.deployments.iter().rposition(|d| d.primary) else { return };
        let primary = &mut self.deployments[primary_index];
        if primary.rollout == Rollout::InProgress && primary.failed_tasks >= threshold {
            primary.rollout = Rollout::Failed;
            primary.reason = Some(format!(
                "ECS deployment circuit breaker: tasks failed to start ({} of {threshold}).",
                primary.failed_tasks
            ));
            println!("  [local Fargate] {}: {}", self.name, primary.reason.clone().unwrap());
            let rollback = primary.rollback;
            let last_good = self.deployments.iter().rev().find(|d| d.rollout == Rollout::Completed).cloned();
            if let (true, Some(good)) = (rollback, last_good) {
                let failed = self.deployments[primary_index].clone();
                self.deployments.iter_mut().for_each(|d| d.primary = false);
                self.deployments.retain(|d| d.id == failed.id);
                self.deployments.push(Deployment {
                    id: format!("{}-rollback", good.id),
                    primary: true,
                    rollout: Rollout::InProgress,
                    reason: Some(format!("ECS deployment circuit breaker: rolling back to deploymentId {}.", good.id)),
                    failed_tasks: 0,
                    created_at: now(),
                    ..good
                });
                println!("  [local Fargate] {}: rolling back to {}", self.name, self.deployments[1].task_definition);
            }
            return;
        }
        let primary_id = primary.id.clone();
        let healthy = self
            .tasks
            .iter()
            .filter(|t| t.deployment == primary_id && t.state().running && t.state().health == Health::Healthy)
            .count() as u32;
        let others_running = self.tasks.iter().any(|t| t.deployment != primary_id && t.state().running);
        let primary = &mut self.deployments[primary_index];
        if primary.rollout == Rollout::InProgress && healthy >= self.desired && !others_running && !self.deleted {
            primary.rollout = Rollout::Completed;
            primary.reason = None;
            // Steady state: ECS drops the deployments that were replaced.
            let keep = primary.id.clone();
            self.deployments.retain(|d| d.id == keep);
        }
    }

    /// The task definition to start one more task of, if the primary deployment needs one and
    /// no task of another deployment is still running.
    fn wants_a_task(&self) -> Option<String> {
        let primary = self.primary()?;
        if self.deleted || primary.rollout == Rollout::Failed {
            return None;
        }
        let others = self.tasks.iter().any(|t| t.deployment != primary.id && (t.state().running || t.is_pending()));
        let mine = self
            .tasks
            .iter()
            .filter(|t| t.deployment == primary.id && (t.state().desired_running || t.is_pending()))
            .count();
        (!others && (mine as u32) < self.desired).then(|| primary.task_definition.clone())
    }
}

impl Task {
    fn pending(deployment: &str) -> Self {
        Task {
            arn: String::new(),
            id: String::new(),
            task_definition: String::new(),
            deployment: deployment.to_string(),
            started_at: now(),
            state: Mutex::new(TaskState {
                health: Health::Unknown,
                running: false,
                desired_running: true,
                stopped_reason: None,
                exit_code: None,
                stopped_at: None,
            }),
            pid: None,
            namespace: String::new(),
            stop_timeout: Duration::ZERO,
            counted: Default::default(),
            cpu_units: 0,
        }
    }

    fn is_pending(&self) -> bool {
        self.arn.is_empty()
    }

    fn state(&self) -> TaskState {
        self.state.lock().unwrap().clone()
    }

    pub fn health(&self) -> Health {
        self.state().health
    }

    pub fn is_running(&self) -> bool {
        self.state().running
    }

    /// The container's exit code once it has exited (None while running, or killed by a signal).
    pub fn exit_code(&self) -> Option<i32> {
        self.state().exit_code
    }

    fn stopped_recently(&self) -> bool {
        // ECS lists a stopped task for about an hour; long enough here for destroy to see it stop.
        self.state().stopped_at.is_some_and(|at| now() - at < 3600.0)
    }

    /// True the first time: the circuit breaker counts each failed task once.
    fn count_failure_once(&self) -> bool {
        !self.counted.swap(true, std::sync::atomic::Ordering::SeqCst)
    }

    /// SIGTERM now, SIGKILL after the container's stop timeout.
    pub fn stop(self: &Arc<Self>, reason: &str) {
        let Some(pid) = self.pid else { return };
        {
            let mut state = self.state.lock().unwrap();
            if !state.desired_running || !state.running {
                return;
            }
            state.desired_running = false;
            state.stopped_reason = Some(reason.to_string());
        }
        println!("  [local Fargate] task {}: stopping ({reason}): SIGTERM", self.id);
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let (task, timeout) = (self.clone(), self.stop_timeout.as_secs());
        tokio::spawn(async move {
            let deadline = Instant::now() + task.stop_timeout;
            while task.state().running && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if task.state().running {
                println!("  [local Fargate] task {}: still running after {timeout} s: SIGKILL", task.id);
                let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        });
    }
}

enum Pipe {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

impl Pipe {
    fn lines(self) -> tokio::io::Lines<tokio::io::BufReader<Box<dyn tokio::io::AsyncRead + Unpin + Send>>> {
        let reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match self {
            Pipe::Out(out) => Box::new(out),
            Pipe::Err(err) => Box::new(err),
        };
        tokio::io::BufReader::new(reader).lines()
    }
}

/// A command inside a task's namespace, as the image's user, with exactly `env`.
fn in_namespace(
    namespace: &str,
    (uid, gid): (u32, u32),
    argv: &[String],
    env: &[(String, String)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("nsenter");
    command
        .arg(format!("--net=/run/netns/{namespace}"))
        .arg(format!("--setuid={uid}"))
        .arg(format!("--setgid={gid}"))
        .arg("--")
        .args(argv)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null());
    command
}

async fn health_checks(
    task: Arc<Task>,
    command: Vec<String>,
    env: Vec<(String, String)>,
    user: (u32, u32),
    (interval, timeout, retries, start_period): (i32, i32, i32, i32),
) {
    let started = Instant::now();
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(Duration::from_secs(interval.max(1) as u64)).await;
        if !task.state().running || !task.state().desired_running {
            return;
        }
        let mut check = in_namespace(&task.namespace, user, &command, &env);
        check.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).kill_on_drop(true);
        let passed = match tokio::time::timeout(Duration::from_secs(timeout.max(1) as u64), check.status()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        };
        failures = if passed { 0 } else { failures + 1 };
        let in_start_period = started.elapsed() < Duration::from_secs(start_period.max(0) as u64);
        let mut state = task.state.lock().unwrap();
        let judged = judge_health(state.health, passed, failures, in_start_period, retries as u32);
        if judged != state.health {
            println!("  [local Fargate] task {}: {:?}", task.id, judged);
        }
        state.health = judged;
    }
}

/// The awslogs driver: one stream per task, events in batches about once a second.
async fn ship_logs(
    logs: aws_sdk_cloudwatchlogs::Client,
    group: String,
    stream: String,
    mut lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    local: PathBuf,
) {
    use std::io::Write;
    let mut file = std::fs::File::create(&local).ok();
    let created = logs.create_log_stream().log_group_name(&group).log_stream_name(&stream).send().await;
    if let Err(e) = &created {
        println!(
            "  [local Fargate] awslogs: CreateLogStream {group} {stream}: {}",
            aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e)
        );
    }
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        let deadline = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(line) => {
                        if let Some(file) = file.as_mut() { let _ = writeln!(file, "{line}"); }
                        batch.push(aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                            .timestamp((now() * 1000.0) as i64).message(line).build().unwrap());
                    }
                    None => { open = false; break; }
                },
                _ = &mut deadline => break,
            }
        }
        if !batch.is_empty() {
            let sent = logs
                .put_log_events()
                .log_group_name(&group)
                .log_stream_name(&stream)
                .set_log_events(Some(batch))
                .send()
                .await;
            if let Err(e) = sent {
                println!(
                    "  [local Fargate] awslogs: PutLogEvents: {}",
                    aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e)
                );
            }
        }
    }
}

/// `arn:aws:secretsmanager:…:secret:name-abcdef:json-key:stage:version` → the value.
async fn resolve_secret(secrets: &aws_sdk_secretsmanager::Client, value_from: &str) -> Result<String, String> {
    let parsed = pipeline::arn::Arn::parse(value_from).filter(|arn| arn.service == "secretsmanager");
    let (arn, key) = match parsed.as_ref().map(|arn| (arn, arn.resource_parts())) {
        Some((arn, parts)) if parts.len() >= 2 && parts[0] == "secret" => {
            (arn.with_resource(&format!("secret:{}", parts[1])), parts.get(2).copied().unwrap_or_default())
        }
        _ => return Err(format!("secret {value_from} is not a Secrets Manager ARN")),
    };
    let value = secrets.get_secret_value().secret_id(&arn).send().await.map_err(|e| {
        format!(
            "ResourceInitializationError: unable to retrieve secret {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
        )
    })?;
    let text = value.secret_string().unwrap_or_default();
    if key.is_empty() {
        return Ok(text.to_string());
    }
    let document: Value = serde_json::from_str(text).map_err(|e| format!("secret {arn} is not JSON: {e}"))?;
    document[key].as_str().map(String::from).ok_or(format!("secret {arn} has no key {key}"))
}

/// Removes a task's network namespace, once: the exit watcher and `kill_all` may both ask.
fn delete_namespace(namespace: &str) {
    if !namespace.is_empty() && Path::new("/run/netns").join(namespace).exists() {
        let _ = std::process::Command::new("ip").args(["netns", "delete", namespace]).status();
    }
}

/// The name at the end of an ECS ARN, or the name itself (`cluster`, `service` in requests).
fn last_segment(name_or_arn: &str) -> String {
    pipeline::arn::name_of(name_or_arn).to_string()
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let status = std::process::Command::new(program).args(args).status().map_err(|e| format!("{program}: {e}"))?;
    status.success().then_some(()).ok_or(format!("{program} {} failed ({status})", args.join(" ")))
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// Copies `image_home` (if the image has one) into `home`, owned by `user`; with `read_only`,
/// nothing under `home` is writable (the process runs as `user`, without capabilities).
fn home_from_image(image_home: &Path, home: &Path, user: (u32, u32), read_only: bool) -> std::io::Result<()> {
    if image_home.is_dir() {
        for entry in std::fs::read_dir(image_home)? {
            let entry = entry?;
            let target = home.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                std::fs::create_dir_all(&target)?;
                home_from_image(&entry.path(), &target, user, read_only)?;
            } else {
                std::fs::copy(entry.path(), &target)?;
                chown(&target, user.0, user.1);
                set_mode(&target, if read_only { 0o444 } else { 0o644 });
            }
        }
    }
    chown(home, user.0, user.1);
    set_mode(home, if read_only { 0o555 } else { 0o755 });
    Ok(())
}

fn chown(path: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
}

/// Listens on 127.0.0.1:`port` inside `namespace` and carries each connection to the same
/// address on the host: the socket is made by a thread that entered the namespace; the
/// connections out are made from the host's.
fn forward_into(namespace: &str, port: u16) -> Result<(), String> {
    let path = format!("/run/netns/{namespace}");
    let listener = std::thread::spawn(move || -> Result<std::net::TcpListener, String> {
        let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("bind {port}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(listener)
    })
    .join()
    .map_err(|_| "forwarding thread panicked".to_string())??;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((mut inside, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outside) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut outside).await;
                }
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circuit_breaker_needs_half_the_tasks_at_least_three() {
        assert_eq!(failure_threshold(1), 3);
        assert_eq!(failure_threshold(10), 5);
        assert_eq!(failure_threshold(1000), 200);
    }

    #[test]
    fn health_counts_failures_only_after_the_start_period() {
        use Health::*;
        assert_eq!(judge_health(Unknown, false, 5, true, 3), Unknown, "start period: failures do not count");
        assert_eq!(judge_health(Unknown, true, 0, true, 3), Healthy, "one pass is healthy, even in the start period");
        assert_eq!(judge_health(Healthy, false, 2, false, 3), Healthy, "two of three retries");
        assert_eq!(judge_health(Healthy, false, 3, false, 3), Unhealthy);
        assert_eq!(judge_health(Unhealthy, true, 0, false, 3), Healthy);
    }
}
