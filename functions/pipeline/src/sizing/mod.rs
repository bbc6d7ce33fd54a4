//! What a node of each network needs and costs: the one table. register-task sizes the task from
//! it, `sigship plan` prints it, and docs/costs.md is generated from it (a test keeps them equal).
//! Every figure AWS or a chain gives is public and cited in [`SOURCES`]; every figure sigship
//! assumes is named as an assumption where it is used.

use std::fmt::Write as _;

use crate::network::Network;

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
    /// Transaction inputs over the whole chain: each is one UTXO lookup during the initial sync.
    pub inputs: f64,
    /// The UTXO set as btcd's cache holds it at the tip, MiB: a cache this large never flushes
    /// during the initial sync, so no lookup waits for the file system.
    pub utxo_set_mib: u32,
    /// Running and following the tip.
    pub steady: TaskSize,
    /// Catching up (more than a day behind the tip).
    pub sync: TaskSize,
}

const fn size(cpu: u32, memory_mib: u32, utxo_cache_mib: u32) -> TaskSize {
    TaskSize { cpu, memory_mib, utxo_cache_mib }
}

/// btcd's own default `--utxocachemaxsize` (MiB).
pub const BTCD_DEFAULT_CACHE_MIB: u32 = 250;

pub const NETWORKS: [NetworkSizing; 5] = [
    NetworkSizing {
        network: Network::Mainnet,
        data_gib: 850.0,
        growth_gib_per_year: 90.0,
        hot_gib: 45.0,
        inputs: 3.0e9,
        utxo_set_mib: 18_000,
        steady: size(1024, 4096, BTCD_DEFAULT_CACHE_MIB),
        // The whole UTXO set in memory, with room for the flush: btcd builds it in one database
        // transaction (the set serialised, ≈ 12 GiB, beside the cache) and Go's collector.
        sync: size(8192, 61440, 24_576),
    },
    NetworkSizing {
        network: Network::Testnet3,
        data_gib: 250.0,
        growth_gib_per_year: 20.0,
        hot_gib: 20.0,
        inputs: 6.0e8,
        utxo_set_mib: 4_000,
        steady: size(1024, 4096, BTCD_DEFAULT_CACHE_MIB),
        sync: size(4096, 16384, 6_144),
    },
    NetworkSizing {
        network: Network::Testnet4,
        data_gib: 25.0,
        growth_gib_per_year: 15.0,
        hot_gib: 4.0,
        inputs: 6.0e7,
        utxo_set_mib: 600,
        steady: size(1024, 2048, BTCD_DEFAULT_CACHE_MIB),
        sync: size(2048, 4096, 1_024),
    },
    NetworkSizing {
        network: Network::Signet,
        data_gib: 22.0,
        growth_gib_per_year: 8.0,
        hot_gib: 3.0,
        inputs: 4.0e7,
        utxo_set_mib: 400,
        steady: size(1024, 2048, BTCD_DEFAULT_CACHE_MIB),
        sync: size(2048, 4096, 1_024),
    },
    NetworkSizing {
        network: Network::Regtest,
        data_gib: 1.0,
        growth_gib_per_year: 0.0,
        hot_gib: 1.0,
        inputs: 0.0,
        utxo_set_mib: 0,
        steady: size(512, 1024, 64),
        // A private chain needs no sync size; a larger one makes a switch observable locally.
        sync: size(1024, 2048, 128),
    },
];

pub fn for_network(network: Network) -> &'static NetworkSizing {
    NETWORKS.iter().find(|n| n.network == network).expect("every network has a row")
}

/// us-east-1 on-demand prices, USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub fargate_arm_vcpu_hour: f64,
    pub fargate_arm_gb_hour: f64,
    pub public_ipv4_hour: f64,
    pub efs_standard_gb_month: f64,
    pub efs_ia_gb_month: f64,
    /// Per GB read from Infrequent Access, on top of the throughput charge.
    pub efs_ia_read_gb: f64,
    pub efs_elastic_read_gb: f64,
    pub efs_elastic_write_gb: f64,
    pub backup_warm_gb_month: f64,
    pub alarm_month: f64,
    pub custom_metric_month: f64,
    pub logs_ingest_gb: f64,
    pub secret_month: f64,
    pub kms_key_month: f64,
}

pub const PRICES: Prices = Prices {
    fargate_arm_vcpu_hour: 0.03238,
    fargate_arm_gb_hour: 0.00356,
    public_ipv4_hour: 0.005,
    efs_standard_gb_month: 0.30,
    efs_ia_gb_month: 0.016,
    efs_ia_read_gb: 0.01,
    efs_elastic_read_gb: 0.03,
    efs_elastic_write_gb: 0.06,
    backup_warm_gb_month: 0.05,
    alarm_month: 0.10,
    custom_metric_month: 0.30,
    logs_ingest_gb: 0.50,
    secret_month: 0.40,
    kms_key_month: 1.00,
};

/// Where the figures come from (read 2026-12).
pub const SOURCES: [(&str, &str); 9] = [
    ("Fargate arm64 $/vCPU-h, $/GB-h", "https://aws.amazon.com/fargate/pricing/ (us-east-1, Linux/ARM; as quoted by https://www.vantage.sh/blog/fargate-pricing)"),
    ("EFS Standard, Infrequent Access, IA reads, Elastic Throughput", "https://aws.amazon.com/efs/pricing/ (the rates since the November 2023 price change, as listed in https://blog.gslin.org/archives/tag/tiering/)"),
    ("EFS latency (Elastic, Regional): reads ≈ 1 ms, writes ≈ 2.7 ms", "https://docs.aws.amazon.com/efs/latest/ug/performance.html"),
    ("AWS Backup, EFS warm storage", "https://aws.amazon.com/backup/pricing/ (as quoted by https://cloudburn.io/blog/aws-backup-pricing, 2026-02)"),
    ("CloudWatch alarms, custom metrics, Logs ingestion", "https://aws.amazon.com/cloudwatch/pricing/"),
    ("Secrets Manager, KMS customer-managed key", "https://aws.amazon.com/secrets-manager/pricing/, https://aws.amazon.com/kms/pricing/"),
    ("public IPv4 address", "https://aws.amazon.com/vpc/pricing/ (since 2024-02-01)"),
    ("chain sizes and growth", "Bitcoin Core's published assumed chain sizes (src/kernel/chainparams.cpp: 810 GiB 2025-09, 856 GiB 2026-02 for mainnet), plus btcd's BIP158 filter index (≈ 15 GiB); testnet3, testnet4 and signet from the same file"),
    ("UTXO set in btcd's cache (an assumption, not a citation)", "≈ 180 million outputs × ≈ 100 bytes each as btcd's cache counts an entry (blockchain/utxocache.go): ≈ 18 GiB for mainnet; smaller chains in proportion"),
];

/// Assumptions of the sync model, not measured here.
pub const DOWNLOAD_MIB_PER_SECOND: f64 = 40.0;
/// CPU to connect one input (UTXO lookup in memory, hashing, bookkeeping) on one vCPU: btcd
/// connects blocks one at a time, so more vCPUs do not divide it.
pub const CONNECT_MICROSECONDS_PER_INPUT: f64 = 25.0;
/// The share of lookups that miss a cache much smaller than the UTXO set (btcd empties its cache
/// at every flush during the initial sync).
pub const MISS_SHARE_SMALL_CACHE: f64 = 1.0 / 3.0;
pub const EFS_READ_SECONDS: f64 = 0.001;
/// Bytes one missed lookup reads from LevelDB on EFS (one data block).
pub const READ_BYTES_PER_MISS: f64 = 4096.0;

const HOURS_PER_MONTH: f64 = 730.0;
const GIB_PER_GB: f64 = 1.073_741_824;

/// The initial sync, as the model estimates it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncEstimate {
    pub download_hours: f64,
    pub connect_hours: f64,
    /// Waiting for EFS reads of missed lookups.
    pub miss_hours: f64,
    pub total_hours: f64,
    /// The task for those hours.
    pub task_cost: f64,
    /// Elastic Throughput: the data written once, missed lookups read.
    pub io_cost: f64,
}

/// The initial sync at `size`: download and connecting overlap (blocks connect as they arrive);
/// missed lookups add their reads.
pub fn sync_estimate(chain: &NetworkSizing, size: &TaskSize) -> SyncEstimate {
    let download_hours = chain.data_gib * 1024.0 / DOWNLOAD_MIB_PER_SECOND / 3600.0;
    let connect_hours = chain.inputs * CONNECT_MICROSECONDS_PER_INPUT / 1e6 / 3600.0;
    let misses = if size.utxo_cache_mib >= chain.utxo_set_mib { 0.0 } else { chain.inputs * MISS_SHARE_SMALL_CACHE };
    let miss_hours = misses * EFS_READ_SECONDS / 3600.0;
    let total_hours = download_hours.max(connect_hours) + miss_hours;
    let written_gb = chain.data_gib * GIB_PER_GB;
    let read_gb = misses * READ_BYTES_PER_MISS / 1e9;
    SyncEstimate {
        download_hours,
        connect_hours,
        miss_hours,
        total_hours,
        task_cost: total_hours * size.cost_per_hour(),
        io_cost: written_gb * PRICES.efs_elastic_write_gb + read_gb * PRICES.efs_elastic_read_gb,
    }
}

/// One line of the monthly bill.
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    pub item: &'static str,
    pub basis: String,
    pub dollars: f64,
}

/// The steady node's month: what the stack bills while it follows the tip.
pub fn monthly_cost(chain: &NetworkSizing, backups: bool) -> Vec<CostLine> {
    let steady = &chain.steady;
    let cold_gib = (chain.data_gib - chain.hot_gib).max(0.0);
    let gb = |gib: f64| gib * GIB_PER_GB;
    // A month of new blocks written once, and the UTXO database's periodic flushes (assumed as
    // much again).
    let written_gb = gb(chain.growth_gib_per_year / 12.0) * 2.0;
    let mut lines = vec![
        CostLine {
            item: "Fargate task (arm64), always on",
            basis: format!("{} vCPU + {} GB × 730 h", steady.vcpu(), steady.memory_gb()),
            dollars: steady.cost_per_hour() * HOURS_PER_MONTH,
        },
        CostLine {
            item: "public IPv4 address of the task",
            basis: format!("${}/h × 730 h", PRICES.public_ipv4_hour),
            dollars: PRICES.public_ipv4_hour * HOURS_PER_MONTH,
        },
        CostLine {
            item: "EFS Standard: databases and the newest blocks",
            basis: format!("{:.0} GiB × ${}/GB-month", chain.hot_gib.min(chain.data_gib), PRICES.efs_standard_gb_month),
            dollars: gb(chain.hot_gib.min(chain.data_gib)) * PRICES.efs_standard_gb_month,
        },
        CostLine {
            item: "EFS Infrequent Access: block files untouched for 30 days",
            basis: format!("{cold_gib:.0} GiB × ${}/GB-month", PRICES.efs_ia_gb_month),
            dollars: gb(cold_gib) * PRICES.efs_ia_gb_month,
        },
        CostLine {
            item: "EFS Elastic Throughput: writes",
            basis: format!("≈ {:.1} GB a month × ${}/GB", written_gb, PRICES.efs_elastic_write_gb),
            dollars: written_gb * PRICES.efs_elastic_write_gb,
        },
        CostLine {
            item: "CloudWatch: alarms, node metrics, logs",
            basis: format!(
                "8 alarm metrics × ${}, 6 custom metrics × ${}, ≈ 2 GB of logs × ${}",
                PRICES.alarm_month, PRICES.custom_metric_month, PRICES.logs_ingest_gb
            ),
            dollars: 8.0 * PRICES.alarm_month + 6.0 * PRICES.custom_metric_month + 2.0 * PRICES.logs_ingest_gb,
        },
        CostLine {
            item: "Secrets Manager, KMS key of the failure topic",
            basis: format!("2 secrets × ${}, 1 key × ${}", PRICES.secret_month, PRICES.kms_key_month),
            dollars: 2.0 * PRICES.secret_month + PRICES.kms_key_month,
        },
        CostLine {
            item: "Lambda, Step Functions, S3, ECR, SNS",
            basis: "node-metrics every minute, the watch every 15 min, a few hundred MB stored".into(),
            dollars: 1.0,
        },
    ];
    if backups {
        lines.push(CostLine {
            item: "AWS Backup of the chain data (ChainDataBackups=on)",
            basis: format!("{:.0} GiB × ${}/GB-month warm", chain.data_gib, PRICES.backup_warm_gb_month),
            dollars: gb(chain.data_gib) * PRICES.backup_warm_gb_month,
        });
    }
    lines
}

pub fn total(lines: &[CostLine]) -> f64 {
    lines.iter().map(|l| l.dollars).sum()
}

/// `sigship plan` for one network: data, the sync estimate per profile, the monthly bill.
pub fn plan(network: Network) -> String {
    let chain = for_network(network);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: ≈ {:.0} GiB of chain data, growing ≈ {:.0} GiB a year",
        network.name(),
        chain.data_gib,
        chain.growth_gib_per_year
    );
    for (profile, size) in [("sync", &chain.sync), ("steady", &chain.steady)] {
        let estimate = sync_estimate(chain, size);
        let _ = writeln!(
            out,
            "  initial sync at the {profile} size ({size}): ≈ {} \
             (download {:.1} h, connecting {:.1} h, waiting for EFS reads {:.1} h); task {}, EFS I/O {}",
            duration(estimate.total_hours),
            estimate.download_hours,
            estimate.connect_hours,
            estimate.miss_hours,
            money(estimate.task_cost),
            money(estimate.io_cost),
        );
    }
    let lines = monthly_cost(chain, false);
    let _ = writeln!(out, "  per month, following the tip:");
    for line in &lines {
        let _ = writeln!(out, "    {:<56} {:>9}   {}", line.item, format!("${:.2}", line.dollars), line.basis);
    }
    let _ = writeln!(out, "    {:<56} {:>9}", "total", format!("${:.0}", total(&lines)));
    out
}

/// docs/costs.md: every network's plan, the model and its sources. `sigship plan --markdown`
/// prints it; a test fails when the file differs.
pub fn cost_page() -> String {
    let mut out = String::new();
    out.push_str(
        "# What a node costs\n\n<!-- Generated by `sigship plan --markdown > docs/costs.md` from \
         functions/pipeline/src/sizing.rs; a test fails when they differ. Do not edit by hand. -->\n\n\
         On-demand us-east-1 prices, 730 hours a month; the sizes are the ones register-task registers \
         (`TaskCpu`/`TaskMemory` left empty). Estimates, not quotes: check the AWS Pricing Calculator for \
         your region.\n\n## Sizes\n\n\
         | network | chain data | growth a year | steady task | sync task |\n|---|---:|---:|---|---|\n",
    );
    for chain in &NETWORKS {
        let _ = writeln!(
            out,
            "| {} | ≈ {:.0} GiB | ≈ {:.0} GiB | {} | {} |",
            chain.network.name(),
            chain.data_gib,
            chain.growth_gib_per_year,
            chain.steady,
            chain.sync
        );
    }
    out.push_str(
        "\n## The initial sync\n\nThe model: blocks download and connect at once, so the sync takes the longer \
         of the two, plus the time spent waiting for EFS whenever a UTXO lookup misses btcd's cache. \
         During the initial sync btcd empties its cache at every flush, so with a cache much smaller \
         than the UTXO set about a third of all lookups miss and each waits for one EFS read; a cache \
         that holds the whole set never flushes before the node is current, and no lookup waits.\n\n",
    );
    let _ = writeln!(
        out,
        "Assumed, not measured here: {DOWNLOAD_MIB_PER_SECOND} MiB/s from peers; {CONNECT_MICROSECONDS_PER_INPUT} µs of CPU to connect \
         one input (btcd connects blocks one at a time); {:.0} % of lookups miss a small cache; {} ms per EFS read \
         of {READ_BYTES_PER_MISS} bytes (AWS's figure for Elastic Throughput).\n",
        MISS_SHARE_SMALL_CACHE * 100.0,
        EFS_READ_SECONDS * 1000.0
    );
    out.push_str("| network | at the sync size | at the steady size |\n|---|---|---|\n");
    for chain in NETWORKS.iter().filter(|c| c.inputs > 0.0) {
        let cell = |s: &TaskSize| {
            let e = sync_estimate(chain, s);
            format!("≈ {}: task {}, EFS I/O {}", duration(e.total_hours), money(e.task_cost), money(e.io_cost))
        };
        let _ = writeln!(out, "| {} | {} | {} |", chain.network.name(), cell(&chain.sync), cell(&chain.steady));
    }
    out.push_str("\n## Per month, following the tip\n\n");
    for chain in &NETWORKS {
        let lines = monthly_cost(chain, false);
        let _ = writeln!(
            out,
            "### {}: ≈ ${:.0} a month\n\n| item | basis | per month |\n|---|---|---:|",
            chain.network.name(),
            total(&lines)
        );
        for line in &lines {
            let _ = writeln!(out, "| {} | {} | ${:.2} |", line.item, line.basis, line.dollars);
        }
        let backups = monthly_cost(chain, true);
        let _ = writeln!(
            out,
            "\nWith `ChainDataBackups=on`: + ${:.2} (AWS Backup, {:.0} GiB warm).\n",
            total(&backups) - total(&lines),
            chain.data_gib
        );
    }
    out.push_str("## Sources\n\n");
    for (what, source) in SOURCES {
        let _ = writeln!(out, "- {what}: {source}");
    }
    out
}

fn duration(hours: f64) -> String {
    if hours >= 48.0 {
        format!("{:.1} days", hours / 24.0)
    } else if hours >= 2.0 {
        format!("{hours:.0} h")
    } else {
        format!("{:.0} min", hours * 60.0)
    }
}

/// Dollars: cents below $10, whole dollars above.
fn money(dollars: f64) -> String {
    if dollars < 10.0 {
        format!("${dollars:.2}")
    } else {
        format!("${dollars:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_is_a_fargate_size_and_every_sync_size_holds_its_utxo_set() {
        for chain in &NETWORKS {
            for size in [chain.steady, chain.sync] {
                assert!(size.is_valid_on_fargate(), "{:?}: {size:?}", chain.network);
                // The cache leaves at least half the memory to btcd, its flush and Go.
                assert!(size.utxo_cache_mib * 2 <= size.memory_mib, "{:?}: {size:?}", chain.network);
            }
            assert!(chain.sync.utxo_cache_mib >= chain.utxo_set_mib, "{:?}", chain.network);
            assert!(chain.hot_gib <= chain.data_gib, "{:?}", chain.network);
        }
        assert!(!size(1024, 1024, 0).is_valid_on_fargate() && !size(8192, 18432, 0).is_valid_on_fargate());
        assert!(size(256, 512, 0).is_valid_on_fargate() && size(16384, 122880, 0).is_valid_on_fargate());
    }

    #[test]
    fn a_mainnet_sync_takes_days_at_the_sync_size_and_weeks_at_the_steady_one() {
        let mainnet = for_network(Network::Mainnet);
        let fast = sync_estimate(mainnet, &mainnet.sync);
        let slow = sync_estimate(mainnet, &mainnet.steady);
        assert_eq!(fast.miss_hours, 0.0, "the whole UTXO set fits the sync cache");
        assert!(fast.total_hours <= 72.0, "{fast:?}");
        assert!(slow.total_hours > 10.0 * 24.0, "{slow:?}");
        assert!(fast.task_cost + fast.io_cost < slow.task_cost + slow.io_cost, "{fast:?} {slow:?}");
    }

    #[test]
    fn docs_costs_md_is_the_generated_cost_page() {
        let page = include_str!("../../../docs/costs.md");
        assert!(
            page == cost_page(),
            "docs/costs.md differs from the sizing table: cargo run -p sigship -- plan --markdown > docs/costs.md"
        );
    }

    #[test]
    fn the_steady_mainnet_month_is_itemised_and_backups_are_a_line_of_their_own() {
        let mainnet = for_network(Network::Mainnet);
        let lines = monthly_cost(mainnet, false);
        assert!(total(&lines) < 100.0, "{lines:?}");
        let with_backups = monthly_cost(mainnet, true);
        assert_eq!(with_backups.len(), lines.len() + 1);
        assert!(total(&with_backups) - total(&lines) > 40.0, "850 GiB of backups");
        assert!(plan(Network::Mainnet).contains("total"));
    }
}
