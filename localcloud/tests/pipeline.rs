//! The whole pipeline through moto's interpreter running `statemachine/sigship.asl.json`, with
//! the real function binaries behind the runtime host. btcd's real source is compiled by the local
//! CodeBuild and run by the local Fargate; only the image assembly is simulated.

use aws_sdk_sfn::types::ExecutionStatus;
use localcloud::{keys::Maintainer, LocalCloud, Options};
use serde_json::json;

async fn service_image(cloud: &LocalCloud) -> (String, String) {
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let services =
        ecs.describe_services().cluster(&cloud.stack.cluster).services(&cloud.stack.service).send().await.unwrap();
    let service = services.services().first().expect("service exists");
    assert_eq!(service.status(), Some("ACTIVE"));
    let task_definition = service.task_definition().unwrap().to_string();
    let described = ecs.describe_task_definition().task_definition(&task_definition).send().await.unwrap();
    let image = described.task_definition().unwrap().container_definitions()[0].image().unwrap().to_string();
    (task_definition, image)
}

async fn pushed_digest(cloud: &LocalCloud, image_tag: &str) -> String {
    let ecr = aws_sdk_ecr::Client::new(&cloud.sdk);
    let images = ecr
        .describe_images()
        .repository_name(&cloud.stack.ecr_repository)
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(image_tag).build())
        .send()
        .await
        .unwrap();
    images.image_details()[0].image_digest().unwrap().to_string()
}

async fn build_count(cloud: &LocalCloud) -> usize {
    let codebuild = aws_sdk_codebuild::Client::new(&cloud.sdk);
    codebuild.list_builds_for_project().project_name(&cloud.stack.build_project).send().await.unwrap().ids().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_tag_deploys_then_repeats_idempotently_then_destroys_twice() {
    let cloud = LocalCloud::start(Options::default()).await;
    let tag_object = cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let commit = cloud.repository.head();
    // The release commit is no longer the default branch's tip: the build must fetch it through
    // the tag (a bare commit with a depth-1 clone would get the tip).
    cloud.repository.commit("NEXT", "work after the release\n", "after v0.24.2");

    // (a) happy path
    let run = cloud.run(json!({"tag": "v0.24.2"}), "deploy-1", true).await;
    run.assert_succeeded(&cloud.logs);
    let output = run.output.unwrap();
    assert_eq!(output["commit"], commit);
    assert_eq!(output["tagObjectId"], tag_object);
    // The binaries as built, from the image's SHA256SUMS: what a rebuild of the commit must match.
    for binary in ["btcd", "btcctl"] {
        let hash = output["binaries"][binary].as_str().unwrap_or_default();
        assert!(hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{binary}: {output}");
    }
    // …and what built them: the Dockerfile's exact Go, for this machine's platform.
    let built_with = format!(
        "go{} linux/{}",
        pipeline::build::recipe::Dockerfile::sigship().go_version,
        localcloud::image::host_goarch()
    );
    assert_eq!(output["builtWith"], built_with.as_str(), "{output}");
    // The stack runs on regtest: flag, port and health check all say so.
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let task_definition = output["taskDefinitionArn"].as_str().unwrap();
    let described = ecs.describe_task_definition().task_definition(task_definition).send().await.unwrap();
    let container = &described.task_definition().unwrap().container_definitions()[0];
    let network_flags: Vec<&str> = container
        .command()
        .iter()
        .map(String::as_str)
        .filter(|c| ["--testnet", "--testnet4", "--signet", "--regtest"].contains(c))
        .collect();
    assert_eq!(network_flags, ["--regtest"], "{:?}", container.command());
    assert_eq!(container.port_mappings()[0].container_port(), Some(18444));
    let health = container.health_check().unwrap().command().join(" ");
    assert!(health.contains("--rpcserver=127.0.0.1:18334 "), "{health}");
    assert_eq!(output["signers"][0]["fingerprint"], cloud.maintainer.fingerprint());
    assert_eq!(output["buildSkipped"], false);
    let image_tag = format!("v0.24.2-{}", &commit[..12]);
    let digest = pushed_digest(&cloud, &image_tag).await;
    let (task_definition, image) = service_image(&cloud).await;
    assert!(image.ends_with(&format!("@{digest}")), "service image {image} is not pinned to {digest}");
    assert_eq!(output["image"], image);
    assert_eq!(build_count(&cloud).await, 1);
    let builds = cloud.builds();
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0].commit, commit);
    // The real btcd of that commit runs: one task, healthy by its own health check, its output in
    // the daemon's log group as the awslogs driver ships it.
    let tasks = cloud.tasks();
    assert_eq!(tasks.len(), 1, "one btcd per service");
    assert!(tasks[0].is_running());
    assert_eq!(tasks[0].health(), localcloud::fargate::Health::Healthy);
    assert_eq!(tasks[0].task_definition, task_definition);
    let shipped = cloud.daemon_log_lines().await;
    assert!(shipped.iter().any(|l| l.contains("BTCD: Version 0.24.2-beta")), "{shipped:?}");
    assert!(shipped.iter().any(|l| l.contains("RPC server listening on 127.0.0.1:18334")), "{shipped:?}");

    // (c) the same tag again: no second build, same digest, same task definition
    let again = cloud.run(json!({"tag": "v0.24.2"}), "deploy-2", true).await;
    assert_eq!(again.status, ExecutionStatus::Succeeded, "{:?} {:?}", again.error, again.cause);
    assert_eq!(again.output.unwrap()["buildSkipped"], true);
    assert_eq!(build_count(&cloud).await, 1);
    assert_eq!(service_image(&cloud).await, (task_definition, image));

    // (d) destroy everything, then again: nothing left to do, chain data kept
    let destroyed = cloud.run(json!({"destroy": "everything"}), "destroy-1", true).await;
    assert_eq!(destroyed.status, ExecutionStatus::Succeeded, "{:?} {:?}", destroyed.error, destroyed.cause);
    let report = destroyed.output.unwrap();
    assert_eq!(report["nothingToDo"], false);
    let deleted: Vec<String> = serde_json::from_value(report["deleted"].clone()).unwrap();
    assert!(deleted.iter().any(|d| d.starts_with("service ")), "{deleted:?}");
    assert!(deleted.iter().any(|d| d.starts_with("task definition ")), "{deleted:?}");
    assert!(deleted.iter().any(|d| d.contains(&digest)), "{deleted:?}");
    assert!(report["kept"][0].as_str().unwrap().contains(&cloud.stack.file_system_id));
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let services =
        ecs.describe_services().cluster(&cloud.stack.cluster).services(&cloud.stack.service).send().await.unwrap();
    assert!(services.services().iter().all(|s| s.status() != Some("ACTIVE")));
    assert!(cloud.tasks().iter().all(|t| !t.is_running()), "destroy waited for btcd to stop");

    let twice = cloud.run(json!({"destroy": "everything"}), "destroy-2", true).await;
    assert_eq!(twice.status, ExecutionStatus::Succeeded, "{:?} {:?}", twice.error, twice.cause);
    let report = twice.output.unwrap();
    assert_eq!(report["nothingToDo"], true);
    assert_eq!(report["deleted"], json!([]));

    // (e) `sigship down`, with every function judged by resource: destroy deletes the chain data
    // (its mount targets first, judged on the file system and their network interfaces), then the
    // stack goes.
    let (code, stdout, stderr) =
        cloud.sigship_as_administrator(&["down", "--stack-name", localcloud::STACK_NAME]).await;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let efs = aws_sdk_efs::Client::new(&cloud.sdk);
    let left = efs.describe_file_systems().send().await.unwrap();
    assert!(left.file_systems().iter().all(|f| f.file_system_id() != cloud.stack.file_system_id), "chain data deleted");
    let cloudformation = aws_sdk_cloudformation::Client::new(&cloud.sdk);
    let stacks = cloudformation.describe_stacks().stack_name(localcloud::STACK_NAME).send().await;
    assert!(
        stacks.is_err()
            || stacks.unwrap().stacks().iter().all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE"))
    );
    assert!(cloud.router.authorizer.denials.lock().unwrap().is_empty(), "nothing was denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tag_signed_outside_the_trust_root_stops_before_the_build() {
    let cloud = LocalCloud::start(Options::default()).await;
    let outsider = Maintainer::generate("Mallory Outsider");
    cloud.repository.signed_tag("v0.24.3", &outsider);

    // (b)
    let run = cloud.run(json!({"tag": "v0.24.3"}), "untrusted", true).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("UnknownSigner"), "cause: {:?}", run.cause);
    let cause = run.cause.unwrap();
    assert!(cause.contains("not an allowed signer"), "{cause}");
    let states: Vec<&str> = run.states.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(states, ["Validate", "Hold", "Queue", "MyTurn?", "Proceed", "Route", "Verify"]);
    assert_eq!(build_count(&cloud).await, 0);
    assert!(cloud.builds().is_empty());
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let families = ecs.list_task_definitions().send().await.unwrap();
    assert!(families.task_definition_arns().is_empty());
    let services = ecs.list_services().cluster(&cloud.stack.cluster).send().await.unwrap();
    assert!(services.service_arns().is_empty());
    // The verification ran once: a verdict is never retried.
    let invocations = cloud.router.invocations.lock().unwrap().clone();
    assert_eq!(invocations, [(cloud.stack.function("queue"), false), (cloud.stack.function("verify"), true)]);

    // Other refusals surface the same way, by name, through Catch and the Fail state.
    let cases = [
        (json!({"tag": "btcec/v2.4.0"}), "sub-module", "TagNameRejected"),
        (json!({"tag": "v9.9.9"}), "missing", "TagNotFound"),
    ];
    for (input, name, expected) in cases {
        let run = cloud.run(input, name, false).await;
        assert_eq!(run.status, ExecutionStatus::Failed, "{name}");
        assert_eq!(run.error.as_deref(), Some(expected), "{name}: {:?}", run.cause);
    }
    // A malformed request is refused before it waits its turn (it used to queue, up to 2 h).
    let queued = cloud.router.invocations.lock().unwrap().len();
    for (input, name) in
        [(json!({}), "empty"), (json!({"tag": 7}), "not-a-string"), (json!({"destroy": "all"}), "scope")]
    {
        let run = cloud.run(input, name, false).await;
        assert_eq!((run.status, run.error.as_deref()), (ExecutionStatus::Failed, Some("InvalidInput")), "{name}");
        assert!(run.cause.unwrap_or_default().contains("the input must be {\"tag\""), "{name}");
        let states: Vec<&str> = run.states.iter().map(|(state, _)| state.as_str()).collect();
        assert!(!states.contains(&"Queue") && !states.contains(&"Hold"), "{name}: {states:?}");
    }
    assert_eq!(cloud.router.invocations.lock().unwrap().len(), queued, "no function ran for them");
    assert_eq!(build_count(&cloud).await, 0);
}

/// IAM is enforced on the template's roles: the same stack with one action taken from one role
/// fails the run at that call, with AccessDenied naming the action, and builds nothing after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_missing_one_action_fails_the_run_with_access_denied_naming_it() {
    // RegisterTaskRole's statement: RegisterTaskDefinition, ListTaskDefinitions, DescribeTaskDefinition.
    let granted = "Action: [ecs:RegisterTaskDefinition, ecs:ListTaskDefinitions, ecs:DescribeTaskDefinition]";
    let checkout = localcloud::checkout_with_template(|template| {
        assert_eq!(template.matches(granted).count(), 1, "the statement this test narrows has changed");
        template.replace(granted, "Action: [ecs:ListTaskDefinitions, ecs:DescribeTaskDefinition]")
    });

    let cloud = LocalCloud::start(Options { checkout: checkout.path().to_path_buf(), ..Options::default() }).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let run = cloud.run(json!({"tag": "v0.24.2"}), "narrowed", true).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{:?}", run.cause);
    let cause = run.cause.unwrap_or_default();
    assert!(cause.contains("not authorized to perform: ecs:RegisterTaskDefinition"), "{cause}");
    assert!(cause.contains("assumed-role/sigship-RegisterTaskRole-"), "the function's own role: {cause}");
    let states: Vec<&str> = run.states.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(states.last(), Some(&"RegisterTask"), "{states:?}");
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    assert!(ecs.list_task_definitions().send().await.unwrap().task_definition_arns().is_empty());
}

/// Resources judged as AWS judges them (moto checks actions only): a DeployRole whose
/// UpdateService names another service fails the first update, and the ListTasks grant that
/// broke every first `down` (on the cluster's container instances; the call names none, so AWS
/// judges it on `*`) fails destroy with AccessDenied naming `*`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resources_are_judged_as_aws_judges_them() {
    let any = r#"arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"#;
    let deploy_grant = format!(
        "                Action: [ecs:DescribeServices, ecs:CreateService, ecs:UpdateService, ecs:TagResource]\n                Resource: !Sub \"{any}:service/${{Cluster}}/btcd\""
    );
    let deploy_narrowed = format!(
        "                Action: [ecs:DescribeServices, ecs:CreateService, ecs:TagResource]\n                Resource: !Sub \"{any}:service/${{Cluster}}/btcd\"\n              - Effect: Allow\n                Action: ecs:UpdateService\n                Resource: !Sub \"{any}:service/${{Cluster}}/someone-elses\""
    );
    let list_tasks_grant = format!(
        "                Action: ecs:ListTasks\n                Resource: \"*\"\n                Condition:\n                  ArnEquals:\n                    ecs:cluster: !Sub \"{any}:cluster/${{Cluster}}\""
    );
    let list_tasks_old = format!("                Action: ecs:ListTasks\n                Resource: !Sub \"{any}:container-instance/${{Cluster}}/*\"");
    let checkout = localcloud::checkout_with_template(|template| {
        assert_eq!(template.matches(&deploy_grant).count(), 1, "DeployRole's service statement has changed");
        assert_eq!(template.matches(&list_tasks_grant).count(), 1, "DestroyRole's ListTasks statement has changed");
        template.replace(&deploy_grant, &deploy_narrowed).replace(&list_tasks_grant, &list_tasks_old)
    });
    let cloud = LocalCloud::start(Options { checkout: checkout.path().to_path_buf(), ..Options::default() }).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let created = cloud.run(json!({"tag": "v0.24.2"}), "create", true).await;
    assert_eq!(created.status, ExecutionStatus::Succeeded, "CreateService is allowed: {:?}", created.cause);

    let updated = cloud.run(json!({"profile": "sync"}), "update", true).await;
    assert_eq!((updated.status, updated.error.as_deref()), (ExecutionStatus::Failed, Some("AccessDenied")));
    let cause = updated.cause.unwrap_or_default();
    let service = "arn:aws:ecs:us-east-1:123456789012:service/sigship/btcd";
    assert!(cause.contains(&format!("ecs:UpdateService on resource: {service}")), "{cause}");

    let destroyed = cloud.run(json!({"destroy": "service"}), "destroy", true).await;
    assert_eq!((destroyed.status, destroyed.error.as_deref()), (ExecutionStatus::Failed, Some("AccessDenied")));
    let cause = destroyed.cause.unwrap_or_default();
    assert!(cause.contains("not authorized to perform: ecs:ListTasks on resource: *"), "{cause}");
    assert!(cause.contains("assumed-role/sigship-DestroyRole-"), "destroy's own role: {cause}");
}

/// The base images by digest, without a registry to read digests from in advance: the first build
/// records what it pulled; later builds pull by that record even after a tag moved upstream; the
/// operator's `sigship base-images --move` forgets it, and the next build records the moved image.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn base_images_are_pulled_by_the_digests_the_first_build_recorded_until_moved() {
    let cloud = LocalCloud::start(Options::default()).await;
    let alpine = "public.ecr.aws/docker/library/alpine:3.23";
    let pulled = |cloud: &LocalCloud| match cloud.builds().last().map(|b| b.status.clone()) {
        Some(localcloud::codebuild::BuildStatus::Succeeded { pulled, .. }) => {
            let mut pulled: Vec<String> = pulled.split_whitespace().map(String::from).collect();
            pulled.sort();
            pulled
        }
        other => panic!("the last build did not succeed: {other:?}"),
    };
    let recorded = |shown: &str| {
        let mut recorded: Vec<String> =
            shown.lines().filter(|l| l.starts_with("  ")).map(|l| l.trim().to_string()).collect();
        recorded.sort();
        recorded
    };
    let (_, shown, _) = cloud.sigship_as_operator(&["base-images"]).await;
    assert!(shown.contains("none recorded yet"), "{shown}");
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    cloud.run(json!({"tag": "v0.24.2"}), "first", true).await.assert_succeeded(&cloud.logs);
    let (code, shown, stderr) = cloud.sigship_as_operator(&["base-images"]).await;
    assert_eq!(code, 0, "{stderr}");
    let first = recorded(&shown);
    assert_eq!(first, pulled(&cloud), "{shown}");
    assert_eq!(first.len(), 2, "golang and alpine: {shown}");

    // The tag moves upstream: the next release is built from the recorded image all the same.
    let codebuild = cloud.router.codebuild.get().expect("the local CodeBuild");
    let moved = codebuild.base_images.move_tag(alpine);
    cloud.repository.commit("CHANGES", "v0.24.3\n", "release v0.24.3");
    cloud.repository.signed_tag("v0.24.3", &cloud.maintainer);
    cloud.run(json!({"tag": "v0.24.3"}), "second", true).await.assert_succeeded(&cloud.logs);
    assert_eq!(pulled(&cloud), first, "pulled by the recorded digests");

    // Moved on purpose: the next build pulls what the tags name now and records it.
    let (code, said, stderr) = cloud.sigship_as_operator(&["base-images", "--move"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(said.contains("moved — forgot") && said.contains(&first[0]), "{said}");
    cloud.repository.commit("CHANGES", "v0.24.4\n", "release v0.24.4");
    cloud.repository.signed_tag("v0.24.4", &cloud.maintainer);
    cloud.run(json!({"tag": "v0.24.4"}), "third", true).await.assert_succeeded(&cloud.logs);
    let now = pulled(&cloud);
    assert!(now.contains(&format!("{alpine}@{moved}")), "{now:?}");
    let (_, shown, _) = cloud.sigship_as_operator(&["base-images"]).await;
    assert_eq!(recorded(&shown), now);
}

/// The design's `docker-compose run ci destroy=everything` runs `sigship destroy=everything`: after
/// a deployment it tears everything down exactly as `sigship down` does; a tier it does not know
/// is refused, naming those it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_design_s_destroy_everything_leaves_nothing_as_down_does() {
    let cloud = LocalCloud::start(Options::default()).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    cloud.run(json!({"tag": "v0.24.2"}), "deploy", true).await.assert_succeeded(&cloud.logs);

    let (code, _, stderr) = cloud.sigship_as_administrator(&["destroy=all"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("destroy=everything, destroy=service, destroy=images"), "{stderr}");
    assert!(!cloud.tasks().is_empty() && cloud.tasks().iter().any(|t| t.is_running()), "nothing touched");

    let (code, stdout, stderr) = cloud.sigship_as_administrator(&["destroy=everything"]).await;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    assert!(stdout.contains("sigship down: stack sigship") && stdout.contains("→ Destroy"), "{stdout}");
    assert!(stdout.contains("stack sigship: DELETE_COMPLETE"), "{stdout}");
    assert!(cloud.tasks().iter().all(|t| !t.is_running()), "btcd stopped");
    let efs = aws_sdk_efs::Client::new(&cloud.sdk);
    let left = efs.describe_file_systems().send().await.unwrap();
    assert!(left.file_systems().iter().all(|f| f.file_system_id() != cloud.stack.file_system_id), "chain data deleted");
    let ecr = aws_sdk_ecr::Client::new(&cloud.sdk);
    assert!(ecr.describe_repositories().send().await.unwrap().repositories().is_empty(), "images deleted");
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let definitions = ecs.list_task_definitions().send().await.unwrap();
    assert!(definitions.task_definition_arns().is_empty(), "{:?}", definitions.task_definition_arns());
    let parameters = aws_sdk_ssm::Client::new(&cloud.sdk).describe_parameters().send().await.unwrap();
    assert!(parameters.parameters().is_empty(), "marks deleted: {:?}", parameters.parameters());
    let cloudformation = aws_sdk_cloudformation::Client::new(&cloud.sdk);
    let stacks = cloudformation.describe_stacks().stack_name(localcloud::STACK_NAME).send().await;
    assert!(
        stacks.is_err()
            || stacks.unwrap().stacks().iter().all(|s| s.stack_status().map(|s| s.as_str()) == Some("DELETE_COMPLETE"))
    );
}
