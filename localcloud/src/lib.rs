//! sigship's local cloud. One call starts moto, a git server with a signed demo repository, the
//! real function binaries behind a Lambda runtime host, the router between them, and provisions
//! the pipeline; dropping it stops everything it started.
//!
//! Real here: the state machine definition and its interpreter (moto), the five function
//! binaries and their AWS calls (to moto), git over the network, keys and signatures.
//! Simulated: only the compile in CodeBuild (see [`codebuild`]).

pub mod codebuild;
pub mod execution;
pub mod git;
mod http;
mod http_backend;
pub mod keys;
pub mod moto;
pub mod provision;
pub mod router;
pub mod runtime;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use provision::Stack;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The trust root the local cloud deploys: a policy naming `signers` plus their certificates.
pub fn trust_root_files(signers: &[&keys::Maintainer]) -> Vec<(String, Vec<u8>)> {
    let mut policy = String::from("tag_patterns = ['v\\d+\\.\\d+\\.\\d+']\nthreshold = 1\n");
    let mut files = Vec::new();
    for signer in signers {
        policy.push_str(&format!(
            "\n[[signers]]\nlabel = \"{}\"\nfingerprint = \"{}\"\n",
            signer.name,
            signer.fingerprint()
        ));
        files.push((format!("{}.asc", signer.fingerprint()), signer.public_armored()));
    }
    files.push(("policy.toml".into(), policy.into_bytes()));
    files
}

pub struct Options {
    /// Where the function binaries are (`target/debug` by default).
    pub binaries: PathBuf,
    pub venv: PathBuf,
    /// Function and moto logs.
    pub logs: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        let root = workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        Options {
            binaries: std::env::var_os("SIGSHIP_FUNCTION_BINARIES")
                .map(PathBuf::from)
                .unwrap_or_else(|| target.join("debug")),
            venv: root.join(".venv"),
            logs: std::env::var_os("SIGSHIP_LOCAL_LOGS")
                .map(PathBuf::from)
                .unwrap_or_else(|| target.join("localcloud-logs")),
        }
    }
}

/// moto, the router on its callback port and the runtime host for the function binaries, with
/// nothing provisioned: what `sigship up` deploys into, and what [`LocalCloud`] builds on.
pub struct Services {
    pub sdk: aws_config::SdkConfig,
    /// Where every AWS call goes (the router).
    pub endpoint: String,
    pub router: Arc<router::Router>,
    pub logs: PathBuf,
    moto: moto::Moto,
}

impl Services {
    /// `functions`: the name each function is deployed under, and its binary in `options.binaries`.
    pub async fn start(options: &Options, functions: &[(String, &str)]) -> Self {
        for (_, binary) in functions {
            let binary = options.binaries.join(binary);
            assert!(
                binary.exists(),
                "{} is missing: build the functions first (`cargo xtask test` does)",
                binary.display()
            );
        }
        std::fs::create_dir_all(&options.logs).unwrap();
        let logs = tempfile::Builder::new().prefix("run-").tempdir_in(&options.logs).unwrap().keep();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let router_port = listener.local_addr().unwrap().port();
        let moto = moto::Moto::start(&options.venv, router_port, &logs.join("moto.log")).await;
        let endpoint = format!("http://127.0.0.1:{router_port}");
        let base_env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), "local".to_string()),
            ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
            ("AWS_REGION".into(), provision::REGION.into()),
            ("AWS_DEFAULT_REGION".into(), provision::REGION.into()),
            ("AWS_ENDPOINT_URL".into(), endpoint.clone()),
            ("RUST_LOG".into(), "info".into()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ];
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(provision::REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_sfn::config::Credentials::new("local", "local", None, None, "localcloud"))
            .load()
            .await;

        let cloudwatch = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
                .endpoint_url(format!("http://127.0.0.1:{}", moto.port))
                .build(),
        );
        let mut hosted = HashMap::new();
        for (name, binary) in functions {
            let function = runtime::Function::host(
                name,
                options.binaries.join(binary),
                logs.join(format!("{name}.log")),
                base_env.clone(),
                Some(cloudwatch.clone()),
            )
            .await;
            hosted.insert(name.to_string(), function);
        }
        let router = Arc::new(router::Router::new(moto.port, hosted, aws_sdk_lambda::Client::new(&sdk)));
        http::serve(listener, router.clone(), router::route);
        Services { sdk, endpoint, router, logs, moto }
    }

    /// The environment a process needs to use this cloud with the standard AWS configuration chain.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("AWS_REGION", provision::REGION.into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }
}

/// [`Services`] with a signed demo repository on a git server and the pipeline provisioned.
pub struct LocalCloud {
    pub sdk: aws_config::SdkConfig,
    /// Where every AWS call goes (the router).
    pub endpoint: String,
    pub stack: Stack,
    pub git: git::GitServer,
    pub repository: git::Repository,
    pub maintainer: keys::Maintainer,
    pub router: Arc<router::Router>,
    pub logs: PathBuf,
    _services: Services,
}

impl LocalCloud {
    pub async fn start(options: Options) -> Self {
        let functions: Vec<(String, &str)> =
            provision::FUNCTIONS.iter().map(|(name, _)| (name.to_string(), *name)).collect();
        let services = Services::start(&options, &functions).await;
        let sdk = services.sdk.clone();
        let git = git::GitServer::start();
        let repository = git.create_repository("btcd");
        let maintainer = keys::Maintainer::generate("Test Maintainer");
        let simulator = codebuild::Simulator {
            ecr: aws_sdk_ecr::Client::from_conf(
                aws_sdk_ecr::config::Builder::from(&sdk)
                    .endpoint_url(format!("http://127.0.0.1:{}", services.moto.port))
                    .build(),
            ),
            repository: "btcd".into(),
            source: repository.path.clone(),
            builds: Mutex::new(Vec::new()),
        };
        let _ = services.router.simulator.set(simulator);

        let asl =
            std::fs::read_to_string(workspace_root().join("statemachine/sigship.asl.json")).expect("state machine");
        let settings = provision::Settings {
            repository_url: repository.url.clone(),
            trust_root: trust_root_files(&[&maintainer]),
            asl,
        };
        let stack = provision::provision(&sdk, &settings).await;
        LocalCloud {
            sdk,
            endpoint: services.endpoint.clone(),
            stack,
            git,
            repository,
            maintainer,
            router: services.router.clone(),
            logs: services.logs.clone(),
            _services: services,
        }
    }

    /// Runs one execution to its end, printing each state as it enters and leaves.
    pub async fn run(&self, input: serde_json::Value, name: &str, print: bool) -> execution::Finished {
        execution::run(&aws_sdk_sfn::Client::new(&self.sdk), &self.stack.state_machine_arn, name, &input, print).await
    }

    /// The environment a process needs to use this cloud with the standard AWS configuration chain.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        self._services.client_env()
    }

    /// Delivers a webhook to the tag-push function's URL; returns the status and the JSON answer.
    pub async fn deliver_webhook(&self, headers: &[(&str, String)], body: &str) -> (u16, serde_json::Value) {
        use http_body_util::{BodyExt, Full};
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let mut request = hyper::Request::post(format!("{}{}", self.endpoint, self.stack.webhook_path))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let response =
            client.request(request.body(Full::new(bytes::Bytes::from(body.to_string()))).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    /// GitHub's headers for a `push` (or other) event signed with the local webhook secret.
    pub fn github_headers(event: &str, body: &str) -> Vec<(&'static str, String)> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(provision::WEBHOOK_SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        vec![
            ("x-github-event", event.to_string()),
            ("x-hub-signature-256", format!("sha256={}", hex::encode(mac.finalize().into_bytes()))),
        ]
    }

    pub fn simulated_builds(&self) -> Vec<codebuild::SimulatedBuild> {
        self.router.simulator.get().map(|s| s.builds.lock().unwrap().clone()).unwrap_or_default()
    }
}
