//! sigship's local cloud. One call starts moto, a git server with a signed demo repository, the
//! real function binaries behind a Lambda runtime host and the router between them, then stands
//! the stack up with `sigship up` from `infrastructure/sigship.yaml` and turns IAM enforcement on;
//! dropping it stops everything it started.
//!
//! Real here: the template and what `sigship up` uploads, the state machine and its interpreter
//! (moto), the function binaries, each with its own role's credentials, and their AWS calls (to
//! moto), git over the network, keys and signatures; btcd's source (from the Go module proxy),
//! its compile in CodeBuild (see [`codebuild`]) and the Fargate tasks that run it (see
//! [`fargate`]), with a regtest peer to sync from (see [`chain`]).
//! Images are real OCI images (one layer of what the Dockerfile's final stage adds, see [`oci`])
//! in a real registry on loopback (the CNCF distribution registry, see [`registry`]).
//! Simulated: the image assembly (no Docker engine: no base image layers, see [`image`]) and
//! what CloudWatch does on its own: turning embedded metrics into metrics and evaluating alarms
//! (`cloudwatch.py`, read through [`cloudwatch`]).

pub mod authorizer;
pub mod base_images;
pub mod chain;
pub mod cloudwatch;
pub mod codebuild;
pub mod execution;
pub mod fargate;
pub mod faults;
pub mod git;
mod http;
mod http_backend;
pub mod iam;
pub mod image;
pub use testkit::keys;
pub mod moto;
pub mod oci;
pub mod registry;
pub mod router;
pub mod runtime;
pub mod s3_versioning;
pub mod stack;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use stack::{Stack, STACK_NAME};

pub const REGION: &str = "us-east-1";
/// moto's account: every resource of the local cloud is in it.
pub const ACCOUNT: &str = "123456789012";
/// What the local cloud runs for real and what it simulates, as its commands say it.
pub const REAL_AND_SIMULATED: &str = "real here: btcd compiled from its source by the local CodeBuild, pushed as a \
     real OCI image to a real registry on loopback (CNCF distribution), run as the task definition says; \
     SIMULATED: the image assembly without a container engine (one layer of what the Dockerfile's final stage \
     adds, no base image layers) and AWS itself (moto; CloudWatch's alarm evaluation)";

/// The btcd release the local cloud's demo repository holds (and its regtest peer runs).
pub const DEMO_RELEASE: &str = "v0.24.2";
pub use pipeline::FUNCTIONS;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A copy of what `sigship up` reads from a checkout (infrastructure/, statemachine/, source/)
/// with the template edited: how a test stands up a stack whose policies differ from the
/// shipped ones. Panics when `edit` changes nothing (the text it expects has moved).
pub fn checkout_with_template(edit: impl FnOnce(&str) -> String) -> tempfile::TempDir {
    let checkout = tempfile::tempdir().unwrap();
    for dir in ["infrastructure", "statemachine", "source"] {
        let status = std::process::Command::new("cp")
            .args(["-r", workspace_root().join(dir).to_str().unwrap(), checkout.path().to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "copying {dir}");
    }
    let template_path = checkout.path().join("infrastructure/sigship.yaml");
    let template = std::fs::read_to_string(&template_path).unwrap();
    let edited = edit(&template);
    assert_ne!(edited, template, "the edit changed nothing: the statement it expects has changed");
    std::fs::write(&template_path, edited).unwrap();
    checkout
}

/// The trust root the local cloud deploys: a policy naming `signers` plus their certificates.
pub use testkit::trust_root_files;

pub struct Options {
    /// Where the function binaries and `sigship` are (`target/debug` by default).
    pub binaries: PathBuf,
    pub venv: PathBuf,
    /// Function and moto logs.
    pub logs: PathBuf,
    /// The sigship checkout `sigship up` deploys (`infrastructure/`, `statemachine/`, `source/`).
    pub checkout: PathBuf,
    /// The account's quotas as Service Quotas reports them.
    pub quotas: Quotas,
    /// How long a new bucket's versioning takes to take (AWS: up to 15 minutes); objects written
    /// meanwhile get no version id (see [`s3_versioning`]).
    pub s3_versioning_delay: std::time::Duration,
}

/// A line of btcd's block progress logger (netsync/blocklogger.go) through btclog, logged at
/// `at_ms`, its newest block's time `block_time` (Unix seconds, printed as Go prints a UTC time).
pub fn progress_line(at_ms: i64, blocks: u64, height: u64, block_time: i64) -> (i64, String) {
    let logged = pipeline::node::utc_date_time(at_ms / 1000);
    let block = pipeline::node::utc_date_time(block_time);
    let message = format!(
        "{logged}.118 [INF] SYNC: Processed {blocks} blocks in the last 10.01s ({} transactions, height {height}, \
         {block} +0000 UTC, ~41 MiB cache)",
        blocks * 3,
    );
    (at_ms, message)
}

/// The account quotas the preflight reads and the local cloud holds to.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// CodeBuild's ARM/Large concurrent builds (AWS's default 1; some new accounts have 0).
    pub codebuild_arm_large_builds: u32,
    /// Fargate On-Demand vCPUs running at once (AWS's default 6): the local Fargate refuses a
    /// task above it, as Fargate does.
    pub fargate_on_demand_vcpus: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas { codebuild_arm_large_builds: 1, fargate_on_demand_vcpus: 6 }
    }
}

impl Quotas {
    /// As moto_server.py reads them.
    fn write(&self, path: &Path) {
        let answers = serde_json::json!({
            "LOCALCLOUD_CODEBUILD_ARM_LARGE_BUILDS": self.codebuild_arm_large_builds,
            "LOCALCLOUD_FARGATE_ON_DEMAND_VCPUS": self.fargate_on_demand_vcpus,
        });
        std::fs::write(path, answers.to_string()).expect("the quotas file");
    }
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
            checkout: root,
            quotas: Quotas::default(),
            // Long enough that every `up` meets it, short enough not to slow the tests.
            s3_versioning_delay: std::time::Duration::from_secs(3),
        }
    }
}

/// moto, the router on its callback port and the runtime host for the function binaries, with
/// nothing deployed but an administrator: what `sigship up` deploys into, and what [`LocalCloud`]
/// builds on.
pub struct Services {
    /// The administrator's (the local cloud's own calls, `sigship up` and `down`).
    pub sdk: aws_config::SdkConfig,
    /// Where every AWS call goes (the router).
    pub endpoint: String,
    pub router: Arc<router::Router>,
    pub logs: PathBuf,
    pub binaries: PathBuf,
    /// Built images (see [`codebuild::ImageStore`]).
    pub images: Arc<codebuild::ImageStore>,
    administrator: aws_credential_types::Credentials,
    /// What Service Quotas answers (moto reads it at each request).
    quotas_file: PathBuf,
    moto: moto::Moto,
    /// The registry behind ECR.
    pub registry: registry::Registry,
    _images: tempfile::TempDir,
}

impl Drop for Services {
    fn drop(&mut self) {
        self.router.fargate.kill_all();
    }
}

impl Services {
    /// `functions`: the name each function is deployed under, and its binary in `options.binaries`.
    pub async fn start(options: &Options, functions: &[(String, &str)]) -> Self {
        for binary in functions.iter().map(|(_, binary)| *binary).chain(["sigship"]) {
            let binary = options.binaries.join(binary);
            assert!(
                binary.exists(),
                "{} is missing: build the binaries first (`cargo xtask test` does)",
                binary.display()
            );
        }
        std::fs::create_dir_all(&options.logs).unwrap();
        let logs = tempfile::Builder::new().prefix("run-").tempdir_in(&options.logs).unwrap().keep();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let router_port = listener.local_addr().unwrap().port();
        let quotas_file = logs.join("quotas.json");
        options.quotas.write(&quotas_file);
        let moto = moto::Moto::start(&options.venv, router_port, &logs.join("moto.log"), &quotas_file).await;
        let endpoint = format!("http://127.0.0.1:{router_port}");
        let sdk_as = |credentials: aws_credential_types::Credentials, endpoint: &str| {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(credentials)
                .load()
        };
        // Anything works until IAM is enforced; the administrator is the first thing made (on
        // moto directly: the router serves once it knows its functions).
        let anyone = aws_credential_types::Credentials::new("local", "local", None, None, "bootstrap");
        let bootstrap = sdk_as(anyone, &format!("http://127.0.0.1:{}", moto.port)).await;
        let administrator = iam::user(&aws_sdk_iam::Client::new(&bootstrap), "localcloud-administrator", &[]).await;
        let sdk = sdk_as(administrator.clone(), &endpoint).await;
        // A function runs with its role's credentials (see `Router::definition`); these only
        // make a function without a role fail on its first call once IAM is enforced.
        let base_env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), "no-role".to_string()),
            ("AWS_SECRET_ACCESS_KEY".into(), "no-role".into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
            ("AWS_ENDPOINT_URL".into(), endpoint.clone()),
            ("RUST_LOG".into(), "info".into()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ];
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
        // Image roots must be readable by the image's user, not only root.
        let images_dir = tempfile::Builder::new().prefix("sigship-images-").tempdir().unwrap();
        std::fs::set_permissions(images_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let images = Arc::new(codebuild::ImageStore::new(images_dir.path().join("store")));
        let fargate = fargate::Fargate::new(
            &sdk,
            moto.port,
            images.clone(),
            logs.clone(),
            options.quotas.fargate_on_demand_vcpus,
        );
        let as_administrator_on_moto = sdk_as(administrator.clone(), &format!("http://127.0.0.1:{}", moto.port)).await;
        let authorizer = authorizer::Authorizer::new(&as_administrator_on_moto, ACCOUNT);
        let router = Arc::new(router::Router::new(moto.port, hosted, &sdk, fargate, authorizer));
        router.s3_versioning.set_delay(options.s3_versioning_delay);
        let registry =
            registry::Registry::start(&registry::Registry::binary(&workspace_root()), &logs.join("registry.log"))
                .unwrap_or_else(|e| panic!("{e}"));
        let _ = router.registry.set(registry.endpoint.clone());
        http::serve(listener, router.clone(), router::route);
        Services {
            sdk,
            endpoint,
            router,
            logs,
            binaries: options.binaries.clone(),
            images,
            administrator,
            quotas_file,
            moto,
            registry,
            _images: images_dir,
        }
    }

    /// The account's quotas change (AWS adjusts a new account's, or a request is granted):
    /// Service Quotas answers the new values and Fargate places tasks by them. Running tasks
    /// keep running, as in AWS.
    pub fn set_quotas(&self, quotas: Quotas) {
        quotas.write(&self.quotas_file);
        self.router.fargate.set_vcpu_quota(quotas.fargate_on_demand_vcpus);
    }

    /// The environment a process needs to call this cloud as `credentials`' principal.
    pub fn env_for(&self, credentials: &aws_credential_types::Credentials) -> Vec<(&'static str, String)> {
        let mut env = iam::env_of(credentials);
        env.extend([("AWS_REGION", REGION.into()), ("AWS_ENDPOINT_URL", self.endpoint.clone())]);
        env
    }

    /// The administrator's environment: what `sigship up` and `down` run with.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        self.env_for(&self.administrator)
    }

    /// Runs `sigship` as the administrator.
    pub async fn sigship(&self, args: &[&str]) -> (i32, String, String) {
        let args = args.iter().map(|a| a.to_string()).collect();
        stack::sigship(&self.binaries.join("sigship"), args, self.client_env()).await
    }

    /// Each function of `stack` runs from now on with temporary credentials of the role the
    /// stack gave it, as Lambda assumes it; returns each function's role ARN.
    pub async fn assume_function_roles(&self, stack: &Stack) -> HashMap<String, String> {
        let lambda = aws_sdk_lambda::Client::new(&self.sdk);
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let mut roles = HashMap::new();
        for name in FUNCTIONS {
            let function = stack.function(name);
            let config = lambda.get_function_configuration().function_name(&function).send().await.unwrap();
            let role = config.role().expect("every function has a role").to_string();
            let credentials = iam::assume(&sts, &role, &function).await;
            let principal = authorizer::Principal::Role { arn: role.clone(), session: function.clone() };
            self.router.authorizer.register(credentials.access_key_id(), principal);
            self.router.credentials.lock().unwrap().insert(function, credentials);
            roles.insert(name.to_string(), role);
        }
        roles
    }

    pub async fn enforce_iam(&self) {
        self.moto.enforce_iam().await;
        self.router.authorizer.enforce();
    }
}

/// [`Services`] with a signed demo repository on a git server, the stack stood up by `sigship up`
/// and IAM enforced.
pub struct LocalCloud {
    /// The administrator's.
    pub sdk: aws_config::SdkConfig,
    /// Where every AWS call goes (the router).
    pub endpoint: String,
    pub stack: Stack,
    pub git: git::GitServer,
    pub repository: git::Repository,
    pub maintainer: keys::Maintainer,
    pub router: Arc<router::Router>,
    pub logs: PathBuf,
    /// What GitHub would be configured with: the stack's generated webhook secret.
    pub webhook_secret: String,
    /// The deployed node's regtest peer (mines on request).
    pub peer: chain::Peer,
    /// The trust root `up` deployed (policy and the maintainer's certificate): what `sigship
    /// verify` and `reproduce` are given.
    pub trust_root: PathBuf,
    operator: aws_credential_types::Credentials,
    services: Services,
    _work: tempfile::TempDir,
}

impl LocalCloud {
    pub async fn start(options: Options) -> Self {
        match Self::try_start(options).await {
            Ok(cloud) => cloud,
            Err(message) => panic!("{message}"),
        }
    }

    /// Stands the stack up; Err carries what `sigship up` printed when it failed.
    pub async fn try_start(options: Options) -> Result<Self, String> {
        let functions: Vec<(String, &str)> =
            FUNCTIONS.iter().map(|name| (format!("{STACK_NAME}-{name}"), *name)).collect();
        let services = Services::start(&options, &functions).await;
        let git = git::GitServer::start();
        let mut repository = git.create_btcd_repository("btcd", DEMO_RELEASE);
        // The node's peer: the same release, compiled as the Dockerfile compiles it (which also
        // fills Go's build cache for the pipeline's build of the same commit).
        let dockerfile = options.checkout.join("source/Dockerfile");
        let (_, peer_image, _) = tokio::task::block_in_place(|| {
            codebuild::build_image(&repository.path, &dockerfile, &services.images, None)
        })
        .map_err(|e| format!("compiling btcd {DEMO_RELEASE} for the regtest peer: {e}"))?;
        let (peer_root, _) = services.images.get(&peer_image).expect("the image just filed");
        let peer = tokio::task::block_in_place(|| chain::Peer::start(&peer_root, &services.logs.join("peer.log")))?;
        services.router.fargate.forward(peer.p2p_port);
        // The stack reaches the daemon through a proxy that can be told to misbehave.
        let proxy = faults::git_proxy(git.port, services.router.faults.clone()).await;
        repository.url = repository.url.replace(&format!(":{}/", git.port), &format!(":{proxy}/"));
        let maintainer = keys::Maintainer::generate("Test Maintainer");

        let work = tempfile::tempdir().unwrap();
        let (zips, trust) = (work.path().join("lambda"), work.path().join("trust"));
        stack::function_zips(&zips, &options.binaries);
        stack::write_trust_root(&trust, &trust_root_files(&[&maintainer]));
        let repository_parameter = format!("RepositoryUrl={}", repository.url);
        let peer_parameter = format!("BtcdArgs=--addpeer=127.0.0.1:{}", peer.p2p_port);
        let up = [
            "up",
            // Non-interactive, as CI would run it: the preflight's confirmation is given.
            "--yes",
            "--stack-name",
            STACK_NAME,
            "--root",
            options.checkout.to_str().unwrap(),
            "--functions",
            zips.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--parameter",
            &repository_parameter,
            // A private chain whose only peer is the local one: nothing leaves this machine.
            "--parameter",
            "Network=regtest",
            "--parameter",
            &peer_parameter,
            // A new task is healthy at its first check: 5 s (ECS's least) instead of 30.
            "--parameter",
            "HealthCheckIntervalSeconds=5",
            // A node that gets no block in its first minute is not syncing (the least; AWS default 60).
            "--parameter",
            "NotSyncingMinutes=1",
            // One-second polls: a run takes seconds; the bounds (poll counts) stay as in AWS.
            "--parameter",
            "BuildPollSeconds=1",
            "--parameter",
            "DeployPollSeconds=1",
            "--parameter",
            "QueuePollSeconds=1",
            // A remote that never answers is given up on after 3 s, not 30.
            "--parameter",
            "FetchTimeoutSeconds=3",
            // One minute of missing tasks is an alarm (a test cannot wait ten).
            "--parameter",
            "TasksMissingMinutes=1",
        ];
        println!("local cloud: sigship up --stack-name {STACK_NAME} (from {})", options.checkout.display());
        let (code, stdout, stderr) = services.sigship(&up).await;
        if code != 0 {
            return Err(format!("sigship up failed ({code}): {stderr}\n{stdout}"));
        }
        let stack = Stack::describe(&services.sdk, STACK_NAME).await;
        services.assume_function_roles(&stack).await;

        // The compile runs as CodeBuild would: with the project's service role.
        let codebuild = aws_sdk_codebuild::Client::new(&services.sdk);
        let project = codebuild.batch_get_projects().names(&stack.build_project).send().await.unwrap();
        let project = project.projects().first().expect("the build project").clone();
        let build_role = project.service_role().expect("build role").to_string();
        let build_credentials = iam::assume(&aws_sdk_sts::Client::new(&services.sdk), &build_role, "codebuild").await;
        let as_build_role = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new(REGION))
            .endpoint_url(format!("http://127.0.0.1:{}", services.moto.port))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(build_credentials))
            .build();
        let prefix = stack.parameters.get("ArtifactsPrefix").cloned().unwrap_or_default();
        let s3 = aws_sdk_s3::config::Builder::from(&as_build_role).force_path_style(true).build();
        let local_codebuild = codebuild::CodeBuild {
            ecr: aws_sdk_ecr::Client::new(&as_build_role),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sigship_source: (
                stack.artifacts_bucket.clone(),
                format!("{prefix}source.zip"),
                stack.parameters.get("BuildSourceVersion").cloned().unwrap_or_default(),
            ),
            repository: stack.ecr_repository.clone(),
            source: repository.path.clone(),
            images: services.images.clone(),
            logs: services.logs.clone(),
            builds: Mutex::new(Vec::new()),
            project: codebuild::project_record(&project),
            base_images: Arc::new(base_images::BaseImageRegistry::default()),
            registry: services.registry.endpoint.clone(),
        };
        let _ = services.router.codebuild.set(Arc::new(local_codebuild));

        // The task execution role, as ECS assumes it (register-task names it in every revision).
        let lambda = aws_sdk_lambda::Client::new(&services.sdk);
        let register = lambda.get_function_configuration().function_name(stack.function("register-task")).send().await;
        let execution_role = register
            .ok()
            .and_then(|c| c.environment()?.variables()?.get("SIGSHIP_EXECUTION_ROLE_ARN").cloned())
            .expect("register-task names the task execution role");
        services.router.fargate.assume_role(&aws_sdk_sts::Client::new(&services.sdk), &execution_role).await;

        let iam_client = aws_sdk_iam::Client::new(&services.sdk);
        let operator = iam::user(&iam_client, "sigship-operator", &[&stack.operator_policy_arn]).await;
        let operator_arn = format!("arn:aws:iam::{ACCOUNT}:user/sigship-operator");
        let principal = authorizer::Principal::User { name: "sigship-operator".into(), arn: operator_arn };
        services.router.authorizer.register(operator.access_key_id(), principal);
        let secrets = aws_sdk_secretsmanager::Client::new(&services.sdk);
        let secret = secrets.get_secret_value().secret_id(&stack.webhook_secret_arn).send().await.unwrap();
        let webhook_secret = secret.secret_string().expect("a generated webhook secret").to_string();
        services.enforce_iam().await;
        println!("local cloud: stack {STACK_NAME} is up; IAM is enforced");
        Ok(LocalCloud {
            sdk: services.sdk.clone(),
            endpoint: services.endpoint.clone(),
            stack,
            git,
            repository,
            maintainer,
            router: services.router.clone(),
            logs: services.logs.clone(),
            webhook_secret,
            peer,
            trust_root: trust,
            operator,
            services,
            _work: work,
        })
    }

    /// Runs one execution to its end (as the administrator), printing each state as it enters and leaves.
    pub async fn run(&self, input: serde_json::Value, name: &str, print: bool) -> execution::Finished {
        execution::run(&self.step_functions(), name, &input, print).await
    }

    /// Follows the execution `name` (started by anyone) until it ends.
    pub async fn finish(&self, name: &str) -> execution::Finished {
        execution::follow(&self.step_functions(), &self.stack.execution_arn(name), name, true).await
    }

    /// The stack's state machine, through the library's adapter (as the administrator).
    pub fn step_functions(&self) -> pipeline::aws::StepFunctions {
        pipeline::aws::StepFunctions::new(&self.sdk, self.stack.state_machine_arn.clone())
    }

    /// The operator's environment: what `sigship run | status | logs | destroy` run with, holding
    /// only the stack's OperatorPolicy.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        self.services.env_for(&self.operator)
    }

    /// See [`Services::set_quotas`].
    pub fn set_quotas(&self, quotas: Quotas) {
        self.services.set_quotas(quotas);
    }

    /// Runs `sigship` as the administrator (what `up` and `down` need).
    pub async fn sigship_as_administrator(&self, args: &[&str]) -> (i32, String, String) {
        self.services.sigship(args).await
    }

    /// Runs `sigship` as the operator (holding only the stack's OperatorPolicy).
    pub async fn sigship_as_operator(&self, args: &[&str]) -> (i32, String, String) {
        let args = args.iter().map(|a| a.to_string()).collect();
        stack::sigship(&self.services.binaries.join("sigship"), args, self.client_env()).await
    }

    /// Delivers a webhook to the tag-push function's URL; returns the status and the JSON answer.
    pub async fn deliver_webhook(&self, headers: &[(&str, String)], body: &str) -> (u16, serde_json::Value) {
        use http_body_util::{BodyExt, Full};
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let mut request = hyper::Request::post(format!("{}{}", self.endpoint, self.stack.webhook_path));
        // JSON unless the delivery says otherwise (one Content-Type: a function URL joins repeated
        // headers with commas, as AWS's does).
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let response =
            client.request(request.body(Full::new(bytes::Bytes::from(body.to_string()))).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    /// GitHub's headers for a `push` (or other) event signed with the stack's webhook secret.
    pub fn github_headers(&self, event: &str, body: &str) -> Vec<(&'static str, String)> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.webhook_secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        vec![
            ("x-github-event", event.to_string()),
            ("x-hub-signature-256", format!("sha256={}", hex::encode(mac.finalize().into_bytes()))),
        ]
    }

    /// Invokes one of [`FUNCTIONS`] as its trigger would (the watch as its schedule does);
    /// returns its answer, or the function error's payload as Err.
    pub async fn invoke(&self, function: &str, payload: &str) -> Result<serde_json::Value, String> {
        let lambda = aws_sdk_lambda::Client::new(&self.sdk);
        let out = lambda
            .invoke()
            .function_name(self.stack.function(function))
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())?;
        let answer = out.payload().map(|p| String::from_utf8_lossy(p.as_ref()).to_string()).unwrap_or_default();
        match out.function_error() {
            Some(_) => Err(answer),
            None => serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer}")),
        }
    }

    /// The simulated CloudWatch's metrics and alarms (see [`cloudwatch`]).
    pub fn cloudwatch(&self) -> cloudwatch::CloudWatch {
        cloudwatch::CloudWatch::new(&self.endpoint, &self.sdk)
    }

    /// Writes `lines` (Unix milliseconds, message) into the daemon's log group as one task's stream
    /// (`btcd/btcd/<task>`, the awslogs driver's naming), as ECS ships btcd's output.
    pub async fn daemon_logs(&self, task: &str, lines: &[(i64, String)]) {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.sdk);
        let stream = format!("btcd/btcd/{task}");
        let group = &self.stack.daemon_log_group;
        logs.create_log_stream().log_group_name(group).log_stream_name(&stream).send().await.unwrap();
        let events = lines.iter().map(|(at, message)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(*at).message(message).build().unwrap()
        });
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .unwrap();
    }

    /// btcd far behind (its newest blocks from 2012) and catching up for the last 15 minutes, as
    /// its progress lines say: what makes node-metrics want the sync size.
    pub async fn daemon_catching_up(&self, task: &str) {
        const OLD_BLOCK: i64 = 1_349_079_230;
        let now = pipeline::config::now_ms();
        let lines: Vec<_> = (0..3)
            .map(|i| progress_line(now - (15 - 7 * i) * 60_000, 2000, 100_000 + 20_000 * i as u64, OLD_BLOCK + i))
            .collect();
        self.daemon_logs(task, &lines).await;
    }

    /// Every message in the daemon's log group, oldest first (as the administrator).
    pub async fn daemon_log_lines(&self) -> Vec<String> {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.sdk);
        let events = logs.filter_log_events().log_group_name(&self.stack.daemon_log_group).send().await;
        events.map(|e| e.events().iter().filter_map(|e| e.message().map(String::from)).collect()).unwrap_or_default()
    }

    /// Lets the peer mine until the deployed btcd logs a progress line at the peer's tip (btcd
    /// logs progress only for blocks from a peer). Returns that line and every line of the
    /// daemon's log group; Err if none came in 120 s.
    pub async fn sync_with_peer(&self) -> Result<(pipeline::node::Progress, Vec<String>), String> {
        use std::time::{Duration, Instant};
        self.peer.mine(3)?;
        // btcd logs a block at most once per 10 s, and a node whose peer had nothing to give it
        // drops that peer for a while (real btcd: every 30 s, back 5 s later): a block every 11 s
        // until one arrives while connected and is logged as the tip.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            tokio::time::sleep(Duration::from_secs(11)).await;
            let tip = self.peer.mine(1)?;
            let waited = Instant::now();
            while waited.elapsed() < Duration::from_secs(5) {
                let lines = self.daemon_log_lines().await;
                let progress =
                    lines.iter().filter_map(|l| pipeline::node::Progress::parse(l, 0)).find(|p| p.height == tip);
                if let Some(progress) = progress {
                    return Ok((progress, lines));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if Instant::now() > deadline {
                return Err(format!("no progress line at the tip in 120 s: {:?}", self.daemon_log_lines().await));
            }
        }
    }

    /// The builds the local CodeBuild ran.
    pub fn builds(&self) -> Vec<codebuild::Build> {
        self.router.codebuild.get().map(|c| c.builds.lock().unwrap().clone()).unwrap_or_default()
    }

    /// The service's tasks, running or recently stopped.
    pub fn tasks(&self) -> Vec<Arc<fargate::Task>> {
        self.router.fargate.tasks()
    }
}
