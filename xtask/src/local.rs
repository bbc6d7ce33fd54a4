//! `cargo xtask local`: the whole pipeline on the local cloud, start to finish, on a fresh demo
//! repository whose release tag is signed with a key made for this run.

use localcloud::{LocalCloud, Options};

use crate::tools;

pub const USAGE: &str = "local [--tag vX.Y.Z] [--webhook | --serve]";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut tag = "v0.24.2".to_string();
    let mut webhook = false;
    let mut serve = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--tag" => tag = rest.next().ok_or("--tag needs a value")?.clone(),
            "--webhook" => webhook = true,
            "--serve" => serve = true,
            _ => return Err(format!("usage: cargo xtask {USAGE}")),
        }
    }
    tools::ensure_local_cloud()?;
    println!("building the function binaries…");
    tools::build_functions(false)?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    if serve {
        runtime.block_on(serve_until_interrupted(&tag))
    } else {
        runtime.block_on(pipeline(&tag, webhook))
    }
}

/// The local cloud with the template's stack, for trying the operator CLI by hand: prints the
/// environment that points `sigship` at it (as the operator), and keeps it up until Ctrl-C.
async fn serve_until_interrupted(tag: &str) -> Result<(), String> {
    println!("starting the local cloud and standing the stack up with sigship up…");
    let cloud = LocalCloud::start(Options::default()).await;
    let tag_object = cloud.repository.signed_tag(tag, &cloud.maintainer);
    println!();
    println!("local cloud up: stack {} from infrastructure/sigship.yaml, IAM enforced.", cloud.stack.name);
    println!("repository {} has tag {tag} ({tag_object}) signed by {}.", cloud.repository.url, cloud.maintainer.name);
    println!("NOTE: {}.", localcloud::REAL_AND_SIMULATED);
    println!();
    println!(
        "In another shell, as the stack's operator (its OperatorPolicy only; throwaway keys of a local IAM user):"
    );
    println!();
    println!("  unset AWS_PROFILE AWS_SESSION_TOKEN");
    for (name, value) in cloud.client_env() {
        println!("  export {name}={value}");
    }
    let sigship = Options::default().binaries.join("sigship");
    println!();
    println!("  {} run --tag {tag}", sigship.display());
    println!("  {} status", sigship.display());
    println!("  {} logs", sigship.display());
    println!("  {} reproduce --running --trust {}", sigship.display(), cloud.trust_root.display());
    println!("  {} destroy everything", sigship.display());
    println!();
    println!("function and moto logs: {}", cloud.logs.display());
    println!("Ctrl-C stops the local cloud.");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    println!("\nstopping the local cloud");
    Ok(())
}

async fn pipeline(tag: &str, webhook: bool) -> Result<(), String> {
    println!("starting the local cloud (moto, runtime host, git daemon)…");
    let cloud = LocalCloud::start(Options::default()).await;
    let tag_object = cloud.repository.signed_tag(tag, &cloud.maintainer);
    println!(
        "repository {} — tag {tag} ({tag_object}) signed by {} {}",
        cloud.repository.url,
        cloud.maintainer.name,
        cloud.maintainer.fingerprint()
    );
    println!(
        "btcd {} source from the Go module proxy; CodeBuild compiles it for real, the task runs it for real (regtest, \
         peer at 127.0.0.1:{})",
        localcloud::DEMO_RELEASE,
        cloud.peer.p2p_port
    );
    let started = std::time::Instant::now();
    let run = if webhook {
        // As GitHub delivers a tag push: signed with the webhook secret, to the function URL.
        let body = serde_json::json!({"ref": format!("refs/tags/{tag}"), "deleted": false}).to_string();
        println!("POST {}{} (GitHub push event, X-Hub-Signature-256)", cloud.endpoint, cloud.stack.webhook_path);
        let (status, answer) = cloud.deliver_webhook(&cloud.github_headers("push", &body), &body).await;
        println!("  → HTTP {status} {answer}");
        let name = answer["started"].as_str().ok_or(format!("the webhook started nothing: HTTP {status} {answer}"))?;
        let arn = answer["executionArn"].as_str().unwrap_or_default();
        localcloud::execution::follow(&cloud.step_functions(), arn, name, true).await
    } else {
        cloud.run(serde_json::json!({ "tag": tag }), "local-run", true).await
    };
    println!("finished in {:.1} s; function and moto logs: {}", started.elapsed().as_secs_f32(), cloud.logs.display());
    if run.status != localcloud::execution::ExecutionStatus::Succeeded {
        return Err(format!("execution {}: {}", run.error.unwrap_or_default(), run.cause.unwrap_or_default()));
    }
    let output = run.output.unwrap_or_default();
    println!("{}", serde_json::to_string_pretty(&output).unwrap());
    println!("the regtest peer mines blocks; waiting for the node's progress line…");
    let (progress, lines) = cloud.sync_with_peer().await?;
    println!("the node synced to height {} from its peer", progress.height);
    let version = lines.iter().find(|l| l.contains("BTCD: Version")).cloned().unwrap_or_default();
    println!("btcd's log (daemon log group): {version}");
    let (code, status, stderr) = cloud.sigship_as_operator(&["status"]).await;
    println!("$ sigship status\n{status}{stderr}");
    if code != 0 {
        return Err(format!("sigship status exited {code}"));
    }
    println!("btcd {}; {}", localcloud::DEMO_RELEASE, localcloud::REAL_AND_SIMULATED);
    Ok(())
}
