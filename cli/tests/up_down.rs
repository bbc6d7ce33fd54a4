//! `sigship up` and `sigship down` against the local cloud: the real template deployed by moto's
//! CloudFormation, the real destroy execution run by moto's Step Functions interpreter calling
//! the real destroy binary. moto skips AWS::CodeBuild::Project and AWS::SecretsManager::Secret
//! (see docs/local-cloud.md); tests/template.rs checks those by inspecting the template instead.

use std::path::Path;
use std::process::Command;

mod common;

use localcloud::keys::Maintainer;
use localcloud::stack::{function_zips, write_trust_root};
use localcloud::{trust_root_files, workspace_root, Options, Services, FUNCTIONS};

const STACK: &str = "sigship-test";

async fn sigship(services: &Services, args: Vec<String>) -> (i32, String, String) {
    common::sigship(args, services.client_env()).await
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The local cloud's services with the functions of `stack`, the checkout's zips and a trust
/// root in a temporary directory; `up(extra)` is `sigship up` of this checkout for `stack`.
struct Checkout {
    services: Services,
    root: std::path::PathBuf,
    work: tempfile::TempDir,
}

impl Checkout {
    /// An account whose Fargate quota was raised as the preflight asks for mainnet's sync size.
    async fn start(stack: &str) -> Self {
        let quotas = localcloud::Quotas { fargate_on_demand_vcpus: 16, ..Default::default() };
        Self::start_with(stack, Options { quotas, ..Options::default() }).await
    }

    async fn start_with(stack: &str, options: Options) -> Self {
        let functions: Vec<(String, &str)> = FUNCTIONS.iter().map(|name| (format!("{stack}-{name}"), *name)).collect();
        let services = Services::start(&options, &functions).await;
        let work = tempfile::tempdir().unwrap();
        function_zips(&work.path().join("lambda"), &options.binaries);
        write_trust_root(&work.path().join("trust"), &trust_root_files(&[&Maintainer::generate("Alice Maintainer")]));
        Checkout { services, root: workspace_root(), work }
    }

    fn up(&self, stack: &str, extra: &[&str]) -> Vec<String> {
        let mut up = args(&["up", "--yes", "--stack-name", stack, "--root", self.root.to_str().unwrap()]);
        up.extend(args(&["--functions", self.work.path().join("lambda").to_str().unwrap()]));
        up.extend(args(&["--trust", self.work.path().join("trust").to_str().unwrap()]));
        up.extend(args(extra));
        up
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn up_deploys_the_template_and_down_leaves_nothing_behind() {
    let checkout = Checkout::start(STACK).await;
    let services = &checkout.services;
    let up = checkout.up(STACK, &[]);

    // First run: bucket, uploads, stack creation.
    let mut first = up.clone();
    first.extend(args(&["--parameter", "Network=testnet3", "--parameter", "ChainDataBackups=on"]));
    let (code, stdout, stderr) = sigship(services, first).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "bucket sigship-test-123456789012-us-east-1-an: created (private, encrypted, plain-http endpoint"
        ),
        "{stdout}"
    );
    // The local S3 takes its 3 s to version the new bucket, as AWS takes up to 15 min: nothing
    // is uploaded until a probe is versioned and reads back by its version.
    let bucket = "sigship-test-123456789012-us-east-1-an";
    let waited = stdout.find(&format!("waiting for versioning to take effect in s3://{bucket}")).expect(&stdout);
    let taken = stdout.find(&format!("versioning in effect in s3://{bucket} after")).expect(&stdout);
    let uploaded = stdout.find("upload  sigship-test/").expect(&stdout);
    assert!(waited < taken && taken < uploaded, "{stdout}");
    assert!(stdout.contains("stack sigship-test: CREATE_COMPLETE"), "{stdout}");
    // The release marks are made by up, not by the stack: no template change resets them.
    assert!(
        stdout.contains(
            "release marks /sigship/sigship-test/{watch-after, release-pin, release-ran, watch-refused}: created"
        ),
        "{stdout}"
    );
    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&services.sdk).force_path_style(true).build());
    let probes = s3.list_object_versions().bucket(bucket).prefix(".sigship/").send().await.unwrap();
    assert!(probes.versions().is_empty() && probes.delete_markers().is_empty(), "the probe is removed");
    // moto records only the stack's own events, not one per resource as AWS does.
    assert!(
        stdout.contains("CREATE_IN_PROGRESS           sigship-test (AWS::CloudFormation::Stack) User Initiated"),
        "{stdout}"
    );
    assert!(stdout.contains("StateMachineArn") && stdout.contains("WebhookUrl               https://"), "{stdout}");

    let sdk = &services.sdk;
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let deployed = localcloud::Stack::describe(sdk, STACK).await;
    assert_eq!(deployed.parameters["Network"], "testnet3");
    let bucket = deployed.artifacts_bucket.clone();
    let prefix = deployed.parameters["ArtifactsPrefix"].clone();

    // The functions, configured from the release that was uploaded.
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let mut env = std::collections::HashMap::new();
    for name in FUNCTIONS {
        let config = lambda.get_function_configuration().function_name(format!("{STACK}-{name}")).send().await.unwrap();
        assert_eq!(config.runtime().map(|r| r.as_str()), Some("provided.al2023"), "{name}");
        // moto's CloudFormation drops Architectures (always x86_64); tests/template.rs checks arm64.
        env.insert(name, config.environment().and_then(|e| e.variables()).cloned().unwrap_or_default());
    }
    assert_eq!(env["verify"]["SIGSHIP_TRUST_ROOT"], format!("s3://{bucket}/{prefix}trust-root/"));
    assert_eq!(env["register-task"]["SIGSHIP_NETWORK"], "testnet3");
    assert!(env["register-task"]["SIGSHIP_ACCESS_POINT_ID"].starts_with("fsap-"), "{:?}", env["register-task"]);

    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    let policy = s3.get_object().bucket(&bucket).key(format!("{prefix}trust-root/policy.toml")).send().await.unwrap();
    assert!(policy.body.collect().await.unwrap().into_bytes().starts_with(b"tag_patterns"));
    let access = s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
    assert_eq!(access.public_access_block_configuration().unwrap().block_public_policy(), Some(true));

    // The state machine, with every substitution made.
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let machines = sfn.list_state_machines().send().await.unwrap();
    assert_eq!(machines.state_machines().len(), 1);
    let machine = sfn
        .describe_state_machine()
        .state_machine_arn(machines.state_machines()[0].state_machine_arn())
        .send()
        .await
        .unwrap();
    assert!(machine.definition().contains(&format!("function:{STACK}-destroy")), "{}", machine.definition());
    assert!(!machine.definition().contains("${"), "an unsubstituted placeholder is left");

    let ecr = aws_sdk_ecr::Client::new(sdk);
    let repository = ecr.describe_repositories().send().await.unwrap().repositories()[0].clone();
    assert_eq!(repository.repository_name(), Some("sigship-test-btcd"));
    assert_eq!(repository.image_tag_mutability().map(|m| m.as_str()), Some("IMMUTABLE"));
    // Scan on push: moto keeps CloudFormation's `ScanOnPush` key and answers `scanOnPush: false`;
    // tests/template.rs checks it.
    let efs = aws_sdk_efs::Client::new(sdk);
    let file_systems = efs.describe_file_systems().send().await.unwrap();
    assert_eq!(file_systems.file_systems().len(), 1);
    assert_eq!(file_systems.file_systems()[0].encrypted(), Some(true));

    // Second run on the same checkout: nothing uploaded, nothing changed, parameters kept.
    let (code, stdout, stderr) = sigship(services, up.clone()).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(", 0 uploaded"), "{stdout}");
    assert!(stdout.contains("stack sigship-test: up to date") || stdout.contains("UPDATE_COMPLETE"), "{stdout}");
    let network = localcloud::Stack::describe(sdk, STACK).await.parameters["Network"].clone();
    assert_eq!(network, "testnet3", "an update must keep parameters it is not given");

    // What the stack reads is pinned: the trust root by digest, every other artifact by version.
    assert_eq!(env["verify"]["SIGSHIP_TRUST_ROOT_SHA256"], deployed.parameters["TrustRootSha256"]);
    let verify_zip = format!("{prefix}functions/verify.zip");
    let head = s3.head_object().bucket(&bucket).key(&verify_zip).send().await.unwrap();
    assert_eq!(head.version_id(), Some(deployed.parameters["VerifyCodeVersion"].as_str()));
    // An in-account writer replaces a zip under its content-addressed key: the next `up` does
    // not trust it, uploads the checkout's bytes again and pins that version.
    s3.put_object().bucket(&bucket).key(&verify_zip).body(b"not sigship".to_vec().into()).send().await.unwrap();
    let (code, stdout, stderr) = sigship(services, up.clone()).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("replace {verify_zip}: its stored bytes are not the checkout's")), "{stdout}");
    assert!(stdout.contains(", 1 uploaded"), "{stdout}");
    let repinned = localcloud::Stack::describe(sdk, STACK).await.parameters["VerifyCodeVersion"].clone();
    let newest = s3.head_object().bucket(&bucket).key(&verify_zip).send().await.unwrap();
    assert_eq!(Some(repinned.as_str()), newest.version_id());
    assert_ne!(repinned, deployed.parameters["VerifyCodeVersion"]);

    // Down, with IAM enforced from here on: the destroy execution through the real destroy binary
    // with its own role (chain data included), then the stack and the bucket, as the administrator.
    services.assume_function_roles(&localcloud::Stack::describe(sdk, STACK).await).await;
    services.enforce_iam().await;
    let down = args(&["down", "--stack-name", STACK]);
    // What starts deployments stops first; a destroy that fails starts it again (ECS refuses the
    // destroy function's first call, which is not retried).
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let rule_states = || async {
        let rules = events.list_rules().send().await.unwrap();
        rules.rules().iter().map(|r| r.state().map(|s| s.as_str().to_string()).unwrap_or_default()).collect::<Vec<_>>()
    };
    let refused = localcloud::faults::Kind::access_denied("not authorized to perform this action");
    let fault = localcloud::faults::Fault::new("ecs", None, refused, localcloud::faults::Often::Next(1));
    services.router.faults.on_call(fault);
    let (code, stdout, stderr) = sigship(services, down.clone()).await;
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stdout.contains("stopped what starts deployments: schedule ")
            && stdout.contains(", webhook sigship-test-tag-push"),
        "{stdout}"
    );
    assert!(stderr.contains("started again: schedule "), "{stderr}");
    assert!(rule_states().await.iter().all(|s| s == "ENABLED"), "{:?}", rule_states().await);
    let webhook = lambda.get_function_concurrency().function_name(format!("{STACK}-tag-push")).send().await.unwrap();
    assert_eq!(webhook.reserved_concurrent_executions(), None, "the webhook takes deliveries again");

    let (code, stdout, stderr) = sigship(services, down.clone()).await;
    assert_eq!(code, 0, "{stderr}");
    let stopped = stdout.find("stopped what starts deployments").expect(&stdout);
    assert!(stopped < stdout.find("→ Destroy").expect(&stdout), "{stdout}");
    assert!(stdout.contains("→ Destroy") && stdout.contains("SUCCEEDED"), "{stdout}");
    assert!(stdout.contains(&format!("bucket {bucket}: deleted")), "{stdout}");
    assert!(stdout.contains("stack sigship-test: DELETE_COMPLETE"), "{stdout}");
    assert!(stdout.contains("destroyed: ") && stdout.contains("chain data"), "{stdout}");
    assert!(stdout.contains("left behind: EFS backups of fs-") && stdout.contains("kept 35 days"), "{stdout}");
    assert!(stdout.contains("aws backup list-recovery-points-by-resource --region us-east-1 --resource-arn arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-"), "{stdout}");
    assert!(services.router.invocations.lock().unwrap().contains(&(format!("{STACK}-destroy"), false)));

    assert!(cfn.describe_stacks().stack_name(STACK).send().await.is_err(), "the stack is gone");
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
    assert!(sfn.list_state_machines().send().await.unwrap().state_machines().is_empty());
    assert!(ecr.describe_repositories().send().await.unwrap().repositories().is_empty());
    assert!(efs.describe_file_systems().send().await.unwrap().file_systems().is_empty(), "chain data deleted");
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    assert!(stdout.contains("release marks /sigship/sigship-test/: deleted"), "{stdout}");
    let marks = aws_sdk_ssm::Client::new(sdk).describe_parameters().send().await.unwrap();
    assert!(marks.parameters().is_empty(), "{:?}", marks.parameters());
    let iam = aws_sdk_iam::Client::new(sdk);
    let roles = iam.list_roles().send().await.unwrap();
    assert!(roles.roles().is_empty(), "{:?}", roles.roles().iter().map(|r| r.role_name()).collect::<Vec<_>>());

    let ecs = aws_sdk_ecs::Client::new(sdk);
    let clusters = ecs.list_clusters().send().await.unwrap();
    let clusters = ecs.describe_clusters().set_clusters(Some(clusters.cluster_arns().to_vec())).send().await.unwrap();
    assert!(clusters.clusters().iter().all(|c| c.status() == Some("INACTIVE")), "{:?}", clusters.clusters());

    // Down again: nothing to do, still success.
    let (code, stdout, stderr) = sigship(services, down).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("nothing to tear down"), "{stdout}");
}

/// Refusals happen before any AWS call: the endpoint here is a closed port, so reaching it
/// would fail differently.
#[test]
fn up_refuses_an_unusable_trust_root_or_missing_functions_before_touching_the_account() {
    let work = tempfile::tempdir().unwrap();
    let root = workspace_root();
    let closed = format!("http://127.0.0.1:{}", localcloud::free_port());
    let up = |functions: &Path, trust: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigship"));
        command.args(["up", "--root", root.to_str().unwrap(), "--functions", functions.to_str().unwrap()]);
        if let Some(trust) = trust {
            command.args(["--trust", trust.to_str().unwrap()]);
        }
        let out = command
            .envs([("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x")])
            .env("AWS_ENDPOINT_URL", &closed)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };

    // The shipped btcd trust root pins the maintainers' certificates on GitHub, which this
    // machine cannot reach: `up` stops at the first one, naming it, before anything else.
    function_zips(&work.path().join("lambda"), &Options::default().binaries);
    let shipped = work.path().join("shipped-trust");
    std::fs::create_dir_all(&shipped).unwrap();
    std::fs::copy(root.join("infrastructure/trust/btcd/policy.toml"), shipped.join("policy.toml")).unwrap();
    let (code, stdout, stderr) = up(&work.path().join("lambda"), Some(&shipped));
    assert_eq!(code, Some(1));
    let guggero = "https://raw.githubusercontent.com/lightningnetwork/lnd/f6c66ca98098451c51d69c1eae1344d870c474b0/scripts/keys/guggero.asc";
    assert!(
        stderr
            .starts_with(&format!("sigship: certificate guggero-b1f0af14.asc: cannot be downloaded from {guggero}: ")),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing may happen before the refusal: {stdout}");
    assert_eq!(std::fs::read_dir(&shipped).unwrap().count(), 1, "nothing saved");

    let trust = work.path().join("trust");
    write_trust_root(&trust, &trust_root_files(&[&Maintainer::generate("Alice Maintainer")]));
    let (code, stdout, stderr) = up(&work.path().join("nothing-built"), Some(&trust));
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("sigship: artifact missing: "), "{stderr}");
    assert!(stderr.contains("cargo lambda build --release --arm64 --output-format zip"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");

    // CodeBuild's source is GitHub: another host is refused before anything happens.
    let (code, stdout, stderr) = Command::new(env!("CARGO_BIN_EXE_sigship"))
        .args(["up", "--root", root.to_str().unwrap(), "--functions", work.path().join("lambda").to_str().unwrap()])
        .args(["--trust", trust.to_str().unwrap(), "--parameter", "RepositoryUrl=https://gitlab.com/btcsuite/btcd.git"])
        .envs([("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "x")])
        .env("AWS_ENDPOINT_URL", &closed)
        .output()
        .map(|o| (o.status.code(), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap()))
        .unwrap();
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("RepositoryUrl \"https://gitlab.com/btcsuite/btcd.git\": the build project builds from GitHub"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");

    let (code, _, stderr) = Command::new(env!("CARGO_BIN_EXE_sigship"))
        .args(["up", "--stack-name", "Sigship_Prod"])
        .output()
        .map(|o| (o.status.code(), o.stdout, String::from_utf8(o.stderr).unwrap()))
        .unwrap();
    assert_eq!(code, Some(1));
    assert!(stderr.contains("stack name \"Sigship_Prod\": use 1-24 lower-case letters"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn chain_data_kept_by_down_is_mounted_by_the_next_up() {
    const STACK: &str = "sigship-keep";
    let checkout = Checkout::start(STACK).await;
    let services = &checkout.services;
    let up = |extra: &[&str]| checkout.up(STACK, extra);
    let sdk = &services.sdk;
    let efs = aws_sdk_efs::Client::new(sdk);
    let (code, _, stderr) = sigship(services, up(&[])).await;
    assert_eq!(code, 0, "{stderr}");
    let kept = localcloud::Stack::describe(sdk, STACK).await.file_system_id;
    services.assume_function_roles(&localcloud::Stack::describe(sdk, STACK).await).await;

    // Down keeps the file system and says how to reuse it or delete it; backups are off by
    // default, so none are left behind.
    let (code, stdout, stderr) = sigship(services, args(&["down", "--stack-name", STACK, "--keep-chain-data"])).await;
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        format!("kept chain data: EFS file system {kept} (it bills until deleted)"),
        format!(
            "  reuse it:  sigship up --stack-name {STACK} --region us-east-1 --parameter ExistingFileSystemId={kept}"
        ),
        format!("  delete it: aws efs delete-file-system --region us-east-1 --file-system-id {kept}"),
    ] {
        assert!(stdout.contains(&expected), "{expected:?} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("left behind: EFS backups"), "{stdout}");
    let left = efs.describe_file_systems().send().await.unwrap();
    assert_eq!(left.file_systems().len(), 1, "only the kept file system");
    assert_eq!(left.file_systems()[0].number_of_mount_targets(), 0, "its mount targets went with the stack");

    // A file system that is not there is refused before the stack is touched.
    let (code, _, stderr) = sigship(services, up(&["--parameter", "ExistingFileSystemId=fs-0123456789abcdef0"])).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("ExistingFileSystemId fs-0123456789abcdef0: no such EFS file system in us-east-1"),
        "{stderr}"
    );

    // Up with the kept id mounts it: no new file system, mount targets and an access point on it,
    // and register-task puts it in the task definition.
    let adopt = format!("ExistingFileSystemId={kept}");
    let (code, stdout, stderr) = sigship(services, up(&["--parameter", &adopt])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("chain data: mounting existing file system {kept} (")), "{stdout}");
    let stack = localcloud::Stack::describe(sdk, STACK).await;
    assert_eq!(stack.file_system_id, kept);
    assert_eq!(efs.describe_file_systems().send().await.unwrap().file_systems().len(), 1, "no second file system");
    let mounts = efs.describe_mount_targets().file_system_id(&kept).send().await.unwrap();
    assert_eq!(mounts.mount_targets().len(), 2);
    let points = efs.describe_access_points().file_system_id(&kept).send().await.unwrap();
    assert_eq!(points.access_points().len(), 1);
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let register = lambda.get_function_configuration().function_name(format!("{STACK}-register-task")).send().await;
    let variables = register.unwrap().environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert_eq!(variables["SIGSHIP_FILE_SYSTEM_ID"], kept);
    assert_eq!(variables["SIGSHIP_ACCESS_POINT_ID"], points.access_points()[0].access_point_id().unwrap());

    // The same parameter again is this stack's own file system, not a conflict.
    let (code, _, stderr) = sigship(services, up(&["--parameter", &adopt])).await;
    assert_eq!(code, 0, "{stderr}");
    // Another stack cannot mount it while this one does.
    let other = checkout.up("sigship-other", &["--parameter", &adopt]);
    let (code, _, stderr) = sigship(services, other).await;
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("ExistingFileSystemId {kept}: it has 2 mount targets")), "{stderr}");

    // Down without --keep-chain-data deletes it, adopted or not (it is sigship's, by its tag).
    services.assume_function_roles(&stack).await;
    let (code, stdout, stderr) = sigship(services, args(&["down", "--stack-name", STACK])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("kept chain data"), "{stdout}");
    assert!(efs.describe_file_systems().send().await.unwrap().file_systems().is_empty(), "{stdout}");
}

/// Bucket sniping: another account creates the artifacts bucket's name first, open to everyone,
/// to receive and swap what `up` uploads. The account regional namespace keeps the default name
/// out of its reach; a name in the global namespace (`--bucket`) it can take, and `up` refuses
/// it — as every S3 request carries `ExpectedBucketOwner` — before uploading anything. A bucket
/// of this account not tagged for the stack is refused too.
#[tokio::test(flavor = "multi_thread")]
async fn up_refuses_an_artifacts_bucket_of_another_account_or_another_stack_and_uploads_nothing() {
    let checkout = Checkout::start(STACK).await;
    let services = &checkout.services;
    let sdk = &services.sdk;
    let s3_of = |sdk: &aws_config::SdkConfig| {
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
    };
    let attacker =
        localcloud::iam::assume(&aws_sdk_sts::Client::new(sdk), "arn:aws:iam::222222222222:role/attacker", "attacker")
            .await;
    let attacker = s3_of(
        &sdk.to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(attacker))
            .build(),
    );

    // The default name is the victim's account regional name: no other account can create it.
    let regional = format!("{STACK}-123456789012-us-east-1-an");
    let taken = attacker.create_bucket().bucket(&regional).send().await;
    assert!(taken.is_err(), "another account created {regional}");

    // A global name, taken first and opened to everyone.
    let global = format!("{STACK}-artifacts-123456789012-us-east-1");
    attacker.create_bucket().bucket(&global).send().await.unwrap();
    let open = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{global}"), format!("arn:aws:s3:::{global}/*")]}]});
    attacker.put_bucket_policy().bucket(&global).policy(open.to_string()).send().await.unwrap();
    let (code, stdout, stderr) = sigship(services, checkout.up(STACK, &["--bucket", &global])).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains(&format!("bucket {global} exists and is not account 123456789012's")), "{stderr}");
    assert!(!stdout.contains("upload"), "{stdout}");
    let received = attacker.list_objects_v2().bucket(&global).send().await.unwrap();
    assert_eq!(received.key_count(), Some(0), "the attacker's bucket received nothing");
    // S3 itself refuses a request that names the victim as the owner (the functions' reads too).
    let victim = s3_of(sdk);
    let read = victim.list_objects_v2().bucket(&global).expected_bucket_owner("123456789012").send().await;
    assert_eq!(read.unwrap_err().raw_response().map(|r| r.status().as_u16()), Some(403));

    // This account's bucket, made by someone else for something else.
    victim.create_bucket().bucket("unrelated-bucket").send().await.unwrap();
    let (code, _, stderr) = sigship(services, checkout.up(STACK, &["--bucket", "unrelated-bucket"])).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("is this account's but not tagged sigship:stack=sigship-test (no such tag)"), "{stderr}");
    let stacks = aws_sdk_cloudformation::Client::new(sdk).describe_stacks().send().await;
    assert!(stacks.map(|s| s.stacks().is_empty()).unwrap_or(true), "no stack was created");
}

/// The preflight runs before anything is created, on the local cloud: the account, the region,
/// CodeBuild's ARM/Large quota and Fargate's vCPU quota (read through Service Quotas), the stack's state and the network's
/// monthly cost; a region without arm64 Fargate fails with the fix, and `up` without a terminal
/// to ask at creates nothing unless given `--yes`.
#[tokio::test(flavor = "multi_thread")]
async fn the_preflight_checks_the_account_and_asks_before_anything_is_created() {
    // AWS's default quotas: 6 Fargate On-Demand vCPUs, below mainnet's sync size.
    let checkout = Checkout::start_with(STACK, Options::default()).await;
    let services = &checkout.services;
    let (code, stdout, _) = sigship(services, args(&["doctor", "--stack-name", STACK])).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "FAIL Fargate quota      6 On-Demand vCPUs allowed; a mainnet node syncs at 16 vCPU, 72 GB, UTXO cache 23552 MiB"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "aws service-quotas request-service-quota-increase --region us-east-1 --service-code fargate --quota-code L-3032A538 --desired-value 16"
        ),
        "{stdout}"
    );
    // A smaller sync task the quota can place, as the failure suggests.
    let smaller = ["--parameter", "SyncTaskCpu=4096", "--parameter", "SyncTaskMemory=30720"];
    let mut doctor = args(&["doctor", "--stack-name", STACK]);
    doctor.extend(args(&smaller));
    let (code, stdout, stderr) = sigship(services, doctor).await;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    for expected in [
        "ok   account            123456789012 as arn:aws:iam::123456789012:user/localcloud-administrator in us-east-1",
        "ok   region             us-east-1: arm64 Fargate and CodeBuild ARM containers",
        "ok   CodeBuild quota    1 concurrent ARM/Large builds",
        "ok   Fargate quota      6 On-Demand vCPUs: room for the sync size (4 vCPU, 30 GB, UTXO cache",
        "ok   stack              sigship-test: none yet; up creates it",
        "ok   cost               mainnet node ≈ $",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }

    let (code, stdout, stderr) =
        sigship(services, args(&["doctor", "--stack-name", STACK, "--region", "af-south-1"])).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL region             af-south-1 has no arm64 (Graviton) Fargate tasks"), "{stdout}");
    assert!(stderr.contains("preflight failed, nothing was created"), "{stderr}");

    // A region without the account regional namespace: the default bucket cannot be made there.
    let mut doctor = args(&["doctor", "--stack-name", STACK, "--region", "me-central-1"]);
    doctor.extend(args(&smaller));
    let (code, stdout, _) = sigship(services, doctor.clone()).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL bucket             S3 offers no account regional namespace in me-central-1"),
        "{stdout}"
    );
    doctor.extend(args(&["--bucket", "sigship-123456789012-me-central-1-artifacts"]));
    let (_, stdout, _) = sigship(services, doctor).await;
    assert!(!stdout.contains("FAIL bucket"), "{stdout}");

    // A quota Service Quotas will not answer: one line with AWS's code and message, not the
    // SDK's dump of the request.
    let denied =
        localcloud::faults::Kind::access_denied("User is not authorized to perform: servicequotas:GetServiceQuota");
    let fault = localcloud::faults::Fault::new("servicequotas", None, denied, localcloud::faults::Often::Next(2));
    services.router.faults.on_call(fault);
    let (_, stdout, _) = sigship(services, args(&["doctor", "--stack-name", STACK])).await;
    let line = stdout.lines().find(|l| l.contains("CodeBuild quota")).expect(&stdout);
    assert!(line.contains("warn") && line.contains("denied: User is not authorized") && line.len() < 400, "{line}");

    // Without --yes and without a terminal: refused after the preflight, nothing created.
    let mut up = checkout.up(STACK, &["--parameter", "Network=testnet4"]);
    up.retain(|a| a != "--yes");
    let (code, stdout, stderr) = sigship(services, up).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("ok   cost               testnet4 node ≈ $"), "{stdout}");
    assert!(stderr.contains("create stack sigship-test? It bills ≈ $"), "{stderr}");
    assert!(stderr.contains("confirm with --yes (nothing was created)"), "{stderr}");
    let s3 = aws_sdk_s3::Client::new(&services.sdk);
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty(), "no bucket was made");
}

/// An account whose CodeBuild ARM/Large quota is 0 (some new accounts): every release would fail
/// at StartBuild, so the preflight fails with the request that raises it, and nothing is created.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_without_arm_build_capacity_is_told_how_to_get_it_before_anything_is_created() {
    let checkout = Checkout::start_with(
        STACK,
        Options {
            quotas: localcloud::Quotas { codebuild_arm_large_builds: 0, ..Default::default() },
            ..Options::default()
        },
    )
    .await;
    let services = &checkout.services;
    let request = "aws service-quotas request-service-quota-increase --region us-east-1 --service-code codebuild \
                   --quota-code L-596BEAB4 --desired-value 1";
    let (code, stdout, stderr) = sigship(services, args(&["doctor", "--stack-name", STACK])).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL CodeBuild quota    0 concurrent ARM/Large builds allowed"), "{stdout}");
    assert!(stdout.contains(request), "{stdout}");
    let (code, _, stderr_up) = sigship(services, checkout.up(STACK, &[])).await;
    assert_eq!(code, 1);
    assert!(stderr_up.contains("preflight failed, nothing was created") && stderr_up.contains(request), "{stderr_up}");
    let s3 = aws_sdk_s3::Client::new(&services.sdk);
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty(), "no bucket was made: {stderr}");
}
