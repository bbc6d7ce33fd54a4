//! Operating the node on the local cloud. First the real thing: the deployed btcd syncs the blocks
//! its regtest peer mines, its own progress lines reach the daemon's log group through the awslogs
//! driver, and node-metrics and `sigship status` report its height. Then the alarms over hours of
//! history, which no test can wait for: progress lines written into the log group with past
//! timestamps (btcd's format, as the real lines show it) become metrics, and the stack's alarms
//! (evaluated by the simulated CloudWatch) fire on a stalled node and stay quiet otherwise.

use std::time::Duration;

use localcloud::{LocalCloud, Options};
use serde_json::{json, Value};

const MINUTE_MS: i64 = 60_000;
/// 2012-10-01 08:13:50 UTC: the blocks of a node in its initial sync.
const OLD_BLOCK: i64 = 1_349_079_230;

fn now_ms() -> i64 {
    pipeline::config::now_ms()
}

use localcloud::progress_line as progress;

async fn deployed_cloud() -> LocalCloud {
    let cloud = LocalCloud::start(Options::default()).await;
    let nothing = cloud.invoke("node-metrics", "{}").await.expect("node-metrics before any deployment");
    assert_eq!(nothing, Value::Null, "no service yet: no sample");
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let run = cloud.run(json!({"tag": "v0.24.2"}), "deploy", false).await;
    run.assert_succeeded(&cloud.logs);
    cloud
}

fn near(value: &Value, expected: i64, slack: i64) -> bool {
    value.as_i64().is_some_and(|v| (v - expected).abs() <= slack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_deployed_btcd_syncs_from_its_peer_and_reports_its_height() {
    let cloud = deployed_cloud().await;
    let cloudwatch = cloud.cloudwatch();
    let not_syncing = format!("{}-node-not-syncing", cloud.stack.name);

    // Its peer has mined nothing yet: btcd logs its start and no block. A minute on (the
    // stack's NotSyncingMinutes here; node-metrics samples once a minute, as its schedule does),
    // the not-syncing alarm fires and status says what may be wrong.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["sync"], Value::Null, "no block yet: {sample}");
    assert!(sample["secondsWithoutBlocks"].as_i64().is_some_and(|s| s >= 60), "{sample}");
    assert_eq!(cloudwatch.wait_for_state(&not_syncing, "ALARM", Duration::from_secs(20)).await, "ALARM");
    let (code, stdout, stderr) = cloud.sigship_as_operator(&["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("blocks    none received since btcd started 1m"), "{stdout}");

    let (line, _) = cloud.sync_with_peer().await.unwrap();
    let tip = line.height;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["sync"]["height"], tip, "{sample}");
    assert_eq!(sample["sync"]["blockTime"], line.block_time);
    assert!(near(&sample["sync"]["syncLagSeconds"], 0, 60), "blocks mined just now: {sample}");
    assert_eq!((sample["desiredTasks"].as_i64(), sample["runningTasks"].as_i64()), (Some(1), Some(1)));
    let (code, stdout, stderr) = cloud.sigship_as_operator(&["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("height    {tip} ")), "{stdout}");
    assert!(stdout.contains("regtest"), "{stdout}");
    assert!(!stdout.contains("none received"), "{stdout}");
    // Blocks arrived: the alarm clears.
    assert_eq!(sample["secondsWithoutBlocks"], 0, "{sample}");
    assert_eq!(cloudwatch.wait_for_state(&not_syncing, "OK", Duration::from_secs(20)).await, "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn btcd_s_lines_become_metrics_and_the_alarms_stay_quiet_until_tasks_go_missing() {
    let cloud = deployed_cloud().await;
    let cloudwatch = cloud.cloudwatch();
    let stalled = format!("{}-node-stalled", cloud.stack.name);
    let missing = format!("{}-tasks-missing", cloud.stack.name);

    // A synced node waiting for the next block: flat for 70 min, but its newest block is only
    // 71 min old, under the 120 min the stack calls lagging. Not a stall.
    let now = now_ms();
    let waiting_block = now / 1000 - 71 * 60;
    cloud
        .daemon_logs(
            "waiting",
            &[
                progress(now - 70 * MINUTE_MS, 1, 201_000, waiting_block),
                (now - MINUTE_MS, "2026-06-18 23:01:42.118 [INF] SYNC: New valid peer 1.2.3.4:8333 (outbound)".into()),
            ],
        )
        .await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["sync"]["height"], 201_000, "{sample}");
    assert!(near(&sample["sync"]["progressAgeSeconds"], 70 * 60, 10), "{sample}");
    assert!(near(&sample["sync"]["syncLagSeconds"], 71 * 60, 10), "{sample}");
    assert_eq!(cloudwatch.wait_for_state(&stalled, "OK", Duration::from_secs(20)).await, "OK");

    // A node in its initial sync: a line every 10 s up to now, blocks from 2012.
    let now = now_ms();
    let lines: Vec<_> =
        (0..3).map(|i| progress(now - (30 - 10 * i) * 1000, 1377, 201_377 + 1377 * i as u64, OLD_BLOCK + i)).collect();
    cloud.daemon_logs("syncing", &lines).await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["sync"]["height"], 204_131, "{sample}");
    assert_eq!(sample["sync"]["blockTime"], OLD_BLOCK + 2);
    assert!(near(&sample["sync"]["progressAgeSeconds"], 10, 5), "{sample}");
    assert_eq!((sample["desiredTasks"].as_i64(), sample["runningTasks"].as_i64()), (Some(1), Some(1)));

    // The metrics CloudWatch made of the function's embedded-metric log line.
    let service = (cloud.stack.cluster.as_str(), cloud.stack.service.as_str());
    let window = Duration::from_secs(300);
    assert_eq!(cloudwatch.wait_for_samples("BlockHeight", service, 2, window).await, 2, "both samples arrived");
    assert_eq!(cloudwatch.statistic("BlockHeight", service, "Maximum", window).await, Some(204_131.0));
    assert_eq!(cloudwatch.statistic("BlockHeight", service, "Minimum", window).await, Some(201_000.0));
    let lag = cloudwatch.statistic("SyncLagSeconds", service, "Maximum", window).await.unwrap();
    assert!((lag - (now / 1000 - OLD_BLOCK - 2) as f64).abs() <= 10.0, "lag {lag}");
    assert_eq!(cloudwatch.statistic("RunningTasks", service, "Minimum", window).await, Some(1.0));
    assert_eq!(cloudwatch.statistic("DesiredTasks", service, "Maximum", window).await, Some(1.0));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let states = cloudwatch.alarm_states().await;
    assert_eq!(states.get(&stalled).map(String::as_str), Some("OK"), "{states:?}");
    assert_eq!(states.get(&missing).map(String::as_str), Some("OK"), "{states:?}");
    for quiet in ["failed-executions", "node-metrics-failing"] {
        let name = format!("{}-{quiet}", cloud.stack.name);
        assert_eq!(states.get(&name).map(String::as_str), Some("OK"), "{name}: {states:?}");
    }

    // Two tasks wanted, one runs: the tasks missing alarm fires. moto's ECS reports every task
    // of a service running after any update, so the sample node-metrics would publish is put
    // here (its counting is unit-tested against a service running fewer tasks).
    cloudwatch.put_metrics(service, &[("DesiredTasks", 2.0), ("RunningTasks", 1.0)]).await;
    assert_eq!(cloudwatch.wait_for_state(&missing, "ALARM", Duration::from_secs(20)).await, "ALARM");
    assert_eq!(cloudwatch.alarm_states().await.get(&stalled).map(String::as_str), Some("OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flat_height_while_lagging_fires_the_stall_alarm_and_progress_clears_it() {
    let cloud = deployed_cloud().await;
    let cloudwatch = cloud.cloudwatch();
    let stalled = format!("{}-node-stalled", cloud.stack.name);
    assert_eq!(cloudwatch.alarm_states().await.get(&stalled).map(String::as_str), Some("INSUFFICIENT_DATA"));

    // Syncing from 2012, then nothing for 70 min: over the 60 min the stack allows.
    let now = now_ms();
    let lines: Vec<_> =
        (0..3).map(|i| progress(now - (72 - i) * MINUTE_MS, 500, 150_000 + 500 * i as u64, OLD_BLOCK)).collect();
    cloud.daemon_logs("stalled", &lines).await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["sync"]["height"], 151_000, "{sample}");
    assert!(near(&sample["sync"]["progressAgeSeconds"], 70 * 60, 10), "{sample}");
    assert_eq!(cloudwatch.wait_for_state(&stalled, "ALARM", Duration::from_secs(20)).await, "ALARM");

    // The next block: the node advances and the alarm clears.
    cloud.daemon_logs("stalled-again", &[progress(now_ms(), 1, 151_001, OLD_BLOCK + 600)]).await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["sync"]["height"], 151_001, "{sample}");
    assert_eq!(cloudwatch.wait_for_state(&stalled, "OK", Duration::from_secs(20)).await, "OK");
}

/// The revision the service runs, as ECS describes it: (cpu, memory, btcd's command, profile tag).
/// The running revision's CPU, memory, command, profile and release tag.
async fn running_revision(cloud: &LocalCloud) -> (String, String, Vec<String>, String, String) {
    let ecs = aws_sdk_ecs::Client::new(&cloud.sdk);
    let services = ecs.describe_services().cluster(&cloud.stack.cluster).services(&cloud.stack.service).send().await;
    let task_definition = services.unwrap().services()[0].task_definition().unwrap().to_string();
    let described = ecs
        .describe_task_definition()
        .task_definition(&task_definition)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    let definition = described.task_definition().unwrap();
    let tag = |key: &str| described.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value());
    (
        definition.cpu().unwrap_or_default().to_string(),
        definition.memory().unwrap_or_default().to_string(),
        definition.container_definitions()[0].command().to_vec(),
        tag("sigship:profile").unwrap_or_default().to_string(),
        tag("sigship:tag").unwrap_or_default().to_string(),
    )
}

/// btcd's periodic flush line (blockchain/utxocache.go), logged at `at_ms`.
fn flush(at_ms: i64) -> (i64, String) {
    let logged = pipeline::node::utc_date_time(at_ms / 1000);
    let message = format!(
        "{logged}.402 [INF] CHAN: Flushing UTXO cache of 212 MiB with 1603811 entries to disk. For large sizes, this can take up to several minutes..."
    );
    (at_ms, message)
}

/// Far behind and catching up for ten minutes: node-metrics starts the switch to the sync size,
/// an ordinary execution, which registers and deploys the running release at the table's sync
/// size. Once current, and once a flush since has completed, back to steady. btcd's real lines
/// (a regtest node is never a day behind): written into its log group with their timestamps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_far_behind_runs_at_the_sync_size_until_it_is_current_and_flushed() {
    let cloud = deployed_cloud().await;
    let table = pipeline::sizing::for_network(pipeline::network::Network::Regtest);
    let (cpu, _, _, profile, _) = running_revision(&cloud).await;
    assert_eq!((cpu, profile), (table.steady.cpu.to_string(), "steady".to_string()));

    cloud.daemon_catching_up("catching-up").await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    let switch = sample["profileSwitch"]["execution"].as_str().expect("a switch started").to_string();
    assert!(switch.starts_with("profile-sync-from-sigship-btcd-") && switch.ends_with("-1"), "{sample}");
    // The next minute's sample finds it running: one switch, not one a minute.
    let again = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(again["profileSwitch"], json!({"state": "running", "to": "sync", "execution": switch}), "{again}");
    cloud.finish(&switch).await.assert_succeeded(&cloud.logs);
    let (cpu, memory, command, profile, _) = running_revision(&cloud).await;
    assert_eq!((cpu, memory), (table.sync.cpu.to_string(), table.sync.memory_mib.to_string()));
    assert!(command.contains(&format!("--utxocachemaxsize={}", table.sync.utxo_cache_mib)), "{command:?}");
    assert_eq!(profile, "sync");
    let syncing = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert!(syncing["profileSwitch"].is_null() && syncing["profile"] == "sync", "still behind: {syncing}");

    // A release tagged mid-sync waits: a deploy would stop the sync. The watch starts nothing
    // and says why.
    // Its own commit and bytes: a tag whose image is the running one names the running revision.
    cloud.repository.change_btcd_build("v0.24.3");
    let newer = cloud.repository.signed_tag("v0.24.3", &cloud.maintainer);
    let held = cloud.invoke("tag-watch", "{}").await.unwrap();
    assert_eq!((&held["started"], &held["deferred"]), (&json!([]), &json!(["v0.24.3"])), "{held}");
    assert!(held["waitingForSync"].as_str().is_some_and(|r| r.starts_with("sigship-btcd:")), "{held}");

    // Current (its newest blocks minutes old, logged after every line above), but no flush
    // since: keep the sync size.
    let now = now_ms();
    let block = |at_ms: i64| at_ms / 1000 - 300;
    let current = [
        progress(now - 20_000, 1, 925_000, block(now - 20_000)),
        progress(now - 10_000, 1, 925_001, block(now - 10_000)),
    ];
    cloud.daemon_logs("current", &current).await;
    let unflushed = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert!(unflushed["profileSwitch"].is_null(), "not flushed yet: {unflushed}");
    // A periodic flush, then a block processed after it: the flush completed. Steady again.
    cloud.daemon_logs("flushed", &[flush(now - 5_000), progress(now, 1, 925_002, block(now))]).await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    let back = sample["profileSwitch"]["execution"].as_str().expect("the switch back").to_string();
    assert!(back.starts_with("profile-steady-from-sigship-btcd-"), "{sample}");
    cloud.finish(&back).await.assert_succeeded(&cloud.logs);
    let (cpu, _, command, profile, release) = running_revision(&cloud).await;
    assert_eq!((cpu, profile, release), (table.steady.cpu.to_string(), "steady".to_string(), "v0.24.2".to_string()));
    assert!(command.contains(&format!("--utxocachemaxsize={}", table.steady.utxo_cache_mib)), "{command:?}");

    // Current and at its steady size: the watch's next run starts the release that waited.
    let report = cloud.invoke("tag-watch", "{}").await.unwrap();
    let started = format!("tag-v0_24_3-{}", &newer[..16]);
    assert_eq!(report["started"], json!([started]), "{report}");
    cloud.finish(&started).await.assert_succeeded(&cloud.logs);
    let (_, _, _, profile, release) = running_revision(&cloud).await;
    assert_eq!((profile.as_str(), release.as_str()), ("steady", "v0.24.3"));
}

/// The account's Fargate quota drops below the sync size (AWS adjusts new accounts' quotas):
/// node-metrics, asked by btcd's log for the sync size, starts nothing — the service would stop
/// the node to place a task it cannot — and says why in its sample, the ProfileSwitchBlocked
/// alarm and `sigship status`. The node keeps running. Once raised, the switch starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_switch_above_the_fargate_quota_is_not_started_and_the_node_keeps_running() {
    let cloud = deployed_cloud().await;
    let cloudwatch = cloud.cloudwatch();
    let blocked_alarm = format!("{}-profile-switch-blocked", cloud.stack.name);
    let table = pipeline::sizing::for_network(pipeline::network::Network::Regtest);
    cloud.set_quotas(localcloud::Quotas { fargate_on_demand_vcpus: 0, ..Default::default() });

    cloud.daemon_catching_up("catching-up").await;
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    let vcpus = table.sync.vcpu();
    assert_eq!(
        sample["profileSwitch"],
        json!({"state": "aboveQuota", "to": "sync", "vcpus": vcpus, "quota": 0.0}),
        "{sample}"
    );
    assert_eq!(sample["profile"], "steady", "{sample}");
    let names = pipeline::execution::Executions::names(&cloud.step_functions()).await.unwrap();
    assert!(!names.iter().any(|n| n.starts_with("profile-")), "no switch started: {names:?}");
    assert_eq!(cloudwatch.wait_for_state(&blocked_alarm, "ALARM", Duration::from_secs(20)).await, "ALARM");
    let (code, stdout, stderr) = cloud.sigship_as_operator(&["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "switch    to sync: not started: the sync size needs {vcpus} vCPUs and the account's Fargate On-Demand vCPU quota is 0"
        )) && stdout.contains("--service-code fargate --quota-code L-3032A538 --desired-value 1"),
        "{stdout}"
    );
    // An operator's switch is refused the same way, before anything stops.
    let (code, _, stderr) = cloud.sigship_as_operator(&["run", "--profile", "sync"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("to sync: not started: the sync size needs"), "{stderr}");
    // The node kept running at its size.
    let (_, _, _, profile, _) = running_revision(&cloud).await;
    assert_eq!(profile, "steady");
    assert!(stdout.contains("1 of 1 tasks running"), "{stdout}");

    // The quota raised: the next sample starts the switch, which places the sync size.
    cloud.set_quotas(localcloud::Quotas::default());
    let sample = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert_eq!(sample["profileSwitch"]["state"], "running", "{sample}");
    let switch = sample["profileSwitch"]["execution"].as_str().unwrap().to_string();
    cloud.finish(&switch).await.assert_succeeded(&cloud.logs);
    let (cpu, _, _, profile, _) = running_revision(&cloud).await;
    assert_eq!((cpu, profile), (table.sync.cpu.to_string(), "sync".to_string()));
    let syncing = cloud.invoke("node-metrics", "{}").await.unwrap();
    assert!(syncing["profileSwitch"].is_null(), "at the size it wants: {syncing}");
    assert_eq!(cloudwatch.wait_for_state(&blocked_alarm, "OK", Duration::from_secs(20)).await, "OK");
}
