//! What AWS charges for a node: us-east-1 on-demand prices, and the steady node's month line by
//! line (its first month after a sync apart: all data still in EFS Standard).

use super::{NetworkSizing, GIB_PER_GB, HOURS_PER_MONTH};

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
    /// Data transfer out to the internet, per GB after the free 100 GB a month.
    pub transfer_out_gb: f64,
    pub transfer_out_free_gb: f64,
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
    transfer_out_gb: 0.09,
    transfer_out_free_gb: 100.0,
};

/// What a steady node reads from EFS in a month, GB: LevelDB's compactions re-read what they
/// rewrite (assumed as much as the month's writes again) and cache misses of new blocks' inputs.
pub const MONTHLY_READ_FACTOR: f64 = 2.0;
/// Upload to peers a month, GB: a node that only dials out relays blocks and transactions to its
/// eight peers (≈ 15 GB); one that accepts inbound peers (`ExposeP2P=true`) also serves
/// syncing nodes their history (≈ 200 GB, Bitcoin Core's own figure for a listening node is
/// "200 GB or more"). Assumptions, not measurements.
pub const UPLOAD_GB_DIALING_OUT: f64 = 15.0;
pub const UPLOAD_GB_LISTENING: f64 = 200.0;

/// One line of the monthly bill.
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    pub item: &'static str,
    pub basis: String,
    pub dollars: f64,
}

/// How the month is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Month {
    /// AWS Backup of the chain data (ChainDataBackups=on).
    pub backups: bool,
    /// Inbound peers accepted (ExposeP2P=true).
    pub listening: bool,
    /// The first month after the initial sync: every block file is still in EFS Standard (the
    /// transition to Infrequent Access comes after 30 days untouched).
    pub first_after_sync: bool,
}

fn gb(gib: f64) -> f64 {
    gib * GIB_PER_GB
}

/// The transfer out of `upload_gb` a month, after the free allowance.
fn transfer_dollars(upload_gb: f64) -> f64 {
    (upload_gb - PRICES.transfer_out_free_gb).max(0.0) * PRICES.transfer_out_gb
}

/// The steady node's month: what the stack bills while it follows the tip.
pub fn monthly_cost(chain: &NetworkSizing, month: Month) -> Vec<CostLine> {
    let steady = &chain.steady;
    let standard_gib = if month.first_after_sync { chain.data_gib } else { chain.hot_gib.min(chain.data_gib) };
    let cold_gib = (chain.data_gib - standard_gib).max(0.0);
    // A month of new blocks written once, and the UTXO database's periodic flushes (assumed as
    // much again).
    let written_gb = gb(chain.growth_gib_per_year / 12.0) * 2.0;
    let read_gb = written_gb * MONTHLY_READ_FACTOR;
    let upload_gb = if month.listening { UPLOAD_GB_LISTENING } else { UPLOAD_GB_DIALING_OUT };
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
            item: if month.first_after_sync {
                "EFS Standard: all of it, the month after a sync"
            } else {
                "EFS Standard: databases and the newest blocks"
            },
            basis: format!("{standard_gib:.0} GiB × ${}/GB-month", PRICES.efs_standard_gb_month),
            dollars: gb(standard_gib) * PRICES.efs_standard_gb_month,
        },
        CostLine {
            item: "EFS Infrequent Access: block files untouched for 30 days",
            basis: format!("{cold_gib:.0} GiB × ${}/GB-month", PRICES.efs_ia_gb_month),
            dollars: gb(cold_gib) * PRICES.efs_ia_gb_month,
        },
        CostLine {
            item: "EFS Elastic Throughput: writes",
            basis: format!("≈ {written_gb:.1} GB a month × ${}/GB", PRICES.efs_elastic_write_gb),
            dollars: written_gb * PRICES.efs_elastic_write_gb,
        },
        CostLine {
            item: "EFS Elastic Throughput: reads (compaction, cache misses)",
            basis: format!("≈ {read_gb:.1} GB a month × ${}/GB", PRICES.efs_elastic_read_gb),
            dollars: read_gb * PRICES.efs_elastic_read_gb,
        },
        CostLine {
            item: if month.listening {
                "data transfer out, inbound peers (ExposeP2P=true)"
            } else {
                "data transfer out, outbound peers only"
            },
            basis: format!(
                "≈ {upload_gb:.0} GB a month; the first {:.0} GB free, then ${}/GB",
                PRICES.transfer_out_free_gb, PRICES.transfer_out_gb
            ),
            dollars: transfer_dollars(upload_gb),
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
    if month.backups {
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
