//! The model's inputs, each with where it comes from: what `cargo xtask bench sync` measured of
//! the real btcd on this project's machine (docs/benchmarks.md), and what comes from public
//! sources or is assumed (ranges: low, central, high).

/// A figure's low, central and high values (for a duration: the fast case first).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Range {
    pub low: f64,
    pub central: f64,
    pub high: f64,
}

impl Range {
    pub const fn new(low: f64, central: f64, high: f64) -> Self {
        Range { low, central, high }
    }

    pub const fn exactly(value: f64) -> Self {
        Range { low: value, central: value, high: value }
    }

    pub fn map(self, f: impl Fn(f64) -> f64) -> Self {
        Range { low: f(self.low), central: f(self.central), high: f(self.high) }
    }

    pub fn zip(self, other: Range, f: impl Fn(f64, f64) -> f64) -> Self {
        Range { low: f(self.low, other.low), central: f(self.central, other.central), high: f(self.high, other.high) }
    }
}

impl std::ops::Add for Range {
    type Output = Range;
    fn add(self, other: Range) -> Range {
        self.zip(other, |a, b| a + b)
    }
}

/// btcd v0.26.0's own figures, measured by `cargo xtask bench sync` (2026-12-07, 2 cores AMD
/// EPYC, Go 1.26.8, a simnet chain of 2.0 M signed P2PKH inputs, 1.53 M UTXOs at its tip;
/// docs/benchmarks.md has the run). Where two runs differ, the figure is the one that sizes safely.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// CPU to connect one input with its script checked (signature checks on every core), µs.
    pub checked_cpu_us_per_input: f64,
    /// CPU to connect one input below a checkpoint (no script check), µs: the serial part.
    pub unchecked_cpu_us_per_input: f64,
    /// What btcd counts per UTXO cache entry (its `--utxocachemaxsize` accounting), bytes.
    pub cache_bytes_per_entry: f64,
    /// Go's live heap per MiB btcd counts for its cache (Go 1.26's maps and size classes cost
    /// more than btcd's formula says; btcd's other live data included).
    pub heap_per_cache_mib: f64,
    /// Live heap the final flush adds per cache entry (one database transaction of them all), bytes.
    pub flush_heap_bytes_per_entry: f64,
    /// The rest of btcd's heap (peers, buffers, a short chain's index) with a small cache, MiB.
    pub base_heap_mib: f64,
    /// The SIGTERM flush, single-threaded, behind EFS-like reads, µs per entry.
    pub flush_us_per_entry: f64,
    /// The slow-storage run's time to the tip against the same cache on a local disk: what
    /// 2 ms per read costs a cache that fills and flushes.
    pub slow_storage_factor: f64,
    /// The share of collection in btcd's CPU with GOGC unset (btcd then sets 10) and with
    /// GOGC=100, at the same sync.
    pub gc_share_gogc_10: f64,
    pub gc_share_gogc_100: f64,
}

pub const MEASURED: Measured = Measured {
    // GOGC=100: 176.3 and 180.0 µs in two runs (191 and 196 s to the tip at 1.85 cores); with
    // btcd's GOGC=10, 182.2 and 219.3 µs.
    checked_cpu_us_per_input: 180.0,
    // --addcheckpoint at the tip: 5.8 and 5.6 µs (11 s, 1.05 cores).
    unchecked_cpu_us_per_input: 5.8,
    // The small cache's 12 flushes a run: 124–131 B per entry (44 MiB of 360,999, …).
    cache_bytes_per_entry: 128.0,
    // 2,066 and 2,064 MiB live at the tip for the 1,658 MiB btcd reports (GOGC=10 collects
    // nearly continuously, so its live heap is the tightest reading).
    heap_per_cache_mib: 1.25,
    // 1.53 M entries, live heap before and during the flush: 105 and 138 B with GOGC=10
    // (2,066 → 2,219, 2,064 → 2,265 MiB), 142 and 145 B below the checkpoint; the largest.
    flush_heap_bytes_per_entry: 145.0,
    // The small cache's largest live heap (274–285 MiB beside a 33–43 MiB cache).
    base_heap_mib: 285.0,
    // 338,568 entries: 7.4 and 10.0 s behind 2 ms reads (21.9, 29.7 µs), 4.7 and 5.0 s on the
    // local disk; 1.53 M entries took 14.1–15.7 s locally (9.2–10.3 µs). The slowest.
    flush_us_per_entry: 29.7,
    // 470 s against 251 s, 532 s against 288 s.
    slow_storage_factor: 1.87,
    gc_share_gogc_10: 0.04,
    gc_share_gogc_100: 0.0,
};

/// What the model takes from public sources or assumes, with its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assumed {
    /// btcd downloads from one peer and stops reading while it connects a block, MiB/s (fast, central, slow).
    pub download_mib_per_second: Range,
    /// An EFS read on a cache miss (file open and read over NFS), ms.
    pub efs_miss_ms: Range,
    /// A Graviton vCPU's time for btcd's work against one core of the benchmark's machine.
    pub vcpu_time_factor: Range,
    /// The share of lookups that miss a cache that does not hold the whole UTXO set, per share
    /// of the set the cache cannot hold (low: the benchmark's slow-storage run, with the kernel's
    /// page cache in front of the file system).
    pub miss_share: Range,
}

pub const ASSUMED: Assumed = Assumed {
    download_mib_per_second: Range::new(25.0, 12.0, 5.0),
    efs_miss_ms: Range::new(1.5, 2.5, 4.0),
    vcpu_time_factor: Range::new(0.8, 1.0, 1.5),
    // The slow-storage runs: (470 − 251) s and (532 − 288) s over 2.0 M inputs = 110–122 µs,
    // 0.055–0.061 reads of 2 ms per input, with 77 % of the set outside a 43 MiB cache: 0.08.
    miss_share: Range::new(0.08, 0.2, 0.5),
};

/// Mainnet's transactions per calendar year, millions: how far along its history a node is, by
/// its newest block's time (`sigship status` during a sync). 2009–2019 and 2022–2023 are
/// published counts (see [`SOURCES`]); the other years are estimates.
pub const MAINNET_TRANSACTIONS_PER_YEAR: [(i32, f64); 18] = [
    (2009, 0.033),
    (2010, 0.185),
    (2011, 1.91),
    (2012, 8.44),
    (2013, 19.7),
    (2014, 25.3),
    (2015, 45.7),
    (2016, 82.6),
    (2017, 104.1),
    (2018, 81.4),
    (2019, 119.8),
    (2020, 112.0),
    (2021, 96.0),
    // 255,085 a day.
    (2022, 93.1),
    // 392,170 a day to October, records in December.
    (2023, 145.0),
    (2024, 150.0),
    (2025, 140.0),
    (2026, 135.0),
];

/// Where the public figures come from (read 2026-12), and what is assumed.
pub const SOURCES: [(&str, &str); 13] = [
    ("Fargate arm64 $/vCPU-h, $/GB-h", "https://aws.amazon.com/fargate/pricing/ (us-east-1, Linux/ARM; as quoted by https://www.vantage.sh/blog/fargate-pricing)"),
    ("EFS Standard, Infrequent Access, IA reads, Elastic Throughput", "https://aws.amazon.com/efs/pricing/ (the rates since the November 2023 price change, as listed in https://blog.gslin.org/archives/tag/tiering/)"),
    ("EFS latency: ≈ 1 ms per read as AWS states it; 1.5–4 ms per cache miss with the file open and NFS round trips (an estimate)", "https://docs.aws.amazon.com/efs/latest/ug/performance.html"),
    ("AWS Backup, EFS warm storage", "https://aws.amazon.com/backup/pricing/ (as quoted by https://cloudburn.io/blog/aws-backup-pricing, 2026-02)"),
    ("CloudWatch alarms, custom metrics, Logs ingestion", "https://aws.amazon.com/cloudwatch/pricing/"),
    ("Secrets Manager, KMS customer-managed key", "https://aws.amazon.com/secrets-manager/pricing/, https://aws.amazon.com/kms/pricing/"),
    ("public IPv4 address; data transfer out ($0.09/GB after 100 GB a month free)", "https://aws.amazon.com/vpc/pricing/ (since 2024-02-01), https://aws.amazon.com/ec2/pricing/on-demand/ (Data Transfer)"),
    ("Fargate On-Demand vCPU quota L-3032A538, default 6", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html"),
    ("chain sizes and growth", "Bitcoin Core's published assumed chain sizes (src/kernel/chainparams.cpp: 810 GiB 2025-09, 856 GiB 2026-02 for mainnet), plus btcd's BIP158 filter index (≈ 15 GiB); testnet3, testnet4 and signet from the same file"),
    ("btcd's checkpoints: mainnet's last at 810,000, testnet3's at 2,344,474; testnet4 and signet have none", "btcd v0.26.0 chaincfg/v2 params.go"),
    ("UTXO set and inputs (estimates, not citations)", "mainnet ≈ 180 M unspent outputs and ≈ 3.0 billion inputs, ≈ 2.3 billion of them below height 810,000; the testnets' sets as an independent review of btcd v0.26.0 estimated them (≈ 30 / 3 / 6 GiB as btcd counts them for testnet3 / testnet4 / signet)"),
    ("mainnet's transactions per year: 2009–2019 counted, 2022–2023 from daily averages; 2020–2021 and 2024–2026 estimates (≈ 1.35 billion to date; ≥ 900 million in 2023 as a check)", "https://christianott.co/bitcoinstatistics_en/ (2020-02), https://news.valimarket.exchange/2023/10/22/bitcoins-daily-transactions-see-sharp-46-decline-since-mid-september/, https://bitesizebitcoin.org/learn-bitcoin/bitcoin-statistics/how-many-bitcoin-transactions-have-occurred"),
    ("one peer's download rate (an assumption)", "btcd syncs from one peer and stops reading while it connects a block: 5–25 MiB/s; btcd's maintainers quote ≈ 6 h for v0.24 on unstated hardware, a third-party report 48 h to height 650k on NVMe"),
];
