//! Operating the node: how far btcd has synced, read from its own log rather than its RPC (which
//! stays inside the task). btcd's block progress logger (netsync/blocklogger.go) logs the height
//! and the newest block's time on every batch; the node-metrics function turns the newest such
//! line into metrics the stack's alarms watch, and `sigship status` shows the same reading.

use serde::{Deserialize, Serialize};

use crate::config::Env;
use crate::error::Result;
use crate::running::{DeployedRevision, Revisions, Services};
use crate::sizing::Profile;

/// The metrics' namespace and their dimensions' names.
pub const NAMESPACE: &str = "sigship";
pub const CLUSTER_DIMENSION: &str = "ClusterName";
pub const SERVICE_DIMENSION: &str = "ServiceName";

/// CloudWatch Logs filter for the progress lines; each match is then parsed strictly.
pub const PROGRESS_FILTER: &str = "\"Processed\"";
/// CloudWatch Logs filter for btcd's first line, `[INF] BTCD: Version 0.24.2-beta`: when it started.
pub const START_FILTER: &str = "\"BTCD: Version\"";
/// Where the newest progress line is looked for: the last ten minutes (a syncing node logs every
/// 10 s, a synced one at every block), then back to six hours (a stalled node). The stall alarm's
/// window must fit in the longer one.
pub const RECENT_MS: i64 = 10 * 60 * 1000;
pub const LOOKBACK_MS: i64 = 6 * 60 * 60 * 1000;

/// A line of btcd's block progress logger, e.g. `Processed 5 blocks in the last 10.02s (2113
/// transactions, height 871234, 2024-11-20 10:01:32 +0000 UTC, ~12 MiB cache)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub height: u64,
    /// Transactions in the blocks this line reports (since the previous line).
    pub transactions: u64,
    /// The newest processed block's header time, Unix seconds.
    pub block_time: i64,
    /// When the line was logged (its log event's time), Unix milliseconds.
    pub logged_at_ms: i64,
}

impl Progress {
    /// The progress in `message`, logged at `logged_at_ms`; None for any other line.
    pub fn parse(message: &str, logged_at_ms: i64) -> Option<Progress> {
        static LINE: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
        let line = LINE.get_or_init(|| {
            regex_lite::Regex::new(concat!(
                r"Processed \d+ blocks? in the last \S+ \((\d+) transactions?, height (\d+), ",
                // Go's time.Time: `2026-06-18 23:01:32 +0000 UTC`.
                r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([+-])(\d\d)(\d\d) [A-Za-z0-9+-]+[,)]",
            ))
            .expect("a valid pattern")
        });
        let found = line.captures(message)?;
        let local = humantime::parse_rfc3339_weak(&found[3]).ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        let offset = (found[5].parse::<i64>().ok()? * 3600 + found[6].parse::<i64>().ok()? * 60)
            * if &found[4] == "-" { -1 } else { 1 };
        Some(Progress {
            height: found[2].parse().ok()?,
            transactions: found[1].parse().ok()?,
            block_time: local.as_secs() as i64 - offset,
            logged_at_ms,
        })
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc_date_time(unix: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string().replace('T', " ").trim_end_matches('Z').to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// The daemon's log group, as CloudWatch Logs keeps it.
pub trait LogEvents {
    /// Events in `[start_ms, end_ms)` matching `filter` (CloudWatch Logs filter pattern syntax).
    async fn matching(&self, log_group: &str, filter: &str, start_ms: i64, end_ms: i64) -> Result<Vec<LogEvent>>;
    /// When the newest event of the group was logged.
    async fn last_event_ms(&self, log_group: &str) -> Result<Option<i64>>;
}

/// The newest of the lines matching `filter` that `parse` accepts in the last [`LOOKBACK_MS`],
/// looking at the recent minutes first; `order` says which is newest.
async fn newest_line<T, K: Ord>(
    logs: &impl LogEvents,
    log_group: &str,
    filter: &str,
    now_ms: i64,
    parse: impl Fn(&LogEvent) -> Option<T>,
    order: impl Fn(&T) -> K,
) -> Result<Option<T>> {
    let windows = [(now_ms - RECENT_MS, now_ms + 1), (now_ms - LOOKBACK_MS, now_ms - RECENT_MS)];
    for (start, end) in windows {
        let events = logs.matching(log_group, filter, start, end).await?;
        let newest = events.iter().filter_map(&parse).max_by_key(&order);
        if newest.is_some() {
            return Ok(newest);
        }
    }
    Ok(None)
}

/// The newest progress line of the last [`LOOKBACK_MS`].
pub async fn newest_progress(logs: &impl LogEvents, log_group: &str, now_ms: i64) -> Result<Option<Progress>> {
    let parse = |e: &LogEvent| Progress::parse(&e.message, e.timestamp_ms);
    newest_line(logs, log_group, PROGRESS_FILTER, now_ms, parse, |p| (p.logged_at_ms, p.height)).await
}

/// When btcd last started (its version line) in the last [`LOOKBACK_MS`], Unix milliseconds.
pub async fn newest_start(logs: &impl LogEvents, log_group: &str, now_ms: i64) -> Result<Option<i64>> {
    static LINE: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
    let line =
        LINE.get_or_init(|| regex_lite::Regex::new(r"\[INF\] BTCD: Version \d+\.\d+\.\d+").expect("a valid pattern"));
    let parse = |e: &LogEvent| line.is_match(&e.message).then_some(e.timestamp_ms);
    newest_line(logs, log_group, START_FILTER, now_ms, parse, |at| *at).await
}

/// How long btcd has run without receiving a block: now minus its newest start when no progress
/// line followed it, 0 when one did; None when neither is in the log (nothing to say). A node
/// that finds no peer logs nothing after its start, so this is what tells it from a quiet one.
pub fn seconds_without_blocks(start_ms: Option<i64>, progress: Option<&Progress>, now_ms: i64) -> Option<i64> {
    match (start_ms, progress) {
        (Some(start), progress) if progress.is_none_or(|p| p.logged_at_ms < start) => {
            Some((now_ms - start).div_euclid(1000).max(0))
        }
        (_, Some(_)) => Some(0),
        _ => None,
    }
}

/// What btcd's own log says at `now_ms`: how far it has synced, and how long it has waited for
/// a block since it started. node-metrics and `sigship status` read the same.
async fn read_log(logs: &impl LogEvents, log_group: &str, now_ms: i64) -> Result<(Option<SyncReading>, Option<i64>)> {
    let progress = newest_progress(logs, log_group, now_ms).await?;
    let start = newest_start(logs, log_group, now_ms).await?;
    let waited = seconds_without_blocks(start, progress.as_ref(), now_ms);
    Ok((progress.map(|p| SyncReading::at(p, now_ms)), waited))
}

/// How far the node has synced, at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReading {
    pub height: u64,
    pub block_time: i64,
    /// Now minus the newest block's time: how far behind the chain's tip the node is, at least.
    pub sync_lag_seconds: i64,
    /// Now minus the newest progress line: how long the height has been flat.
    pub progress_age_seconds: i64,
}

impl SyncReading {
    pub fn at(progress: Progress, now_ms: i64) -> Self {
        SyncReading {
            height: progress.height,
            block_time: progress.block_time,
            sync_lag_seconds: (now_ms.div_euclid(1000) - progress.block_time).max(0),
            progress_age_seconds: (now_ms - progress.logged_at_ms).div_euclid(1000).max(0),
        }
    }
}

/// Hours to the chain's tip at the rate of the last hour's progress lines: the chain time they
/// gained per second, less the one second a second the tip moves on. None while current (within
/// an hour of the tip), with under a minute of lines, or when the node gains no ground.
pub fn hours_to_tip(progress: &[Progress], now_ms: i64) -> Option<f64> {
    let recent: Vec<&Progress> = progress.iter().filter(|p| p.logged_at_ms >= now_ms - 60 * 60 * 1000).collect();
    let oldest = recent.iter().min_by_key(|p| (p.logged_at_ms, p.height))?;
    let newest = recent.iter().max_by_key(|p| (p.logged_at_ms, p.height))?;
    let wall_seconds = (newest.logged_at_ms - oldest.logged_at_ms) as f64 / 1000.0;
    let lag = (now_ms / 1000 - newest.block_time) as f64;
    if wall_seconds < 60.0 || lag <= 3600.0 {
        return None;
    }
    let chain_seconds_per_second = (newest.block_time - oldest.block_time) as f64 / wall_seconds;
    (chain_seconds_per_second > 1.0).then(|| lag / (chain_seconds_per_second - 1.0) / 3600.0)
}

/// A sync's pace against the plan, for `sigship status` while the node catches up: how much of
/// the chain an hour it gets through, what the plan expects here at the size it runs, and when
/// it reaches the tip at that pace. Measured in transactions where the sizing table has the
/// chain's transaction counts (its work), else in blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPace {
    /// `transactions` or `blocks`.
    pub unit: &'static str,
    /// In the last hour's progress lines.
    pub per_hour: f64,
    /// The plan's here (central): below btcd's last checkpoint, or after it.
    pub planned_per_hour: f64,
    /// The chain's share behind the node.
    pub done_share: f64,
    /// To the tip at the measured pace: the plan's hours, scaled by planned over measured.
    pub hours_left: f64,
    /// The plan's hours from here to the tip (fast, central, slow).
    pub planned_hours_left: crate::sizing::Range,
}

/// The pace of a node of `network` at `size`, from the last hour's progress lines: None while
/// current (within an hour of the tip), or with under a minute of lines.
pub fn sync_pace(
    hour: &[Progress],
    network: crate::network::Network,
    size: &crate::sizing::TaskSize,
    now_ms: i64,
) -> Option<SyncPace> {
    let mut lines: Vec<&Progress> = hour.iter().filter(|p| p.logged_at_ms >= now_ms - 60 * 60 * 1000).collect();
    lines.sort_by_key(|p| (p.logged_at_ms, p.height));
    let (oldest, newest) = (*lines.first()?, *lines.last()?);
    let wall_hours = (newest.logged_at_ms - oldest.logged_at_ms) as f64 / 3.6e6;
    let now = now_ms / 1000;
    let chain = crate::sizing::for_network(network);
    if wall_hours < 1.0 / 60.0 || now - newest.block_time <= 3600 || chain.blocks <= 0.0 {
        return None;
    }
    let (unit, done, tip, done_share) = match crate::sizing::transactions_until(chain, now) {
        // The oldest line's transactions came before the window opened.
        Some(tip) => {
            let done: u64 = lines[1..].iter().map(|p| p.transactions).sum();
            ("transactions", done as f64, tip, crate::sizing::done_share(chain, newest.block_time, now)?)
        }
        None => {
            let done = newest.height.saturating_sub(oldest.height) as f64;
            ("blocks", done, chain.blocks, (newest.height as f64 / chain.blocks).min(1.0))
        }
    };
    let plan = crate::sizing::planned_pace(chain, size, done_share);
    let per_hour = done / wall_hours;
    let planned_per_hour = plan.share_per_hour * tip;
    Some(SyncPace {
        unit,
        per_hour,
        planned_per_hour,
        done_share,
        hours_left: plan.hours_left.central * planned_per_hour / per_hour.max(1.0),
        planned_hours_left: plan.hours_left,
    })
}

impl SyncPace {
    /// For `status`: the pace beside the plan's, and the finish at that pace.
    pub fn describe(&self, now_ms: i64) -> (String, String) {
        let finish = now_ms / 1000 + (self.hours_left * 3600.0) as i64;
        let h = self.planned_hours_left;
        (
            format!(
                "{} {unit}/h in the last hour, {:.1}× the plan's {}/h here at this size ({:.0} % of the chain's \
                 {unit} behind it)",
                approximately(self.per_hour),
                self.per_hour / self.planned_per_hour.max(1.0),
                approximately(self.planned_per_hour),
                self.done_share * 100.0,
                unit = self.unit,
            ),
            format!(
                "≈ {:.0} h to the tip at that pace, ≈ {} UTC (the plan from here: {:.0}–{:.0} h, central {:.0} h)",
                self.hours_left,
                utc_date_time(finish),
                h.low,
                h.high,
                h.central
            ),
        )
    }
}

/// `18.0 M`, `52 k`, `930`.
fn approximately(count: f64) -> String {
    match count {
        c if c >= 1e6 => format!("{:.1} M", c / 1e6),
        c if c >= 1e4 => format!("{:.0} k", c / 1e3),
        c => format!("{c:.0}"),
    }
}

/// Where the node runs and logs; the node-metrics function's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    pub cluster: String,
    pub service: String,
    pub log_group: String,
    /// Whether node-metrics switches the profile ([`profile_switch`]); `SIGSHIP_PROFILE_SWITCHING`
    /// `auto` (default) or `off`.
    pub switching: bool,
    /// The network and the sizes the stack runs it at (a switch must fit the Fargate quota).
    pub sizes: crate::sizing::NodeSizes,
    /// Where it runs (a quota request names it).
    pub region: String,
}

impl NodeConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        let switching = match env.optional("SIGSHIP_PROFILE_SWITCHING").as_deref() {
            None | Some("auto") => true,
            Some("off") => false,
            Some(other) => {
                return Err(crate::Error::config(format!("SIGSHIP_PROFILE_SWITCHING={other:?}: auto or off")))
            }
        };
        Ok(NodeConfig {
            cluster: env.required("SIGSHIP_CLUSTER")?,
            service: env.required("SIGSHIP_SERVICE")?,
            log_group: env.required("SIGSHIP_LOG_GROUP")?,
            switching,
            sizes: crate::sizing::NodeSizes::from_env(env)?,
            region: env.required("AWS_REGION")?,
        })
    }
}

/// One sample of the node's metrics; absent values are not published (CloudWatch sees missing data).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSample {
    pub cluster: String,
    pub service: String,
    pub desired_tasks: i32,
    pub running_tasks: i32,
    pub sync: Option<SyncReading>,
    /// See [`seconds_without_blocks`].
    pub seconds_without_blocks: Option<i64>,
    /// The service's revision, and the profile it runs at.
    pub task_definition: String,
    pub profile: crate::sizing::Profile,
    /// The profile switch btcd's log asks for, and what became of it (started, running, or why
    /// not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_switch: Option<profile_switch::Switch>,
}

/// The metrics request: a scheduled event, whose content does not matter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SampleRequest {}

/// Samples the node, or None when no service runs yet (nothing deployed, or destroyed).
pub async fn sample(
    config: &NodeConfig,
    services: &impl Services,
    revisions: &impl Revisions,
    logs: &impl LogEvents,
    now_ms: i64,
) -> Result<Option<NodeSample>> {
    let Some(service) = services.describe(&config.cluster, &config.service).await?.filter(|s| s.is_active()) else {
        return Ok(None);
    };
    let (sync, seconds_without_blocks) = read_log(logs, &config.log_group, now_ms).await?;
    let profile = revisions.deployed(&service.task_definition).await?.and_then(|r| r.profile).unwrap_or_default();
    Ok(Some(NodeSample {
        cluster: config.cluster.clone(),
        service: config.service.clone(),
        desired_tasks: service.desired_count,
        running_tasks: service.running_count,
        sync,
        seconds_without_blocks,
        task_definition: service.task_definition,
        profile,
        profile_switch: None,
    }))
}

impl NodeSample {
    /// (metric name, value, unit), as published.
    pub fn metrics(&self) -> Vec<(&'static str, f64, &'static str)> {
        let mut metrics = vec![
            ("DesiredTasks", self.desired_tasks.into(), "Count"),
            ("RunningTasks", self.running_tasks.into(), "Count"),
        ];
        if let Some(sync) = &self.sync {
            metrics.extend([
                ("BlockHeight", sync.height as f64, "Count"),
                ("SyncLagSeconds", sync.sync_lag_seconds as f64, "Seconds"),
                ("ProgressAgeSeconds", sync.progress_age_seconds as f64, "Seconds"),
            ]);
        }
        if let Some(seconds) = self.seconds_without_blocks {
            metrics.push(("SecondsWithoutBlocks", seconds as f64, "Seconds"));
        }
        let blocked = self.profile_switch.as_ref().is_some_and(profile_switch::Switch::is_blocked);
        metrics.push(("ProfileSwitchBlocked", f64::from(u8::from(blocked)), "Count"));
        metrics
    }

    /// The sample in CloudWatch's embedded metric format: printed as one log line, CloudWatch
    /// Logs turns it into the metrics, so the function needs no PutMetricData call or permission.
    pub fn embedded_metrics(&self, now_ms: i64) -> serde_json::Value {
        let dimensions = [(CLUSTER_DIMENSION, self.cluster.as_str()), (SERVICE_DIMENSION, self.service.as_str())];
        embedded_metrics(now_ms, &dimensions, &self.metrics())
    }
}

/// `metrics` (name, value, unit) with `dimensions` (name, value) in namespace [`NAMESPACE`], in
/// CloudWatch's embedded metric format: one JSON document, printed as a line of its own.
pub fn embedded_metrics(now_ms: i64, dimensions: &[(&str, &str)], metrics: &[(&str, f64, &str)]) -> serde_json::Value {
    let mut document = serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|(name, _, unit)| serde_json::json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        },
    });
    for (name, value) in dimensions {
        document[*name] = serde_json::json!(value);
    }
    for (name, value, _) in metrics {
        document[*name] = serde_json::json!(value);
    }
    document
}

/// The node-metrics function: sample, start the profile switch the log asks for (unless it
/// cannot be placed), print the sample as embedded metrics, answer with it.
pub async fn publish(
    config: &NodeConfig,
    services: &impl Services,
    revisions: &impl Revisions,
    logs: &impl LogEvents,
    executions: &impl crate::execution::Executions,
    quotas: &impl crate::quota::QuotaValues,
    now_ms: i64,
) -> Result<Option<NodeSample>> {
    let mut sample = sample(config, services, revisions, logs, now_ms).await?;
    if let Some(sample) = sample.as_mut().filter(|_| config.switching) {
        let outlook = profile_switch::read_outlook(
            config,
            sample.profile,
            &sample.task_definition,
            logs,
            executions,
            quotas,
            now_ms,
        )
        .await?;
        if let Some(switch) = outlook {
            if switch.is_blocked() {
                tracing::warn!(switch = %switch.describe(&config.region), "profile switch not started");
            }
            sample.profile_switch = Some(profile_switch::start(executions, switch).await?);
        }
    }
    match &sample {
        // stdout, not tracing: CloudWatch reads embedded metrics only from a top-level JSON line.
        Some(sample) => println!("{}", sample.embedded_metrics(now_ms)),
        None => tracing::info!(service = %config.service, "no active service: nothing to sample"),
    }
    Ok(sample)
}

/// The node section of `sigship status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub cluster: String,
    pub service: String,
    /// ECS's status of the service; None when there is none (nothing deployed yet).
    pub service_status: Option<String>,
    pub desired_tasks: i32,
    pub running_tasks: i32,
    pub revision: Option<DeployedRevision>,
    pub sync: Option<SyncReading>,
    /// See [`seconds_without_blocks`].
    pub seconds_without_blocks: Option<i64>,
    /// See [`hours_to_tip`].
    pub hours_to_tip: Option<f64>,
    /// See [`sync_pace`].
    pub pace: Option<SyncPace>,
    pub last_log_ms: Option<i64>,
    /// The profile switch btcd's log asks for, as node-metrics sees it (when the stack switches).
    pub profile_switch: Option<profile_switch::Switch>,
}

pub async fn status(
    config: &NodeConfig,
    services: &impl Services,
    revisions: &impl Revisions,
    logs: &impl LogEvents,
    executions: &impl crate::execution::Executions,
    quotas: &impl crate::quota::QuotaValues,
    now_ms: i64,
) -> Result<NodeStatus> {
    let service = services
        .describe(&config.cluster, &config.service)
        .await?
        .filter(|s| s.status != crate::running::ServiceStatus::Inactive);
    let revision = match &service {
        Some(s) => revisions.deployed(&s.task_definition).await?,
        None => None,
    };
    let (sync, seconds_without_blocks) = read_log(logs, &config.log_group, now_ms).await?;
    let hour = logs.matching(&config.log_group, PROGRESS_FILTER, now_ms - 60 * 60 * 1000, now_ms + 1).await?;
    let hour: Vec<Progress> = hour.iter().filter_map(|e| Progress::parse(&e.message, e.timestamp_ms)).collect();
    let pace = revision.as_ref().and_then(|r| {
        let network = crate::network::Network::parse(r.network).ok()?;
        sync_pace(&hour, network, r.size.as_ref()?, now_ms)
    });
    let profile_switch = match (&service, &revision) {
        (Some(service), Some(revision)) if config.switching && service.is_active() => {
            let running = revision.profile.unwrap_or_default();
            profile_switch::read_outlook(config, running, &service.task_definition, logs, executions, quotas, now_ms)
                .await?
        }
        _ => None,
    };
    Ok(NodeStatus {
        cluster: config.cluster.clone(),
        service: config.service.clone(),
        service_status: service.as_ref().map(|s| s.status.as_str().to_string()),
        desired_tasks: service.as_ref().map_or(0, |s| s.desired_count),
        running_tasks: service.as_ref().map_or(0, |s| s.running_count),
        revision,
        sync,
        seconds_without_blocks,
        hours_to_tip: hours_to_tip(&hour, now_ms),
        pace,
        last_log_ms: logs.last_event_ms(&config.log_group).await?,
        profile_switch,
    })
}

/// A node catching up at its sync size. A release deployed now would stop it mid-sync: btcd's
/// final flush of a cache that size takes far longer than Fargate's 120 s stop timeout, and a kill
/// before its first flush loses the sync — so the triggers defer releases while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syncing {
    /// The revision it runs, by name (`btcd:7`).
    pub task_definition: String,
    pub network: &'static str,
    pub size: Option<crate::sizing::TaskSize>,
}

impl Syncing {
    pub fn of(revision: DeployedRevision) -> Self {
        Syncing {
            // `btcd:7`, as status names a revision.
            task_definition: crate::arn::name_of(&revision.task_definition).to_string(),
            network: revision.network,
            size: revision.size,
        }
    }

    /// What stopping it now costs, in words: the flush a full cache of its size needs against
    /// Fargate's stop timeout, and what a kill loses.
    pub fn stop_cost(&self) -> String {
        let chain = crate::network::Network::parse(self.network).ok().map(crate::sizing::for_network);
        let flush =
            self.size.zip(chain).map(|(size, chain)| crate::sizing::flush_seconds(size.utxo_cache_mib.into(), chain));
        let timeout = crate::task_definition::STOP_TIMEOUT_SECONDS;
        match flush {
            Some(seconds) if seconds <= f64::from(timeout) => format!(
                "btcd writes its UTXO cache out when it stops (≈ {seconds:.0} s for its full cache, within the \
                 {timeout} s Fargate gives it), and the new task resumes the sync from there"
            ),
            _ => format!(
                "btcd writes its UTXO cache out when it stops ({}), Fargate kills it {timeout} s after \
                 asking, and a kill before btcd's first UTXO flush loses the sync: it starts over from that flush (with \
                 a cache that holds the whole set, from the beginning)",
                flush.map_or("a cache of unknown size".to_string(), |s| format!("up to ≈ {:.0} min for its full cache", s / 60.0))
            ),
        }
    }
}

/// Whether the node syncs now.
pub trait SyncGate {
    async fn syncing(&self) -> Result<Option<Syncing>>;
}

/// The node as ECS runs it: the running revision's `sigship:profile` says whether it syncs
/// (node-metrics moves it to the sync size while far behind, and back once current and flushed).
pub struct RunningNode<E> {
    pub ecs: E,
    pub cluster: String,
    pub service: String,
}

impl<E: Services + Revisions> SyncGate for RunningNode<E> {
    async fn syncing(&self) -> Result<Option<Syncing>> {
        let Some(service) = self.ecs.describe(&self.cluster, &self.service).await?.filter(|s| s.is_active()) else {
            return Ok(None);
        };
        let revision = self.ecs.deployed(&service.task_definition).await?;
        Ok(revision.filter(|r| r.profile == Some(Profile::Sync)).map(Syncing::of))
    }
}

/// A known answer, for tests.
impl SyncGate for Option<Syncing> {
    async fn syncing(&self) -> Result<Option<Syncing>> {
        Ok(self.clone())
    }
}

pub mod profile_switch;

#[cfg(test)]
mod tests;
