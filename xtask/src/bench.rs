//! `cargo xtask bench`: the figures side by side, from one run on one machine (medians, with the
//! spread). Targets, not tests: every arm64 zip ≤ 4 MB, Init ≤ 15 ms and peak RSS ≤ 16 MiB for
//! every function, verify's fetch of a btcd-sized release tag ≤ 64 KiB.

mod fetch;
mod functions;
pub mod reproduce;
pub mod sync;

use std::time::Duration;

use localcloud::{LocalCloud, Options};

use crate::tools;

const RUNS: usize = 21;

/// Median, minimum and maximum of a series.
pub struct Spread<T = Duration> {
    pub median: T,
    pub min: T,
    pub max: T,
}

impl<T: Ord + Copy> Spread<T> {
    fn of(mut values: Vec<T>) -> Self {
        values.sort();
        Spread { median: values[values.len() / 2], min: values[0], max: values[values.len() - 1] }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} ms ({:.1}–{:.1})", ms(self.median), ms(self.min), ms(self.max))
    }
}

pub fn run() -> Result<(), String> {
    let root = localcloud::workspace_root();
    let venv = tools::ensure_local_cloud()?;
    tools::ensure_arm64_target()?;
    println!(
        "bench: cargo lambda build --release --arm64 --output-format zip ({} functions)…",
        tools::functions().count()
    );
    let path = format!("{}:{}", venv.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut args = vec!["lambda", "build", "--release", "--arm64", "--output-format", "zip"];
    args.extend(tools::functions().flat_map(|f| ["-p", f]));
    let status = std::process::Command::new(tools::cargo())
        .args(&args)
        .current_dir(&root)
        .env("PATH", &path)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("cargo lambda build failed".into());
    }
    println!("bench: cargo build --release (host target, for the Init and fetch runs)…");
    tools::build_functions(true)?;

    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    // Kept after the run: the Python functions and their logs.
    let scratch = target.join("bench");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (functions, fetches) = runtime.block_on(async {
        println!("bench: {RUNS} cold starts per function, Rust and Python/boto3…");
        let cloud = LocalCloud::start(Options { binaries: target.join("release"), ..Options::default() }).await;
        let functions = functions::measure(&cloud, &venv.join("bin/python3"), &scratch).await?;
        println!("bench: sigship verify of a btcd-sized release tag, filters on and off…");
        let fetches = fetch::measure(&target.join("release/sigship"), &scratch).await?;
        Ok::<_, String>((functions, fetches))
    })?;

    println!();
    println!("| function | arm64 zip | Init, median (min–max) | peak RSS | first invocation | Python/boto3 Init | Python / Rust |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in &functions {
        let zip =
            std::fs::metadata(target.join("lambda").join(row.name).join("bootstrap.zip")).map(|m| m.len()).unwrap_or(0);
        println!(
            "| {} | {:.2} MB | {} | {:.1} MiB | {:.1} ms | {:.0} ms | {:.0}× |",
            row.name,
            zip as f64 / 1e6,
            row.init,
            row.peak_rss_kib as f64 / 1024.0,
            ms(row.first_invocation.median),
            ms(row.python_init.median),
            row.python_init.median.as_secs_f64() / row.init.median.as_secs_f64(),
        );
    }
    println!(
        "Init: process spawn → first poll of the Runtime API (runtime, logging, SDK clients); first invocation: that poll → \
         response, including the function's setup (config, trust root and secret reads) and its AWS calls to moto; \
         {RUNS} cold starts each, host release build"
    );
    println!();
    println!(
        "| `sigship verify`, repository of {} files ({:.1} MB packed) | filters | bytes from the server, median | wall time, median (min–max) |",
        fetches.files,
        fetches.packed_bytes as f64 / 1e6
    );
    println!("|---|---|---:|---:|");
    for row in &fetches.rows {
        println!(
            "| {} | {} | {} B | {} |",
            row.transport,
            if row.filters { "offered (tree:0 used)" } else { "refused (full depth-1 fetch)" },
            row.bytes.median,
            row.wall
        );
    }
    println!();
    println!("bench: verification, sigship against git verify-tag (gpg)…");
    tools::run(tools::cargo(), &["bench", "--quiet", "-p", "pipeline", "--bench", "verify_vs_gpg"], &root)
}
