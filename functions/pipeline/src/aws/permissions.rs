//! What IAM must allow for every AWS call sigship makes, and on which resource: the contract the
//! template's roles are checked against (cli/tests/permissions.rs). Besides the action each call
//! names, it lists what AWS checks behind a call (from the services' documentation), which no
//! local cloud sees: iam:PassRole for a task definition's roles, ecs:TagResource for tags on
//! create, ec2:DeleteNetworkInterface behind an EFS mount target's deletion, and the two
//! permissions a public function URL needs.
//!
//! Resources are ARN patterns over `{NAME}` placeholders: the stack's pseudo parameters
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
    pub resource: &'static str,
    /// The request context AWS evaluates the policy's conditions with.
    pub context: &'static [(&'static str, &'static str)],
}

const fn grant(
    principal: Principal,
    call: &'static str,
    actions: &'static [&'static str],
    resource: &'static str,
) -> Grant {
    Grant { principal, call, actions, resource, context: &[] }
}

const REPOSITORY: &str = "arn:{partition}:ecr:{region}:{account}:repository/{SIGSHIP_ECR_REPOSITORY}";
const SERVICE: &str = "arn:{partition}:ecs:{region}:{account}:service/{SIGSHIP_CLUSTER}/{SIGSHIP_SERVICE}";
const STATE_MACHINE: &str = "arn:{partition}:states:{region}:{account}:stateMachine:{stack}";
const FILE_SYSTEM: &str = "arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{SIGSHIP_FILE_SYSTEM_ID}";
const ACCESS_POINT: &str =
    "arn:{partition}:elasticfilesystem:{region}:{account}:access-point/{SIGSHIP_ACCESS_POINT_ID}";
const DAEMON_LOGS: &str = "arn:{partition}:logs:{region}:{account}:log-group:{SIGSHIP_LOG_GROUP}:*";
const TRUST_ROOT_BUCKET: &str = "arn:{partition}:s3:::{ArtifactsBucket}";
const TRUST_ROOT_OBJECT: &str = "arn:{partition}:s3:::{ArtifactsBucket}/{ArtifactsPrefix}trust-root/policy.toml";
const TRUST_ROOT_LISTING: &[(&str, &str)] = &[("s3:prefix", "{ArtifactsPrefix}trust-root/")];

/// Every function writes its own log group (Lambda ships its output with the function's role)
/// and its traces (tracing is active).
pub use crate::FUNCTIONS;
pub const FUNCTION_LOGS: &str =
    "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{stack}-{function}:log-stream:2026/12/01/[$LATEST]0";
pub const FUNCTION_LOG_ACTIONS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];
pub const TRACING_ACTIONS: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

use Principal::*;

/// The calls, by principal; each function's logs and tracing come from [`FUNCTION_LOGS`].
pub const GRANTS: &[Grant] = &[
    // verify, tag-push, tag-watch: aws::load_trust_root
    Grant {
        context: TRUST_ROOT_LISTING,
        ..grant(Function("verify"), "load_trust_root (ListObjectsV2)", &["s3:ListBucket"], TRUST_ROOT_BUCKET)
    },
    grant(Function("verify"), "load_trust_root (GetObject)", &["s3:GetObject"], TRUST_ROOT_OBJECT),
    Grant {
        context: TRUST_ROOT_LISTING,
        ..grant(Function("tag-push"), "load_trust_root (ListObjectsV2)", &["s3:ListBucket"], TRUST_ROOT_BUCKET)
    },
    grant(Function("tag-push"), "load_trust_root (GetObject)", &["s3:GetObject"], TRUST_ROOT_OBJECT),
    Grant {
        context: TRUST_ROOT_LISTING,
        ..grant(Function("tag-watch"), "load_trust_root (ListObjectsV2)", &["s3:ListBucket"], TRUST_ROOT_BUCKET)
    },
    grant(Function("tag-watch"), "load_trust_root (GetObject)", &["s3:GetObject"], TRUST_ROOT_OBJECT),
    // trigger-build: CodeBuild::start / phase, Ecr::digest_of
    grant(
        Function("trigger-build"),
        "CodeBuild::start, CodeBuild::phase, CodeBuild::running",
        &["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject"],
        "arn:{partition}:codebuild:{region}:{account}:project/{SIGSHIP_BUILD_PROJECT}",
    ),
    grant(
        Function("trigger-build"),
        "Ecr::digest_of, Ecr::repository_uri (ImageMissing names it)",
        &["ecr:DescribeImages", "ecr:DescribeRepositories"],
        REPOSITORY,
    ),
    // register-task: Ecr::repository_uri / digest_of, Ecs::latest / register
    grant(
        Function("register-task"),
        "Ecr::repository_uri, Ecr::digest_of",
        &["ecr:DescribeRepositories", "ecr:DescribeImages"],
        REPOSITORY,
    ),
    grant(
        Function("register-task"),
        "Services::describe (the running revision, whose profile a release keeps)",
        &["ecs:DescribeServices"],
        SERVICE,
    ),
    grant(
        Function("register-task"),
        "Ecs::latest, Ecs::register, Revisions::deployed (no resource-level permissions)",
        &["ecs:ListTaskDefinitions", "ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
        "*",
    ),
    grant(
        Function("register-task"),
        "Ecs::register: tags on create need ecs:TagResource",
        &["ecs:TagResource"],
        "arn:{partition}:ecs:{region}:{account}:task-definition/{SIGSHIP_TASK_FAMILY}:7",
    ),
    Grant {
        context: &[("iam:PassedToService", "ecs-tasks.amazonaws.com")],
        ..grant(
            Function("register-task"),
            "Ecs::register passes the execution role",
            &["iam:PassRole"],
            "{SIGSHIP_EXECUTION_ROLE_ARN}",
        )
    },
    Grant {
        context: &[("iam:PassedToService", "ecs-tasks.amazonaws.com")],
        ..grant(
            Function("register-task"),
            "Ecs::register passes the task role",
            &["iam:PassRole"],
            "{SIGSHIP_TASK_ROLE_ARN}",
        )
    },
    // deploy: Ecs::describe / create / update
    grant(
        Function("deploy"),
        "Ecs::describe, Ecs::create, Ecs::update; tags on create need ecs:TagResource",
        &["ecs:DescribeServices", "ecs:CreateService", "ecs:UpdateService", "ecs:TagResource"],
        SERVICE,
    ),
    grant(
        Function("deploy"),
        "Revisions::deployed of the running and the new revision (no downgrade; no resource-level permissions)",
        &["ecs:DescribeTaskDefinition"],
        "*",
    ),
    // destroy: Ecs::delete / service_is_managed / deregister_managed, Ecr::delete_all_images, Efs::delete_managed
    grant(
        Function("destroy"),
        "Ecs::service_is_managed, Ecs::delete",
        &["ecs:DescribeServices", "ecs:UpdateService", "ecs:DeleteService"],
        SERVICE,
    ),
    Grant {
        context: &[("ecs:cluster", "arn:{partition}:ecs:{region}:{account}:cluster/{SIGSHIP_CLUSTER}")],
        ..grant(
            Function("destroy"),
            "Ecs::unstopped_tasks (ListTasks: it names no container instance, so AWS judges it on \"*\")",
            &["ecs:ListTasks"],
            "*",
        )
    },
    grant(
        Function("destroy"),
        "Ecs::unstopped_tasks (DescribeTasks)",
        &["ecs:DescribeTasks"],
        "arn:{partition}:ecs:{region}:{account}:task/{SIGSHIP_CLUSTER}/0123",
    ),
    grant(
        Function("destroy"),
        "Ecs::deregister_managed (no resource-level permissions)",
        &["ecs:ListTaskDefinitions", "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"],
        "*",
    ),
    grant(
        Function("destroy"),
        "Ecr::delete_all_images",
        &["ecr:DescribeRepositories", "ecr:ListTagsForResource", "ecr:ListImages", "ecr:BatchDeleteImage"],
        REPOSITORY,
    ),
    grant(
        Function("destroy"),
        "Efs::delete_managed",
        &[
            "elasticfilesystem:DescribeFileSystems",
            "elasticfilesystem:DescribeMountTargets",
            "elasticfilesystem:DeleteMountTarget",
            "elasticfilesystem:DeleteFileSystem",
        ],
        FILE_SYSTEM,
    ),
    grant(
        Function("destroy"),
        "Efs::delete_managed (the stack's access point)",
        &["elasticfilesystem:DeleteAccessPoint"],
        ACCESS_POINT,
    ),
    grant(
        Function("destroy"),
        "Efs::delete_managed: EFS deletes the mount target's network interface as the caller",
        &["ec2:DeleteNetworkInterface"],
        "arn:{partition}:ec2:{region}:{account}:network-interface/eni-0123456789abcdef0",
    ),
    // queue: StepFunctions::running
    grant(Function("queue"), "StepFunctions::running", &["states:ListExecutions"], STATE_MACHINE),
    // tag-push: StepFunctions::start / running (the triggers' bound), aws::secret_string
    grant(
        Function("tag-push"),
        "StepFunctions::start, StepFunctions::running",
        &["states:StartExecution", "states:ListExecutions"],
        "{SIGSHIP_STATE_MACHINE_ARN}",
    ),
    grant(
        Function("tag-push"),
        "secret_string (webhook secret)",
        &["secretsmanager:GetSecretValue"],
        "{SIGSHIP_WEBHOOK_SECRET_ARN}",
    ),
    // tag-watch: StepFunctions::start / names; Lambda delivers failed scheduled runs to the topic
    grant(
        Function("tag-watch"),
        "StepFunctions::start, StepFunctions::names, StepFunctions::running",
        &["states:StartExecution", "states:ListExecutions"],
        "{SIGSHIP_STATE_MACHINE_ARN}",
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
    grant(Function("node-metrics"), "Services::describe", &["ecs:DescribeServices"], SERVICE),
    grant(Function("node-metrics"), "LogEvents::matching", &["logs:FilterLogEvents"], DAEMON_LOGS),
    grant(
        Function("node-metrics"),
        "Revisions::deployed (the running profile; no resource-level permissions)",
        &["ecs:DescribeTaskDefinition"],
        "*",
    ),
    grant(
        Function("node-metrics"),
        "StepFunctions::start (the profile switch)",
        &["states:StartExecution"],
        "{SIGSHIP_STATE_MACHINE_ARN}",
    ),
    // Step Functions invokes each pipeline function.
    grant(
        StateMachine,
        "Queue",
        &["lambda:InvokeFunction"],
        "arn:{partition}:lambda:{region}:{account}:function:{stack}-queue",
    ),
    grant(
        StateMachine,
        "Verify",
        &["lambda:InvokeFunction"],
        "arn:{partition}:lambda:{region}:{account}:function:{stack}-verify",
    ),
    grant(
        StateMachine,
        "StartBuild, CheckBuild",
        &["lambda:InvokeFunction"],
        "arn:{partition}:lambda:{region}:{account}:function:{stack}-trigger-build",
    ),
    grant(
        StateMachine,
        "RegisterTask",
        &["lambda:InvokeFunction"],
        "arn:{partition}:lambda:{region}:{account}:function:{stack}-register-task",
    ),
    grant(
        StateMachine,
        "Deploy, CheckDeployment",
        &["lambda:InvokeFunction"],
        "arn:{partition}:lambda:{region}:{account}:function:{stack}-deploy",
    ),
    grant(
        StateMachine,
        "Destroy",
        &["lambda:InvokeFunction"],
        "arn:{partition}:lambda:{region}:{account}:function:{stack}-destroy",
    ),
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
    // A public function URL (AuthType NONE) needs both, since October 2025.
    Grant {
        context: &[("lambda:FunctionUrlAuthType", "NONE")],
        ..grant(
            FunctionUrl,
            "webhook delivery",
            &["lambda:InvokeFunctionUrl"],
            "arn:{partition}:lambda:{region}:{account}:function:{stack}-tag-push",
        )
    },
    Grant {
        context: &[("lambda:InvokedViaFunctionUrl", "true")],
        ..grant(
            FunctionUrl,
            "webhook delivery",
            &["lambda:InvokeFunction"],
            "arn:{partition}:lambda:{region}:{account}:function:{stack}-tag-push",
        )
    },
    // sigship run | status | logs | destroy (cli/src/operate.rs, cli/src/execution.rs)
    grant(
        Operator,
        "locate (DescribeStacks)",
        &["cloudformation:DescribeStacks"],
        "arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/0a1b2c3d-0000-0000-0000-000000000000",
    ),
    grant(Operator, "run, destroy, status", &["states:StartExecution", "states:ListExecutions"], STATE_MACHINE),
    grant(
        Operator,
        "follow, status, logs",
        &["states:DescribeExecution", "states:GetExecutionHistory"],
        "arn:{partition}:states:{region}:{account}:execution:{stack}:run-v0.24.2-1",
    ),
    grant(Operator, "status (Services::describe)", &["ecs:DescribeServices"], SERVICE),
    grant(
        Operator,
        "status (Revisions::deployed; no resource-level permissions)",
        &["ecs:DescribeTaskDefinition"],
        "*",
    ),
    grant(Operator, "status (LogEvents)", &["logs:FilterLogEvents", "logs:DescribeLogStreams"], DAEMON_LOGS),
    grant(
        Operator,
        "logs (log groups)",
        &["logs:DescribeLogGroups"],
        "arn:{partition}:logs:{region}:{account}:log-group::log-stream:",
    ),
    grant(
        Operator,
        "logs (events)",
        &["logs:FilterLogEvents"],
        "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{stack}-verify:*",
    ),
];
