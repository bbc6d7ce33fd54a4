//! What IAM must allow for every AWS call sigship makes: the contract the template's roles are
//! checked against (cli/tests/permissions.rs). An API call is listed with its parameters; the
//! one resource model ([`crate::authorization`]) gives the resources, context and the
//! permissions AWS checks behind it (iam:PassRole for a task definition's roles, ecs:TagResource
//! for tags on create, ec2:DeleteNetworkInterface behind an EFS mount target's deletion). What
//! services do on sigship's behalf (logs, pulls, the two permissions a public function URL
//! needs) is listed with its resource.
//!
//! Values are patterns over `{NAME}` placeholders: the stack's pseudo parameters
//! (`{partition}`, `{region}`, `{account}`, `{stack}`), its parameters (`{ArtifactsBucket}`,
//! `{ArtifactsPrefix}`), and the variables the template gives the functions (`{SIGSHIP_CLUSTER}`,
//! …), so the check follows what each function is configured to act on.

/// Who makes the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A pipeline function (its package name), with its own role.
    Function(&'static str),
    /// The state machine's role (Step Functions invoking the functions).
    StateMachine,
    /// The build project's service role.
    CodeBuild,
    /// The task execution role (ECS pulling the image, writing logs, reading secrets).
    TaskExecution,
    /// The daemon's task role.
    Task,
    /// Anyone, through the tag-push function's public URL (the function's resource policy).
    FunctionUrl,
    /// A person or CI running `sigship run | status | logs | destroy` (the stack's OperatorPolicy).
    Operator,
    /// CloudWatch alarms publishing to the failure topic (the topic key's policy).
    CloudWatchAlarms,
}

pub struct Grant {
    pub principal: Principal,
    /// The adapter method or service behaviour that needs it.
    pub call: &'static str,
    pub actions: &'static [&'static str],
    /// For a service behaviour: the resource it acts on. Empty for an API call, whose resources
    /// and context come from its `request` through the one resource model
    /// ([`crate::authorization`]).
    pub resource: &'static str,
    /// An API call's parameters, by their API names.
    pub request: &'static [(&'static str, &'static str)],
    /// The request context AWS evaluates the policy's conditions with (service behaviours).
    pub context: &'static [(&'static str, &'static str)],
}

/// A service behaviour acting on `resource`.
const fn grant(
    principal: Principal,
    call: &'static str,
    actions: &'static [&'static str],
    resource: &'static str,
) -> Grant {
    Grant { principal, call, actions, resource, request: &[], context: &[] }
}

/// An API call with `request`'s parameters.
const fn call(
    principal: Principal,
    call: &'static str,
    actions: &'static [&'static str],
    request: &'static [(&'static str, &'static str)],
) -> Grant {
    Grant { principal, call, actions, resource: "", request, context: &[] }
}

const REPOSITORY: &str = "arn:{partition}:ecr:{region}:{account}:repository/{SIGSHIP_ECR_REPOSITORY}";
const STATE_MACHINE: &str = "arn:{partition}:states:{region}:{account}:stateMachine:{stack}";
const ACCESS_POINT: &str =
    "arn:{partition}:elasticfilesystem:{region}:{account}:access-point/{SIGSHIP_ACCESS_POINT_ID}";
const FILE_SYSTEM: &str = "arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{SIGSHIP_FILE_SYSTEM_ID}";

const TRUST_ROOT_LISTING: &[(&str, &str)] =
    &[("bucket", "{ArtifactsBucket}"), ("prefix", "{ArtifactsPrefix}trust-root/")];
const TRUST_ROOT_READ: &[(&str, &str)] =
    &[("bucket", "{ArtifactsBucket}"), ("key", "{ArtifactsPrefix}trust-root/policy.toml")];
const THE_SERVICE: &[(&str, &str)] = &[
    ("cluster", "{SIGSHIP_CLUSTER}"),
    ("services", "{SIGSHIP_SERVICE}"),
    ("service", "{SIGSHIP_SERVICE}"),
    ("serviceName", "{SIGSHIP_SERVICE}"),
];
const THE_REPOSITORY: &[(&str, &str)] = &[
    ("repositoryName", "{SIGSHIP_ECR_REPOSITORY}"),
    ("repositoryNames", "{SIGSHIP_ECR_REPOSITORY}"),
    ("resourceArn", REPOSITORY),
];
const THE_STATE_MACHINE: &[(&str, &str)] = &[("stateMachineArn", "{SIGSHIP_STATE_MACHINE_ARN}")];
const DAEMON_LOGS: &[(&str, &str)] = &[("logGroupName", "{SIGSHIP_LOG_GROUP}")];
const NOTHING: &[(&str, &str)] = &[];
const FARGATE_QUOTA: &[(&str, &str)] = &[("ServiceCode", "fargate"), ("QuotaCode", "L-3032A538")];

/// Every function writes its own log group (Lambda ships its output with the function's role)
/// and its traces (tracing is active).
pub use pipeline::FUNCTIONS;
pub const FUNCTION_LOGS: &str =
    "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{stack}-{function}:log-stream:2026/12/01/[$LATEST]0";
pub const FUNCTION_LOG_ACTIONS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];
pub const TRACING_ACTIONS: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

use Principal::*;

/// The calls, by principal; each function's logs and tracing come from [`FUNCTION_LOGS`].
pub const GRANTS: &[Grant] = &[
    // verify, tag-push, tag-watch: aws::load_trust_root
    call(Function("verify"), "load_trust_root (ListObjectsV2)", &["s3:ListBucket"], TRUST_ROOT_LISTING),
    call(Function("verify"), "load_trust_root (GetObject)", &["s3:GetObject"], TRUST_ROOT_READ),
    call(Function("tag-push"), "load_trust_root (ListObjectsV2)", &["s3:ListBucket"], TRUST_ROOT_LISTING),
    call(Function("tag-push"), "load_trust_root (GetObject)", &["s3:GetObject"], TRUST_ROOT_READ),
    call(Function("tag-watch"), "load_trust_root (ListObjectsV2)", &["s3:ListBucket"], TRUST_ROOT_LISTING),
    call(Function("tag-watch"), "load_trust_root (GetObject)", &["s3:GetObject"], TRUST_ROOT_READ),
    // verify, tag-push: release::check_against_ledger (no older release than the newest deployed)
    call(
        Function("verify"),
        "RanParameter::newest_ran (refuse an older release before the build)",
        &["ssm:GetParameter"],
        &[("Name", "{SIGSHIP_RELEASE_RAN_PARAMETER}")],
    ),
    call(
        Function("tag-push"),
        "RanParameter::newest_ran (refuse an older release before starting it)",
        &["ssm:GetParameter"],
        &[("Name", "{SIGSHIP_RELEASE_RAN_PARAMETER}")],
    ),
    // trigger-build: CodeBuild::start / phase, Ecr::digest_of
    call(
        Function("trigger-build"),
        "CodeBuild::start, CodeBuild::phase, CodeBuild::builds_of, CodeBuild::project",
        &[
            "codebuild:StartBuild",
            "codebuild:BatchGetBuilds",
            "codebuild:ListBuildsForProject",
            "codebuild:BatchGetProjects",
        ],
        &[
            ("projectName", "{SIGSHIP_BUILD_PROJECT}"),
            ("ids", "{SIGSHIP_BUILD_PROJECT}:0a1b2c3d"),
            ("names", "{SIGSHIP_BUILD_PROJECT}"),
        ],
    ),
    call(
        Function("trigger-build"),
        "BaseImagesParameter::recorded, BaseImagesParameter::set",
        &["ssm:GetParameter", "ssm:PutParameter"],
        &[("Name", "{SIGSHIP_BASE_IMAGES_PARAMETER}")],
    ),
    call(
        Function("trigger-build"),
        "Ecr::digest_of, Ecr::repository_uri (ImageMissing names it)",
        &["ecr:DescribeImages", "ecr:DescribeRepositories"],
        THE_REPOSITORY,
    ),
    // register-task: Ecr::repository_uri / digest_of, Ecs::latest / register
    call(
        Function("register-task"),
        "Ecr::repository_uri, Ecr::digest_of",
        &["ecr:DescribeRepositories", "ecr:DescribeImages"],
        THE_REPOSITORY,
    ),
    call(
        Function("register-task"),
        "Services::describe (the running revision, whose profile a release keeps)",
        &["ecs:DescribeServices"],
        THE_SERVICE,
    ),
    call(
        Function("register-task"),
        "Ecs::latest, Ecs::register (passing both roles, tagged on create), Revisions::deployed",
        &["ecs:ListTaskDefinitions", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
        &[
            ("family", "{SIGSHIP_TASK_FAMILY}"),
            ("executionRoleArn", "{SIGSHIP_EXECUTION_ROLE_ARN}"),
            ("taskRoleArn", "{SIGSHIP_TASK_ROLE_ARN}"),
            ("tags", ""),
        ],
    ),
    // deploy: Ecs::describe / create / update
    call(
        Function("deploy"),
        "Ecs::describe, Ecs::create, Ecs::update; tags on create need ecs:TagResource",
        &["ecs:DescribeServices", "ecs:CreateService", "ecs:UpdateService"],
        &[
            ("cluster", "{SIGSHIP_CLUSTER}"),
            ("services", "{SIGSHIP_SERVICE}"),
            ("service", "{SIGSHIP_SERVICE}"),
            ("serviceName", "{SIGSHIP_SERVICE}"),
            ("tags", ""),
        ],
    ),
    call(
        Function("deploy"),
        "Revisions::deployed of the running and the new revision (no downgrade)",
        &["ecs:DescribeTaskDefinition"],
        NOTHING,
    ),
    call(
        Function("deploy"),
        "RanParameter::newest_ran, RanParameter::record_ran (the newest release deployed)",
        &["ssm:GetParameter", "ssm:PutParameter"],
        &[("Name", "{SIGSHIP_RELEASE_RAN_PARAMETER}")],
    ),
    // destroy: Ecs::delete / service_is_managed / deregister_managed, Ecr::delete_all_images, Efs::delete_managed
    call(
        Function("destroy"),
        "Ecs::service_is_managed, Ecs::delete",
        &["ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService"],
        THE_SERVICE,
    ),
    call(
        Function("destroy"),
        "Ecs::unstopped_tasks (ListTasks: it names no container instance, so AWS judges it on \"*\")",
        &["ecs:ListTasks"],
        &[("cluster", "{SIGSHIP_CLUSTER}"), ("serviceName", "{SIGSHIP_SERVICE}")],
    ),
    call(
        Function("destroy"),
        "Ecs::unstopped_tasks (DescribeTasks)",
        &["ecs:DescribeTasks"],
        &[("cluster", "{SIGSHIP_CLUSTER}"), ("tasks", "0123456789abcdef0")],
    ),
    call(
        Function("destroy"),
        "Ecs::deregister_managed",
        &["ecs:ListTaskDefinitions", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"],
        &[("familyPrefix", "{SIGSHIP_TASK_FAMILY}")],
    ),
    call(
        Function("destroy"),
        "Ecr::delete_all_images",
        &["ecr:DescribeRepositories", "ecr:ListTagsForResource", "ecr:ListImages", "ecr:BatchDeleteImage"],
        THE_REPOSITORY,
    ),
    call(
        Function("destroy"),
        "Efs::delete_managed",
        &[
            "elasticfilesystem:DescribeFileSystems",
            "elasticfilesystem:DescribeMountTargets",
            "elasticfilesystem:DeleteMountTarget",
            "elasticfilesystem:DeleteFileSystem",
        ],
        &[("FileSystemId", "{SIGSHIP_FILE_SYSTEM_ID}"), ("NetworkInterfaceId", "eni-0123456789abcdef0")],
    ),
    call(
        Function("destroy"),
        "Efs::delete_managed (the stack's access point)",
        &["elasticfilesystem:DeleteAccessPoint"],
        &[("AccessPointId", "{SIGSHIP_ACCESS_POINT_ID}")],
    ),
    // queue: StepFunctions::running
    call(
        Function("queue"),
        "StepFunctions::running",
        &["states:ListExecutions"],
        &[("stateMachineArn", STATE_MACHINE)],
    ),
    // tag-push: StepFunctions::start / running (the triggers' bound), aws::secret_string
    call(
        Function("tag-push"),
        "StepFunctions::start, StepFunctions::running",
        &["states:StartExecution", "states:ListExecutions"],
        THE_STATE_MACHINE,
    ),
    call(
        Function("tag-push"),
        "secret_string (webhook secret)",
        &["secretsmanager:GetSecretValue"],
        &[("SecretId", "{SIGSHIP_WEBHOOK_SECRET_ARN}")],
    ),
    // tag-push, tag-watch: node::RunningNode (no release starts while the node syncs)
    call(Function("tag-push"), "RunningNode::syncing (Services::describe)", &["ecs:DescribeServices"], THE_SERVICE),
    call(Function("tag-push"), "RunningNode::syncing (Revisions::deployed)", &["ecs:DescribeTaskDefinition"], NOTHING),
    call(Function("tag-watch"), "RunningNode::syncing (Services::describe)", &["ecs:DescribeServices"], THE_SERVICE),
    call(Function("tag-watch"), "RunningNode::syncing (Revisions::deployed)", &["ecs:DescribeTaskDefinition"], NOTHING),
    // tag-watch: StepFunctions::start / names; Lambda delivers failed scheduled runs to the topic
    call(
        Function("tag-watch"),
        "StepFunctions::start, StepFunctions::names, StepFunctions::running",
        &["states:StartExecution", "states:ListExecutions"],
        THE_STATE_MACHINE,
    ),
    call(
        Function("tag-watch"),
        "WatchParameters::read (the baseline, the pin, the newest release deployed, the refused tags)",
        &["ssm:GetParameters"],
        &[
            ("Names", "{SIGSHIP_WATCH_AFTER_PARAMETER}"),
            ("Names", "{SIGSHIP_RELEASE_PIN_PARAMETER}"),
            ("Names", "{SIGSHIP_RELEASE_RAN_PARAMETER}"),
            ("Names", "{SIGSHIP_WATCH_REFUSED_PARAMETER}"),
        ],
    ),
    call(
        Function("tag-watch"),
        "WatchParameters::remember (the refused tags)",
        &["ssm:PutParameter"],
        &[("Name", "{SIGSHIP_WATCH_REFUSED_PARAMETER}")],
    ),
    grant(Function("tag-watch"), "on-failure destination of the schedule", &["sns:Publish"], "{failure_topic}"),
    grant(
        Function("tag-watch"),
        "on-failure destination: the topic is encrypted",
        &["kms:GenerateDataKey", "kms:Decrypt"],
        "{failure_topic_key}",
    ),
    Grant {
        context: &[("aws:SourceAccount", "{account}")],
        ..grant(
            CloudWatchAlarms,
            "alarm notification to the encrypted topic",
            &["kms:GenerateDataKey", "kms:Decrypt"],
            "{failure_topic_key}",
        )
    },
    // node-metrics: node::sample over Services::describe, Revisions and Logs; the profile switch
    call(Function("node-metrics"), "Services::describe", &["ecs:DescribeServices"], THE_SERVICE),
    call(Function("node-metrics"), "LogEvents::matching", &["logs:FilterLogEvents"], DAEMON_LOGS),
    call(
        Function("node-metrics"),
        "Revisions::deployed (the running profile)",
        &["ecs:DescribeTaskDefinition"],
        NOTHING,
    ),
    call(
        Function("node-metrics"),
        "StepFunctions::start, Executions::listed (the profile switch and its attempts)",
        &["states:StartExecution", "states:ListExecutions"],
        THE_STATE_MACHINE,
    ),
    call(
        Function("node-metrics"),
        "ServiceQuotas::value (the Fargate vCPU quota a switch must fit)",
        &["servicequotas:GetServiceQuota", "servicequotas:GetAWSDefaultServiceQuota"],
        FARGATE_QUOTA,
    ),
    // Step Functions invokes each pipeline function.
    call(StateMachine, "Queue", &["lambda:InvokeFunction"], &[("FunctionName", "{stack}-queue")]),
    call(StateMachine, "Verify", &["lambda:InvokeFunction"], &[("FunctionName", "{stack}-verify")]),
    call(
        StateMachine,
        "StartBuild, CheckBuild",
        &["lambda:InvokeFunction"],
        &[("FunctionName", "{stack}-trigger-build")],
    ),
    call(StateMachine, "RegisterTask", &["lambda:InvokeFunction"], &[("FunctionName", "{stack}-register-task")]),
    call(StateMachine, "Deploy, CheckDeployment", &["lambda:InvokeFunction"], &[("FunctionName", "{stack}-deploy")]),
    call(StateMachine, "Destroy", &["lambda:InvokeFunction"], &[("FunctionName", "{stack}-destroy")]),
    grant(
        StateMachine,
        "execution logging to CloudWatch Logs (no resource-level permissions)",
        &[
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        ],
        "*",
    ),
    grant(
        StateMachine,
        "active tracing (no resource-level permissions)",
        &["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
        "*",
    ),
    // CodeBuild: AWS's documented minimal service role, plus the push to our repository.
    grant(
        CodeBuild,
        "build logs (CreateLogGroup: in AWS's minimal CodeBuild service role; CodeBuild asks before writing)",
        &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "arn:{partition}:logs:{region}:{account}:log-group:{build_log_group}:log-stream:b-1",
    ),
    grant(
        CodeBuild,
        "sigship's source (secondary source, at its pinned version; the buildspec comes with StartBuild)",
        &["s3:GetObject", "s3:GetObjectVersion"],
        "arn:{partition}:s3:::{ArtifactsBucket}/{ArtifactsPrefix}source.zip",
    ),
    grant(
        CodeBuild,
        "S3 source bucket checks (documented minimal policy)",
        &["s3:GetBucketAcl", "s3:GetBucketLocation"],
        "arn:{partition}:s3:::{ArtifactsBucket}",
    ),
    grant(CodeBuild, "docker login (no resource-level permissions)", &["ecr:GetAuthorizationToken"], "*"),
    grant(
        CodeBuild,
        "docker push",
        &[
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchGetImage",
        ],
        REPOSITORY,
    ),
    // ECS starting the daemon's task.
    grant(TaskExecution, "image pull login (no resource-level permissions)", &["ecr:GetAuthorizationToken"], "*"),
    grant(TaskExecution, "image pull", &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], REPOSITORY),
    grant(
        TaskExecution,
        "awslogs driver",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        "arn:{partition}:logs:{region}:{account}:log-group:{SIGSHIP_LOG_GROUP}:log-stream:btcd/btcd/0",
    ),
    grant(
        TaskExecution,
        "RPC credentials into the container",
        &["secretsmanager:GetSecretValue"],
        "{SIGSHIP_RPC_SECRET_ARN}",
    ),
    Grant {
        context: &[("elasticfilesystem:AccessPointArn", ACCESS_POINT)],
        ..grant(
            Task,
            "chain data through the access point",
            &["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            FILE_SYSTEM,
        )
    },
    // A public function URL (AuthType NONE): InvokeFunctionUrl and, since October 2025, InvokeFunction.
    call(
        FunctionUrl,
        "webhook delivery",
        &["lambda:InvokeFunctionUrl"],
        &[("FunctionName", "{stack}-tag-push"), ("FunctionUrlAuthType", "NONE")],
    ),
    // sigship run | status | logs | destroy (cli/src/operate.rs, cli/src/execution.rs)
    // AWS judges a stack named by name on its ARN (the local cloud looks it up the same way).
    call(
        Operator,
        "locate (DescribeStacks)",
        &["cloudformation:DescribeStacks"],
        &[(
            "StackName",
            "arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/0a1b2c3d-0000-0000-0000-000000000000",
        )],
    ),
    call(
        Operator,
        "run, destroy, status",
        &["states:StartExecution", "states:ListExecutions"],
        &[("stateMachineArn", STATE_MACHINE)],
    ),
    call(
        Operator,
        "follow, status, logs",
        &["states:DescribeExecution", "states:GetExecutionHistory"],
        &[("executionArn", "arn:{partition}:states:{region}:{account}:execution:{stack}:run-v0_24_2-1")],
    ),
    call(
        Operator,
        "run, follow, status (the watch's marks)",
        &["ssm:GetParameters"],
        &[
            ("Names", "{SIGSHIP_WATCH_AFTER_PARAMETER}"),
            ("Names", "{SIGSHIP_RELEASE_PIN_PARAMETER}"),
            ("Names", "{SIGSHIP_RELEASE_RAN_PARAMETER}"),
            ("Names", "{SIGSHIP_WATCH_REFUSED_PARAMETER}"),
        ],
    ),
    call(Operator, "run, follow (the pin)", &["ssm:PutParameter"], &[("Name", "{SIGSHIP_RELEASE_PIN_PARAMETER}")]),
    call(
        Operator,
        "base-images (BaseImagesParameter::recorded, set)",
        &["ssm:GetParameter", "ssm:PutParameter"],
        &[("Name", "{SIGSHIP_BASE_IMAGES_PARAMETER}")],
    ),
    call(Operator, "reproduce (Registry::of_ecr)", &["ecr:GetAuthorizationToken"], NOTHING),
    call(Operator, "reproduce --tag (the release's image)", &["ecr:DescribeImages"], THE_REPOSITORY),
    grant(
        Operator,
        "reproduce (the image's manifest and layers through the registry API)",
        &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        REPOSITORY,
    ),
    call(
        Operator,
        "reproduce, status (ReproducedParameter::write, read)",
        &["ssm:GetParameter", "ssm:PutParameter"],
        &[("Name", "/sigship/{stack}/reproduced")],
    ),
    call(Operator, "status (Services::describe)", &["ecs:DescribeServices"], THE_SERVICE),
    call(Operator, "status (Revisions::deployed)", &["ecs:DescribeTaskDefinition"], NOTHING),
    call(Operator, "status (LogEvents)", &["logs:FilterLogEvents", "logs:DescribeLogStreams"], DAEMON_LOGS),
    call(
        Operator,
        "status, run --profile (ServiceQuotas::value: a profile's size against the Fargate quota)",
        &["servicequotas:GetServiceQuota", "servicequotas:GetAWSDefaultServiceQuota"],
        FARGATE_QUOTA,
    ),
    call(Operator, "logs (log groups)", &["logs:DescribeLogGroups"], NOTHING),
    call(Operator, "logs (events)", &["logs:FilterLogEvents"], &[("logGroupName", "/aws/lambda/{stack}-verify")]),
];
