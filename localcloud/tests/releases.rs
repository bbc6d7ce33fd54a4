//! The release matrix: btcd v0.24.2, v0.25.0 and v0.26.0, each built from the Go module proxy
//! with the pinned Go and the Dockerfile's build stage, started exactly as register-task's
//! container definition says (command, health check, secrets as environment, the image's user
//! and entrypoint) on every network, each task in a network namespace of its own (no internet,
//! no other node). Where the library lets a release run on a network, btcd answers RPC on that
//! network's port, its health check passes, and SIGTERM ends it cleanly — after flushing its UTXO
//! cache of the size the command asks for. Where the library refuses, that release's btcd would
//! indeed refuse the network's flag: the gate, which register-task applies before registering
//! anything, is exactly as wide as btcd.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localcloud::codebuild::{build_image, ImageStore};
use localcloud::fargate::{Health, Launch, Task};
use pipeline::network::Network;
use pipeline::release::Release;
use pipeline::sizing::Profile;
use pipeline::task_definition::{task_spec, TaskConfig};

const RELEASES: [&str; 3] = ["v0.24.2", "v0.25.0", "v0.26.0"];
/// btcd's `--utxocachemaxsize` (MiB), passed as the stack's BtcdArgs pass it.
const UTXO_CACHE_MIB: &str = "64";

fn checkout() -> PathBuf {
    localcloud::Options::default().checkout
}

/// register-task's configuration, read as the function reads the environment the stack gives it.
fn config(network: Network) -> TaskConfig {
    let cache = format!("--utxocachemaxsize={UTXO_CACHE_MIB}");
    TaskConfig::from_env(&pipeline::config::Env::from_pairs([
        ("SIGSHIP_EXECUTION_ROLE_ARN", "arn:aws:iam::123456789012:role/exec"),
        ("SIGSHIP_TASK_ROLE_ARN", "arn:aws:iam::123456789012:role/task"),
        ("SIGSHIP_LOG_GROUP", "/sigship/btcd"),
        ("AWS_REGION", localcloud::REGION),
        ("SIGSHIP_FILE_SYSTEM_ID", "fs-1"),
        ("SIGSHIP_ACCESS_POINT_ID", "fsap-1"),
        ("SIGSHIP_NETWORK", network.name()),
        ("SIGSHIP_BTCD_ARGS", &cache),
        ("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS", "5"),
        ("SIGSHIP_RPC_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:rpc"),
        ("SIGSHIP_CLUSTER", "matrix"),
        ("SIGSHIP_TASK_FAMILY", "matrix-btcd"),
        ("SIGSHIP_TASK_REGISTRAR_ROLE", "matrix-RegisterTaskRole"),
    ]))
    .unwrap()
}

struct Running {
    network: Network,
    task: Arc<Task>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn logged(&self, text: &str) -> bool {
        self.output().iter().any(|l| l.contains(text))
    }
}

/// The task register-task's definition describes, started from the image at `root`: with a
/// read-only root file system and no Linux capability, as in AWS.
fn start(release: &str, network: Network, root: &Path, image: &localcloud::image::ImageConfig, data: &Path) -> Running {
    let release_at = Release { tag: release.into(), commit: "0".repeat(40) };
    let spec = task_spec(&config(network), Profile::Steady, format!("local/btcd@{release}"), &release_at);
    let container = pipeline::aws::container_definition(&spec).unwrap();
    assert_eq!(container.readonly_root_filesystem(), Some(true));
    let dropped = container.linux_parameters().and_then(|l| l.capabilities()).map(|c| c.drop().to_vec());
    assert_eq!(dropped, Some(vec!["ALL".to_string()]));
    let secrets = spec.secrets.iter().map(|(name, _)| (name.clone(), format!("{name}-of-the-secret")));
    let env = spec.environment.iter().cloned().chain(secrets).collect();
    let folder = data.join(network.name());
    std::fs::create_dir_all(&folder).unwrap();
    let _ = std::os::unix::fs::chown(&folder, Some(image.user.uid), Some(image.user.gid));
    let volumes = vec![(pipeline::task_definition::CHAIN_DATA_PATH.to_string(), folder)];
    let cpu_units = spec.cpu.parse().unwrap();
    let launch =
        Launch { container: &container, image_root: root, image, env, volumes, forwards: Vec::new(), cpu_units };
    let (task, mut receiver) = launch.start(&data.join("tasks"), "matrix/btcd", release, network.name()).unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let collected = lines.clone();
    tokio::spawn(async move {
        while let Some(line) = receiver.recv().await {
            collected.lock().unwrap().push(line);
        }
    });
    Running { network, task, lines }
}

async fn until(what: &str, timeout: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The release's btcd, asked for `flag` outside any task: how it answers.
fn btcd_answer(root: &Path, flag: &str, home: &Path) -> (bool, String) {
    let out = std::process::Command::new(localcloud::image::inside(root, "/usr/local/bin/btcd"))
        .args([flag, "--nodnsseed", "--rpcuser=u", "--rpcpass=p", &format!("--appdata={}", home.display())])
        .env("HOME", home)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_release_runs_on_the_networks_the_library_allows_and_btcd_refuses_the_rest() {
    let dockerfile = checkout().join("source/Dockerfile");
    let go_version = checkout().join("source/go-version.sh");
    let scratch = tempfile::tempdir().unwrap();
    let images = ImageStore::new(scratch.path().join("images"));
    for release in RELEASES {
        let source = localcloud::git::btcd_module_source(release).unwrap();
        // The buildspec's check: the release's go.mod asks for no newer Go than the pinned one.
        let pinned = std::process::Command::new("bash")
            .arg(&go_version)
            .args([source.join("go.mod"), dockerfile.clone()])
            .output()
            .unwrap();
        assert!(pinned.status.success(), "{release}: {}", String::from_utf8_lossy(&pinned.stderr));
        let started = Instant::now();
        let (_, digest, image) =
            build_image(&source, &dockerfile, &images, None).unwrap_or_else(|e| panic!("{release}: {e}"));
        let (root, _) = images.get(&digest).unwrap();
        println!(
            "{release}: built with Go {} in {:.0} s ({digest})",
            String::from_utf8_lossy(&pinned.stdout).trim(),
            started.elapsed().as_secs_f64()
        );

        let data = scratch.path().join(release);
        let mut running = Vec::new();
        for &network in Network::ALL {
            match network.check_release(release) {
                Ok(()) => running.push(start(release, network, &root, &image, &data)),
                Err(refused) => {
                    assert!(matches!(refused, pipeline::Error::NetworkUnsupported { .. }), "{refused:?}");
                    let flag = network.flag().unwrap();
                    let (started, answer) = btcd_answer(&root, flag, scratch.path());
                    assert!(!started && answer.contains("unknown flag"), "{release} {flag}: {answer}");
                    println!("{release} on {}: refused, as btcd refuses {flag}", network.name());
                }
            }
        }
        let expected = if release == "v0.24.2" { 4 } else { Network::ALL.len() };
        assert_eq!(running.len(), expected, "{release}: networks it runs on");

        let version = format!("BTCD: Version {}-beta", &release[1..]);
        for node in &running {
            let what = format!("{release} on {}", node.network.name());
            until(&format!("{what}: healthy"), Duration::from_secs(90), || {
                assert!(node.task.is_running(), "{what} exited: {:?}", node.output());
                node.task.health() == Health::Healthy
            })
            .await;
            assert!(node.logged(&version), "{what}: {:?}", node.output());
            let rpc = format!("RPC server listening on 127.0.0.1:{}", node.network.rpc_port());
            assert!(node.logged(&rpc), "{what}: {:?}", node.output());
        }
        for node in &running {
            node.task.stop("the matrix is done");
        }
        for node in &running {
            let what = format!("{release} on {}", node.network.name());
            until(&format!("{what}: stopped"), Duration::from_secs(60), || !node.task.is_running()).await;
            assert_eq!(node.task.exit_code(), Some(0), "{what}: {:?}", node.output());
            assert!(node.logged("Flushing UTXO cache"), "{what}: {:?}", node.output());
            assert!(node.logged("Shutdown complete"), "{what}: {:?}", node.output());
            // The root file system was read-only and btcd, btcctl wrote nothing outside the
            // volume: the home holds exactly the image's two config files.
            let home = data.join("tasks").join(&node.task.id).join(image.user.home.trim_start_matches('/'));
            assert_eq!(std::fs::metadata(&home).unwrap().permissions().mode() & 0o777, 0o555, "{what}");
            let mut files = Vec::new();
            for dir in [".btcd", ".btcctl"] {
                files.extend(std::fs::read_dir(home.join(dir)).unwrap().map(|e| e.unwrap().file_name()));
            }
            assert_eq!(files, ["btcd.conf", "btcctl.conf"], "{what}: the home changed");
            println!("{what}: healthy, RPC on {}, stopped cleanly by SIGTERM, read-only root", node.network.rpc_port());
        }
    }
}

/// btcd's release flags make its build reproducible: every release, built from two copies of its
/// source in two directories, gives the same bytes — the SHA256SUMS the image ships (and the build
/// exports) is what anyone rebuilding the commit gets.
#[test]
fn a_release_built_twice_in_two_directories_gives_the_same_bytes() {
    let dockerfile = checkout().join("source/Dockerfile");
    let scratch = tempfile::tempdir().unwrap();
    let images = ImageStore::new(scratch.path().join("images"));
    for release in RELEASES {
        let source = localcloud::git::btcd_module_source(release).unwrap();
        let elsewhere = scratch.path().join(format!("elsewhere/{release}/src"));
        std::fs::create_dir_all(&elsewhere).unwrap();
        localcloud::git::copy_btcd_source(release, &elsewhere);
        let sums = |source: &Path| {
            let (_, digest, _) =
                build_image(source, &dockerfile, &images, None).unwrap_or_else(|e| panic!("{release}: {e}"));
            (images.binaries(&digest), digest)
        };
        let (first, first_digest) = sums(&source);
        let (second, second_digest) = sums(&elsewhere);
        assert!(first.starts_with("btcd=") && first.contains(" btcctl="), "{release}: {first}");
        assert_eq!(first, second, "{release}: built in {} and {}", source.display(), elsewhere.display());
        assert_eq!(first_digest, second_digest, "{release}: the whole image, byte for byte");
        println!("{release}: {first}");
    }
}
