//! Request-level tests of the adapters: each sends its real SDK requests to a client that
//! answers from canned AWS responses (testkit::replay), and the test reads what was sent.

use testkit::replay::{bodies, sdk, targets};

use crate::execution::{Executions, Started};
use crate::node::LogEvents;
use crate::running::{DeploymentRole, RolloutState, ServiceStatus, Services};

#[tokio::test]
async fn log_events_are_filtered_by_the_term_and_read_across_pages() {
    let (config, client) = sdk(&[
        (200, r#"{"events":[{"timestamp":1000,"message":"Processed 1 block"}],"nextToken":"page-2"}"#),
        (200, r#"{"events":[{"timestamp":2000,"message":"Processed 2 blocks"}]}"#),
    ]);
    let events = super::Logs::new(&config).matching("/sigship/btcd", "\"Processed\"", 500, 2500).await.unwrap();
    assert_eq!(events.iter().map(|e| e.timestamp_ms).collect::<Vec<_>>(), [1000, 2000]);
    let bodies = bodies(&client);
    assert_eq!(targets(&client), ["Logs_20140328.FilterLogEvents", "Logs_20140328.FilterLogEvents"]);
    assert_eq!(bodies[0]["logGroupName"], "/sigship/btcd");
    assert_eq!(bodies[0]["filterPattern"], "\"Processed\"");
    assert_eq!((bodies[0]["startTime"].as_i64(), bodies[0]["endTime"].as_i64()), (Some(500), Some(2500)));
    assert_eq!(bodies[1]["nextToken"], "page-2");
}

#[tokio::test]
async fn a_service_s_rollout_is_read_into_the_domain_s_terms() {
    let (config, client) = sdk(&[(
        200,
        r#"{"services":[{"status":"ACTIVE","taskDefinition":"arn:td/btcd:4","desiredCount":1,"runningCount":0,
            "deployments":[{"status":"PRIMARY","taskDefinition":"arn:td/btcd:4","rolloutState":"FAILED",
                            "rolloutStateReason":"tasks failed to start"},
                           {"status":"ACTIVE","taskDefinition":"arn:td/btcd:3","rolloutState":"COMPLETED"}]}],
          "failures":[]}"#,
    )]);
    let view = super::Ecs::new(&config).describe("sigship", "btcd").await.unwrap().unwrap();
    assert_eq!(targets(&client), ["AmazonEC2ContainerServiceV20141113.DescribeServices"]);
    assert_eq!(bodies(&client)[0], serde_json::json!({"cluster": "sigship", "services": ["btcd"]}));
    assert_eq!((view.status, view.desired_count, view.running_count), (ServiceStatus::Active, 1, 0));
    assert_eq!(view.deployments[0].role, DeploymentRole::Primary);
    assert_eq!(view.deployments[0].rollout_state, Some(RolloutState::Failed));
    assert_eq!(view.deployments[0].rollout_reason.as_deref(), Some("tasks failed to start"));
    assert_eq!(
        (view.deployments[1].role, view.deployments[1].rollout_state),
        (DeploymentRole::Active, Some(RolloutState::Completed))
    );
}

#[tokio::test]
async fn aws_errors_get_the_names_retry_and_catch_match() {
    let throttled = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
    let denied = r#"{"__type":"AccessDeniedException","message":"not authorized to perform: ecs:DescribeServices"}"#;
    let unknown = r#"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#;
    for (status, body, name) in [
        (400, throttled, "Throttled"),
        (400, denied, "AccessDenied"),
        (400, unknown, "AwsServiceError"),
        (500, r#"{"__type":"ServerException","message":"boom"}"#, "AwsUnavailable"),
    ] {
        // The SDK retries throttling and 5xx itself (three attempts) before the adapter sees it.
        let (config, _) = sdk(&[(status, body), (status, body), (status, body)]);
        let err = super::Ecs::new(&config).describe("sigship", "btcd").await.unwrap_err();
        assert_eq!(err.name(), name, "{status} {body}: {err}");
    }
}

#[tokio::test]
async fn an_execution_name_already_taken_is_not_an_error() {
    let (config, client) =
        sdk(&[(400, r#"{"__type":"ExecutionAlreadyExists","message":"Execution Already Exists: 'arn:...:tag-v1'"}"#)]);
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:sigship".to_string();
    let sfn = super::StepFunctions::new(&config, machine.clone());
    let started = sfn.start("tag-v1", &serde_json::json!({"tag": "v1"})).await.unwrap();
    assert_eq!(started, Started::AlreadyExists);
    let body = &bodies(&client)[0];
    assert_eq!((body["stateMachineArn"].as_str(), body["name"].as_str()), (Some(machine.as_str()), Some("tag-v1")));
    assert_eq!(body["input"], r#"{"tag":"v1"}"#);
}

#[tokio::test]
async fn the_builds_of_a_source_version_are_found_across_pages_with_what_started_them() {
    use crate::build::{BuildService, RecordedStatus};
    let wanted = "refs/tags/v0.24.2^{1e74b9948d17}";
    let (config, client) = sdk(&[
        (200, r#"{"ids":["btcd:a","btcd:b"],"nextToken":"page-2"}"#),
        (
            200,
            r#"{"builds":[{"id":"btcd:b","buildStatus":"FAILED","sourceVersion":"refs/tags/v0.24.2^{1e74b9948d17}"},
                          {"id":"btcd:a","buildStatus":"IN_PROGRESS","sourceVersion":"refs/tags/v0.24.1^{0}"}]}"#,
        ),
        (200, r#"{"ids":["btcd:c"]}"#),
        (
            200,
            r#"{"builds":[{"id":"btcd:c","buildStatus":"SUCCEEDED","sourceVersion":"refs/tags/v0.24.2^{1e74b9948d17}",
                "initiator":"sigship-TriggerBuildRole-X/sigship-trigger-build",
                "source":{"type":"GITHUB","location":"https://github.com/btcsuite/btcd.git","buildspec":"version: 0.2"},
                "secondarySources":[{"type":"S3","location":"bucket/source.zip","sourceIdentifier":"sigship"}],
                "secondarySourceVersions":[{"sourceIdentifier":"sigship","sourceVersion":"v1"}],
                "environment":{"type":"ARM_CONTAINER","image":"aws/codebuild/x:3.0","computeType":"BUILD_GENERAL1_LARGE",
                  "privilegedMode":true,"environmentVariables":[{"name":"SIGSHIP_COMMIT","value":"1e74","type":"PLAINTEXT"}]},
                "serviceRole":"arn:aws:iam::1:role/build","debugSession":{"sessionEnabled":false},
                "exportedEnvironmentVariables":[{"name":"SIGSHIP_IMAGE_DIGEST","value":"sha256:cc"}]}]}"#,
        ),
    ]);
    let builds = super::CodeBuild::new(&config).builds_of("btcd", wanted).await.unwrap();
    let found: Vec<(&str, RecordedStatus)> = builds.iter().map(|b| (b.id.as_str(), b.status)).collect();
    assert_eq!(found, [("btcd:b", RecordedStatus::Ended), ("btcd:c", RecordedStatus::Succeeded)], "listing order");
    let c = &builds[1];
    assert_eq!(c.initiator, "sigship-TriggerBuildRole-X/sigship-trigger-build");
    assert_eq!(c.settings.buildspec.as_deref(), Some("version: 0.2"));
    assert_eq!((c.settings.image.as_str(), c.settings.privileged_mode), ("aws/codebuild/x:3.0", true));
    assert_eq!(c.settings.secondary_sources, ["sigship S3 bucket/source.zip"]);
    assert_eq!(c.settings.secondary_source_versions, ["sigship@v1"]);
    assert_eq!(c.settings.variables["SIGSHIP_COMMIT"], ("1e74".to_string(), "PLAINTEXT".to_string()));
    assert_eq!(c.exported_digest.as_deref(), Some("sha256:cc"));
    assert_eq!(
        targets(&client),
        [
            "CodeBuild_20161006.ListBuildsForProject",
            "CodeBuild_20161006.BatchGetBuilds",
            "CodeBuild_20161006.ListBuildsForProject",
            "CodeBuild_20161006.BatchGetBuilds"
        ]
    );
    let bodies = bodies(&client);
    assert_eq!(bodies[0]["projectName"], "btcd");
    assert_eq!(bodies[1]["ids"], serde_json::json!(["btcd:a", "btcd:b"]));
    assert_eq!(bodies[2]["nextToken"], "page-2");
}

/// After DeleteService the service turns INACTIVE and ListTasks by its name answers
/// ServiceNotFoundException: its tasks still stopping are then found by their group.
#[tokio::test]
async fn a_deleted_service_s_stopping_tasks_are_found_by_their_group() {
    let (config, client) = sdk(&[
        (400, r#"{"__type":"ServiceNotFoundException","message":"Service not found."}"#),
        (200, r#"{"taskArns":["arn:task/a","arn:task/b"]}"#),
        (200, r#"{"taskArns":[]}"#),
        (
            200,
            r#"{"tasks":[{"taskArn":"arn:task/a","group":"service:btcd","lastStatus":"DEACTIVATING"},
                         {"taskArn":"arn:task/b","group":"service:other","lastStatus":"RUNNING"}],"failures":[]}"#,
        ),
    ]);
    let stopping = super::Ecs::new(&config).unstopped_tasks("sigship", "btcd").await.unwrap();
    assert_eq!(stopping, ["arn:task/a"]);
    let bodies = bodies(&client);
    assert_eq!(bodies[0]["serviceName"], "btcd");
    assert!(bodies[1].get("serviceName").is_none() && bodies[2].get("serviceName").is_none(), "{bodies:?}");
    assert_eq!(
        (bodies[1]["desiredStatus"].as_str(), bodies[2]["desiredStatus"].as_str()),
        (Some("RUNNING"), Some("STOPPED"))
    );
}

/// Mount targets take minutes to go, and EFS may call the file system in use a little longer:
/// destroy waits for both instead of a fixed time, and deletes only the stack's access point.
/// DescribeFileSystems: fs-1, tagged as sigship's.
const MANAGED_FILE_SYSTEM: &str = r#"{"FileSystems":[{"FileSystemId":"fs-1","Tags":[{"Key":"sigship:managed","Value":"true"}],
    "OwnerId":"123456789012","CreationToken":"t","CreationTime":1,"LifeCycleState":"available",
    "NumberOfMountTargets":1,"SizeInBytes":{"Value":1},"PerformanceMode":"generalPurpose"}]}"#;

#[tokio::test]
async fn the_chain_data_is_deleted_once_its_mount_targets_are_gone_and_it_is_no_longer_in_use() {
    let (config, client) = sdk(&[
        (200, MANAGED_FILE_SYSTEM),
        (204, ""),
        (
            200,
            r#"{"MountTargets":[{"MountTargetId":"fsmt-1","FileSystemId":"fs-1","SubnetId":"s","LifeCycleState":"available"}]}"#,
        ),
        (204, ""),
        (
            200,
            r#"{"MountTargets":[{"MountTargetId":"fsmt-1","FileSystemId":"fs-1","SubnetId":"s","LifeCycleState":"deleting"}]}"#,
        ),
        (200, r#"{"MountTargets":[]}"#),
        // EFS names the error in x-amzn-errortype; the SDK reads `__type` the same way.
        (
            409,
            r#"{"__type":"FileSystemInUse","ErrorCode":"FileSystemInUse","Message":"File system 'fs-1' is in use."}"#,
        ),
        (204, ""),
    ]);
    let efs = super::Efs::polling_every(&config, std::time::Duration::ZERO);
    assert_eq!(efs.delete_managed("fs-1", Some("fsap-1")).await.unwrap().as_deref(), Some("fs-1"));
    assert_eq!(
        testkit::replay::paths(&client),
        [
            "GET /2015-02-01/file-systems",
            "DELETE /2015-02-01/access-points/fsap-1",
            "GET /2015-02-01/mount-targets",
            "DELETE /2015-02-01/mount-targets/fsmt-1",
            "GET /2015-02-01/mount-targets",
            "GET /2015-02-01/mount-targets",
            "DELETE /2015-02-01/file-systems/fs-1",
            "DELETE /2015-02-01/file-systems/fs-1",
        ]
    );
}

#[tokio::test]
async fn codebuild_refusing_a_new_account_s_build_is_named_with_what_aws_support_must_raise() {
    use crate::build::{BuildService, BuildStart};
    let refused = r#"{"__type":"AccountLimitExceededException","message":"Cannot have more than 0 builds in queue for the account"}"#;
    let (config, client) = sdk(&[(400, refused)]);
    let start = BuildStart {
        project: "sigship-btcd".into(),
        source_version: "refs/tags/v0.24.2^{commit}".into(),
        buildspec: "version: 0.2",
        environment: vec![],
    };
    let err = super::CodeBuild::new(&config).start(&start).await.unwrap_err();
    assert_eq!(targets(&client), ["CodeBuild_20161006.StartBuild"]);
    assert_eq!(err.name(), "BuildLimitExceeded");
    let said = err.to_string();
    assert!(said.contains("Cannot have more than 0 builds in queue for the account"), "{said}");
    assert!(said.contains("AWS Support") && said.contains("L-596BEAB4"), "{said}");
    assert!(!err.is_transient(), "a refusal stays until AWS raises the limit: not retried");
}

#[tokio::test]
async fn a_mount_target_gone_before_its_delete_counts_as_deleted() {
    let (config, client) = sdk(&[
        (200, MANAGED_FILE_SYSTEM),
        (
            200,
            r#"{"MountTargets":[{"MountTargetId":"fsmt-1","FileSystemId":"fs-1","SubnetId":"s","LifeCycleState":"available"}]}"#,
        ),
        (
            404,
            r#"{"__type":"MountTargetNotFound","ErrorCode":"MountTargetNotFound","Message":"Mount target 'fsmt-1' does not exist."}"#,
        ),
        (200, r#"{"MountTargets":[]}"#),
        (204, ""),
    ]);
    let efs = super::Efs::polling_every(&config, std::time::Duration::ZERO);
    assert_eq!(efs.delete_managed("fs-1", None).await.unwrap().as_deref(), Some("fs-1"));
    assert_eq!(
        testkit::replay::paths(&client),
        [
            "GET /2015-02-01/file-systems",
            "GET /2015-02-01/mount-targets",
            "DELETE /2015-02-01/mount-targets/fsmt-1",
            "GET /2015-02-01/mount-targets",
            "DELETE /2015-02-01/file-systems/fs-1",
        ]
    );
}
