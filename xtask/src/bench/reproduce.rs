//! `cargo xtask bench reproduce`: how long `sigship reproduce --running` takes on this machine,
//! against the local cloud after it deployed btcd v0.24.2 — cold (Go's module and build caches
//! empty: btcd's modules from the Go module proxy, every package compiled) and warm (the caches a
//! machine keeps between runs). The Go toolchain itself is this machine's go1.26.8 in both; on a
//! machine without it, Go downloads it once (≈ 76 MB from the Go module proxy).

use std::time::{Duration, Instant};

use localcloud::{LocalCloud, Options};

use super::Spread;
use crate::tools;

const COLD_RUNS: usize = 3;
const WARM_RUNS: usize = 5;

pub fn run() -> Result<(), String> {
    tools::ensure_local_cloud()?;
    tools::build_functions(false)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(measure())
}

async fn measure() -> Result<(), String> {
    let cloud = LocalCloud::start(Options::default()).await;
    cloud.repository.signed_tag(localcloud::DEMO_RELEASE, &cloud.maintainer);
    let run = cloud.run(serde_json::json!({"tag": localcloud::DEMO_RELEASE}), "bench-reproduce", false).await;
    if run.error.is_some() {
        return Err(format!("the deployment to reproduce failed: {:?} {:?}", run.error, run.cause));
    }
    let sigship = Options::default().binaries.join("sigship");
    let trust = cloud.trust_root.display().to_string();
    let reproduce = |caches: Option<&std::path::Path>| {
        let mut env = cloud.client_env();
        if let Some(dir) = caches {
            env.push(("GOCACHE", dir.join("build").display().to_string()));
            env.push(("GOMODCACHE", dir.join("mod").display().to_string()));
        }
        let (sigship, trust) = (sigship.clone(), trust.clone());
        async move {
            let started = Instant::now();
            let args = ["reproduce", "--running", "--trust", &trust].map(String::from).to_vec();
            let (code, stdout, stderr) = localcloud::stack::sigship(&sigship, args, env).await;
            match code {
                0 => Ok(started.elapsed()),
                _ => Err(format!("reproduce exited {code}:\n{stdout}\n{stderr}")),
            }
        }
    };
    let mut cold = Vec::new();
    for _ in 0..COLD_RUNS {
        let caches = tempfile::tempdir().map_err(|e| e.to_string())?;
        cold.push(reproduce(Some(caches.path())).await?);
        // The module cache is read-only, as Go leaves it.
        let _ = std::process::Command::new("chmod").args(["-R", "u+w"]).arg(caches.path()).status();
    }
    // The first warm run fills the machine's caches if a cold one could not.
    reproduce(None).await?;
    let mut warm = Vec::new();
    for _ in 0..WARM_RUNS {
        warm.push(reproduce(None).await?);
    }
    let (cold, warm) = (Spread::of(cold), Spread::of(warm));
    let seconds = |d: Duration| d.as_secs_f64();
    println!();
    println!(
        "sigship reproduce --running (btcd {} on the local cloud; verify, fetch, rebuild, pull, compare):",
        localcloud::DEMO_RELEASE
    );
    println!(
        "  cold, empty Go caches ({COLD_RUNS} runs)   median {:.1} s ({:.1}–{:.1})",
        seconds(cold.median),
        seconds(cold.min),
        seconds(cold.max)
    );
    println!(
        "  warm, Go's caches kept ({WARM_RUNS} runs)  median {:.1} s ({:.1}–{:.1})",
        seconds(warm.median),
        seconds(warm.min),
        seconds(warm.max)
    );
    println!("  cold / warm                      {:.1}×", seconds(cold.median) / seconds(warm.median));
    Ok(())
}
