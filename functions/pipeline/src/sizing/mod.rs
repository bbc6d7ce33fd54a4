//! What a node of each network needs and costs: the one table. register-task sizes the task from
//! it, `sigship plan` prints it, and docs/costs.md is generated from it (a test keeps them equal).
//! btcd's own figures are measured ([`figures::MEASURED`], `cargo xtask bench sync`); every figure
//! AWS or a chain gives is cited in [`figures::SOURCES`]; every assumption is a range there.

mod cost;
mod figures;
mod page;
mod sync;

pub use cost::{monthly_cost, total, CostLine, Month, Prices, PRICES};
pub use figures::{Measured, Range, ASSUMED, MEASURED, SOURCES};
pub use page::{cost_page, plan};
pub use sync::{
    done_share, entries_in, flush_seconds, heap_budget_mib, largest_cache_mib, peak_heap_mib, planned_pace, set_mib,
    sync_estimate, transactions_until, PlannedPace, SyncEstimate,
};

use crate::error::{Error, Result};
use crate::network::Network;

const HOURS_PER_MONTH: f64 = 730.0;
const GIB_PER_GB: f64 = 1.073_741_824;

/// The size the node runs at: the sizing table's steady size while it follows the tip, its sync
/// size (the whole UTXO set in btcd's cache) while it catches up. A release keeps the profile
/// that runs; an execution `{"profile": …}` switches it for the release that runs.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Profile {
    #[default]
    Steady,
    Sync,
}

impl Profile {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    /// The stack parameters that choose this profile's task (CPU units, memory MiB).
    pub fn size_parameters(self) -> (&'static str, &'static str) {
        match self {
            Profile::Steady => ("TaskCpu", "TaskMemory"),
            Profile::Sync => ("SyncTaskCpu", "SyncTaskMemory"),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A Fargate task size and the btcd UTXO cache (`--utxocachemaxsize`) that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSize {
    /// CPU units (1024 = 1 vCPU).
    pub cpu: u32,
    pub memory_mib: u32,
    pub utxo_cache_mib: u32,
}

/// `1 vCPU, 4 GB, UTXO cache 250 MiB`: how `plan`, the cost page and `status` name a size.
impl std::fmt::Display for TaskSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} vCPU, {} GB, UTXO cache {} MiB", self.vcpu(), self.memory_gb(), self.utxo_cache_mib)
    }
}

impl TaskSize {
    pub fn vcpu(&self) -> f64 {
        f64::from(self.cpu) / 1024.0
    }

    pub fn memory_gb(&self) -> f64 {
        f64::from(self.memory_mib) / 1024.0
    }

    /// Fargate's table of valid CPU and memory pairs (memory steps of 1 GB up to 4 vCPU, then
    /// 4 GB and 8 GB).
    pub fn is_valid_on_fargate(&self) -> bool {
        let (cpu, gb) = (self.cpu, self.memory_mib / 1024);
        if !(self.memory_mib.is_multiple_of(1024) || (cpu == 256 && self.memory_mib == 512)) {
            return false;
        }
        match cpu {
            256 => matches!(self.memory_mib, 512 | 1024 | 2048),
            512 => (1..=4).contains(&gb),
            1024 => (2..=8).contains(&gb),
            2048 => (4..=16).contains(&gb),
            4096 => (8..=30).contains(&gb),
            8192 => (16..=60).contains(&gb) && gb.is_multiple_of(4),
            16384 => (32..=120).contains(&gb) && gb.is_multiple_of(8),
            _ => false,
        }
    }

    /// Hours × the Fargate arm64 rates.
    pub fn cost_per_hour(&self) -> f64 {
        self.vcpu() * PRICES.fargate_arm_vcpu_hour + self.memory_gb() * PRICES.fargate_arm_gb_hour
    }
}

/// One network's chain and the two sizes sigship runs it at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkSizing {
    pub network: Network,
    /// A synced data directory (blocks, UTXO and block index databases, btcd's filter index), GiB.
    pub data_gib: f64,
    pub growth_gib_per_year: f64,
    /// Of the data, what stays hot (LevelDB: UTXO set, indexes; the newest month of blocks), GiB.
    pub hot_gib: f64,
    /// Blocks at the tip (btcd's block index holds them all).
    pub blocks: f64,
    /// Transaction inputs over the whole chain: each is one UTXO lookup during the initial sync.
    pub inputs: f64,
    /// Of them, the share in blocks up to btcd's last checkpoint: connected without script checks.
    pub unchecked_share: f64,
    /// Unspent outputs at the tip: a cache that holds them all never flushes during the initial
    /// sync, so no lookup waits for the file system.
    pub utxo_entries: f64,
    /// Transactions per calendar year, millions (empty where unknown): where a sync stands.
    pub transactions_per_year: &'static [(i32, f64)],
    /// Running and following the tip.
    pub steady: TaskSize,
    /// Catching up (more than a day behind the tip).
    pub sync: TaskSize,
}

impl NetworkSizing {
    pub fn inputs_unchecked(&self) -> f64 {
        self.inputs * self.unchecked_share
    }

    pub fn inputs_checked(&self) -> f64 {
        self.inputs - self.inputs_unchecked()
    }

    /// The size a profile runs at: the table's, or the task the stack names (TaskCpu/TaskMemory,
    /// SyncTaskCpu/SyncTaskMemory; empty for the table's). A chosen sync task gets the largest
    /// cache whose final flush fits it; a chosen steady task keeps the table's cache.
    pub fn chosen(&self, profile: Profile, cpu: Option<&str>, memory: Option<&str>) -> Result<TaskSize> {
        let table = match profile {
            Profile::Steady => self.steady,
            Profile::Sync => self.sync,
        };
        let (cpu_name, memory_name) = profile.size_parameters();
        let given = |raw: Option<&str>, name: &str, default: u32| -> Result<u32> {
            match raw.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| Error::config(format!("{name}={v:?} is not a number"))),
            }
        };
        let (cpu, memory_mib) = (given(cpu, cpu_name, table.cpu)?, given(memory, memory_name, table.memory_mib)?);
        if (cpu, memory_mib) == (table.cpu, table.memory_mib) {
            return Ok(table);
        }
        let utxo_cache_mib = match profile {
            Profile::Steady => table.utxo_cache_mib,
            Profile::Sync => largest_cache_mib(memory_mib, self).max(self.steady.utxo_cache_mib),
        };
        let size = TaskSize { cpu, memory_mib, utxo_cache_mib };
        if !size.is_valid_on_fargate() {
            return Err(Error::config(format!(
                "{cpu_name} {cpu} with {memory_name} {memory_mib} is not a Fargate size (see Fargate's table of CPU and \
                 memory pairs); leave both empty for the sizing table's {} vCPU, {} GB",
                table.vcpu(),
                table.memory_gb()
            )));
        }
        Ok(size)
    }
}

/// The network a stack runs and the two sizes it runs it at: the table's, or those its settings
/// name. register-task sizes the task from it, node-metrics checks a switch against the quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeSizes {
    pub network: Network,
    pub steady: TaskSize,
    pub sync: TaskSize,
}

impl NodeSizes {
    /// The sizing table's sizes for `network`.
    pub fn of_table(network: Network) -> Self {
        let table = for_network(network);
        NodeSizes { network, steady: table.steady, sync: table.sync }
    }

    /// `setting` answers a template parameter's value by its name (Network, TaskCpu, …).
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let network = Network::parse(&setting("Network").unwrap_or_else(|| "mainnet".into()))?;
        let table = for_network(network);
        let chosen = |profile: Profile| {
            let (cpu, memory) = profile.size_parameters();
            table.chosen(profile, setting(cpu).as_deref(), setting(memory).as_deref())
        };
        Ok(NodeSizes { network, steady: chosen(Profile::Steady)?, sync: chosen(Profile::Sync)? })
    }

    /// From the functions' environment, where the template passes each parameter as
    /// `SIGSHIP_<NAME>` (SIGSHIP_NETWORK, SIGSHIP_SYNC_TASK_CPU, …).
    pub fn from_env(env: &crate::config::Env) -> Result<Self> {
        Self::from_settings(|name| env.optional(&crate::config::env_name(name)))
    }

    pub fn size(&self, profile: Profile) -> TaskSize {
        match profile {
            Profile::Steady => self.steady,
            Profile::Sync => self.sync,
        }
    }

    /// The Fargate vCPUs the node needs: the larger size (the service stops one task before it
    /// starts the next).
    pub fn fargate_vcpus(&self) -> f64 {
        self.sync.vcpu().max(self.steady.vcpu())
    }
}

const fn size(cpu: u32, memory_mib: u32, utxo_cache_mib: u32) -> TaskSize {
    TaskSize { cpu, memory_mib, utxo_cache_mib }
}

/// btcd's own default `--utxocachemaxsize` (MiB).
pub const BTCD_DEFAULT_CACHE_MIB: u32 = 250;

// Sync sizes: the smallest Fargate size whose cache holds the whole UTXO set (with room for a
// year's growth) and whose final flush stays inside the heap budget; a test holds each to it.
pub const NETWORKS: [NetworkSizing; 5] = [
    NetworkSizing {
        network: Network::Mainnet,
        data_gib: 850.0,
        growth_gib_per_year: 90.0,
        hot_gib: 45.0,
        blocks: 930_000.0,
        inputs: 3.0e9,
        unchecked_share: 0.77,
        utxo_entries: 180e6,
        transactions_per_year: &figures::MAINNET_TRANSACTIONS_PER_YEAR,
        steady: size(1024, 4096, BTCD_DEFAULT_CACHE_MIB),
        sync: size(16384, 73728, 23_552),
    },
    NetworkSizing {
        network: Network::Testnet3,
        data_gib: 250.0,
        growth_gib_per_year: 20.0,
        hot_gib: 20.0,
        blocks: 4_500_000.0,
        inputs: 6.0e8,
        unchecked_share: 0.3,
        utxo_entries: 250e6,
        transactions_per_year: &[],
        steady: size(1024, 4096, BTCD_DEFAULT_CACHE_MIB),
        sync: size(16384, 106496, 32_768),
    },
    NetworkSizing {
        network: Network::Testnet4,
        data_gib: 25.0,
        growth_gib_per_year: 15.0,
        hot_gib: 4.0,
        blocks: 120_000.0,
        inputs: 6.0e7,
        unchecked_share: 0.0,
        utxo_entries: 25e6,
        transactions_per_year: &[],
        steady: size(1024, 2048, BTCD_DEFAULT_CACHE_MIB),
        sync: size(2048, 10240, 3_584),
    },
    NetworkSizing {
        network: Network::Signet,
        data_gib: 22.0,
        growth_gib_per_year: 8.0,
        hot_gib: 3.0,
        blocks: 290_000.0,
        inputs: 4.0e7,
        unchecked_share: 0.0,
        utxo_entries: 50e6,
        transactions_per_year: &[],
        steady: size(1024, 2048, BTCD_DEFAULT_CACHE_MIB),
        sync: size(4096, 20480, 6_656),
    },
    NetworkSizing {
        network: Network::Regtest,
        data_gib: 1.0,
        growth_gib_per_year: 0.0,
        hot_gib: 1.0,
        blocks: 0.0,
        inputs: 0.0,
        unchecked_share: 0.0,
        utxo_entries: 0.0,
        transactions_per_year: &[],
        steady: size(512, 1024, 64),
        // A private chain needs no sync size; a larger one makes a switch observable locally.
        sync: size(1024, 2048, 128),
    },
];

pub fn for_network(network: Network) -> &'static NetworkSizing {
    NETWORKS.iter().find(|n| n.network == network).expect("every network has a row")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_is_a_fargate_size() {
        for chain in &NETWORKS {
            for size in [chain.steady, chain.sync] {
                assert!(size.is_valid_on_fargate(), "{:?}: {size:?}", chain.network);
            }
            assert!(chain.hot_gib <= chain.data_gib, "{:?}", chain.network);
        }
        assert!(!size(1024, 1024, 0).is_valid_on_fargate() && !size(8192, 18432, 0).is_valid_on_fargate());
        assert!(size(256, 512, 0).is_valid_on_fargate() && size(16384, 122880, 0).is_valid_on_fargate());
    }

    /// The benchmark's peak — the final flush's transaction on top of the cache — stays under
    /// every task's heap budget, and every public network's sync cache holds its whole set.
    #[test]
    fn every_size_survives_its_final_flush_and_every_sync_cache_holds_the_set() {
        for chain in &NETWORKS {
            for size in [chain.steady, chain.sync] {
                let peak = peak_heap_mib(f64::from(size.utxo_cache_mib), chain);
                let budget = heap_budget_mib(size.memory_mib);
                assert!(
                    peak <= budget,
                    "{:?} {size}: peak {peak:.0} MiB over the budget {budget:.0} MiB",
                    chain.network
                );
            }
            if chain.inputs > 0.0 {
                assert!(f64::from(chain.sync.utxo_cache_mib) >= set_mib(chain), "{:?}", chain.network);
                assert!(
                    largest_cache_mib(chain.sync.memory_mib, chain) as f64 >= set_mib(chain).floor(),
                    "{:?}",
                    chain.network
                );
            }
        }
        // Today's main ran mainnet's sync at 24 GiB in 60 GB: that flush does not fit.
        let mainnet = for_network(Network::Mainnet);
        assert!(peak_heap_mib(24_576.0, mainnet) > heap_budget_mib(61_440));
    }

    #[test]
    fn ranges_are_ordered_and_the_sync_size_is_faster_and_cheaper_than_the_steady_one() {
        for chain in NETWORKS.iter().filter(|c| c.inputs > 0.0) {
            let fast = sync_estimate(chain, &chain.sync);
            let slow = sync_estimate(chain, &chain.steady);
            for e in [&fast, &slow] {
                assert!(
                    e.total_hours.low <= e.total_hours.central && e.total_hours.central <= e.total_hours.high,
                    "{e:?}"
                );
                assert!(e.task_cost.low <= e.task_cost.high, "{e:?}");
            }
            assert!(fast.holds_the_set && fast.miss_hours.high == 0.0, "{:?}: {fast:?}", chain.network);
            assert!(fast.total_hours.central < slow.total_hours.central, "{:?}", chain.network);
            assert!(
                fast.task_cost.central + fast.io_cost.central < slow.task_cost.central + slow.io_cost.central,
                "{:?}: {fast:?} {slow:?}",
                chain.network
            );
        }
        let mainnet = for_network(Network::Mainnet);
        let fast = sync_estimate(mainnet, &mainnet.sync);
        assert!(fast.total_hours.central > 12.0 && fast.total_hours.high < 4.0 * 24.0, "{fast:?}");
        assert!(sync_estimate(mainnet, &mainnet.steady).total_hours.central > 7.0 * 24.0);
    }

    #[test]
    fn docs_costs_md_is_the_generated_cost_page() {
        let page = include_str!("../../../../docs/costs.md");
        assert!(
            page == cost_page(),
            "docs/costs.md differs from the sizing table: cargo run -p sigship -- plan --markdown > docs/costs.md"
        );
    }

    #[test]
    fn the_steady_month_is_itemised_and_each_extra_is_a_line_or_a_difference() {
        let mainnet = for_network(Network::Mainnet);
        let lines = monthly_cost(mainnet, Month::default());
        assert!(total(&lines) < 120.0, "{lines:?}");
        let with_backups = monthly_cost(mainnet, Month { backups: true, ..Month::default() });
        assert_eq!(with_backups.len(), lines.len() + 1);
        assert!(total(&with_backups) - total(&lines) > 40.0, "850 GiB of backups");
        let first = total(&monthly_cost(mainnet, Month { first_after_sync: true, ..Month::default() }));
        assert!(first > total(&lines) + 200.0, "850 GiB in EFS Standard for a month");
        let listening = total(&monthly_cost(mainnet, Month { listening: true, ..Month::default() }));
        assert!((listening - total(&lines) - 9.0).abs() < 0.01, "100 GB over the free allowance at $0.09");
        assert!(plan(Network::Mainnet, None).contains("total"));
        let smaller = mainnet.chosen(Profile::Sync, Some("8192"), Some("61440")).unwrap();
        let page = plan(Network::Mainnet, Some(smaller));
        assert!(page.contains(&format!("initial sync at the chosen sync size ({smaller})")), "{page}");
    }
}
