//! `cargo xtask bench sync`: btcd's own figures for the sync model, measured on this machine with
//! the real btcd the local cloud compiles (v0.26.0, the image's build flags). A simnet chain of
//! real signed transactions (xtask/syncbench generate) is served by one peer on loopback; a node
//! syncs it at several cache sizes, with and without script checks, behind EFS-like read latency,
//! killed mid-sync and restarted. It prints CPU per input, cores used, heap and RSS against the
//! cache btcd reports, the SIGTERM flush, and the restart's replay, side by side. A benchmark:
//! nothing here passes or fails on a figure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The release whose figures the model uses.
const RELEASE: &str = "v0.26.0";
/// Transaction inputs in the generated chain (SIGSHIP_SYNC_BENCH_INPUTS overrides).
const DEFAULT_INPUTS: u64 = 2_000_000;
/// The per-read latency of the slow storage run (EFS reads on a cache miss: 1.5–4 ms).
const SLOW_READ: &str = "2ms";
/// A generous task for GOMEMLIMIT (register-task sets 90 % of the task's memory).
const TASK_MEMORY_MIB: u64 = 16 * 1024;

struct Tools {
    btcd: PathBuf,
    syncbench: PathBuf,
    work: PathBuf,
}

/// The chain, as `syncbench generate` describes it (chain.json).
#[derive(serde::Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Chain {
    blocks: u64,
    inputs: u64,
    utxos: u64,
    bytes: u64,
    tip_hash: String,
    mid_height: u64,
    seconds: f64,
}

/// What one run of btcd showed.
#[derive(Default, Clone)]
struct Run {
    name: String,
    cache_mib: u64,
    sync_seconds: f64,
    cpu_seconds: f64,
    /// Largest heap at a collection's start during the sync, MiB (Go's gctrace).
    heap_peak_mib: f64,
    /// Live heap after the last collection of the sync, MiB.
    heap_live_mib: f64,
    rss_peak_mib: f64,
    /// The newest "~N MiB cache" btcd logged during the sync.
    cache_reported_mib: f64,
    /// Flushes btcd logged during the sync (the cache filled).
    flushes_during_sync: u64,
    gc_cpu_percent: f64,
    /// The SIGTERM flush: entries, MiB (as btcd logs them), seconds, peak heap and RSS.
    flush_entries: u64,
    flush_mib: f64,
    flush_seconds: f64,
    flush_heap_peak_mib: f64,
    /// The largest live heap after a collection during the flush, MiB.
    flush_live_max_mib: f64,
    flush_rss_peak_mib: f64,
    /// The restart after a SIGKILL: seconds replaying blocks, and to the tip.
    replay_seconds: f64,
    replayed_inputs: u64,
    restart_to_tip_seconds: f64,
}

pub fn run() -> Result<(), String> {
    let root = localcloud::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let work = target.join("syncbench");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let inputs = std::env::var("SIGSHIP_SYNC_BENCH_INPUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_INPUTS);
    let tools =
        Tools { btcd: build_btcd(&root, &work)?, syncbench: build_syncbench(&root, &work)?, work: work.clone() };
    let chain = generate(&tools, inputs)?;
    println!(
        "bench sync: chain of {} blocks, {} inputs, {} UTXOs at the tip, {:.0} MB (generated in {:.0} s)",
        chain.blocks,
        chain.inputs,
        chain.utxos,
        chain.bytes as f64 / 1e6,
        chain.seconds
    );
    let chain_dir = work.join(format!("chain-{inputs}"));
    let mut server = spawn(
        &tools.syncbench,
        &["serve", path(&chain_dir.join("chain.dat")), "127.0.0.1:0"],
        &work.join("serve.log"),
    )?;
    let peer = wait_for_line(&work.join("serve.log"), Duration::from_secs(120), |l| {
        l.strip_prefix("serving ").and_then(|r| r.rsplit(' ').next()).map(String::from)
    })?;

    // A cache that holds the whole set (no flush until SIGTERM), and one a quarter of it.
    let big = 4096;
    let small = (chain.utxos * 120 / 4 / (1 << 20)).max(16);
    let checkpoint = format!("--addcheckpoint={}:{}", chain.blocks, chain.tip_hash);
    let gogc = vec![("GOGC", "100")];
    let plan = |name, cache, flags: Vec<String>, env: Vec<(&'static str, &'static str)>, storage| Plan {
        name,
        cache,
        flags,
        env,
        storage,
    };
    let plans = [
        plan("every script checked, GOGC unset (btcd sets 10)", big, vec![], vec![], Storage::Local),
        plan("every script checked, GOGC=100", big, vec![], gogc.clone(), Storage::Local),
        plan("below a checkpoint (no script checks), GOGC=100", big, vec![checkpoint], gogc.clone(), Storage::Local),
        plan("small cache (fills and flushes), GOGC=100", small, vec![], gogc.clone(), Storage::Local),
        plan("small cache behind 2 ms per read, GOGC=100", small, vec![], gogc, Storage::Slow),
    ];
    let mut runs = Vec::new();
    for (n, plan) in plans.iter().enumerate() {
        println!("bench sync: {}, --utxocachemaxsize={}…", plan.name, plan.cache);
        let run = sync_once(&tools, &peer, &format!("run-{n}"), plan)?;
        println!("bench sync:   {:.0} s to the tip, {:.1} µs CPU per input", run.sync_seconds, per_input(&run, &chain));
        runs.push(run);
    }
    println!("bench sync: killed mid-sync (SIGKILL), then restarted…");
    match kill_and_restart(&tools, &chain, &peer, big) {
        Ok(killed) => runs.push(killed),
        Err(err) => println!("bench sync: the SIGKILL case failed: {err}"),
    }
    let _ = server.kill();
    let _ = server.wait();
    print_table(&chain, &runs);
    Ok(())
}

fn per_input(run: &Run, chain: &Chain) -> f64 {
    run.cpu_seconds * 1e6 / chain.inputs as f64
}

#[derive(Clone, Copy, PartialEq)]
enum Storage {
    Local,
    Slow,
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// btcd v0.26.0 from the Go module proxy, compiled by the local cloud's build (the Dockerfile's
/// build stage: the image's flags), once.
fn build_btcd(root: &Path, work: &Path) -> Result<PathBuf, String> {
    let store = work.join("images");
    let marker = work.join(format!("btcd-{RELEASE}"));
    if let Ok(bin) = std::fs::read_to_string(&marker) {
        if Path::new(bin.trim()).exists() {
            return Ok(PathBuf::from(bin.trim()));
        }
    }
    println!("bench sync: compiling btcd {RELEASE} with source/Dockerfile's build stage…");
    let source = localcloud::git::btcd_module_source(RELEASE)?;
    let images = localcloud::codebuild::ImageStore::new(store);
    let (_, digest, _) = localcloud::codebuild::build_image(&source, &root.join("source/Dockerfile"), &images, None)?;
    let (image_root, _) = images.get(&digest).ok_or("the built image is not in the store")?;
    let bin = localcloud::image::inside(&image_root, "/usr/local/bin/btcd");
    std::fs::write(&marker, path(&bin)).map_err(|e| e.to_string())?;
    Ok(bin)
}

fn build_syncbench(root: &Path, work: &Path) -> Result<PathBuf, String> {
    let bin = work.join("syncbench");
    let status = Command::new("go")
        .args(["build", "-o", path(&bin), "."])
        .current_dir(root.join("xtask/syncbench"))
        .status()
        .map_err(|e| format!("go: {e}"))?;
    if !status.success() {
        return Err("go build xtask/syncbench failed".into());
    }
    Ok(bin)
}

/// The chain for `inputs`, generated once and kept in target/syncbench.
fn generate(tools: &Tools, inputs: u64) -> Result<Chain, String> {
    let dir = tools.work.join(format!("chain-{inputs}"));
    let meta = dir.join("chain.json");
    if !meta.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        println!("bench sync: generating a chain of {inputs} signed inputs (once; kept in {})…", dir.display());
        let status = Command::new(&tools.syncbench)
            .args(["generate", path(&dir), &inputs.to_string()])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("syncbench generate failed".into());
        }
    }
    serde_json::from_slice(&std::fs::read(&meta).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

fn spawn(program: &Path, args: &[&str], log: &Path) -> Result<Child, String> {
    let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
    Command::new(program)
        .args(args)
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))
}

/// The first value `pick` finds in the file's lines, polling until `within`.
fn wait_for_line<T>(file: &Path, within: Duration, pick: impl Fn(&str) -> Option<T>) -> Result<T, String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Some(found) = text.lines().find_map(&pick) {
                return Ok(found);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{}: nothing expected within {within:?}", file.display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A btcd process under observation: its log (stdout), Go's gctrace (stderr), /proc samples.
struct Node {
    child: Child,
    log: PathBuf,
    trace: PathBuf,
    rss_peak_kib: u64,
}

impl Node {
    fn start(
        tools: &Tools,
        data: &Path,
        peer: &str,
        cache: u64,
        flags: &[String],
        env: &[(&str, &str)],
        tag: &str,
    ) -> Result<Self, String> {
        let log = tools.work.join(format!("{tag}.log"));
        let trace = tools.work.join(format!("{tag}.gctrace"));
        let mut command = Command::new(&tools.btcd);
        command
            .args(["--simnet", "--nolisten", "--nodnsseed", &format!("--connect={peer}")])
            .arg(format!("--datadir={}", data.join("data").display()))
            .arg(format!("--logdir={}", data.join("logs").display()))
            .arg(format!("--utxocachemaxsize={cache}"))
            .args(flags)
            .env_remove("GOGC")
            .env("HOME", data)
            .env("GODEBUG", "gctrace=1")
            .env("GOMEMLIMIT", format!("{}MiB", TASK_MEMORY_MIB / 10 * 9))
            .envs(env.iter().copied())
            .stdout(std::fs::File::options().create(true).append(true).open(&log).map_err(|e| e.to_string())?)
            .stderr(std::fs::File::options().create(true).append(true).open(&trace).map_err(|e| e.to_string())?);
        let child = command.spawn().map_err(|e| format!("btcd: {e}"))?;
        Ok(Node { child, log, trace, rss_peak_kib: 0 })
    }

    fn sample(&mut self) {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())) {
            let rss = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok());
            self.rss_peak_kib = self.rss_peak_kib.max(rss.unwrap_or(0));
        }
    }

    /// utime + stime, seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
        let ticks: f64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<f64>().ok()).sum();
        ticks / 100.0
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls (sampling RSS) until `done` holds for the log, or the process exits, or `within`.
    fn wait(&mut self, within: Duration, done: impl Fn(&str) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            self.sample();
            if done(&self.log_text()) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("btcd exited ({status}); see {}", self.log.display()));
            }
            if Instant::now() > deadline {
                return Err(format!("btcd: not done within {within:?}; see {}", self.log.display()));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
    }

    /// SIGTERM, then until it exits; the seconds it took.
    fn stop(&mut self) -> Result<f64, String> {
        let started = Instant::now();
        self.signal("-TERM");
        loop {
            self.sample();
            if self.child.try_wait().map_err(|e| e.to_string())?.is_some() {
                return Ok(started.elapsed().as_secs_f64());
            }
            if started.elapsed() > Duration::from_secs(1800) {
                self.signal("-KILL");
                return Err("btcd did not stop within 30 min".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Collections in the trace: (heap at start, live after, MiB), from line `from` on.
    fn collections(&self, from: usize) -> (Vec<(f64, f64)>, usize, f64) {
        let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("gc ")).collect();
        let mut percent = 0.0;
        let heaps = lines[from.min(lines.len())..]
            .iter()
            .filter_map(|line| {
                // gc 12 @3.456s 5%: … 120->130->60 MB, 125 MB goal, …
                percent = line.split_whitespace().nth(3)?.trim_end_matches(':').trim_end_matches('%').parse().ok()?;
                let sizes = line.split(", ").find(|part| part.contains("->"))?.split(' ').next()?;
                let mut parts = sizes.split("->").map(|v| v.parse::<f64>().ok());
                let start = parts.next()??;
                let _end = parts.next()??;
                let live = parts.next()??;
                Some((start, live))
            })
            .collect();
        (heaps, lines.len(), percent)
    }
}

fn finished(log: &str) -> bool {
    log.contains("Finished the initial block download")
}

/// One sync: a name, btcd's cache flag, its extra flags and environment, its storage.
struct Plan {
    name: &'static str,
    cache: u64,
    flags: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    storage: Storage,
}

fn sync_once(tools: &Tools, peer: &str, tag: &str, plan: &Plan) -> Result<Run, String> {
    let Plan { name, cache, flags, env, storage } = plan;
    let (cache, storage) = (*cache, *storage);
    let backing = tools.work.join(format!("{tag}.data"));
    let _ = std::fs::remove_dir_all(&backing);
    std::fs::create_dir_all(&backing).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(tools.work.join(format!("{tag}.log")));
    let _ = std::fs::remove_file(tools.work.join(format!("{tag}.gctrace")));
    let mut mount = None;
    let data = match storage {
        Storage::Local => backing.clone(),
        Storage::Slow => {
            let mountpoint = tools.work.join(format!("{tag}.mnt"));
            std::fs::create_dir_all(&mountpoint).map_err(|e| e.to_string())?;
            let log = tools.work.join(format!("{tag}.slowfs.log"));
            mount = Some(spawn(&tools.syncbench, &["slowfs", path(&backing), path(&mountpoint), SLOW_READ], &log)?);
            wait_for_line(&log, Duration::from_secs(30), |l| l.starts_with("mounted ").then_some(()))?;
            mountpoint
        }
    };
    let started = Instant::now();
    let mut node = Node::start(tools, &data, peer, cache, flags, env, tag)?;
    let outcome = (|| {
        node.wait(Duration::from_secs(6 * 3600), finished)?;
        let sync_seconds = started.elapsed().as_secs_f64();
        let cpu_seconds = node.cpu_seconds();
        let rss_sync = node.rss_peak_kib;
        let (sync_heaps, seen, gc_percent) = node.collections(0);
        let log = node.log_text();
        node.rss_peak_kib = 0;
        let flush_seconds = node.stop()?;
        let (flush_heaps, _, _) = node.collections(seen);
        let log_after = node.log_text();
        let flush = log_after.lines().rev().find_map(flush_line);
        Ok::<Run, String>(Run {
            name: (*name).into(),
            cache_mib: cache,
            sync_seconds,
            cpu_seconds,
            heap_peak_mib: sync_heaps.iter().map(|h| h.0).fold(0.0, f64::max),
            heap_live_mib: sync_heaps.last().map_or(0.0, |h| h.1),
            rss_peak_mib: rss_sync as f64 / 1024.0,
            cache_reported_mib: log.lines().rev().find_map(reported_cache).unwrap_or(0.0),
            flushes_during_sync: log.lines().filter(|l| flush_line(l).is_some()).count() as u64,
            gc_cpu_percent: gc_percent,
            flush_entries: flush.map_or(0, |f| f.1),
            flush_mib: flush.map_or(0.0, |f| f.0),
            flush_seconds,
            flush_heap_peak_mib: flush_heaps.iter().map(|h| h.0).fold(0.0, f64::max),
            flush_live_max_mib: flush_heaps.iter().map(|h| h.1).fold(0.0, f64::max),
            flush_rss_peak_mib: node.rss_peak_kib as f64 / 1024.0,
            ..Run::default()
        })
    })();
    if outcome.is_err() {
        node.signal("-KILL");
        let _ = node.child.wait();
    }
    if let Some(mut mount) = mount {
        let _ = Command::new("kill").args(["-TERM", &mount.id().to_string()]).status();
        let _ = mount.wait();
    }
    let _ = std::fs::remove_dir_all(&backing);
    outcome
}

/// The SIGKILL case: sync with the big cache past the chain's middle, kill, restart, to the tip.
fn kill_and_restart(tools: &Tools, chain: &Chain, peer: &str, cache: u64) -> Result<Run, String> {
    let tag = "run-killed";
    let data = tools.work.join(format!("{tag}.data"));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(tools.work.join(format!("{tag}.log")));
    let env = [("GOGC", "100")];
    let mut node = Node::start(tools, &data, peer, cache, &[], &env, tag)?;
    let mid = chain.mid_height;
    node.wait(Duration::from_secs(6 * 3600), |log| {
        log.lines().filter_map(progress_height).any(|h| h >= mid) || finished(log)
    })?;
    let killed_at = node.log_text().lines().filter_map(progress_height).max().unwrap_or(0);
    node.signal("-KILL");
    let _ = node.child.wait();
    let restarted = Instant::now();
    let mut node = Node::start(tools, &data, peer, cache, &[], &env, tag)?;
    let since_restart = |log: &str| log.rsplit("BTCD: Version").next().unwrap_or_default().to_string();
    node.wait(Duration::from_secs(6 * 3600), |log| finished(&since_restart(log)))?;
    let restart_to_tip_seconds = restarted.elapsed().as_secs_f64();
    let log = since_restart(&node.log_text());
    // The block database keeps what its last metadata flush wrote; the UTXO state is replayed
    // from its last flush to there, without script checks.
    let kept_height = log.lines().find_map(|l| l.split("Chain state (height ").nth(1)?.split(',').next()?.parse().ok());
    let lines: Vec<&str> = log.lines().collect();
    let replay_seconds = lines
        .iter()
        .position(|l| l.contains("Reconstructing UTXO state"))
        .and_then(|i| Some(log_time(lines.get(i + 1)?)? - log_time(lines[i])?))
        .unwrap_or(0.0);
    node.signal("-KILL");
    let _ = node.child.wait();
    let _ = std::fs::remove_dir_all(&data);
    let kept_height: u64 = kept_height.unwrap_or(0);
    Ok(Run {
        name: format!(
            "killed at height {killed_at} of {}; the block database kept height {kept_height} at the restart",
            chain.blocks
        ),
        cache_mib: cache,
        replay_seconds,
        // Blocks up to the coinbase maturity (100) carry no inputs.
        replayed_inputs: chain.inputs * kept_height.saturating_sub(101) / chain.blocks.saturating_sub(101).max(1),
        restart_to_tip_seconds,
        ..Run::default()
    })
}

/// A btcd log line's time (`2026-12-07 06:46:18.391 [INF] …`), seconds since midnight.
fn log_time(line: &str) -> Option<f64> {
    let clock = line.split_whitespace().nth(1)?;
    let mut parts = clock.split(':').map(|p| p.parse::<f64>().ok());
    Some(parts.next()?? * 3600.0 + parts.next()?? * 60.0 + parts.next()??)
}

/// `Processed … (…, height H, …)` → H.
fn progress_height(line: &str) -> Option<u64> {
    let after = line.split("Processed ").nth(1)?;
    after.split("height ").nth(1)?.split(',').next()?.trim().parse().ok()
}

/// `… ~97 MiB cache)` → 97.
fn reported_cache(line: &str) -> Option<f64> {
    line.contains("Processed ").then_some(())?;
    line.rsplit('~').next()?.split(' ').next()?.parse().ok()
}

/// `Flushing UTXO cache of 120 MiB with 1234567 entries to disk…` → (120, 1234567).
fn flush_line(line: &str) -> Option<(f64, u64)> {
    let after = line.split("Flushing UTXO cache of ").nth(1)?;
    let mut words = after.split_whitespace();
    let mib = words.next()?.parse().ok()?;
    let entries = words.nth(2)?.parse().ok()?;
    Some((mib, entries))
}

fn print_table(chain: &Chain, runs: &[Run]) {
    let machine = machine();
    println!();
    println!(
        "btcd {RELEASE}, simnet chain of {} blocks, {:.1} M inputs (P2PKH, 2 in / 3 out), {:.1} M UTXOs at the tip; {machine}",
        chain.blocks,
        chain.inputs as f64 / 1e6,
        chain.utxos as f64 / 1e6
    );
    println!();
    println!("| run | cache flag | to the tip | CPU per input | cores used | GC CPU | btcd's cache (last progress line) | live heap / btcd's cache at the tip | peak heap | peak RSS | flushes |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs.iter().filter(|r| r.sync_seconds > 0.0) {
        println!(
            "| {} | {} MiB | {:.0} s | {:.1} µs | {:.2} | {:.0} % | {:.0} MiB | {:.2} | {:.0} MiB | {:.0} MiB | {} |",
            run.name,
            run.cache_mib,
            run.sync_seconds,
            per_input(run, chain),
            run.cpu_seconds / run.sync_seconds,
            run.gc_cpu_percent,
            run.cache_reported_mib,
            if run.flush_mib > 0.0 { run.heap_live_mib / run.flush_mib } else { 0.0 },
            run.heap_peak_mib,
            run.rss_peak_mib,
            run.flushes_during_sync,
        );
    }
    println!();
    println!("| SIGTERM flush after the sync | entries | btcd's MiB | seconds | µs per entry | s per GiB | peak heap | live heap added per entry | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs.iter().filter(|r| r.flush_entries > 0) {
        // Live after a collection, against the sync's last: with GOGC=100 few collections run,
        // so the GOGC=10 row reads it best (none during the flush: 0).
        let added = (run.flush_live_max_mib - run.heap_live_mib).max(0.0) * 1048576.0 / run.flush_entries as f64;
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.0} MiB | {:.0} B | {:.0} MiB |",
            run.name,
            run.flush_entries,
            run.flush_mib,
            run.flush_seconds,
            run.flush_seconds * 1e6 / run.flush_entries as f64,
            run.flush_seconds / (run.flush_mib / 1024.0),
            run.flush_heap_peak_mib,
            added,
            run.flush_rss_peak_mib,
        );
    }
    for run in runs.iter().filter(|r| r.restart_to_tip_seconds > 0.0) {
        println!();
        let replay = if run.replay_seconds > 0.0 {
            format!(
                "the restart replayed ≈ {:.1} M inputs without script checks in {:.0} s ({:.1} µs per input)",
                run.replayed_inputs as f64 / 1e6,
                run.replay_seconds,
                run.replay_seconds * 1e6 / run.replayed_inputs.max(1) as f64
            )
        } else {
            "nothing to replay: the sync starts over".into()
        };
        println!("{}: {replay}; {:.0} s from the restart to the tip.", run.name, run.restart_to_tip_seconds);
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let go = Command::new("go")
        .args(["env", "GOVERSION"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {go}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btcd_s_lines_read_as_the_bench_needs_them() {
        let progress =
            "2026-12-07 07:05:52.698 [INF] SYNC: Processed 23 blocks in the last 10.21s (53866 transactions, \
                        height 374, 2026-12-06 05:18:58 +0000 UTC, ~1626 MiB cache)";
        assert_eq!(progress_height(progress), Some(374));
        assert_eq!(reported_cache(progress), Some(1626.0));
        assert_eq!(log_time(progress), Some(7.0 * 3600.0 + 5.0 * 60.0 + 52.698));
        let flush = "2026-12-07 07:09:01.001 [INF] CHAN: Flushing UTXO cache of 120 MiB with 1234567 entries to disk. \
                     For large sizes, this can take up to several minutes...";
        assert_eq!(flush_line(flush), Some((120.0, 1_234_567)));
        assert_eq!(progress_height(flush), None);
        let trace = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            trace.path(),
            "gc 70 @51.431s 3%: 0.044+250+0.049 ms clock, 0.089+16/128/79+0.098 ms cpu, 2078->2091->1916 MB, 2109 MB goal, 0 MB stacks, 0 MB globals, 2 P\n\
             other stderr\n\
             gc 71 @54.466s 4%: 0.054+246+0.036 ms clock, 0.10+8.9/126/93+0.073 ms cpu, 2077->2089->1919 MB, 2108 MB goal, 0 MB stacks, 0 MB globals, 2 P\n",
        )
        .unwrap();
        let node = Node {
            child: Command::new("true").spawn().unwrap(),
            log: PathBuf::new(),
            trace: trace.path().to_path_buf(),
            rss_peak_kib: 0,
        };
        let (heaps, seen, percent) = node.collections(0);
        assert_eq!((heaps, seen, percent), (vec![(2078.0, 1916.0), (2077.0, 1919.0)], 2, 4.0));
        assert_eq!(node.collections(1).0, vec![(2077.0, 1919.0)]);
    }
}
