//! When the node changes size: node-metrics reads btcd's log each minute and, when the profile
//! that runs no longer fits, starts the switch as an ordinary execution (`{"profile": …}`), queued
//! like every other. Switching from the metrics function rather than an alarm: it already reads
//! the lines the decision needs (progress and flushes), and an execution name per revision makes
//! its minute-by-minute repetition start one switch.

use super::{LogEvent, LogEvents, Progress, LOOKBACK_MS, PROGRESS_FILTER};
use crate::error::Result;
use crate::execution::{Executions, Started};
use crate::sizing::Profile;

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

/// `profile-<profile>-from-<family>-<revision>`: one switch per running revision, however many
/// minutes decide it.
pub fn execution_name(profile: Profile, task_definition: &str) -> String {
    let revision = crate::arn::name_of(task_definition).replace(':', "-");
    format!("profile-{}-from-{revision}", profile.name())
}

/// Starts the switch; its execution name, whether new or already started.
pub async fn start(executions: &impl Executions, profile: Profile, task_definition: &str) -> Result<String> {
    let name = execution_name(profile, task_definition);
    match executions.start(&name, &serde_json::json!({ "profile": profile })).await? {
        Started::New(_) => tracing::info!(execution = %name, "profile switch started"),
        Started::AlreadyExists => tracing::info!(execution = %name, "profile switch already started"),
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_MS: i64 = 60_000;
    const NOW_MS: i64 = 1_796_000_000_000;

    /// A progress line logged `minutes_ago`, its newest block `lag` seconds older than that.
    fn line(minutes_ago: i64, height: u64, lag: i64) -> Progress {
        let logged_at_ms = NOW_MS - minutes_ago * MINUTE_MS;
        Progress { height, block_time: logged_at_ms / 1000 - lag, logged_at_ms }
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

    #[test]
    fn one_switch_per_running_revision() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/btcd:7";
        assert_eq!(execution_name(Profile::Sync, arn), "profile-sync-from-btcd-7");
        assert_eq!(execution_name(Profile::Steady, arn), "profile-steady-from-btcd-7");
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
