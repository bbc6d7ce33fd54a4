//! Creates sigship's resources in the local cloud, the way the stack in `infrastructure/` does in
//! AWS: roles, the trust root in S3, ECR, networking, EFS, the ECS cluster, the CodeBuild project,
//! the five functions with their configuration, and the state machine from `statemachine/`.

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;

pub const REGION: &str = "us-east-1";
/// Every function, with the placeholder the state machine names it by (`${<placeholder>FunctionArn}`).
pub const FUNCTIONS: [(&str, &str); 8] = [
    ("verify", "Verify"),
    ("trigger-build", "TriggerBuild"),
    ("register-task", "RegisterTask"),
    ("deploy", "Deploy"),
    ("destroy", "Destroy"),
    ("queue", "Queue"),
    ("tag-push", "TagPush"),
    ("tag-watch", "TagWatch"),
];

/// The secret the local webhook checks deliveries against.
pub const WEBHOOK_SECRET: &str = "local-cloud-webhook-secret";

pub struct Stack {
    pub state_machine_arn: String,
    pub cluster: String,
    pub service: String,
    pub ecr_repository: String,
    pub build_project: String,
    pub family: String,
    pub file_system_id: String,
    pub artifacts_bucket: String,
    /// The tag-push function's URL on the router (see [`crate::router`]).
    pub webhook_path: String,
}

pub struct Settings {
    pub repository_url: String,
    pub trust_root: Vec<(String, Vec<u8>)>,
    pub asl: String,
}

const ASSUME_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn role(iam: &aws_sdk_iam::Client, name: &str) -> String {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(ASSUME_LAMBDA)
        .send()
        .await
        .expect("create role")
        .role()
        .map(|r| r.arn().to_string())
        .unwrap()
}

pub async fn provision(sdk: &SdkConfig, settings: &Settings) -> Stack {
    let iam = aws_sdk_iam::Client::new(sdk);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let efs = aws_sdk_efs::Client::new(sdk);
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let codebuild = aws_sdk_codebuild::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let managed = || aws_sdk_ecr::types::Tag::builder().key("sigship:managed").value("true").build().unwrap();

    let bucket = "sigship-artifacts-local".to_string();
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
    for (name, bytes) in &settings.trust_root {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("trust-root/{name}"))
            .body(bytes.clone().into())
            .send()
            .await
            .expect("trust root upload");
    }

    let ecr_repository = "btcd".to_string();
    ecr.create_repository()
        .repository_name(&ecr_repository)
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder().scan_on_push(true).build(),
        )
        .tags(managed())
        .send()
        .await
        .expect("ECR repository");

    let vpc = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.42.1.0/24")
        .send()
        .await
        .expect("subnet")
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let security_group = ec2
        .create_security_group()
        .vpc_id(&vpc)
        .group_name("sigship-btcd")
        .description("btcd: p2p in, RPC never public")
        .send()
        .await
        .expect("security group")
        .group_id()
        .unwrap()
        .to_string();

    let file_system_id = efs
        .create_file_system()
        .creation_token("sigship-chain-data")
        .encrypted(true)
        .tags(aws_sdk_efs::types::Tag::builder().key("sigship:managed").value("true").build().unwrap())
        .send()
        .await
        .expect("EFS")
        .file_system_id()
        .to_string();
    efs.create_mount_target()
        .file_system_id(&file_system_id)
        .subnet_id(&subnet)
        .security_groups(&security_group)
        .send()
        .await
        .expect("mount target");
    let access_point = efs
        .create_access_point()
        .file_system_id(&file_system_id)
        .send()
        .await
        .expect("access point")
        .access_point_id()
        .unwrap()
        .to_string();

    let cluster = "sigship".to_string();
    ecs.create_cluster().cluster_name(&cluster).send().await.expect("cluster");

    let rpc_secret = secrets
        .create_secret()
        .name("sigship/btcd-rpc")
        .secret_string(r#"{"username":"sigship","password":"local-cloud-only"}"#)
        .send()
        .await
        .expect("secret")
        .arn()
        .unwrap()
        .to_string();

    let build_role = role(&iam, "sigship-codebuild").await;
    let build_project = "sigship-btcd".to_string();
    codebuild
        .create_project()
        .name(&build_project)
        .source(
            aws_sdk_codebuild::types::ProjectSource::builder()
                .r#type(aws_sdk_codebuild::types::SourceType::Github)
                .location(&settings.repository_url)
                .buildspec("source/buildspec.yml")
                .build()
                .unwrap(),
        )
        .artifacts(
            aws_sdk_codebuild::types::ProjectArtifacts::builder()
                .r#type(aws_sdk_codebuild::types::ArtifactsType::NoArtifacts)
                .build()
                .unwrap(),
        )
        .environment(
            aws_sdk_codebuild::types::ProjectEnvironment::builder()
                .r#type(aws_sdk_codebuild::types::EnvironmentType::ArmContainer)
                .image("aws/codebuild/amazonlinux-aarch64-standard:3.0")
                .compute_type(aws_sdk_codebuild::types::ComputeType::BuildGeneral1Small)
                .privileged_mode(true)
                .build()
                .unwrap(),
        )
        .service_role(&build_role)
        .send()
        .await
        .expect("CodeBuild project");

    let execution_role = role(&iam, "sigship-task-execution").await;
    let task_role = role(&iam, "sigship-task").await;
    let family = "btcd".to_string();
    let service = "btcd".to_string();
    let trust_root = format!("s3://{bucket}/trust-root/");
    let environment: [(&str, Vec<(&str, String)>); 6] = [
        (
            "verify",
            vec![
                ("SIGSHIP_REPOSITORY", settings.repository_url.clone()),
                ("SIGSHIP_TRUST_ROOT", trust_root.clone()),
                ("SIGSHIP_FETCH_TIMEOUT_SECONDS", "10".into()),
            ],
        ),
        (
            "trigger-build",
            vec![
                ("SIGSHIP_REPOSITORY", settings.repository_url.clone()),
                ("SIGSHIP_BUILD_PROJECT", build_project.clone()),
                ("SIGSHIP_ECR_REPOSITORY", ecr_repository.clone()),
                ("SIGSHIP_BUILD_POLL_SECONDS", "1".into()),
                ("SIGSHIP_BUILD_MAX_POLLS", "30".into()),
            ],
        ),
        (
            "register-task",
            vec![
                ("SIGSHIP_ECR_REPOSITORY", ecr_repository.clone()),
                ("SIGSHIP_TASK_FAMILY", family.clone()),
                ("SIGSHIP_EXECUTION_ROLE_ARN", execution_role),
                ("SIGSHIP_TASK_ROLE_ARN", task_role),
                ("SIGSHIP_LOG_GROUP", "/sigship/btcd".into()),
                ("SIGSHIP_FILE_SYSTEM_ID", file_system_id.clone()),
                ("SIGSHIP_ACCESS_POINT_ID", access_point),
                ("SIGSHIP_NETWORK", "signet".into()),
                ("SIGSHIP_RPC_SECRET_ARN", rpc_secret),
            ],
        ),
        (
            "deploy",
            vec![
                ("SIGSHIP_CLUSTER", cluster.clone()),
                ("SIGSHIP_SERVICE", service.clone()),
                ("SIGSHIP_SUBNETS", subnet),
                ("SIGSHIP_SECURITY_GROUPS", security_group),
                ("SIGSHIP_DEPLOY_POLL_SECONDS", "1".into()),
                ("SIGSHIP_DEPLOY_MAX_POLLS", "20".into()),
            ],
        ),
        (
            "destroy",
            vec![
                ("SIGSHIP_CLUSTER", cluster.clone()),
                ("SIGSHIP_SERVICE", service.clone()),
                ("SIGSHIP_TASK_FAMILY", family.clone()),
                ("SIGSHIP_ECR_REPOSITORY", ecr_repository.clone()),
                ("SIGSHIP_FILE_SYSTEM_ID", file_system_id.clone()),
            ],
        ),
        ("queue", vec![("SIGSHIP_QUEUE_POLL_SECONDS", "1".into()), ("SIGSHIP_QUEUE_MAX_POLLS", "120".into())]),
    ];

    let mut asl = settings.asl.clone();
    for (name, variables) in environment {
        let arn = create_function(&lambda, &iam, name, variables).await;
        let placeholder = FUNCTIONS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p).unwrap();
        asl = asl.replace(&format!("${{{placeholder}FunctionArn}}"), &arn);
    }
    assert!(!asl.contains("${"), "unsubstituted placeholder in the state machine");

    let sfn_role = role(&iam, "sigship-state-machine").await;
    let state_machine_arn = sfn
        .create_state_machine()
        .name("sigship")
        .definition(asl)
        .role_arn(sfn_role)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create state machine: {}", aws_sdk_sfn::error::DisplayErrorContext(e)))
        .state_machine_arn()
        .to_string();

    // The triggers start the state machine, so they come after it.
    let webhook_secret = secrets
        .create_secret()
        .name("sigship/webhook")
        .secret_string(WEBHOOK_SECRET)
        .send()
        .await
        .expect("webhook secret")
        .arn()
        .unwrap()
        .to_string();
    let trigger = |extra: Vec<(&'static str, String)>| {
        let mut variables = vec![
            ("SIGSHIP_REPOSITORY", settings.repository_url.clone()),
            ("SIGSHIP_TRUST_ROOT", trust_root.clone()),
            ("SIGSHIP_STATE_MACHINE_ARN", state_machine_arn.clone()),
            ("SIGSHIP_FETCH_TIMEOUT_SECONDS", "10".to_string()),
        ];
        variables.extend(extra);
        variables
    };
    create_function(&lambda, &iam, "tag-push", trigger(vec![("SIGSHIP_WEBHOOK_SECRET_ARN", webhook_secret)])).await;
    create_function(&lambda, &iam, "tag-watch", trigger(vec![])).await;

    Stack {
        state_machine_arn,
        cluster,
        service,
        ecr_repository,
        build_project,
        family,
        file_system_id,
        artifacts_bucket: bucket,
        webhook_path: "/lambda-url/tag-push/".into(),
    }
}

async fn create_function(
    lambda: &aws_sdk_lambda::Client,
    iam: &aws_sdk_iam::Client,
    name: &str,
    variables: Vec<(&str, String)>,
) -> String {
    let role = role(iam, &format!("sigship-{name}")).await;
    let vars = variables.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .architectures(aws_sdk_lambda::types::Architecture::Arm64)
        .handler("bootstrap")
        .role(role)
        .timeout(60)
        .memory_size(256)
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(Blob::new(placeholder_zip(name))).build())
        .environment(aws_sdk_lambda::types::Environment::builder().set_variables(Some(vars)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create function {name}: {}", aws_sdk_lambda::error::DisplayErrorContext(e)))
        .function_arn()
        .unwrap()
        .to_string()
}

/// The code moto stores for each function. The runtime host runs the real binary built from
/// `functions/<name>`; this archive only records that.
fn placeholder_zip(name: &str) -> Vec<u8> {
    use std::io::Write;
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        zip.start_file(
            "README",
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        writeln!(zip, "local cloud: {name} runs from target/<profile>/{name} through the runtime host").unwrap();
        zip.finish().unwrap();
    }
    buffer.into_inner()
}
