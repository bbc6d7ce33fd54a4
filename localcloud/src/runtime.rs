//! A Lambda runtime host: serves the Lambda Runtime API to the real function binaries and turns
//! `Invoke` calls into invocations, with the semantics that matter to Step Functions:
//! one invocation at a time per instance, `X-Amz-Function-Error` on failure, a timeout, a crash
//! reported as `Runtime.ExitError`, and a warm process reused across invocations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, Request, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::http::{reply, serve, Reply};

const API: &str = "/2018-06-01/runtime";

/// What the function's definition in the (local) cloud says, read when its process starts.
#[derive(Clone, Debug)]
pub struct FunctionDefinition {
    pub arn: String,
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: i32,
    /// The role's credentials the function runs with; Lambda ships its logs with them too.
    pub credentials: Option<aws_credential_types::Credentials>,
}

pub enum Outcome {
    Response(Bytes),
    Error(Bytes),
}

struct Invocation {
    id: String,
    payload: Bytes,
    deadline_ms: u128,
    arn: String,
}

struct Instance {
    kill: oneshot::Sender<()>,
    definition: FunctionDefinition,
    pid: Option<u32>,
    exited: Arc<AtomicBool>,
    spawned: Instant,
    /// Lambda's Init phase: process spawn to the first poll of `/invocation/next`.
    init: OnceLock<Duration>,
}

pub struct Function {
    pub name: String,
    cloudwatch: Option<aws_sdk_cloudwatchlogs::Client>,
    binary: PathBuf,
    log: PathBuf,
    port: u16,
    base_env: Vec<(String, String)>,
    queue: mpsc::UnboundedSender<Invocation>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// Invocations that meet an injected fault when they answer.
    faulted: Mutex<HashMap<String, crate::faults::FunctionFault>>,
    instance: tokio::sync::Mutex<Option<Instance>>,
    generation: AtomicU64,
    pub cold_starts: AtomicU64,
}

impl Function {
    /// Starts the Runtime API for one function; its process starts on the first invocation.
    pub async fn host(
        name: &str,
        binary: PathBuf,
        log: PathBuf,
        base_env: Vec<(String, String)>,
        cloudwatch: Option<aws_sdk_cloudwatchlogs::Client>,
    ) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("runtime API port");
        let port = listener.local_addr().unwrap().port();
        let (queue, next) = mpsc::unbounded_channel();
        let function = Arc::new(Function {
            name: name.to_string(),
            cloudwatch,
            binary,
            log,
            port,
            base_env,
            queue,
            next: tokio::sync::Mutex::new(next),
            pending: Mutex::new(HashMap::new()),
            faulted: Mutex::new(HashMap::new()),
            instance: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            cold_starts: AtomicU64::new(0),
        });
        serve(listener, function.clone(), runtime_api);
        function
    }

    /// The environment every process of this function starts with, before its definition's.
    pub fn base_env(&self) -> &[(String, String)] {
        &self.base_env
    }

    /// Runs one invocation to its end, as Lambda's synchronous Invoke does.
    pub async fn invoke(
        self: &Arc<Self>,
        payload: Bytes,
        definition: impl AsyncFnOnce() -> FunctionDefinition,
    ) -> Outcome {
        self.invoke_meeting(payload, definition, None).await
    }

    /// [`Function::invoke`], where the invocation may meet `fault` once the function has done
    /// its work: the process dies before its answer is delivered, or overruns its deadline.
    pub async fn invoke_meeting(
        self: &Arc<Self>,
        payload: Bytes,
        definition: impl AsyncFnOnce() -> FunctionDefinition,
        fault: Option<crate::faults::FunctionFault>,
    ) -> Outcome {
        let (definition, exited) = self.ensure_running(definition).await;
        let id = format!("{:08x}-{:04x}", std::process::id(), self.generation.fetch_add(1, Ordering::Relaxed));
        if let Some(fault) = fault {
            self.faulted.lock().unwrap().insert(id.clone(), fault);
        }
        let (done, outcome) = oneshot::channel();
        self.pending.lock().unwrap().insert(id.clone(), done);
        // The process may die before the invocation is registered: its exit handler raises
        // `exited` before dropping what is pending, so one side always sees the other.
        if exited.load(Ordering::SeqCst) {
            self.pending.lock().unwrap().remove(&id);
            return self.exit_error();
        }
        let deadline = std::time::SystemTime::now() + definition.timeout;
        let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let _ = self.queue.send(Invocation { id: id.clone(), payload, deadline_ms, arn: definition.arn.clone() });
        match tokio::time::timeout(definition.timeout, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => self.exit_error(),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                self.stop().await;
                error(
                    "Sandbox.Timedout",
                    &format!("Task timed out after {:.2} seconds", definition.timeout.as_secs_f32()),
                )
            }
        }
    }

    fn exit_error(&self) -> Outcome {
        error(
            "Runtime.ExitError",
            &format!("{}: the function process exited during the invocation; see {}", self.name, self.log.display()),
        )
    }

    async fn ensure_running(
        self: &Arc<Self>,
        definition: impl AsyncFnOnce() -> FunctionDefinition,
    ) -> (FunctionDefinition, Arc<AtomicBool>) {
        let mut instance = self.instance.lock().await;
        if let Some(running) = instance.as_ref() {
            if !running.exited.load(Ordering::SeqCst) {
                return (running.definition.clone(), running.exited.clone());
            }
        }
        let definition = definition().await;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("function log");
        let cloudwatch = self.cloudwatch.as_ref().map(|client| match &definition.credentials {
            Some(credentials) => aws_sdk_cloudwatchlogs::Client::from_conf(
                client.config().to_builder().credentials_provider(credentials.clone()).build(),
            ),
            None => client.clone(),
        });
        let sink = Arc::new(LogSink::open(log, cloudwatch, &self.name, self.generation.load(Ordering::Relaxed)).await);
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(&self.binary)
            .env_clear()
            .envs(self.base_env.iter().cloned())
            .envs(definition.environment.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", definition.memory_mb.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        tokio::spawn(sink.clone().ship(child.stdout.take().expect("piped stdout")));
        tokio::spawn(sink.ship(child.stderr.take().expect("piped stderr")));
        self.cold_starts.fetch_add(1, Ordering::Relaxed);
        let pid = child.id();
        let (kill, killed) = oneshot::channel::<()>();
        let exited = Arc::new(AtomicBool::new(false));
        let (this, flag) = (self.clone(), exited.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = child.wait() => {}
                _ = killed => { let _ = child.kill().await; }
            }
            // Whatever was in flight dies with the process.
            flag.store(true, Ordering::SeqCst);
            this.pending.lock().unwrap().clear();
        });
        let init = OnceLock::new();
        *instance = Some(Instance { kill, definition: definition.clone(), pid, exited: exited.clone(), spawned, init });
        (definition, exited)
    }

    /// Peak resident memory of the running instance, in KiB (Linux `VmHWM`).
    pub async fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.instance.lock().await.as_ref()?.pid?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The running instance's Init duration, once it has polled for its first invocation.
    pub async fn init_duration(&self) -> Option<Duration> {
        self.instance.lock().await.as_ref()?.init.get().copied()
    }

    pub async fn stop(&self) {
        if let Some(instance) = self.instance.lock().await.take() {
            let _ = instance.kill.send(());
        }
    }

    fn complete(&self, id: &str, outcome: Outcome) -> bool {
        match self.pending.lock().unwrap().remove(id) {
            Some(done) => done.send(outcome).is_ok(),
            None => false,
        }
    }
}

/// Where a function's output goes: its log file, and, as Lambda does, CloudWatch Logs
/// (`/aws/lambda/<name>`, one stream per process), so `sigship logs` reads it like in AWS.
struct LogSink {
    file: Mutex<std::fs::File>,
    cloudwatch: Option<(aws_sdk_cloudwatchlogs::Client, String, String)>,
}

impl LogSink {
    async fn open(
        file: std::fs::File,
        client: Option<aws_sdk_cloudwatchlogs::Client>,
        name: &str,
        generation: u64,
    ) -> Self {
        let cloudwatch = match client {
            Some(client) => {
                let group = format!("/aws/lambda/{name}");
                let stream = format!("{}/[$LATEST]{:08x}{generation:08x}", "local", std::process::id());
                // Already there after the first process: that error is the expected answer.
                let _ = client.create_log_group().log_group_name(&group).send().await;
                let _ = client.create_log_stream().log_group_name(&group).log_stream_name(&stream).send().await;
                Some((client, group, stream))
            }
            None => None,
        };
        LogSink { file: Mutex::new(file), cloudwatch }
    }

    async fn ship(self: Arc<Self>, output: impl tokio::io::AsyncRead + Unpin) {
        use std::io::Write;
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = writeln!(self.file.lock().unwrap(), "{line}");
            if let Some((client, group, stream)) = &self.cloudwatch {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
                let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(now as i64)
                    .message(line)
                    .build()
                    .expect("timestamp and message are set");
                let _ = client
                    .put_log_events()
                    .log_group_name(group)
                    .log_stream_name(stream)
                    .log_events(event)
                    .send()
                    .await;
            }
        }
    }
}

pub fn error(error_type: &str, message: &str) -> Outcome {
    Outcome::Error(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string().into())
}

async fn runtime_api(function: Arc<Function>, req: Request<Bytes>) -> Reply {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(API) else { return reply(StatusCode::NOT_FOUND, "unknown path") };
    match (req.method(), rest) {
        (&Method::GET, "/invocation/next") => {
            if let Some(instance) = function.instance.lock().await.as_ref() {
                instance.init.get_or_init(|| instance.spawned.elapsed());
            }
            let next = function.next.lock().await.recv().await;
            let Some(invocation) = next else { return reply(StatusCode::GONE, "") };
            let mut response = reply(StatusCode::OK, invocation.payload);
            let headers = response.headers_mut();
            headers.insert("lambda-runtime-aws-request-id", invocation.id.parse().unwrap());
            headers.insert("lambda-runtime-deadline-ms", invocation.deadline_ms.to_string().parse().unwrap());
            headers.insert("lambda-runtime-invoked-function-arn", invocation.arn.parse().unwrap());
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".parse().unwrap(),
            );
            response
        }
        (&Method::POST, "/init/error") => reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#),
        (&Method::POST, other) => {
            let Some(rest) = other.strip_prefix("/invocation/") else { return reply(StatusCode::NOT_FOUND, "") };
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let body = req.into_body();
            let outcome = match kind {
                "response" => Outcome::Response(body),
                "error" => Outcome::Error(body),
                _ => return reply(StatusCode::NOT_FOUND, ""),
            };
            let fault = function.faulted.lock().unwrap().remove(id);
            match fault {
                // The process dies with its answer undelivered: the invocation sees the exit.
                Some(crate::faults::FunctionFault::Crash) => {
                    function.stop().await;
                    return reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#);
                }
                // Past the deadline Lambda stops the process and answers for it.
                Some(crate::faults::FunctionFault::Overrun) => {
                    let timeout = function.instance.lock().await.as_ref().map(|i| i.definition.timeout);
                    function.complete(
                        id,
                        error(
                            "Sandbox.Timedout",
                            &format!("Task timed out after {:.2} seconds", timeout.unwrap_or_default().as_secs_f32()),
                        ),
                    );
                    function.stop().await;
                    return reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#);
                }
                None => {}
            }
            if function.complete(id, outcome) {
                reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
            } else {
                reply(
                    StatusCode::BAD_REQUEST,
                    r#"{"errorMessage":"unknown or finished request id","errorType":"InvalidRequestID"}"#,
                )
            }
        }
        _ => reply(StatusCode::NOT_FOUND, ""),
    }
}
