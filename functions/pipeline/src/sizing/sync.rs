//! The initial sync on btcd's measured figures: how long it takes at a size (low–central–high),
//! what it costs, and whether the size's cache survives its final flush.

use super::cost::PRICES;
use super::figures::{Range, ASSUMED, MEASURED};
use super::{NetworkSizing, TaskSize, GIB_PER_GB};

const MIB: f64 = 1024.0 * 1024.0;
/// What the task keeps free beside btcd's peak live heap: GOMEMLIMIT sits at 90 % of the task's
/// memory (register-task), and the peak stays this share below it, so the collector never has
/// to chase the limit.
pub const MEMORY_MARGIN: f64 = 0.15;
/// Bytes one missed lookup reads from LevelDB on EFS (one data block).
pub const READ_BYTES_PER_MISS: f64 = 4096.0;

/// Heap btcd's block index takes per block (a node and its map entry; an assumption).
pub const INDEX_BYTES_PER_BLOCK: f64 = 400.0;

/// UTXO cache entries a full cache of `cache_mib` holds, as btcd counts them.
pub fn entries_in(cache_mib: f64) -> f64 {
    cache_mib * MIB / MEASURED.cache_bytes_per_entry
}

/// Entries a cache of `cache_mib` holds at the chain's tip: all of them, or as many as fit.
fn held(cache_mib: f64, chain: &NetworkSizing) -> f64 {
    entries_in(cache_mib).min(chain.utxo_entries)
}

/// btcd's peak live heap, MiB, at the final flush of a cache of `cache_mib`: the cache as Go's
/// heap holds it, the flush transaction's entries on top, the block index and the rest of btcd.
pub fn peak_heap_mib(cache_mib: f64, chain: &NetworkSizing) -> f64 {
    let entries = held(cache_mib, chain);
    let cache_in_heap = entries * MEASURED.cache_bytes_per_entry / MIB * MEASURED.heap_per_cache_mib;
    cache_in_heap + entries * MEASURED.flush_heap_bytes_per_entry / MIB + base_heap_mib(chain)
}

fn base_heap_mib(chain: &NetworkSizing) -> f64 {
    MEASURED.base_heap_mib + chain.blocks * INDEX_BYTES_PER_BLOCK / MIB
}

/// The live heap a task of `memory_mib` can hold: GOMEMLIMIT less the margin.
pub fn heap_budget_mib(memory_mib: u32) -> f64 {
    f64::from(memory_mib / 10 * 9) * (1.0 - MEMORY_MARGIN)
}

/// The largest cache (MiB, whole) whose final flush fits a task of `memory_mib`, up to the set.
pub fn largest_cache_mib(memory_mib: u32, chain: &NetworkSizing) -> u32 {
    let per_cache_mib =
        MEASURED.heap_per_cache_mib + MEASURED.flush_heap_bytes_per_entry / MEASURED.cache_bytes_per_entry;
    let fits = (heap_budget_mib(memory_mib) - base_heap_mib(chain)) / per_cache_mib;
    fits.max(0.0).min(set_mib(chain).ceil()) as u32
}

/// The UTXO set as btcd counts it, MiB.
pub fn set_mib(chain: &NetworkSizing) -> f64 {
    chain.utxo_entries * MEASURED.cache_bytes_per_entry / MIB
}

/// Seconds btcd's SIGTERM flush of a cache of `cache_mib` takes at the tip (single-threaded).
pub fn flush_seconds(cache_mib: f64, chain: &NetworkSizing) -> f64 {
    held(cache_mib, chain) * MEASURED.flush_us_per_entry / 1e6
}

/// The initial sync at a size, each part a range (fast, central, slow).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncEstimate {
    /// One peer's blocks, read while btcd is not connecting one.
    pub download_hours: Range,
    /// Blocks below btcd's last checkpoint: no script checks, one core.
    pub unchecked_hours: Range,
    /// Blocks after it: scripts checked on every vCPU, the rest on one.
    pub checked_hours: Range,
    /// Waiting for EFS on lookups the cache misses (none when it holds the whole set).
    pub miss_hours: Range,
    pub total_hours: Range,
    pub task_cost: Range,
    /// Elastic Throughput: the data written once, missed lookups read.
    pub io_cost: Range,
    /// The cache holds the whole UTXO set: it never flushes before the node is current.
    pub holds_the_set: bool,
}

pub fn sync_estimate(chain: &NetworkSizing, size: &TaskSize) -> SyncEstimate {
    let hours = |us: f64| us / 3.6e9;
    let download_hours = ASSUMED.download_mib_per_second.map(|rate| chain.data_gib * 1024.0 / rate / 3600.0);
    let unchecked = MEASURED.unchecked_cpu_us_per_input;
    let scripts = (MEASURED.checked_cpu_us_per_input - unchecked).max(0.0);
    let unchecked_hours = ASSUMED.vcpu_time_factor.map(|f| hours(chain.inputs_unchecked() * unchecked * f));
    let checked_hours = ASSUMED
        .vcpu_time_factor
        .map(|f| hours(chain.inputs_checked() * (unchecked + scripts / size.vcpu().max(1.0)) * f));
    let cached = entries_in(f64::from(size.utxo_cache_mib));
    let holds_the_set = cached >= chain.utxo_entries;
    let unheld = if holds_the_set { 0.0 } else { 1.0 - cached / chain.utxo_entries };
    let misses = ASSUMED.miss_share.map(|share| chain.inputs * share * unheld);
    let miss_hours = misses.zip(ASSUMED.efs_miss_ms, |n, ms| n * ms / 3.6e6);
    let total_hours = download_hours + unchecked_hours + checked_hours + miss_hours;
    let written_gb = chain.data_gib * GIB_PER_GB;
    SyncEstimate {
        download_hours,
        unchecked_hours,
        checked_hours,
        miss_hours,
        total_hours,
        task_cost: total_hours.map(|h| h * size.cost_per_hour()),
        io_cost: misses.map(|n| {
            written_gb * PRICES.efs_elastic_write_gb + n * READ_BYTES_PER_MISS / 1e9 * PRICES.efs_elastic_read_gb
        }),
        holds_the_set,
    }
}

/// Unix seconds at the start of `year` (UTC).
fn year_start(year: i32) -> i64 {
    let days: i64 = (1970..year).map(|y| if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 366 } else { 365 }).sum();
    days * 86_400
}

/// The chain's transactions up to `unix`, from its yearly counts (spread evenly over each year);
/// None where the table has none.
pub fn transactions_until(chain: &NetworkSizing, unix: i64) -> Option<f64> {
    if chain.transactions_per_year.is_empty() {
        return None;
    }
    let mut total = 0.0;
    for &(year, millions) in chain.transactions_per_year {
        let (start, end) = (year_start(year), year_start(year + 1));
        let covered = ((unix - start) as f64 / (end - start) as f64).clamp(0.0, 1.0);
        total += millions * 1e6 * covered;
    }
    Some(total)
}

/// The share of the chain's transactions (its history's work) in blocks up to `block_time`, with
/// the tip at `now`; None where the table has no transaction counts.
pub fn done_share(chain: &NetworkSizing, block_time: i64, now: i64) -> Option<f64> {
    let (done, tip) = (transactions_until(chain, block_time)?, transactions_until(chain, now)?);
    (tip > 0.0).then(|| (done / tip).clamp(0.0, 1.0))
}

/// A sync at a size as the plan sees it from `done` (a share of the chain's transactions).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPace {
    /// The chain's share the plan gets through per hour here (central): below btcd's last
    /// checkpoint, or after it.
    pub share_per_hour: f64,
    /// Hours from here to the tip.
    pub hours_left: Range,
}

/// The plan from `done` on: its two phases (below the last checkpoint, and after) each with its
/// inputs' share of the download and of the waits on missed lookups.
pub fn planned_pace(chain: &NetworkSizing, size: &TaskSize, done: f64) -> PlannedPace {
    let estimate = sync_estimate(chain, size);
    let shared = estimate.download_hours + estimate.miss_hours;
    let below = chain.unchecked_share;
    let unchecked = estimate.unchecked_hours + shared.map(|h| h * below);
    let checked = estimate.checked_hours + shared.map(|h| h * (1.0 - below));
    let left_below = if below > 0.0 { (below - done).max(0.0) / below } else { 0.0 };
    let left_after = if below < 1.0 { (1.0 - done).min(1.0 - below) / (1.0 - below) } else { 0.0 };
    let hours_left = unchecked.map(|h| h * left_below) + checked.map(|h| h * left_after);
    let share_per_hour =
        if done < below { below / unchecked.central } else { (1.0 - below) / checked.central.max(f64::EPSILON) };
    PlannedPace { share_per_hour, hours_left }
}

#[cfg(test)]
mod pace_tests {
    use super::*;
    use crate::network::Network;

    const NOW: i64 = 1_796_601_600; // 2026-12-07

    #[test]
    fn where_a_mainnet_sync_stands_follows_the_chain_s_transactions_not_its_years() {
        let mainnet = super::super::for_network(Network::Mainnet);
        assert_eq!(year_start(2009), 1_230_768_000);
        assert_eq!(year_start(2027), 1_798_761_600);
        // 2012's blocks hold under 1 % of the transactions; mid-2019's over a third.
        let in_2012 = done_share(mainnet, year_start(2013), NOW).unwrap();
        assert!(in_2012 < 0.01, "{in_2012}");
        let mid_2019 = done_share(mainnet, year_start(2019) + 182 * 86_400, NOW).unwrap();
        assert!((0.3..0.4).contains(&mid_2019), "{mid_2019}");
        assert_eq!(done_share(mainnet, NOW, NOW), Some(1.0));
        assert_eq!(done_share(super::super::for_network(Network::Testnet4), NOW, NOW), None);
    }

    #[test]
    fn the_plan_s_hours_left_fall_to_zero_at_the_tip_and_its_pace_changes_at_the_checkpoint() {
        let mainnet = super::super::for_network(Network::Mainnet);
        let whole = sync_estimate(mainnet, &mainnet.sync).total_hours;
        let start = planned_pace(mainnet, &mainnet.sync, 0.0);
        assert!((start.hours_left.central - whole.central).abs() < 1e-6, "{start:?} {whole:?}");
        assert!((start.hours_left.high - whole.high).abs() < 1e-6);
        let half = planned_pace(mainnet, &mainnet.sync, 0.5).hours_left.central;
        assert!(half > 0.0 && half < whole.central, "{half}");
        assert!(planned_pace(mainnet, &mainnet.sync, 1.0).hours_left.central.abs() < 1e-9);
        // After the checkpoint every script is checked: less of the chain per hour.
        let before = planned_pace(mainnet, &mainnet.sync, 0.5).share_per_hour;
        let after = planned_pace(mainnet, &mainnet.sync, 0.9).share_per_hour;
        assert!(after < before, "{before} {after}");
    }
}
