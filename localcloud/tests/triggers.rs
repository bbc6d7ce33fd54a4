//! What starts the pipeline, on the local cloud: the tag-push webhook through its function URL,
//! the upstream watch invoked as its schedule would, and two executions at once taking turns.

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use localcloud::{LocalCloud, Options};

async fn execution_names(cloud: &LocalCloud) -> Vec<String> {
    let sfn = aws_sdk_sfn::Client::new(&cloud.sdk);
    let listed = sfn.list_executions().state_machine_arn(&cloud.stack.state_machine_arn).send().await.unwrap();
    listed.executions().iter().map(|e| e.name().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_push_starts_one_execution_and_nothing_else_starts_any() {
    let cloud = LocalCloud::start(Options::default()).await;
    let tag_object = cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let push = r#"{"ref":"refs/tags/v0.24.2","deleted":false}"#;

    let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("push", push), push).await;
    assert_eq!(status, 202, "{answer}");
    let name = format!("tag-v0_24_2-{}", &tag_object[..16]);
    assert_eq!(answer["started"], name.as_str());
    let finished = cloud.finish(&name).await;
    assert_eq!(finished.status, ExecutionStatus::Succeeded, "{:?}", finished.error);

    // GitHub's `create` event for the same push, and a redelivery: the same execution name.
    let create = r#"{"ref":"v0.24.2","ref_type":"tag"}"#;
    let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("create", create), create).await;
    assert_eq!((status, answer["duplicate"].as_str()), (200, Some(name.as_str())), "{answer}");
    let (status, _) = cloud.deliver_webhook(&cloud.github_headers("push", push), push).await;
    assert_eq!(status, 200);
    // GitHub's web form default: the JSON in a form's `payload` field, signed as sent.
    let form =
        format!("payload={}", push.replace('"', "%22").replace('/', "%2F").replace(',', "%2C").replace(':', "%3A"));
    let mut headers = cloud.github_headers("push", &form);
    headers.push(("content-type", "application/x-www-form-urlencoded".to_string()));
    let (status, answer) = cloud.deliver_webhook(&headers, &form).await;
    assert_eq!((status, answer["duplicate"].as_str()), (200, Some(name.as_str())), "{answer}");
    // A GitLab merge request event: authentic, ignored.
    let merge_request = r#"{"object_kind":"merge_request","object_attributes":{"iid":7}}"#;
    let gitlab =
        [("x-gitlab-token", cloud.webhook_secret.clone()), ("x-gitlab-event", "Merge Request Hook".to_string())];
    let (status, answer) = cloud.deliver_webhook(&gitlab, merge_request).await;
    assert_eq!((status, answer["ignored"].as_str()), (200, Some("GitLab Merge Request Hook event")), "{answer}");

    // Forged, unsigned, not a tag, malformed.
    let mut forged = cloud.github_headers("push", push);
    forged[1].1 = format!("sha256={}", "0".repeat(64));
    let (status, answer) = cloud.deliver_webhook(&forged, push).await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("Unauthorized")), "{answer}");
    let (status, _) = cloud.deliver_webhook(&[("x-github-event", "push".to_string())], push).await;
    assert_eq!(status, 401);
    let branch = r#"{"ref":"refs/heads/master"}"#;
    let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("push", branch), branch).await;
    assert_eq!(status, 200);
    assert!(answer["ignored"].as_str().unwrap().contains("not a tag"), "{answer}");
    let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("push", "{"), "{").await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("MalformedDelivery")), "{answer}");
    // An authentic delivery of a tag nobody with a key signed: verified before anything is
    // queued, so it starts nothing (it used to queue an execution that failed at verify).
    let unsigned = cloud.repository.tag_payload("v99.0.0", &cloud.repository.head(), "Mallory");
    cloud.repository.write_tag("v99.0.0", &unsigned);
    let junk = r#"{"ref":"refs/tags/v99.0.0","deleted":false}"#;
    let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("push", junk), junk).await;
    assert_eq!((status, answer["error"].as_str()), (422, Some("Unsigned")), "{answer}");
    assert!(answer.get("message").is_none(), "the why stays in the function's log: {answer}");

    assert_eq!(execution_names(&cloud).await, [name], "exactly one execution, whatever was delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_watch_starts_each_new_signed_tag_once_and_no_number_of_unsigned_ones_holds_it() {
    let cloud = LocalCloud::start(Options::default()).await;
    let first_tag = cloud.repository.signed_tag("v0.24.0", &cloud.maintainer);
    let watch = || async { cloud.invoke("tag-watch", r#"{"mode":"all"}"#).await.unwrap() };

    let report = watch().await;
    let first = format!("tag-v0_24_0-{}", &first_tag[..16]);
    assert_eq!(report["started"], serde_json::json!([first]), "{report}");
    assert_eq!(cloud.finish(&first).await.status, ExecutionStatus::Succeeded);
    let report = watch().await;
    assert_eq!(report["started"], serde_json::json!([]), "nothing new: {report}");

    cloud.repository.commit("CHANGES", "v0.24.1\n", "release v0.24.1");
    let second_tag = cloud.repository.signed_tag("v0.24.1", &cloud.maintainer);
    let report = watch().await;
    let second = format!("tag-v0_24_1-{}", &second_tag[..16]);
    assert_eq!(report["started"], serde_json::json!([second]), "{report}");
    assert_eq!(cloud.finish(&second).await.status, ExecutionStatus::Succeeded);
    assert_eq!(watch().await["started"], serde_json::json!([]));

    // An unsigned v99.0.0, pushed by someone without a key: never started, reported, alarmed —
    // and it does not become "the newest that ran": the next signed release still deploys.
    let unsigned = cloud.repository.tag_payload("v99.0.0", &cloud.repository.head(), "Mallory");
    cloud.repository.write_tag("v99.0.0", &unsigned);
    let report = watch().await;
    assert_eq!(report["started"], serde_json::json!([]), "{report}");
    assert_eq!(report["unverified"], serde_json::json!([{"tag": "v99.0.0", "error": "Unsigned"}]), "{report}");
    let alarm = format!("{}-release-tags-unverified", cloud.stack.name);
    let state = cloud.cloudwatch().wait_for_state(&alarm, "ALARM", std::time::Duration::from_secs(20)).await;
    assert_eq!(state, "ALARM");
    // Five more junk tags above the next release: more than one run's budget of failed checks.
    // A refused tag is remembered (it costs one check, ever), so the second run reaches the
    // release below them, and names the junk.
    for junk in ["v94.0.0", "v95.0.0", "v96.0.0", "v97.0.0", "v98.0.0"] {
        let unsigned = cloud.repository.tag_payload(junk, &cloud.repository.head(), "Mallory");
        cloud.repository.write_tag(junk, &unsigned);
    }
    cloud.repository.commit("CHANGES", "v0.24.2\n", "release v0.24.2");
    let third_tag = cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let report = watch().await;
    assert_eq!(report["started"], serde_json::json!([]), "five new failed checks end the run: {report}");
    let report = watch().await;
    let third = format!("tag-v0_24_2-{}", &third_tag[..16]);
    assert_eq!(report["started"], serde_json::json!([third]), "{report}");
    let named: Vec<&str> = report["unverified"].as_array().unwrap().iter().filter_map(|u| u["tag"].as_str()).collect();
    assert_eq!(named, ["v99.0.0", "v98.0.0", "v97.0.0", "v96.0.0", "v95.0.0", "v94.0.0"], "{report}");
    assert_eq!(cloud.finish(&third).await.status, ExecutionStatus::Succeeded);
    let mut names = execution_names(&cloud).await;
    names.sort();
    assert_eq!(names, [first, second, third], "the unsigned tag never started an execution");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_executions_at_once_take_turns() {
    let cloud = LocalCloud::start(Options::default()).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let sfn = aws_sdk_sfn::Client::new(&cloud.sdk);
    let start = |name: &'static str, input: &'static str| {
        let sfn = sfn.clone();
        let machine = cloud.stack.state_machine_arn.clone();
        async move {
            sfn.start_execution().state_machine_arn(machine).name(name).input(input).send().await.unwrap();
        }
    };
    tokio::join!(start("first", r#"{"tag":"v0.24.2"}"#), start("second", r#"{"destroy":"service"}"#));
    let (a, b) = tokio::join!(cloud.finish("first"), cloud.finish("second"));
    assert_eq!((a.status.clone(), b.status.clone()), (ExecutionStatus::Succeeded, ExecutionStatus::Succeeded));

    // Exactly one waited, and it went on only after the other had ended.
    let history = |name: &'static str| {
        let sfn = sfn.clone();
        let arn = cloud.stack.execution_arn(name);
        async move { sfn.get_execution_history().execution_arn(arn).max_results(1000).send().await.unwrap() }
    };
    let (first, second) = tokio::join!(history("first"), history("second"));
    let waited = |h: &aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput| {
        h.events().iter().any(|e| e.state_entered_event_details().is_some_and(|d| d.name() == "WaitForTurn"))
    };
    let proceeded_at = |h: &aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput| {
        h.events()
            .iter()
            .find(|e| e.state_entered_event_details().is_some_and(|d| d.name() == "Proceed"))
            .map(|e| e.timestamp().as_secs_f64())
            .unwrap()
    };
    let ended_at = |h: &aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput| {
        h.events()
            .iter()
            .find(|e| e.r#type() == &HistoryEventType::ExecutionSucceeded)
            .map(|e| e.timestamp().as_secs_f64())
            .unwrap()
    };
    let (went, waiter) = match (waited(&first), waited(&second)) {
        (false, true) => (&first, &second),
        (true, false) => (&second, &first),
        other => panic!("exactly one execution must wait, got {other:?}"),
    };
    assert!(
        proceeded_at(waiter) >= ended_at(went),
        "the waiting execution went on at {} before the other ended at {}",
        proceeded_at(waiter),
        ended_at(went)
    );
}

/// A public function URL needs both permissions since October 2025; the local cloud judges a
/// delivery against the function's resource policy as AWS does. Without the InvokeFunction
/// permission (the first-deployment defect of an earlier template), GitHub gets 403 Forbidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_url_without_its_invoke_permission_is_forbidden() {
    let permission = "  TagPushUrlInvokePermission:\n    Type: AWS::Lambda::Permission\n    Properties:\n      Action: lambda:InvokeFunction\n      FunctionName: !Ref TagPushFunction\n      Principal: \"*\"\n      InvokedViaFunctionUrl: true\n";
    let checkout = localcloud::checkout_with_template(|template| template.replace(permission, ""));
    let cloud = LocalCloud::start(Options { checkout: checkout.path().to_path_buf(), ..Options::default() }).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let push = r#"{"ref":"refs/tags/v0.24.2","deleted":false}"#;
    let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("push", push), push).await;
    assert_eq!((status, answer), (403, serde_json::json!({"Message": "Forbidden"})));
    assert!(execution_names(&cloud).await.is_empty(), "nothing started");
}
