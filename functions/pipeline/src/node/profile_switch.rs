//! When the node changes size: node-metrics reads btcd's log each minute and, when the profile
//! that runs no longer fits, starts the switch as an ordinary execution (`{"profile": …}`), queued
//! like every other. Switching from the metrics function rather than an alarm: it already reads
//! the lines the decision needs (progress and flushes), and an execution name per revision makes
//! its minute-by-minute repetition start one switch.

use serde::Serialize;

use super::{LogEvent, LogEvents, Progress, LOOKBACK_MS, PROGRESS_FILTER};
use crate::error::Result;
use crate::execution::{Executions, ListedExecution, Started};
use crate::quota::QuotaValues;
use crate::sizing::{Profile, TaskSize};

/// Far behind: the sync size pays for itself (mainnet's steady size would spend days on EFS reads).
pub const SYNC_WHEN_BEHIND_SECONDS: i64 = 24 * 60 * 60;
/// How long the node must have been far behind and catching up before it switches: one reading
/// is not a trend, and a stalled node gains nothing from a larger task.
pub const SYNC_AFTER_MS: i64 = 10 * 60 * 1000;
/// Current: back to the steady size — once btcd has flushed its cache since (see [`decide`]).
pub const STEADY_WITHIN_SECONDS: i64 = 60 * 60;
/// btcd's flush line, `Flushing UTXO cache of N MiB with M entries to disk. For large sizes, …`.
pub const FLUSH_FILTER: &str = "\"Flushing UTXO cache\"";

fn lag_at(progress: &Progress) -> i64 {
    progress.logged_at_ms / 1000 - progress.block_time
}

/// The profile to switch to, if any, from the progress lines and flush times (Unix ms) of the
/// last hours. To sync: far behind now and for [`SYNC_AFTER_MS`], and progressing. To steady:
/// current now, and a flush logged after the node became current and completed — a progress line
/// after it (btcd processes no block while it flushes): stopping the sync-size task then writes
/// only minutes of changes within Fargate's 120 s, never the whole cache.
pub fn decide(running: Profile, progress: &[Progress], flushes_ms: &[i64], now_ms: i64) -> Option<Profile> {
    let mut lines = progress.to_vec();
    lines.sort_by_key(|p| (p.logged_at_ms, p.height));
    let newest = lines.last()?;
    let lag_now = now_ms / 1000 - newest.block_time;
    match running {
        Profile::Steady if lag_now > SYNC_WHEN_BEHIND_SECONDS => {
            let behind_since = lines
                .iter()
                .find(|p| p.logged_at_ms <= now_ms - SYNC_AFTER_MS && lag_at(p) > SYNC_WHEN_BEHIND_SECONDS)?;
            (newest.height > behind_since.height).then_some(Profile::Sync)
        }
        Profile::Sync if lag_now <= STEADY_WITHIN_SECONDS => {
            // The start of the newest run of current lines.
            let current_since =
                lines.iter().rev().take_while(|p| lag_at(p) <= STEADY_WITHIN_SECONDS).last()?.logged_at_ms;
            let flushed =
                flushes_ms.iter().any(|&flush| flush >= current_since && lines.iter().any(|p| p.logged_at_ms > flush));
            flushed.then_some(Profile::Steady)
        }
        _ => None,
    }
}

/// The progress lines and flush times of the last [`LOOKBACK_MS`].
pub async fn read(logs: &impl LogEvents, log_group: &str, now_ms: i64) -> Result<(Vec<Progress>, Vec<i64>)> {
    let start = now_ms - LOOKBACK_MS;
    let progress = logs.matching(log_group, PROGRESS_FILTER, start, now_ms + 1).await?;
    let progress = progress.iter().filter_map(|e: &LogEvent| Progress::parse(&e.message, e.timestamp_ms)).collect();
    let flushes = logs.matching(log_group, FLUSH_FILTER, start, now_ms + 1).await?;
    let flushes = flushes.iter().filter(|e| e.message.contains("Flushing UTXO cache of ")).map(|e| e.timestamp_ms);
    Ok((progress, flushes.collect()))
}

/// How many times a switch is tried from one running revision: a switch that cannot be placed
/// fails its deployment, ECS's circuit breaker puts the revision that ran back, and the next
/// attempt waits [`RETRY_AFTER_MS`], doubling each time.
pub const MAX_ATTEMPTS: u32 = 3;
pub const RETRY_AFTER_MS: i64 = 15 * 60 * 1000;

/// `profile-<profile>-from-<family>-<revision>-<attempt>`: one execution per attempt, however
/// many minutes decide it.
pub fn execution_name(profile: Profile, task_definition: &str, attempt: u32) -> String {
    format!("{}{attempt}", name_prefix(profile, task_definition))
}

fn name_prefix(profile: Profile, task_definition: &str) -> String {
    let revision = crate::arn::name_of(task_definition).replace(':', "-");
    format!("profile-{}-from-{revision}-", profile.name())
}

/// What becomes of a switch the node's log asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Switch {
    /// To start now: node-metrics starts it.
    Due { to: Profile, execution: String },
    /// Started, and running.
    Running { to: Profile, execution: String },
    /// Not started: the account's Fargate On-Demand vCPU quota cannot place the size, and the
    /// service would stop the node before finding that out.
    AboveQuota { to: Profile, vcpus: f64, quota: f64 },
    /// The last attempt failed (the service went back to the revision that ran); the next
    /// starts at `retry_at_ms`.
    Retrying { to: Profile, failed: String, retry_at_ms: i64 },
    /// [`MAX_ATTEMPTS`] failed; `sigship run --profile <to>` tries again.
    GaveUp { to: Profile, failed: String },
}

impl Switch {
    /// Wanted but not running: what the ProfileSwitchBlocked alarm counts.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Switch::AboveQuota { .. } | Switch::Retrying { .. } | Switch::GaveUp { .. })
    }

    /// For `status` and the log, e.g. `to sync: not started: …`.
    pub fn describe(&self, region: &str) -> String {
        match self {
            Switch::Due { to, execution } => format!("to {to}: due, node-metrics starts {execution} within a minute"),
            Switch::Running { to, execution } => format!("to {to}: running ({execution})"),
            Switch::AboveQuota { to, vcpus, quota } => format!(
                "to {to}: not started: the {to} size needs {vcpus} vCPUs and the account's Fargate On-Demand vCPU \
                 quota is {quota:.0}; the node keeps running at its size. Raise it: {}",
                crate::quota::FARGATE_ON_DEMAND_VCPUS.increase_request(region, vcpus.ceil())
            ),
            Switch::Retrying { to, failed, retry_at_ms } => format!(
                "to {to}: {failed} failed (the node went back to the size that ran); node-metrics tries again at {} UTC, \
                 or now: `sigship run --profile {to}`",
                super::utc_date_time(retry_at_ms / 1000)
            ),
            Switch::GaveUp { to, failed } => format!(
                "to {to}: {MAX_ATTEMPTS} attempts failed, the last {failed} (see `sigship status --execution {failed}`); \
                 the node runs at the size that ran. Try again: `sigship run --profile {to}`"
            ),
        }
    }
}

/// What becomes of a switch to `to` from `task_definition`, given the executions in the history,
/// the account's Fargate vCPU quota (None: unknown) and the size `to` runs at.
pub fn outlook(
    to: Profile,
    task_definition: &str,
    listed: &[ListedExecution],
    quota: Option<f64>,
    size: TaskSize,
    now_ms: i64,
) -> Switch {
    let prefix = name_prefix(to, task_definition);
    let mut attempts: Vec<(u32, &ListedExecution)> =
        listed.iter().filter_map(|e| Some((e.name.strip_prefix(&prefix)?.parse().ok()?, e))).collect();
    attempts.sort_by_key(|(attempt, _)| *attempt);
    if let Some((_, running)) = attempts.iter().find(|(_, e)| e.is_running()) {
        return Switch::Running { to, execution: running.name.clone() };
    }
    if let Some(quota) = quota.filter(|q| *q < size.vcpu()) {
        return Switch::AboveQuota { to, vcpus: size.vcpu(), quota };
    }
    let Some((last, failed)) = attempts.last() else {
        return Switch::Due { to, execution: execution_name(to, task_definition, 1) };
    };
    if *last >= MAX_ATTEMPTS {
        return Switch::GaveUp { to, failed: failed.name.clone() };
    }
    let retry_at_ms = failed.stopped_ms.unwrap_or(now_ms) + RETRY_AFTER_MS * (1 << (last - 1));
    if now_ms < retry_at_ms {
        return Switch::Retrying { to, failed: failed.name.clone(), retry_at_ms };
    }
    Switch::Due { to, execution: execution_name(to, task_definition, last + 1) }
}

/// The switch the node's log asks for now, if any, and what becomes of it (node-metrics and
/// `sigship status` read the same).
pub async fn read_outlook(
    config: &super::NodeConfig,
    running: Profile,
    task_definition: &str,
    logs: &impl LogEvents,
    executions: &impl Executions,
    quotas: &impl QuotaValues,
    now_ms: i64,
) -> Result<Option<Switch>> {
    let (progress, flushes) = read(logs, &config.log_group, now_ms).await?;
    let Some(to) = decide(running, &progress, &flushes, now_ms) else { return Ok(None) };
    let quota = match quotas.value(crate::quota::FARGATE_ON_DEMAND_VCPUS).await {
        Ok(quota) => quota,
        // Unknown: the switch goes ahead; one that cannot be placed comes back and is retried.
        Err(err) => {
            tracing::warn!(error = %err, "the Fargate vCPU quota cannot be read");
            None
        }
    };
    let listed = executions.listed().await?;
    Ok(Some(outlook(to, task_definition, &listed, quota, config.sizes.size(to), now_ms)))
}

/// Starts a due switch; what it is then.
pub async fn start(executions: &impl Executions, switch: Switch) -> Result<Switch> {
    let Switch::Due { to, execution } = switch else { return Ok(switch) };
    match executions.start(&execution, &serde_json::json!({ "profile": to })).await? {
        Started::New(_) => tracing::info!(execution = %execution, "profile switch started"),
        Started::AlreadyExists => tracing::info!(execution = %execution, "profile switch already started"),
    }
    Ok(Switch::Running { to, execution })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_MS: i64 = 60_000;
    const NOW_MS: i64 = 1_796_000_000_000;

    /// A progress line logged `minutes_ago`, its newest block `lag` seconds older than that.
    fn line(minutes_ago: i64, height: u64, lag: i64) -> Progress {
        let logged_at_ms = NOW_MS - minutes_ago * MINUTE_MS;
        Progress { height, transactions: 1, block_time: logged_at_ms / 1000 - lag, logged_at_ms }
    }

    const YEARS: i64 = 5 * 365 * 24 * 3600;

    #[test]
    fn far_behind_and_catching_up_for_ten_minutes_switches_to_sync() {
        let catching_up = [line(12, 100_000, YEARS), line(6, 120_000, YEARS), line(0, 140_000, YEARS)];
        assert_eq!(decide(Profile::Steady, &catching_up, &[], NOW_MS), Some(Profile::Sync));
        // Not yet ten minutes of it, stalled, or already at the sync size: no switch.
        assert_eq!(decide(Profile::Steady, &catching_up[1..], &[], NOW_MS), None);
        let stalled = [line(12, 100_000, YEARS), line(0, 100_000, YEARS)];
        assert_eq!(decide(Profile::Steady, &stalled, &[], NOW_MS), None);
        assert_eq!(decide(Profile::Sync, &catching_up, &[], NOW_MS), None);
        // Behind by hours, not a day: the steady size catches up.
        let hours = [line(12, 100_000, 5 * 3600), line(0, 100_030, 5 * 3600)];
        assert_eq!(decide(Profile::Steady, &hours, &[], NOW_MS), None);
        // No line at all (no peer yet): nothing to decide on.
        assert_eq!(decide(Profile::Steady, &[], &[], NOW_MS), None);
    }

    #[test]
    fn current_and_flushed_since_switches_back_to_steady_after_the_flush_completed() {
        let lines =
            [line(40, 900_000, 3 * 86_400), line(20, 925_000, 600), line(10, 925_001, 300), line(1, 925_002, 200)];
        let at = |minutes_ago: i64| NOW_MS - minutes_ago * MINUTE_MS;
        // A flush after the node became current (20 min ago), with a block processed after it.
        assert_eq!(decide(Profile::Sync, &lines, &[at(15)], NOW_MS), Some(Profile::Steady));
        // Only a flush from before it was current, or one not finished yet (no line after it).
        assert_eq!(decide(Profile::Sync, &lines, &[at(30)], NOW_MS), None);
        assert_eq!(decide(Profile::Sync, &lines, &[at(0)], NOW_MS), None);
        assert_eq!(decide(Profile::Sync, &lines, &[], NOW_MS), None);
        // Still a day behind: keep syncing.
        let behind = [line(10, 800_000, 2 * 86_400), line(0, 810_000, 2 * 86_400)];
        assert_eq!(decide(Profile::Sync, &behind, &[at(5)], NOW_MS), None);
    }

    const REVISION: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/btcd:7";

    fn attempt(n: u32, status: &str, stopped_minutes_ago: Option<i64>) -> ListedExecution {
        ListedExecution {
            name: execution_name(Profile::Sync, REVISION, n),
            status: status.into(),
            stopped_ms: stopped_minutes_ago.map(|m| NOW_MS - m * MINUTE_MS),
        }
    }

    #[test]
    fn one_switch_per_running_revision_and_attempt() {
        assert_eq!(execution_name(Profile::Sync, REVISION, 1), "profile-sync-from-btcd-7-1");
        assert_eq!(execution_name(Profile::Steady, REVISION, 2), "profile-steady-from-btcd-7-2");
    }

    #[test]
    fn a_switch_is_due_once_runs_once_and_fails_back_to_bounded_later_attempts() {
        let size = crate::sizing::for_network(crate::network::Network::Mainnet).sync;
        let at = |listed: &[ListedExecution], now_ms: i64| {
            outlook(Profile::Sync, REVISION, listed, Some(16.0), size, now_ms)
        };
        let due = |n: u32| Switch::Due { to: Profile::Sync, execution: execution_name(Profile::Sync, REVISION, n) };
        assert_eq!(at(&[], NOW_MS), due(1));
        // Another revision's attempts, or other executions, do not count.
        let other =
            ListedExecution { name: "profile-sync-from-btcd-6-1".into(), status: "FAILED".into(), stopped_ms: None };
        assert_eq!(at(&[other], NOW_MS), due(1));
        let running = [attempt(1, "RUNNING", None)];
        assert_eq!(at(&running, NOW_MS), Switch::Running { to: Profile::Sync, execution: running[0].name.clone() });
        // Failed 5 minutes ago: the second attempt 15 minutes after it, the third 30 after the second.
        let failed = [attempt(1, "FAILED", Some(5))];
        let retry_at_ms = NOW_MS + 10 * MINUTE_MS;
        let waiting = Switch::Retrying { to: Profile::Sync, failed: failed[0].name.clone(), retry_at_ms };
        assert_eq!(at(&failed, NOW_MS), waiting);
        assert!(waiting.is_blocked());
        assert_eq!(at(&failed, retry_at_ms), due(2));
        let twice = [attempt(1, "FAILED", Some(60)), attempt(2, "FAILED", Some(20))];
        assert!(
            matches!(at(&twice, NOW_MS), Switch::Retrying { retry_at_ms, .. } if retry_at_ms == NOW_MS + 10 * MINUTE_MS)
        );
        assert_eq!(at(&twice, NOW_MS + 10 * MINUTE_MS), due(3));
        let thrice = [attempt(1, "FAILED", Some(120)), attempt(2, "FAILED", Some(90)), attempt(3, "FAILED", Some(60))];
        assert_eq!(at(&thrice, NOW_MS), Switch::GaveUp { to: Profile::Sync, failed: thrice[2].name.clone() });
    }

    #[test]
    fn a_size_above_the_fargate_quota_is_never_started() {
        let size = crate::sizing::for_network(crate::network::Network::Mainnet).sync;
        let blocked = outlook(Profile::Sync, REVISION, &[], Some(6.0), size, NOW_MS);
        assert_eq!(blocked, Switch::AboveQuota { to: Profile::Sync, vcpus: 16.0, quota: 6.0 });
        let said = blocked.describe("us-east-1");
        assert!(said.contains("--service-code fargate --quota-code L-3032A538 --desired-value 16"), "{said}");
        assert!(said.contains("keeps running"), "{said}");
        // Room for it, or the quota unknown (a switch that cannot be placed comes back).
        assert!(matches!(outlook(Profile::Sync, REVISION, &[], Some(16.0), size, NOW_MS), Switch::Due { .. }));
        assert!(matches!(outlook(Profile::Sync, REVISION, &[], None, size, NOW_MS), Switch::Due { .. }));
    }

    #[test]
    fn the_time_to_the_tip_is_the_lag_over_the_ground_gained_per_second() {
        // An hour of lines gaining 11 chain-hours an hour, 100 h behind: 10 h to go.
        let lines = [line(60, 100_000, 100 * 3600 + 600 * 60), line(0, 110_000, 100 * 3600)];
        let hours = crate::node::hours_to_tip(&lines, NOW_MS).unwrap();
        assert!((hours - 10.0).abs() < 0.01, "{hours}");
        // Current, gaining no ground, or a single line: no estimate.
        assert_eq!(crate::node::hours_to_tip(&[line(60, 1, 600), line(0, 2, 600)], NOW_MS), None);
        assert_eq!(crate::node::hours_to_tip(&[line(60, 1, 7200), line(0, 2, 7200 + 3600)], NOW_MS), None);
        assert_eq!(crate::node::hours_to_tip(&[line(0, 1, YEARS)], NOW_MS), None);
    }
}
