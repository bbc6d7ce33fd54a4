use super::*;
use crate::testing::{FakeLogs, FakeRevisions, FakeServices};

/// Lines as btcd v0.24 writes them through btclog (netsync/blocklogger.go's format).
const SYNCING: &str = "2026-06-18 23:01:42.118 [INF] SYNC: Processed 1377 blocks in the last 10.01s (2848 transactions, height 201377, 2012-10-01 08:13:50 +0000 UTC, ~41 MiB cache)";
const SYNCED: &str = "2026-06-18 23:11:02.507 [INF] SYNC: Processed 1 block in the last 9m20.38s (1 transaction, height 201378, 2026-06-18 23:01:32 +0200 CEST, ~236 MiB cache)";
/// Before v0.24 the line had no cache size.
const OLDER: &str = "2021-03-02 10:00:00.000 [INF] SYNC: Processed 12 blocks in the last 10.2s (31 transactions, height 42, 2009-01-09 03:54:39 +0000 UTC)";

const fn at(secs: i64) -> i64 {
    secs * 1000
}

#[test]
fn a_progress_line_gives_height_and_the_block_s_time() {
    let syncing = Progress::parse(SYNCING, 7).unwrap();
    assert_eq!(syncing, Progress { height: 201_377, transactions: 2848, block_time: 1_349_079_230, logged_at_ms: 7 });
    // 23:01:32 at +0200 is 21:01:32 UTC.
    let synced = Progress::parse(SYNCED, 0).unwrap();
    assert_eq!((synced.height, synced.block_time), (201_378, 1_781_816_492));
    assert_eq!(Progress::parse(OLDER, 0).map(|p| (p.height, p.block_time)), Some((42, 1_231_473_279)));
}

#[test]
fn other_lines_are_not_progress() {
    for line in [
        "2026-06-18 23:01:42.118 [INF] SYNC: Syncing to block height 870000 from peer 1.2.3.4:8333",
        "2026-06-18 23:01:42.118 [INF] INDX: Indexed 1 block in the last 10s (2 transactions, height 5, 2026-06-18 23:01:32 +0000 UTC)",
        "Processed 1 block in the last 10s (2 transactions, height x, 2026-06-18 23:01:32 +0000 UTC)",
        "Processed 1 block in the last 10s (2 transactions, height 5, 2026-13-18 23:01:32 +0000 UTC)",
        "Processed 1 block in the last 10s (2 transactions, height 5, yesterday)",
    ] {
        assert_eq!(Progress::parse(line, 0), None, "{line}");
    }
}

#[test]
fn dates_convert_both_ways() {
    assert_eq!(utc_date_time(0), "1970-01-01 00:00:00");
    assert_eq!(
        Progress::parse(
            "Processed 1 block in the last 10s (1 transaction, height 1, 2026-02-30 00:00:00 +0000 UTC)",
            0
        ),
        None
    );
    assert_eq!(utc_date_time(1_781_816_492), "2026-06-18 21:01:32");
    assert_eq!(utc_date_time(951_782_400), "2000-02-29 00:00:00");
    for unix in [0, 1_231_473_279, 1_349_079_230, 4_102_444_799] {
        let text =
            format!("Processed 1 block in the last 10s (1 transaction, height 1, {} +0000 UTC)", utc_date_time(unix));
        assert_eq!(Progress::parse(&text, 0).unwrap().block_time, unix, "{text}");
    }
}

#[tokio::test]
async fn the_newest_line_wins_and_the_recent_minutes_are_read_first() {
    let now = at(1_781_816_000);
    let logs = FakeLogs::with(&[(now - at(30), SYNCING), (now - at(20), SYNCED), (now - at(25), OLDER)]);
    let newest = newest_progress(&logs, "/sigship/btcd", now).await.unwrap().unwrap();
    assert_eq!(newest.height, 201_378);
    assert_eq!(logs.windows.lock().unwrap().len(), 1, "found in the recent window: the lookback is not read");

    let stalled = FakeLogs::with(&[(now - at(3 * 3600), SYNCING)]);
    let newest = newest_progress(&stalled, "/sigship/btcd", now).await.unwrap().unwrap();
    assert_eq!(newest.logged_at_ms, now - at(3 * 3600));
    assert_eq!(*stalled.windows.lock().unwrap(), [(now - RECENT_MS, now + 1), (now - LOOKBACK_MS, now - RECENT_MS)]);

    let gone = FakeLogs::with(&[(now - LOOKBACK_MS - 1, SYNCING), (now - at(5), "[INF] BTCD: Version 0.24.2")]);
    assert_eq!(newest_progress(&gone, "/sigship/btcd", now).await.unwrap(), None);
}

fn node_config() -> NodeConfig {
    NodeConfig {
        cluster: "sigship".into(),
        service: "btcd".into(),
        log_group: "/sigship/btcd".into(),
        switching: true,
        sizes: crate::sizing::NodeSizes::of_table(crate::network::Network::Mainnet),
        region: "us-east-1".into(),
    }
}

#[tokio::test]
async fn a_sample_measures_lag_and_flat_time_at_now() {
    let config = node_config();
    let logged = at(1_781_816_000);
    let logs = FakeLogs::with(&[(logged, SYNCING)]);
    let now = logged + at(90);
    let sample = sample(&config, &FakeServices::running("btcd:3", 1, 0), &FakeRevisions::default(), &logs, now)
        .await
        .unwrap()
        .unwrap();
    let sync = sample.sync.unwrap();
    assert_eq!(sync.sync_lag_seconds, 1_781_816_090 - 1_349_079_230);
    assert_eq!(sync.progress_age_seconds, 90);
    assert_eq!((sample.desired_tasks, sample.running_tasks), (1, 0));

    let emf = sample.embedded_metrics(now);
    assert_eq!(emf["_aws"]["Timestamp"], now);
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["ClusterName", "ServiceName"]]));
    let names: Vec<_> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "DesiredTasks",
            "RunningTasks",
            "BlockHeight",
            "SyncLagSeconds",
            "ProgressAgeSeconds",
            "SecondsWithoutBlocks",
            "ProfileSwitchBlocked"
        ]
    );
    assert_eq!(emf["BlockHeight"], 201_377.0);
    assert_eq!(emf["ServiceName"], "btcd");
}

#[tokio::test]
async fn no_service_no_sample_and_no_progress_publishes_only_the_task_counts() {
    let config = node_config();
    let none = sample(&config, &FakeServices::settling(), &FakeRevisions::default(), &FakeLogs::default(), at(10))
        .await
        .unwrap();
    assert_eq!(none, None);
    let starting = sample(
        &config,
        &FakeServices::running("btcd:1", 1, 1),
        &FakeRevisions::default(),
        &FakeLogs::default(),
        at(10),
    )
    .await
    .unwrap();
    let names: Vec<_> = starting.unwrap().metrics().into_iter().map(|(name, _, _)| name).collect();
    assert_eq!(names, ["DesiredTasks", "RunningTasks", "ProfileSwitchBlocked"]);
}

/// btcd's first line (btcd.go), as the real v0.24.2 logs it.
const STARTED: &str = "2026-12-02 15:10:01.512 [INF] BTCD: Version 0.24.2-beta";

#[tokio::test]
async fn a_node_that_received_no_block_since_it_started_says_for_how_long() {
    let config = node_config();
    let running = FakeServices::running("btcd:1", 1, 1);
    let now = at(1_781_816_000);
    let no_peer = FakeLogs::with(&[
        (now - at(40 * 60), STARTED),
        (now - at(40 * 60 - 1), "2026-12-02 15:10:01.700 [INF] CMGR: Server listening on 0.0.0.0:8333"),
    ]);
    let sample = sample(&config, &running, &FakeRevisions::default(), &no_peer, now).await.unwrap().unwrap();
    assert_eq!((sample.sync, sample.seconds_without_blocks), (None, Some(40 * 60)));
    let names: Vec<_> = sample.metrics().into_iter().map(|(name, _, _)| name).collect();
    assert_eq!(names, ["DesiredTasks", "RunningTasks", "SecondsWithoutBlocks", "ProfileSwitchBlocked"]);

    // Restarted after syncing: the old height stays known, the wait counts from the restart.
    let restarted = FakeLogs::with(&[(now - at(3600), SYNCING), (now - at(600), STARTED)]);
    let sample = sample_of(&config, &running, &restarted, now).await;
    assert_eq!((sample.sync.unwrap().height, sample.seconds_without_blocks), (201_377, Some(600)));
    // A block since: nothing to wait for.
    let syncing = FakeLogs::with(&[(now - at(600), STARTED), (now - at(5), SYNCING)]);
    assert_eq!(sample_of(&config, &running, &syncing, now).await.seconds_without_blocks, Some(0));
    // Started over six hours ago, blocks since: still syncing.
    let long_running = FakeLogs::with(&[(now - at(5), SYNCED)]);
    assert_eq!(sample_of(&config, &running, &long_running, now).await.seconds_without_blocks, Some(0));
    // Other lines naming a version are not btcd's start.
    let other = FakeLogs::with(&[(now - at(5), "2026-12-02 15:10:01.512 [INF] RPCS: Version 2 of the API")]);
    assert_eq!(sample_of(&config, &running, &other, now).await.seconds_without_blocks, None);
}

async fn sample_of(config: &NodeConfig, services: &FakeServices, logs: &FakeLogs, now: i64) -> NodeSample {
    sample(config, services, &FakeRevisions::default(), logs, now).await.unwrap().unwrap()
}

/// A progress line logged at `logged_ms`, its newest block `lag` seconds older than that.
fn progress_line(logged_ms: i64, height: u64, lag: i64) -> (i64, String) {
    let logged = utc_date_time(logged_ms / 1000);
    let block = utc_date_time(logged_ms / 1000 - lag);
    (logged_ms, format!("{logged}.118 [INF] SYNC: Processed 900 blocks in the last 10.01s (2848 transactions, height {height}, {block} +0000 UTC, ~41 MiB cache)"))
}

#[tokio::test]
async fn node_metrics_never_starts_a_switch_the_fargate_quota_cannot_place() {
    let config = node_config();
    let now = at(1_781_816_000);
    let years = 5 * 365 * 86_400;
    let lines: Vec<(i64, String)> =
        (0..3).map(|i| progress_line(now - at(60 * (15 - 7 * i)), 100_000 + 20_000 * i as u64, years)).collect();
    let logs = FakeLogs::with(&lines.iter().map(|(at, line)| (*at, line.as_str())).collect::<Vec<_>>());
    let running = FakeServices::running("arn:aws:ecs:us-east-1:123456789012:task-definition/btcd:3", 1, 1);
    let revisions = FakeRevisions::default();

    // AWS's default 6 vCPUs, mainnet's sync size 16: nothing starts, the alarm's metric says so.
    let executions = crate::testing::FakeExecutions::default();
    let sample = publish(&config, &running, &revisions, &logs, &executions, &Some(6.0), now).await.unwrap().unwrap();
    assert_eq!(
        sample.profile_switch,
        Some(profile_switch::Switch::AboveQuota { to: Profile::Sync, vcpus: 16.0, quota: 6.0 })
    );
    assert!(executions.started.lock().unwrap().is_empty());
    assert!(sample.metrics().contains(&("ProfileSwitchBlocked", 1.0, "Count")));

    // Raised to 16: the first attempt starts.
    let sample = publish(&config, &running, &revisions, &logs, &executions, &Some(16.0), now).await.unwrap().unwrap();
    let started = executions.started.lock().unwrap().clone();
    assert_eq!(started, [("profile-sync-from-btcd-3-1".to_string(), serde_json::json!({"profile": "sync"}))]);
    assert!(matches!(sample.profile_switch, Some(profile_switch::Switch::Running { .. })));
    assert!(sample.metrics().contains(&("ProfileSwitchBlocked", 0.0, "Count")));
}

#[test]
fn a_sync_s_pace_is_measured_in_transactions_and_projected_on_the_plan() {
    use crate::network::Network;
    let mainnet = crate::sizing::for_network(Network::Mainnet);
    let now = at(1_796_601_600);
    let mid_2019 = 1_562_000_000;
    // An hour of lines 10 s apart, 50,000 transactions each: 18 M an hour after the first line.
    let lines: Vec<Progress> = (0..=360)
        .map(|i| Progress {
            height: 580_000 + i,
            transactions: 50_000,
            block_time: mid_2019 + i as i64 * 600,
            logged_at_ms: now - at(3600) + at(10 * i as i64),
        })
        .collect();
    let pace = sync_pace(&lines, Network::Mainnet, &mainnet.sync, now).unwrap();
    assert!((pace.per_hour - 18e6).abs() < 1.0 && pace.unit == "transactions", "{pace:?}");
    assert!((0.3..0.4).contains(&pace.done_share), "{pace:?}");
    let plan = crate::sizing::planned_pace(mainnet, &mainnet.sync, pace.done_share);
    assert_eq!(pace.planned_hours_left, plan.hours_left);
    // Slower than the plan by its ratio: the plan's hours stretched by the same.
    let ratio = pace.planned_per_hour / pace.per_hour;
    assert!((pace.hours_left - plan.hours_left.central * ratio).abs() < 1e-6, "{pace:?}");
    let said = pace.describe(now);
    assert!(said.0.starts_with("18.0 M transactions/h in the last hour, 0.3× the plan's 54.1 M/h here"), "{said:?}");
    assert!(said.1.contains("h to the tip at that pace") && said.1.contains("(the plan from here: "), "{said:?}");

    // Current, or too few lines: no pace.
    let current: Vec<Progress> = lines.iter().map(|p| Progress { block_time: now / 1000 - 600, ..*p }).collect();
    assert_eq!(sync_pace(&current, Network::Mainnet, &mainnet.sync, now), None);
    assert_eq!(sync_pace(&lines[355..], Network::Mainnet, &mainnet.sync, now), None);
    // A network without transaction counts: in blocks, its height against the table's.
    let testnet4 = crate::sizing::for_network(Network::Testnet4);
    let halfway: Vec<Progress> = lines.iter().map(|p| Progress { height: p.height - 520_000, ..*p }).collect();
    let pace = sync_pace(&halfway, Network::Testnet4, &testnet4.sync, now).unwrap();
    assert_eq!((pace.unit, pace.per_hour), ("blocks", 360.0));
    assert!((pace.done_share - 60_360.0 / testnet4.blocks).abs() < 1e-9, "{pace:?}");
    assert!(pace.hours_left > 0.0 && pace.planned_hours_left.central > 0.0, "{pace:?}");
}
