//! moto server with Step Functions execution on. Its interpreter calls AWS back at
//! `localhost:$MOTO_PORT`, so MOTO_PORT names the router's port, not moto's own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto_server plus the fixes for moto bugs the stack's template runs into, and the simulated
/// part of CloudWatch (cloudwatch.py: alarms from CloudFormation, embedded metrics, alarm evaluation).
const PATCHED_SERVER: &str = concat!(
    include_str!("moto_server.py"),
    include_str!("cloudwatch.py"),
    "\nfrom moto.server import main  # noqa: E402\n\nsys.exit(main(sys.argv[1:]))\n"
);

/// How often the simulated CloudWatch evaluates alarms (AWS: about once a minute).
pub const ALARM_EVALUATION_SECONDS: &str = "1";

pub struct Moto {
    process: Child,
    pub port: u16,
}

impl Moto {
    /// `quotas_file`: what Service Quotas reports for the account ([`crate::Quotas::write`], read
    /// at each request by moto_server.py).
    pub async fn start(venv: &Path, callback_port: u16, log: &Path, quotas_file: &Path) -> Self {
        let log_path = log.to_path_buf();
        // A free port can be taken by another local cloud before moto binds it (they start side
        // by side in the fault matrix): moto then exits at once, and a new port is tried.
        let mut attempts = 0;
        let (moto, base) = loop {
            attempts += 1;
            let port = crate::free_port();
            let log = std::fs::File::create(&log_path).expect("moto log");
            let process = Command::new(venv.join("bin/python"))
                .args(["-c", PATCHED_SERVER, "-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_PORT", callback_port.to_string())
                // Services report their tasks running, so a deployment can complete.
                .env("SIGSHIP_ALARM_EVALUATION_SECONDS", ALARM_EVALUATION_SECONDS)
                .env("LOCALCLOUD_QUOTAS_FILE", quotas_file)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start moto server with the python of {}: {e}; run `cargo xtask test` to install it",
                        venv.display()
                    )
                });
            let mut moto = Moto { process, port };
            let base = format!("http://127.0.0.1:{port}");
            let started = Instant::now();
            let deadline = started + Duration::from_secs(30);
            let answered = loop {
                // Answering is not enough: another local cloud's moto may hold the port. Ours
                // has answered once it is still running past the time a failed bind takes.
                let ours =
                    started.elapsed() > Duration::from_secs(2) && moto.process.try_wait().ok().flatten().is_none();
                if ours && http_request("GET", &format!("{base}/moto-api/data.json"), None).await.is_ok() {
                    break true;
                }
                if moto.process.try_wait().ok().flatten().is_some() {
                    break false;
                }
                assert!(Instant::now() < deadline, "moto did not answer on {port}; see {}", log_path.display());
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            if answered {
                break (moto, base);
            }
            assert!(attempts < 3, "moto exited at start {attempts} times; see {}", log_path.display());
        };
        // Must come before anything is created: it switches moto to a separate store.
        let config = r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#;
        http_request("POST", &format!("{base}/moto-api/config"), Some(config)).await.expect("moto config");
        moto
    }
}

impl Moto {
    /// From the next request on, every call is authenticated and judged by its principal's IAM
    /// policies (moto's access control, with the fixes in moto_server.py).
    pub async fn enforce_iam(&self) {
        http_request("POST", &format!("http://127.0.0.1:{}/moto-api/reset-auth", self.port), Some("0"))
            .await
            .expect("turn on IAM enforcement");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn http_request(method: &str, url: &str, body: Option<&str>) -> Result<(), String> {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.unwrap_or_default().to_string())))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}
