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
