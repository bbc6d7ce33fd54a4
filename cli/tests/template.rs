//! What moto cannot check about infrastructure/sigship.yaml, checked by reading the template
//! (decoded by cfn-lint's own parser, so short-form tags read as CloudFormation reads them):
//! the resources moto's CloudFormation skips (AWS::CodeBuild::Project, AWS::SecretsManager::Secret)
//! or mangles (Lambda Architectures, ECR ScanOnPush), and least privilege across every role.

use serde_json::{json, Value};

mod common;

fn template() -> Value {
    common::decoded_template(&localcloud::workspace_root().join("infrastructure/sigship.yaml"))
}

fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"].as_object().unwrap().iter().filter(|(_, r)| r["Type"] == kind).collect()
}

#[test]
fn the_build_project_builds_arm64_from_the_daemon_repository_with_pinned_sources_and_no_stored_buildspec() {
    let template = template();
    let project = &template["Resources"]["BuildProject"]["Properties"];
    assert_eq!(project["Environment"]["Type"], "ARM_CONTAINER");
    assert_eq!(project["Environment"]["PrivilegedMode"], true, "docker build needs it");
    assert!(project["Environment"]["Image"].as_str().unwrap().contains("aarch64"));
    assert_eq!(project["Source"]["Location"], json!({"Ref": "RepositoryUrl"}));
    // trigger-build sends the buildspec compiled into it; none is read from the bucket.
    assert!(project["Source"].get("BuildSpec").is_none(), "{}", project["Source"]);
    assert_eq!(
        project["SecondarySources"][0]["SourceIdentifier"], "sigship",
        "the buildspec reads $CODEBUILD_SRC_DIR_sigship"
    );
    assert_eq!(
        project["SecondarySources"][0]["Location"]["Fn::Sub"],
        "${ArtifactsBucket}/${ArtifactsPrefix}source.zip"
    );
    assert_eq!(
        project["SecondarySourceVersions"],
        json!([{"SourceIdentifier": "sigship", "SourceVersion": {"Ref": "BuildSourceVersion"}}]),
        "source.zip is read at the version sigship up uploaded"
    );
    assert_eq!(project["ServiceRole"], json!({"Fn::GetAtt": ["BuildRole", "Arn"]}));
    let env: Vec<&str> = project["Environment"]["EnvironmentVariables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Name"].as_str().unwrap())
        .collect();
    assert_eq!(env, ["IMAGE_REPO_URI", "SOURCE_URL"], "the buildspec's project-level variables");
}

#[test]
fn old_block_files_go_to_infrequent_access_and_backups_are_off_unless_asked_for() {
    let template = template();
    let chain = &template["Resources"]["ChainData"]["Properties"];
    assert_eq!(chain["LifecyclePolicies"], json!([{"TransitionToIA": "AFTER_30_DAYS"}]), "and no transition back");
    assert_eq!(chain["BackupPolicy"]["Status"], json!({"Fn::If": ["ChainDataBackupsOn", "ENABLED", "DISABLED"]}));
    assert_eq!(template["Parameters"]["ChainDataBackups"]["Default"], "off");
    assert_eq!(
        template["Conditions"]["ChainDataBackupsOn"],
        json!({"Fn::Equals": [{"Ref": "ChainDataBackups"}, "on"]})
    );
    // The task's size defaults to the sizing table's (register-task resolves the empty value).
    assert_eq!(
        (&template["Parameters"]["TaskCpu"]["Default"], &template["Parameters"]["TaskMemory"]["Default"]),
        (&json!(""), &json!(""))
    );
}

/// No orphan chain data from a first create that rolls back (Retain would leave one per try), a
/// synced one kept when the stack goes; no Container Insights (node-metrics publishes what the
/// alarms need; Insights would bill custom metrics and leave a log group `down` cannot see).
#[test]
fn the_chain_data_survives_the_stack_but_not_a_failed_first_create_and_insights_stays_off() {
    let template = template();
    let chain = &template["Resources"]["ChainData"];
    assert_eq!(
        (&chain["DeletionPolicy"], &chain["UpdateReplacePolicy"]),
        (&json!("RetainExceptOnCreate"), &json!("Retain"))
    );
    let settings = &template["Resources"]["Cluster"]["Properties"]["ClusterSettings"];
    assert_eq!(settings, &json!([{"Name": "containerInsights", "Value": "disabled"}]));
}

#[test]
fn destroy_may_delete_the_stack_s_access_point_and_no_other() {
    let template = template();
    let granted: Vec<&Value> = statements(&template["Resources"]["DestroyRole"])
        .into_iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("elasticfilesystem:")))
        .collect();
    for statement in &granted {
        assert!(!statement["Resource"].to_string().contains("access-point/*"), "{statement}");
    }
    let delete = granted.iter().find(|s| actions(s) == ["elasticfilesystem:DeleteAccessPoint"]).unwrap();
    assert_eq!(
        delete["Resource"]["Fn::Sub"],
        "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:access-point/${ChainDataAccessPoint}"
    );
    let env = &template["Resources"]["DestroyFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["SIGSHIP_ACCESS_POINT_ID"], json!({"Ref": "ChainDataAccessPoint"}));
}

#[test]
fn the_repository_is_a_github_one_as_the_build_project_s_source_type_or_loopback() {
    let template = template();
    let pattern = template["Parameters"]["RepositoryUrl"]["AllowedPattern"].as_str().unwrap();
    let allowed = regex_lite::Regex::new(pattern).unwrap();
    for url in [
        "https://github.com/btcsuite/btcd.git",
        "https://github.com/my-org/btcd",
        "git://127.0.0.1:9418/btcd.git",
        "http://localhost:8080/btcd.git",
    ] {
        assert!(allowed.is_match(url), "{url}");
    }
    for url in [
        "https://gitlab.com/btcsuite/btcd.git",
        "https://evil.example/btcd.git",
        "http://github.com/a/b",
        "https://github.com/a",
    ] {
        assert!(!allowed.is_match(url), "{url}");
    }
    assert_eq!(template["Resources"]["BuildProject"]["Properties"]["Source"]["Type"], "GITHUB");
    // Two empty subnet ids by default: the untaken branch's `!Select [1, …]` stays valid.
    assert_eq!(template["Parameters"]["ExistingSubnetIds"]["Default"], ",");
}

#[test]
fn only_the_build_role_pushes_to_the_image_repository() {
    let template = template();
    let policy = &template["Resources"]["Images"]["Properties"]["RepositoryPolicyText"];
    let statement = &policy["Statement"][0];
    assert_eq!((&statement["Effect"], &statement["Principal"]), (&json!("Deny"), &json!("*")));
    let mut denied = actions(statement);
    denied.sort();
    assert_eq!(denied, ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]);
    assert_eq!(
        statement["Condition"],
        json!({"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["BuildRole", "Arn"]}}})
    );
    // Every push action any role is granted is one BuildRole holds.
    for (name, role) in resources_of(&template, "AWS::IAM::Role") {
        for statement in statements(role) {
            if actions(statement).iter().any(|a| denied.contains(a)) {
                assert_eq!(name, "BuildRole", "{name} may push images");
            }
        }
    }
}

#[test]
fn each_secret_is_generated_and_read_by_one_role_only() {
    let template = template();
    for (secret, reader) in [("RpcCredentials", "TaskExecutionRole"), ("WebhookSecret", "TagPushRole")] {
        let generated = &template["Resources"][secret]["Properties"]["GenerateSecretString"];
        assert!(generated["PasswordLength"].as_u64().unwrap() >= 32, "{secret}");
        let mut readers = Vec::new();
        for (name, role) in resources_of(&template, "AWS::IAM::Role") {
            for statement in statements(role) {
                if statement["Resource"] == json!({"Ref": secret}) {
                    assert_eq!(actions(statement), ["secretsmanager:GetSecretValue"], "{name}");
                    readers.push(name.as_str());
                }
            }
        }
        assert_eq!(readers, [reader], "{secret}");
    }
    assert_eq!(
        template["Resources"]["RpcCredentials"]["Properties"]["GenerateSecretString"]["GenerateStringKey"],
        "password"
    );
}

#[test]
fn the_webhook_url_is_public_but_only_for_tag_push_and_the_watch_runs_on_its_schedule() {
    let template = template();
    let url = &template["Resources"]["TagPushUrl"]["Properties"];
    assert_eq!(url["AuthType"], "NONE", "GitHub and GitLab cannot sign with SigV4; the function authenticates");
    assert_eq!(url["TargetFunctionArn"], json!({"Fn::GetAtt": ["TagPushFunction", "Arn"]}));
    let rule = &template["Resources"]["WatchScheduleRule"]["Properties"];
    assert_eq!(rule["ScheduleExpression"], json!({"Ref": "WatchSchedule"}));
    assert_eq!(rule["Targets"][0]["Arn"], json!({"Fn::GetAtt": ["TagWatchFunction", "Arn"]}));
    // The state machine invokes the pipeline's functions, never the triggers.
    let invoke = statements(&template["Resources"]["StateMachineRole"])
        .into_iter()
        .find(|s| actions(s) == ["lambda:InvokeFunction"])
        .unwrap()["Resource"]
        .to_string();
    assert!(
        invoke.contains("QueueFunction") && !invoke.contains("TagPush") && !invoke.contains("TagWatch"),
        "{invoke}"
    );
}

#[test]
fn every_function_is_arm64_on_provided_al2023_with_code_from_the_release() {
    let template = template();
    let functions = resources_of(&template, "AWS::Lambda::Function");
    assert!(functions.len() >= 5);
    for (name, function) in functions {
        let properties = &function["Properties"];
        assert_eq!(properties["Architectures"], json!(["arm64"]), "{name}");
        assert_eq!(properties["Runtime"], "provided.al2023", "{name}");
        let key = properties["Code"]["S3Key"]["Fn::Sub"].as_str().unwrap();
        assert!(key.starts_with("${ArtifactsPrefix}functions/") && key.ends_with(".zip"), "{name}: {key}");
    }
}

#[test]
fn images_are_immutable_scanned_and_expire() {
    let template = template();
    let images = &template["Resources"]["Images"]["Properties"];
    assert_eq!(images["ImageTagMutability"], "IMMUTABLE");
    assert_eq!(images["ImageScanningConfiguration"]["ScanOnPush"], true);
    assert!(images["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .contains("imageCountMoreThan"));
}

/// The actions AWS judges on `"*"`, as the permission table and the resource model have them:
/// those AWS documents as accepting nothing else (and ListTasks, naming no container instance).
fn no_resource_level_permissions() -> Vec<String> {
    use iam::authorization::{checks, Params, Place};
    use iam::permissions::{GRANTS, TRACING_ACTIONS};
    let place = Place { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into() };
    let on_everything = |grant: &iam::permissions::Grant| -> Vec<String> {
        if !grant.resource.is_empty() {
            let everything = grant.resource == "*";
            return grant.actions.iter().filter(|_| everything).map(|a| a.to_string()).collect();
        }
        let mut params = Params::new();
        for (name, value) in grant.request {
            params.entry(name.to_string()).or_default().push(value.to_string());
        }
        // Unfilled placeholders leave ARN parameters unresolved: those are not on "*" anyway.
        let judged = grant.actions.iter().flat_map(|a| checks(a, &params, &place).unwrap_or_default());
        judged.filter(|c| c.resource == "*").map(|c| c.action).collect()
    };
    GRANTS.iter().flat_map(on_everything).chain(TRACING_ACTIONS.iter().map(|a| a.to_string())).collect()
}

#[test]
fn no_wildcard_actions_and_wildcard_resources_only_where_aws_requires_them() {
    let template = template();
    for (name, role) in resources_of(&template, "AWS::IAM::Role") {
        for statement in statements(role) {
            for action in actions(statement) {
                assert!(!action.contains('*'), "{name}: wildcard action {action}");
            }
            if statement["Resource"] == "*" {
                for action in actions(statement) {
                    assert!(
                        no_resource_level_permissions().iter().any(|a| *a == action),
                        "{name}: {action} on \"*\", but it supports resource-level permissions"
                    );
                }
            }
        }
    }
}

fn statements(role: &Value) -> Vec<&Value> {
    role["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect()
}

fn actions(statement: &Value) -> Vec<&str> {
    match &statement["Action"] {
        Value::String(action) => vec![action.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn asl() -> Value {
    let path = localcloud::workspace_root().join("statemachine/sigship.asl.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What one Task state may take at most: every attempt its Retry allows, each running into the
/// function's timeout, plus the retry intervals.
fn task_worst_case_seconds(task: &Value, function_timeout: u64) -> u64 {
    let mut attempts = 1;
    let mut waits = 0;
    for retry in task["Retry"].as_array().unwrap() {
        let max = retry["MaxAttempts"].as_u64().unwrap_or(3);
        let (mut interval, backoff) =
            (retry["IntervalSeconds"].as_u64().unwrap_or(1) as f64, retry["BackoffRate"].as_f64().unwrap_or(2.0));
        for _ in 0..max {
            waits += interval as u64;
            interval *= backoff;
        }
        attempts += max;
    }
    attempts * function_timeout + waits
}

/// Issue: only the functions' poll counters stopped the loops. The execution's own bound covers
/// the worst case with the slowest polls the template allows, and not by much more.
#[test]
fn the_state_machine_times_out_after_its_worst_case_and_not_much_later() {
    let (template, asl) = (template(), asl());
    let parameter_max = |name: &str| {
        template["Parameters"][name]["MaxValue"].as_u64().unwrap_or_else(|| panic!("{name} has no MaxValue"))
    };
    let variable = |function: &str, name: &str| {
        template["Resources"][function]["Properties"]["Environment"]["Variables"][name]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let timeout = |function: &str| template["Resources"][function]["Properties"]["Timeout"].as_u64().unwrap();
    let states = &asl["States"];
    let task = |state: &str, function: &str| task_worst_case_seconds(&states[state], timeout(function));

    // Each loop at the slowest polls allowed; each single step with every retry it may take,
    // each attempt running into the function's timeout; the rollout for as long as the circuit
    // breaker may take.
    let queue = variable("QueueFunction", "SIGSHIP_QUEUE_MAX_POLLS") * parameter_max("QueuePollSeconds");
    let build = variable("TriggerBuildFunction", "SIGSHIP_BUILD_MAX_POLLS") * parameter_max("BuildPollSeconds");
    let rollout = u64::from(pipeline::deployment::rollout_bound_seconds(1)) + parameter_max("DeployPollSeconds");
    let steps = task("Verify", "VerifyFunction")
        + task("StartBuild", "TriggerBuildFunction")
        + task("RegisterTask", "RegisterTaskFunction")
        + task("Deploy", "DeployFunction");
    let worst = queue + build + rollout + steps;
    let limit = asl["TimeoutSeconds"].as_u64().expect("a top-level TimeoutSeconds");
    assert!(limit >= worst, "TimeoutSeconds {limit} < the worst case {worst} s");
    assert!(limit <= worst + 3600, "TimeoutSeconds {limit} is more than an hour past the worst case {worst} s");
    assert!(limit <= 6 * 3600, "more than 6 h");
}

#[test]
fn the_triggers_outlast_their_slowest_remote() {
    // The watch verifies each tag it may start: one listing, up to MAX_UNVERIFIED_PER_RUN tags
    // that fail, then the newest signed one. The webhook: the tag's id, then its verification,
    // within GitHub's 10 s for an answer. Each fetch may run into the fetch timeout.
    let template = template();
    let watch_fetches = 1 + pipeline::trigger::watch::MAX_UNVERIFIED_PER_RUN as u64 + 1;
    for (function, fetches) in [("TagWatchFunction", watch_fetches), ("TagPushFunction", 2)] {
        let function = &template["Resources"][function]["Properties"];
        let fetch: u64 =
            function["Environment"]["Variables"]["SIGSHIP_FETCH_TIMEOUT_SECONDS"].as_str().unwrap().parse().unwrap();
        let timeout = function["Timeout"].as_u64().unwrap();
        assert!(timeout >= fetches * fetch, "Timeout {timeout} s < {fetches} fetches of {fetch} s");
    }
}

#[test]
fn every_task_retries_aws_recommended_lambda_errors_and_idempotent_ones_a_function_timeout() {
    let asl = asl();
    for (name, state) in asl["States"].as_object().unwrap().iter().filter(|(_, s)| s["Type"] == "Task") {
        let retried: Vec<&str> = state["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        for error in [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "Lambda.ClientExecutionTimeoutException",
            "Throttled",
            "AwsUnavailable",
        ] {
            assert!(retried.contains(&error), "{name} does not retry {error}");
        }
        // StartBuild is the one step whose repeat is not harmless: a start that timed out after
        // CodeBuild accepted it would start a second build of the same immutable tag.
        assert_eq!(retried.contains(&"Sandbox.Timedout"), name != "StartBuild", "{name}");
        assert_eq!(
            retried.contains(&"Runtime.ExitError"),
            name != "StartBuild",
            "{name}: a crash is retried as a timeout is"
        );
        assert!(!retried.contains(&"States.ALL") && !retried.contains(&"AccessDenied"), "{name} retries a verdict");
    }
}

#[test]
fn the_network_parameter_and_its_ports_are_the_library_s() {
    use pipeline::network::Network;
    let template = template();
    let allowed: Vec<&str> = template["Parameters"]["Network"]["AllowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        allowed,
        Network::ALL.iter().map(|n| n.name()).collect::<Vec<_>>(),
        "every network the library knows, and only those"
    );
    for network in Network::ALL {
        let name = network.name();
        assert_eq!(template["Mappings"]["Networks"][name]["P2P"], network.p2p_port(), "{name}: p2p port");
    }
    let ingress = &template["Resources"]["DaemonSecurityGroup"]["Properties"]["SecurityGroupIngress"]["Fn::If"][1][0];
    assert_eq!(ingress["FromPort"], json!({"Fn::FindInMap": ["Networks", {"Ref": "Network"}, "P2P"]}));
    assert_eq!(ingress["ToPort"], ingress["FromPort"]);
}

#[test]
fn every_alarm_reaches_the_failure_topic_and_the_node_alarms_read_what_node_metrics_publishes() {
    use pipeline::node::{NodeSample, SyncReading, CLUSTER_DIMENSION, NAMESPACE, SERVICE_DIMENSION};
    let template = template();
    let sample = NodeSample {
        cluster: "c".into(),
        service: "s".into(),
        desired_tasks: 1,
        running_tasks: 1,
        sync: Some(SyncReading { height: 1, block_time: 1, sync_lag_seconds: 1, progress_age_seconds: 1 }),
        seconds_without_blocks: Some(1),
        task_definition: "btcd:1".into(),
        profile: pipeline::sizing::Profile::Steady,
        profile_switch: None,
    };
    let published: Vec<&str> = sample.metrics().into_iter().map(|(name, _, _)| name).collect();
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    assert_eq!(
        alarms.len(),
        7,
        "failed executions, unverified release tags, node stalled, node not syncing, tasks missing, profile switch \
         blocked, node-metrics failing"
    );
    let unverified = &template["Resources"]["UnverifiedReleaseTags"]["Properties"];
    assert_eq!(unverified["MetricName"], pipeline::trigger::watch::UNVERIFIED_METRIC);
    assert_eq!(unverified["Dimensions"][0]["Name"], pipeline::trigger::watch::REPOSITORY_DIMENSION);
    for (name, alarm) in alarms {
        let properties = &alarm["Properties"];
        assert_eq!(properties["AlarmActions"], json!([{"Ref": "FailureTopic"}]), "{name}");
        for query in properties["Metrics"].as_array().into_iter().flatten().filter(|q| q["MetricStat"].is_object()) {
            let metric = &query["MetricStat"]["Metric"];
            assert_eq!(metric["Namespace"], NAMESPACE, "{name}");
            let metric_name = metric["MetricName"].as_str().unwrap();
            assert!(
                published.contains(&metric_name),
                "{name} reads {metric_name}, which node-metrics does not publish"
            );
            let dimensions: Vec<&str> =
                metric["Dimensions"].as_array().unwrap().iter().map(|d| d["Name"].as_str().unwrap()).collect();
            assert_eq!(dimensions, [CLUSTER_DIMENSION, SERVICE_DIMENSION], "{name}");
        }
    }
    let stalled = &template["Resources"]["NodeStalled"]["Properties"];
    assert_eq!(
        stalled["Metrics"][2]["Expression"]["Fn::Sub"],
        "IF(flat >= (${StallMinutes} * 60) AND lag >= (${StallLagMinutes} * 60), 1, 0)"
    );
    let not_syncing = &template["Resources"]["NodeNotSyncing"]["Properties"];
    assert_eq!(not_syncing["Metrics"][1]["Expression"]["Fn::Sub"], "IF(waiting >= (${NotSyncingMinutes} * 60), 1, 0)");
    // Both windows must fit in the six hours node-metrics looks back for a progress or start line.
    for parameter in ["StallMinutes", "NotSyncingMinutes"] {
        let longest = template["Parameters"][parameter]["MaxValue"].as_i64().unwrap();
        assert!(longest * 60 * 1000 < pipeline::node::LOOKBACK_MS, "{parameter}: {longest} min");
    }
    // The schedule invokes node-metrics every minute: the alarms' periods.
    let schedule = &template["Resources"]["NodeMetricsSchedule"]["Properties"];
    assert_eq!(schedule["ScheduleExpression"], "rate(1 minute)");
    assert_eq!(schedule["Targets"][0]["Arn"], json!({"Fn::GetAtt": ["NodeMetricsFunction", "Arn"]}));
}

/// Only this stack's project builds as BuildRole (CodeBuild's confused-deputy prevention), and
/// trigger-build knows its own role, whose builds alone count.
#[test]
fn the_build_role_serves_only_this_stack_s_project_and_trigger_build_knows_its_own_role() {
    let template = template();
    let trust = &template["Resources"]["BuildRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"], json!({"Service": "codebuild.amazonaws.com"}));
    let equals = &trust["Condition"]["StringEquals"];
    assert_eq!(equals["aws:SourceAccount"], json!({"Ref": "AWS::AccountId"}));
    assert_eq!(
        equals["aws:SourceArn"]["Fn::Sub"],
        "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/${AWS::StackName}-btcd"
    );
    assert_eq!(template["Resources"]["BuildProject"]["Properties"]["Name"]["Fn::Sub"], "${AWS::StackName}-btcd");
    let env = &template["Resources"]["TriggerBuildFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["SIGSHIP_BUILD_INITIATOR_ROLE"], json!({"Ref": "TriggerBuildRole"}));
}

/// Each stack registers and destroys its own family; register-task knows its role, whose
/// revisions alone are reused.
#[test]
fn each_stack_has_its_own_task_definition_family() {
    let template = template();
    for function in ["RegisterTaskFunction", "DestroyFunction"] {
        let env = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(env["SIGSHIP_TASK_FAMILY"], json!({"Fn::Sub": "${AWS::StackName}-btcd"}), "{function}");
    }
    let env = &template["Resources"]["RegisterTaskFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["SIGSHIP_TASK_REGISTRAR_ROLE"], json!({"Ref": "RegisterTaskRole"}));
}

/// EFS's default policy lets any client that reaches a mount target mount the root; the chain
/// data's asks for IAM, TLS and an access point, and gives no one root access.
#[test]
fn the_chain_data_is_mounted_only_with_iam_tls_and_an_access_point() {
    let template = template();
    let policy = &template["Resources"]["ChainData"]["Properties"]["FileSystemPolicy"]["Statement"];
    let by_sid = |sid: &str| policy.as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned().unwrap();
    let allow = by_sid("ThisAccountAsItsPoliciesAllow");
    assert_eq!(allow["Principal"]["AWS"]["Fn::Sub"], "arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
    assert_eq!(allow["Action"], json!(["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]));
    assert_eq!(by_sid("TlsOnly")["Condition"], json!({"Bool": {"aws:SecureTransport": "false"}}));
    assert_eq!(by_sid("TlsOnly")["Effect"], "Deny");
    assert_eq!(
        by_sid("OnlyThroughAnAccessPoint")["Condition"],
        json!({"Null": {"elasticfilesystem:AccessPointArn": "true"}})
    );
    assert_eq!(by_sid("NoRootAccess")["Action"], "elasticfilesystem:ClientRootAccess");
    // The node's role mounts only through the stack's access point.
    let task = &template["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert!(task["Condition"]["StringEquals"]["elasticfilesystem:AccessPointArn"]["Fn::Sub"]
        .as_str()
        .is_some_and(|a| a.ends_with("access-point/${ChainDataAccessPoint}")));
    assert!(!policy
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["Effect"] == "Allow" && s["Action"].to_string().contains("ClientRootAccess")));
}
