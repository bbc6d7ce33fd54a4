//! `sigship run`, `status`, `destroy` and `logs` against the local cloud, as an operator uses
//! them: what they print, their exit codes, and Ctrl-C leaving the execution running.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;

use localcloud::keys::Maintainer;
use localcloud::{LocalCloud, Options};

struct Cli {
    env: Vec<(&'static str, String)>,
    pipeline: Vec<String>,
}

impl Cli {
    fn new(cloud: &LocalCloud) -> Self {
        let pipeline = ["--state-machine-arn", &cloud.stack.state_machine_arn, "--cluster", &cloud.stack.cluster]
            .iter()
            .map(|s| s.to_string())
            .chain(["--service".to_string(), cloud.stack.service.clone()])
            .chain(["--log-group".to_string(), cloud.stack.daemon_log_group.clone()])
            .collect();
        Cli { env: cloud.client_env(), pipeline }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sigship"));
        command.args(args).args(&self.pipeline).envs(self.env.clone());
        command
    }

    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let args = args.iter().map(|a| a.to_string()).chain(self.pipeline.iter().cloned()).collect();
        common::sigship(args, self.env.clone()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_status_destroy_and_logs() {
    let cloud = LocalCloud::start(Options::default()).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let cli = Cli::new(&cloud);

    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.2"]).await;
    assert_eq!(code, 0, "{stderr}");
    for expected in
        ["started with input {\"tag\":\"v0.24.2\"}", "→ Queue", "✓ Verify (", "✓ Deploy (", ": SUCCEEDED after"]
    {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
    assert!(stdout.contains("node btcd on cluster sigship: ACTIVE, 1 of 1 tasks running"), "{stdout}");
    let run_name = stdout.lines().next().unwrap().split_whitespace().nth(1).unwrap().to_string();
    assert!(run_name.starts_with("run-v0_24_2-"), "{run_name}");

    // The newest execution, its states, and the node: the release it runs, pinned by digest, and
    // how far it has synced, from btcd's own progress line.
    let (code, stdout, _) = cli.run(&["status"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("  height    unknown: no progress line"), "{stdout}");
    let logged = pipeline::config::now_ms() - 42_000;
    let line = format!(
        "{}.118 [INF] SYNC: Processed 1377 blocks in the last 10.01s (2848 transactions, height 201377, 2012-10-01 08:13:50 +0000 UTC, ~41 MiB cache)",
        pipeline::node::utc_date_time(logged / 1000)
    );
    cloud.daemon_logs("0123456789abcdef", &[(logged, line)]).await;
    let (code, stdout, _) = cli.run(&["status"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with(&format!("execution {run_name}\n")), "{stdout}");
    assert!(stdout.contains("status    SUCCEEDED") && stdout.contains("✓ RegisterTask ("), "{stdout}");
    assert!(stdout.contains("  built     sha256 btcctl ") && stdout.contains(", btcd "), "{stdout}");
    for expected in [
        "node btcd on cluster sigship: ACTIVE, 1 of 1 tasks running",
        "  network   regtest",
        "  release   v0.24.2 (commit ",
        "  height    201377 (newest block 2012-10-01 08:13:50 UTC, ",
        "  progress  last block processed 4",
        "  last log  ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
    assert!(stdout.contains("  image     ") && stdout.contains("@sha256:"), "{stdout}");

    // The same for scripts.
    let (code, stdout, stderr) = cli.run(&["status", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(status["execution"]["name"], run_name.as_str());
    assert_eq!(status["execution"]["status"], "SUCCEEDED");
    assert_eq!(status["node"]["revision"]["network"], "regtest");
    assert_eq!(status["node"]["revision"]["releaseTag"], "v0.24.2");
    assert!(status["node"]["revision"]["image"].as_str().unwrap().contains("@sha256:"), "{status}");
    assert_eq!((status["node"]["runningTasks"].as_i64(), status["node"]["desiredTasks"].as_i64()), (Some(1), Some(1)));
    assert_eq!(status["node"]["sync"]["height"], 201_377);
    assert_eq!(status["node"]["sync"]["blockTime"], 1_349_079_230);
    // The real btcd keeps logging after the progress line written above: the newest line is its own.
    assert!(status["node"]["lastLogMs"].as_i64().is_some_and(|ms| ms >= logged), "{status}");
    let (code, _, stderr) = cli.run(&["status", "--json", "--follow"]).await;
    assert_eq!(code, 2, "clap refuses the pair: {stderr}");

    // The functions' own log lines, from CloudWatch Logs, in the execution's window.
    let (code, stdout, stderr) = cli.run(&["logs", &run_name]).await;
    assert_eq!(code, 0, "{stderr}");
    for function in ["verify", "trigger-build", "register-task", "deploy", "queue"] {
        assert!(
            stdout.lines().any(|l| l.split_whitespace().nth(1) == Some(function)),
            "no {function} lines:\n{stdout}"
        );
    }

    // A tag signed outside the trust root: exit 1 with the named error and its cause.
    cloud.repository.commit("CHANGES", "v0.24.3\n", "v0.24.3");
    cloud.repository.signed_tag("v0.24.3", &Maintainer::generate("Mallory"));
    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.3"]).await;
    assert_eq!(code, 1);
    assert!(stdout.contains("✗ UnknownSigner: tag v0.24.3 is signed by") && stdout.contains("✗ Verify ("), "{stdout}");
    assert!(stderr.contains("ended FAILED: UnknownSigner: "), "{stderr}");
    let (code, stdout, _) = cli.run(&["status"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("status    FAILED") && stdout.contains("error UnknownSigner: "), "{stdout}");
    let (code, _, stderr) = cli.run(&["status", "no-such-execution"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no execution "), "{stderr}");

    // An older release, signed by the maintainer: refused before it is built, unless the operator
    // says so. (The webhook and the watch never can.)
    // (Its own commit and bytes: a tag on the running commit would name the running revision.)
    cloud.repository.change_btcd_build("v0.24.1");
    cloud.repository.signed_tag("v0.24.1", &cloud.maintainer);
    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.1"]).await;
    assert_eq!(code, 1, "{stdout}");
    // Refused at Verify, before anything is built (Deploy would refuse it too).
    assert!(
        stdout.contains("✗ Downgrade: release v0.24.1 is older than the running v0.24.2 (the newest deployed)")
            && stdout.contains("✗ Verify ("),
        "{stdout}"
    );
    let (_, status, _) = cli.run(&["status"]).await;
    assert!(status.contains("  release   v0.24.2 (commit "), "still running: {status}");
    let (code, stdout, stderr2) = cli.run(&["run", "--tag", "v0.24.1", "--allow-downgrade"]).await;
    assert_eq!(code, 0, "{stderr} {stderr2}");
    assert!(stdout.contains("started with input {\"tag\":\"v0.24.1\",\"allowDowngrade\":true}"), "{stdout}");
    assert!(stdout.contains("  release   v0.24.1 (commit "), "{stdout}");
    assert!(stdout.contains("  profile   steady (0.5 vCPU, 1 GB, UTXO cache 64 MiB)"), "{stdout}");

    // The running release at the sync size, then a release during sync keeps it, then steady
    // again: each an ordinary execution, the real btcd restarted at each size.
    let (code, stdout, stderr) = cli.run(&["run", "--profile", "sync"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("started with input {\"profile\":\"sync\"}") && stdout.contains("✓ Reprofile ("),
        "{stdout}"
    );
    assert!(stdout.contains("  release   v0.24.1 (commit "), "the same release: {stdout}");
    assert!(stdout.contains("  profile   sync (1 vCPU, 2 GB, UTXO cache 128 MiB)"), "{stdout}");
    assert!(stdout.contains("1 of 1 tasks running"), "{stdout}");
    // While it syncs a release waits: `run` refuses, saying what the stop would cost, and
    // `status` says releases wait; with --now the operator's release goes ahead and keeps the
    // sync size.
    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.2"]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stderr.contains("the node syncs at its sync size (sigship-btcd:")
            && stderr.contains("deploying v0.24.2 would stop it: btcd writes its UTXO cache out when it stops")
            && stderr.ends_with("to stop it anyway, add --now\n"),
        "{stderr}"
    );
    let (_, status, _) = cli.run(&["status"]).await;
    assert!(status.contains("  releases  wait while it syncs: a deploy would stop the sync"), "{status}");
    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.2", "--now"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("deploying v0.24.2 stops it now"), "{stdout}");
    assert!(stdout.contains("  release   v0.24.2 (commit "), "{stdout}");
    assert!(stdout.contains("  profile   sync (1 vCPU, 2 GB, UTXO cache 128 MiB)"), "a release keeps it: {stdout}");
    let (code, _, stderr) = cli.run(&["run", "--profile", "steady"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("switching to the steady size would stop it"), "{stderr}");
    let (code, stdout, stderr) = cli.run(&["run", "--profile", "steady", "--now"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("  profile   steady (0.5 vCPU, 1 GB, UTXO cache 64 MiB)"), "{stdout}");
    let (code, _, stderr) = cli.run(&["run", "--profile", "fast"]).await;
    assert_eq!(code, 2, "a usage error, as clap reports it");
    assert!(stderr.contains("invalid value 'fast' for '--profile <PROFILE>'"), "{stderr}");
    assert!(stderr.contains("[possible values: steady, sync]"), "{stderr}");

    let (code, stdout, stderr) = cli.run(&["destroy", "service"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("{\"destroy\":\"service\",\"chainData\":\"keep\"}"), "{stdout}");
    assert!(
        stdout.contains("✓ Destroy (") && stdout.contains("node btcd on cluster sigship: not deployed"),
        "{stdout}"
    );
    let (code, _, stderr) = cli.run(&["destroy", "images", "--delete-chain-data"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("--delete-chain-data goes with `everything`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_stops_following_not_the_execution() {
    let cloud = LocalCloud::start(Options::default()).await;
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    let cli = Cli::new(&cloud);
    let mut child =
        cli.command(&["run", "--tag", "v0.24.2"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (name, child) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let name = first.split_whitespace().nth(1).unwrap().to_string();
        // Interrupt while it follows, as soon as the execution is under way.
        for line in lines.by_ref() {
            if line.unwrap().contains("→ Verify") {
                break;
            }
        }
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        (name, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(child.status.code(), Some(130));
    let stderr = String::from_utf8(child.stderr).unwrap();
    assert!(stderr.contains(&format!("execution {name} keeps running")), "{stderr}");
    assert!(stderr.contains(&format!("sigship status {name} --follow")), "{stderr}");

    // It went on without us; following it again sees it to the end.
    let (code, stdout, _) = cli.run(&["status", &name, "--follow"]).await;
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("execution {name}: SUCCEEDED")) || stdout.contains("status    SUCCEEDED"),
        "{stdout}"
    );
}

/// Nothing deploys unasked, and an explicit choice sticks: the watch (invoked as its schedule
/// does) starts only releases that appear after `up` and newer than the newest that ran; an
/// operator's run of an older release pins it — the watch then starts nothing, `status` shows the
/// pin — until `sigship follow` lifts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_older_release_run_by_hand_is_pinned_until_follow() {
    let cloud = LocalCloud::start(Options::default()).await;
    // The pipeline from the stack's outputs, where the pin's parameter is named.
    let cli = Cli { env: cloud.client_env(), pipeline: Vec::new() };
    cloud.repository.signed_tag("v0.24.2", &cloud.maintainer);
    cloud.repository.signed_tag("v0.24.3", &cloud.maintainer);
    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.3"]).await;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    assert!(!stdout.contains("pinned"), "the newest release known is not pinned: {stdout}");

    // A run that does not verify (a typo: a tag the repository lacks) pins nothing.
    let (code, stdout, _) = cli.run(&["run", "--tag", "v0.1.0", "--allow-downgrade"]).await;
    assert_ne!(code, 0, "{stdout}");
    let (_, json, _) = cli.run(&["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["watch"]["pinned"].is_null(), "a failed run leaves no pin: {}", json["watch"]);

    // Older than the newest deployed and not asked for: refused at once, nothing started; an
    // execution started another way (the console) ends at Verify, before any build.
    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.2"]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("v0.24.2 is older than the running v0.24.3 (the newest deployed)"), "{stderr}");
    assert!(!stdout.contains("started"), "{stdout}");
    let builds = cloud.builds().len();
    let replay = cloud.run(serde_json::json!({"tag": "v0.24.2"}), "console-replay", false).await;
    assert_eq!(replay.error.as_deref(), Some("Downgrade"), "{:?}", replay.cause);
    assert_eq!(cloud.builds().len(), builds, "nothing built for it");

    let (code, stdout, stderr) = cli.run(&["run", "--tag", "v0.24.2", "--allow-downgrade"]).await;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    assert!(
        stdout
            .contains("pinned v0.24.2 (older than v0.24.3): the watch starts no newer release until `sigship follow`"),
        "{stdout}"
    );

    cloud.repository.signed_tag("v0.24.4", &cloud.maintainer);
    let held = cloud.invoke("tag-watch", "{}").await.unwrap();
    assert_eq!(
        (held["pinned"].as_str(), held["started"].as_array().map(Vec::len)),
        (Some("v0.24.2"), Some(0)),
        "{held}"
    );
    let (_, stdout, _) = cli.run(&["status"]).await;
    assert!(stdout.contains("watch: pinned at v0.24.2; starts nothing until `sigship follow`"), "{stdout}");
    let (_, json, _) = cli.run(&["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["watch"],
        serde_json::json!({"after": "none", "pinned": "v0.24.2", "ran": "v0.24.3", "newestKnown": "v0.24.3"})
    );

    let (code, stdout, stderr) = cli.run(&["follow"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "pin on v0.24.2 lifted; watch: starts signed releases newer than v0.24.3 as they appear");
    let started = cloud.invoke("tag-watch", "{}").await.unwrap();
    let name = started["started"][0].as_str().unwrap_or_default().to_string();
    assert!(name.starts_with("tag-v0_24_4-"), "{started}");
    let finished = cloud.finish(&name).await;
    assert_eq!(finished.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded, "{:?}", finished.cause);
}
