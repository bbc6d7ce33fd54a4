//! `sigship up` and `sigship down`: the whole stack from a checkout, and back to nothing.
//! Both are idempotent: `up` on an unchanged checkout uploads nothing and leaves the stack as it
//! is; `down` on nothing says so and succeeds.

use pipeline::verify::TrustRoot;

use crate::artifacts::{self, Checkout, TEMPLATE_KEY};
use crate::bucket::{self, Bucket, Removed};
use pipeline::sizing::NodeSizes;

use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::execution;
use crate::stack::{self, Change};

pub struct Target {
    pub stack: String,
    /// None: the stack's own, else `<stack>-<account>-<region>-an` (account regional namespace).
    pub bucket: Option<String>,
}

/// Stack names double as resource names (ECR wants lower case; the bucket name must stay ≤ 63).
pub fn check_stack_name(name: &str) -> Result<()> {
    let valid = name.len() <= 24
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "stack name {name:?}: use 1-24 lower-case letters, digits and dashes, starting with a letter"
        )))
    }
}

/// The build project's source is `Type: GITHUB`: CodeBuild builds only from GitHub. Loopback
/// git:// and http:// URLs are the local cloud's git server (its simulated build reads them).
pub fn check_repository_url(url: &str) -> Result<()> {
    let github = url
        .strip_prefix("https://github.com/")
        .map(|path| path.trim_end_matches(".git").split('/').filter(|p| !p.is_empty()).count() == 2)
        .unwrap_or(false);
    let loopback = ["git://127.0.0.1", "http://127.0.0.1", "git://localhost", "http://localhost"]
        .iter()
        .any(|prefix| url.strip_prefix(prefix).is_some_and(|rest| rest.starts_with([':', '/'])));
    if github || loopback {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "RepositoryUrl {url:?}: the build project builds from GitHub (CodeBuild source type GITHUB); \
             use https://github.com/<owner>/<repository>.git (loopback git:// and http:// URLs are for the local cloud)"
        )))
    }
}

/// The account, and the stack's artifacts bucket: the one `--bucket` names, else the one the
/// stack was deployed from, else the default in the account regional namespace.
async fn artifacts_bucket(cloud: &Cloud, target: &Target) -> Result<(String, Bucket)> {
    let account = cloud.account().await?;
    let deployed_from = match &target.bucket {
        Some(_) => None,
        None => stack::describe(&cloud.cloudformation(), &target.stack)
            .await?
            .and_then(|s| s.parameter("ArtifactsBucket").map(str::to_string)),
    };
    let name = target
        .bucket
        .clone()
        .or(deployed_from)
        .unwrap_or_else(|| bucket::default_name(&target.stack, &account, &cloud.region));
    let bucket = Bucket::new(cloud.s3(), &name, &account);
    Ok((account, bucket))
}

/// What `up` deploys once the stack is up: nothing (the default), the newest release, or a tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deploy {
    None,
    Newest,
    Tag(String),
}

impl Deploy {
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            None | Some("none") => Deploy::None,
            Some("newest") => Deploy::Newest,
            Some(tag) => Deploy::Tag(tag.to_string()),
        }
    }
}

pub async fn up(
    cloud: &Cloud,
    target: &Target,
    checkout: &Checkout,
    parameters: &[(String, String)],
    deploy: &Deploy,
    yes: bool,
) -> Result<()> {
    // Refuse before touching the account: a trust root that cannot verify anything would only
    // make every execution fail. Certificates the policy pins and the directory lacks are
    // fetched first.
    let certificates = crate::trust::complete(&checkout.trust_root).await?;
    let trust = TrustRoot::from_dir(&checkout.trust_root).map_err(Error::TrustRoot)?;
    if let Deploy::Tag(tag) = deploy {
        trust.tag_policy.check(tag).map_err(|e| Error::Usage(format!("--release {tag}: {e}")))?;
    }
    for (_, url) in parameters.iter().filter(|(key, _)| key == "RepositoryUrl") {
        check_repository_url(url)?;
    }
    let release = artifacts::collect(checkout, &target.stack)?;
    // Before anything is created: the account, the region, the build quota, the stack, the cost.
    let node = node_of(cloud, &target.stack, parameters).await?;
    let preflight = crate::doctor::run(cloud, &target.stack, &node, target.bucket.as_deref()).await;
    preflight.print();
    preflight.check()?;
    crate::doctor::confirm(&preflight, &target.stack, yes)?;
    let (account, artifacts) = artifacts_bucket(cloud, target).await?;
    let bucket = artifacts.name.clone();
    println!("sigship up: stack {} in {} (account {account})", target.stack, cloud.region);
    for (_, id) in parameters.iter().filter(|(key, value)| key == "ExistingFileSystemId" && !value.is_empty()) {
        let current = stack::describe(&cloud.cloudformation(), &target.stack).await?;
        let ours = current.as_ref().and_then(|s| s.output("ChainDataFileSystemId")) == Some(id.as_str());
        if !ours {
            check_existing_file_system(cloud, id).await?;
        }
    }
    let signers: Vec<&str> = trust.signers.iter().map(|s| s.label.as_str()).collect();
    println!(
        "trust root {}: {} of {} signers ({})",
        checkout.trust_root.display(),
        trust.threshold,
        trust.signers.len(),
        signers.join(", ")
    );
    crate::trust::describe(&certificates, &checkout.trust_root).iter().for_each(|line| println!("{line}"));

    let tls = cloud.endpoint.as_deref().is_none_or(|e| e.starts_with("https://"));
    if artifacts.ensure(&cloud.region, &target.stack, tls).await? {
        let access = if tls { "TLS only" } else { "plain-http endpoint, so no TLS-only policy" };
        println!("bucket {bucket}: created (private, encrypted, {access})");
    }
    let (versions, uploaded) = artifacts.upload(&release).await?;
    println!(
        "artifacts s3://{bucket}/{}: {} files, {}, {uploaded} uploaded",
        release.prefix,
        release.artifacts.len(),
        bucket::human_size(release.size())
    );

    // Everything the stack reads from the bucket is named at the version just checked or
    // uploaded: a write to the bucket after this changes nothing that runs.
    let template_url = format!(
        "https://{bucket}.s3.{}.amazonaws.com/{}{TEMPLATE_KEY}?versionId={}",
        cloud.region,
        release.prefix,
        versions.get(TEMPLATE_KEY).map(String::as_str).unwrap_or_default()
    );
    let mut all_parameters = vec![
        ("ArtifactsBucket".to_string(), bucket.clone()),
        ("ArtifactsPrefix".to_string(), release.prefix.clone()),
        ("TrustRootSha256".to_string(), artifacts::trust_root_sha256(checkout)?),
    ];
    all_parameters.extend(
        versions.iter().filter_map(|(key, version)| Some((artifacts::version_parameter(key)?, version.clone()))),
    );
    all_parameters.extend(parameters.iter().cloned());
    let cfn = cloud.cloudformation();
    // The release marks are not the stack's (a template change cannot reset them), but a stack
    // from before that owned them and deletes them as it updates: kept here, written back after.
    let marks = pipeline::aws::WatchParameters::of_stack(&cloud.sdk, &target.stack);
    let kept = marks.read_existing().await.ok().map(|(kept, _)| kept);
    let change = stack::deploy(&cfn, &target.stack, &template_url, &all_parameters).await?;
    if let Change::Unchanged = change {
        println!("stack {}: up to date", target.stack);
    }
    if marks.ensure().await.map_err(Error::Pipeline)? > 0 {
        if let Some(kept) = kept {
            for (name, value) in [(&marks.after, &kept.after), (&marks.pin, &kept.pin), (&marks.ran, &kept.ran)] {
                marks.set(name, value.as_deref()).await.map_err(Error::Pipeline)?;
            }
        }
        println!("release marks /sigship/{}/{{{}}}: created", target.stack, pipeline::aws::MARKS.join(", "));
    }

    let base_images = pipeline::aws::BaseImagesParameter::of_stack(&cloud.sdk, &target.stack);
    if base_images.ensure().await.map_err(Error::Pipeline)? {
        println!("base image digests {}: created (the first build records what it pulls)", base_images.name);
    }
    let reproduced = pipeline::aws::ReproducedParameter::of_stack(&cloud.sdk, &target.stack);
    if reproduced.ensure().await.map_err(Error::Pipeline)? {
        println!("reproduce verdict {}: created (`sigship reproduce` keeps its last verdict there)", reproduced.name);
    }

    // Older releases are unreferenced once the stack settled on this one.
    let stale: Vec<_> = artifacts
        .versions_under(&format!("{}/", target.stack))
        .await?
        .into_iter()
        .filter(|object| !object.key().starts_with(&release.prefix))
        .collect();
    if !stale.is_empty() {
        artifacts.delete_versions(&stale).await?;
        println!("artifacts: removed {} object versions of earlier releases", stale.len());
    }

    let stack = stack::describe(&cfn, &target.stack).await?.ok_or_else(|| Error::StackFailed {
        stack: target.stack.clone(),
        status: "gone".into(),
        events: vec![],
    })?;
    println!("outputs");
    for output in &stack.outputs {
        println!("  {:<24} {}", output.output_key().unwrap_or_default(), output.output_value().unwrap_or_default());
    }
    let located = crate::operate::locate(cloud, &target.stack, &Default::default()).await?;
    let trust_sha256 = artifacts::trust_root_sha256(checkout)?;
    let newest = record_watch_baseline(&located, &stack, &trust, &trust_sha256).await;
    let tag = match (deploy, &newest) {
        (Deploy::None, _) => None,
        (Deploy::Newest, Some(newest)) => Some(newest.clone()),
        (Deploy::Newest, None) => {
            return Err(Error::Usage(format!(
                "--release newest: {} has no release tag the trust policy accepts",
                stack.parameter("RepositoryUrl").unwrap_or_default()
            )))
        }
        (Deploy::Tag(tag), _) => Some(tag.clone()),
    };
    match tag {
        Some(tag) => crate::operate::run_release(cloud, &located, &tag, false).await?,
        None => {
            let example = newest.as_deref().unwrap_or("v0.24.2");
            println!("nothing deployed (none asked): deploy a release with `sigship run --tag {example}`");
            println!(
                "  or: aws stepfunctions start-execution --state-machine-arn {} --input '{{\"tag\": \"{example}\"}}'",
                located.state_machine_arn
            );
        }
    }
    if let Some(line) = crate::operate::watch_line(&located).await? {
        let mode = stack.parameter("WatchMode").unwrap_or("newest");
        let schedule = stack.parameter("WatchSchedule").unwrap_or("rate(15 minutes)");
        match mode {
            "off" => println!("watch: off (WatchMode off): only the webhook and `sigship run` start releases"),
            "all" => println!("{line} (WatchMode all: every one, oldest first; {schedule})"),
            _ => println!("{line} (WatchMode newest: the newest of them; {schedule})"),
        }
    }
    Ok(())
}

/// The node a stack runs (or would): each parameter as given, else the deployed stack's, else
/// the template's default (mainnet at the sizing table's sizes).
pub async fn node_of(cloud: &Cloud, stack_name: &str, given: &[(String, String)]) -> Result<NodeSizes> {
    let deployed = stack::describe(&cloud.cloudformation(), stack_name).await.ok().flatten();
    let value = |key: &str| {
        given
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| deployed.as_ref().and_then(|s| s.parameter(key)).map(String::from))
    };
    NodeSizes::from_settings(value).map_err(|e| Error::Usage(e.to_string()))
}

/// Once per stack: the newest release the repository has now that verifies, below which the
/// watch starts nothing; the tags refused on the way are remembered for the watch. Returns the
/// newest verified release (None when the remote has none, or cannot be read: the watch then
/// starts nothing until a release has run).
async fn record_watch_baseline(
    located: &crate::operate::Pipeline,
    stack: &stack::Stack,
    trust: &TrustRoot,
    trust_sha256: &str,
) -> Option<String> {
    use pipeline::trigger::watch::{newest_verified, releases_in_order, WatchState};
    use pipeline::verify::RemoteTags;
    let parameters = located.watch.as_ref()?.under_trust_root(trust_sha256);
    let url = stack.parameter("RepositoryUrl")?.to_string();
    let remote =
        pipeline::verify::GitRemote { url, timeout: std::time::Duration::from_secs(30), allow_local_paths: false };
    let releases = match remote.tags().await {
        Ok(tags) => releases_in_order(tags, &trust.tag_policy),
        Err(e) => {
            println!("watch: the release tags of {} cannot be read ({e})", remote.url);
            return None;
        }
    };
    let recorded = parameters.read().await.ok()?;
    if recorded.after.is_some() {
        return newest_verifying(&releases, &remote, trust, &recorded.refused).await;
    }
    if let Some(newest) = releases.last() {
        println!("watch: verifying the newest release tags for the baseline, from {}…", newest.name);
    }
    let checker = BaselineCheck { remote: &remote, trust };
    let (newest, refused) = match newest_verified(&releases, &checker, BASELINE_CHECKS).await {
        Ok(found) => found,
        Err(e) => {
            println!("watch: baseline not recorded: a release tag could not be checked ({e}); `up` again records it");
            return None;
        }
    };
    for tag in &refused {
        println!("watch: {} is not a signed release ({}): not the baseline", tag.tag, tag.error);
    }
    if !refused.is_empty() {
        if let Err(e) = parameters.remember(&refused).await {
            println!("watch: the refused tags are not remembered ({e}); the watch checks them again");
        }
    }
    let baseline = match (&newest, releases.is_empty()) {
        (Some(newest), _) => newest.name.clone(),
        (None, true) => pipeline::trigger::watch::NO_RELEASE_YET.to_string(),
        (None, false) => {
            println!(
                "watch: baseline not recorded: none of the newest {BASELINE_CHECKS} release tags verifies; the watch \
                 starts nothing until a release has run (`sigship run --tag …`)"
            );
            return None;
        }
    };
    match parameters.set(&parameters.after, Some(&baseline)).await {
        Ok(()) => match &newest {
            Some(newest) => println!(
                "watch: baseline {}, the newest signed release now; only newer ones start on their own",
                newest.name
            ),
            None => println!("watch: baseline recorded: no release yet; releases that appear start on their own"),
        },
        Err(e) => println!("watch: baseline not recorded ({e}); it starts nothing until a release has run"),
    }
    newest.map(|t| t.name)
}

/// The newest release tag that verifies, for `--release newest` on a stack whose baseline exists.
async fn newest_verifying(
    releases: &[pipeline::verify::RemoteTag],
    remote: &pipeline::verify::GitRemote,
    trust: &TrustRoot,
    refused: &[pipeline::trigger::watch::RefusedTag],
) -> Option<String> {
    let unrefused: Vec<_> =
        releases.iter().filter(|t| !refused.iter().any(|r| r.object_id == t.object_id)).cloned().collect();
    let checker = BaselineCheck { remote, trust };
    pipeline::trigger::watch::newest_verified(&unrefused, &checker, BASELINE_CHECKS).await.ok()?.0.map(|t| t.name)
}

/// How many release tags `up` verifies, newest first, looking for the baseline.
const BASELINE_CHECKS: usize = 50;

/// The watch's own check, with the trust root `up` holds.
struct BaselineCheck<'a> {
    remote: &'a pipeline::verify::GitRemote,
    trust: &'a TrustRoot,
}

impl pipeline::trigger::ReleaseCheck for BaselineCheck<'_> {
    async fn check(&self, tag: &pipeline::verify::RemoteTag) -> pipeline::Result<()> {
        pipeline::trigger::check_release(self.remote, self.trust, tag).await
    }
}

/// A file system to adopt must exist here and be mounted nowhere: EFS mounts a file system in
/// one VPC at a time, and two nodes writing one chain would corrupt it.
async fn check_existing_file_system(cloud: &Cloud, id: &str) -> Result<()> {
    let described = cloud.efs().describe_file_systems().file_system_id(id).send().await.map_err(|e| {
        if e.as_service_error().is_some_and(|s| s.is_file_system_not_found()) {
            Error::Usage(format!("ExistingFileSystemId {id}: no such EFS file system in {}", cloud.region))
        } else {
            Error::aws("elasticfilesystem:DescribeFileSystems", e)
        }
    })?;
    let Some(file_system) = described.file_systems().first() else {
        return Err(Error::Usage(format!("ExistingFileSystemId {id}: no such EFS file system in {}", cloud.region)));
    };
    let mounted = file_system.number_of_mount_targets();
    if mounted > 0 {
        let stack_tag =
            file_system.tags().iter().find(|t| t.key() == "aws:cloudformation:stack-name").map(|t| t.value());
        return Err(Error::Usage(format!(
            "ExistingFileSystemId {id}: it has {mounted} mount targets{}; a chain can be mounted by one stack at a time \
             (tear that one down with `sigship down --keep-chain-data` first)",
            stack_tag.map(|s| format!(" (stack {s})")).unwrap_or_default()
        )));
    }
    let size = file_system.size_in_bytes().map(|s| s.value()).unwrap_or_default();
    println!(
        "chain data: mounting existing file system {id} ({}, {})",
        bucket::human_size(size as usize),
        file_system.life_cycle_state().as_str()
    );
    Ok(())
}

/// How to reuse or delete a file system `down` kept.
fn print_kept_chain_data(stack: &str, region: &str, file_system: &str) {
    println!("kept chain data: EFS file system {file_system} (it bills until deleted)");
    println!(
        "  reuse it:  sigship up --stack-name {stack} --region {region} --parameter ExistingFileSystemId={file_system}"
    );
    println!("  delete it: aws efs delete-file-system --region {region} --file-system-id {file_system}");
}

/// The chain data's daily AWS Backup recovery points outlive the file system and the stack.
fn print_backups_left(region: &str, account: &str, file_system: &str) {
    let arn = format!("arn:aws:elasticfilesystem:{region}:{account}:file-system/{file_system}");
    println!(
        "left behind: EFS backups of {file_system} (AWS Backup, vault aws/efs/automatic-backup-vault, daily, \
         kept 35 days); they bill until they expire. List them with:"
    );
    println!("  aws backup list-recovery-points-by-resource --region {region} --resource-arn {arn}");
    println!("  and delete one with: aws backup delete-recovery-point --region {region} --backup-vault-name aws/efs/automatic-backup-vault --recovery-point-arn <arn>");
}

pub async fn down(cloud: &Cloud, target: &Target, keep_chain_data: bool) -> Result<()> {
    let (account, artifacts) = artifacts_bucket(cloud, target).await?;
    let bucket = artifacts.name.clone();
    println!("sigship down: stack {} in {} (account {account})", target.stack, cloud.region);
    let cfn = cloud.cloudformation();
    let mut removed_anything = false;
    if let Some(stack) = stack::describe(&cfn, &target.stack).await? {
        // What the pipeline created outside the stack (service, task definitions, images, chain
        // data) goes first, by the pipeline's own destroy path.
        if let Some(state_machine) = stack.output("StateMachineArn") {
            use pipeline::teardown::{ChainData, DestroyRequest, Scope};
            // Nothing may start a deployment while the destroy runs.
            let stopped = crate::triggers::stop(cloud, &target.stack).await?;
            println!("stopped what starts deployments: {}", stopped.describe());
            let chain_data = if keep_chain_data { ChainData::Keep } else { ChainData::Delete };
            let input = DestroyRequest { destroy: Scope::Everything, chain_data }.input();
            let name = format!("down-{}", crate::operate::unix_seconds());
            let sfn = cloud.step_functions(state_machine);
            let destroyed = match execution::start(&sfn, &name, &input).await {
                Ok(arn) => execution::follow(&sfn, &arn, &name).await,
                Err(err) => Err(err),
            };
            let finished = match destroyed {
                Ok(finished) => finished,
                Err(err) => {
                    eprintln!(
                        "sigship down: the destroy execution failed, so the stack and the bucket stay; see below"
                    );
                    match crate::triggers::restart(cloud, &stopped).await {
                        Ok(()) => eprintln!("sigship down: started again: {}", stopped.describe()),
                        Err(again) => {
                            eprintln!("sigship down: could not start them again ({again}): {}", stopped.describe())
                        }
                    }
                    return Err(err);
                }
            };
            if let Some(report) = finished.output {
                let list = |key: &str| {
                    let items: Vec<&str> =
                        report[key].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
                    if items.is_empty() {
                        "nothing".to_string()
                    } else {
                        items.join(", ")
                    }
                };
                println!("destroyed: {}", list("deleted"));
                println!("kept: {}", list("kept"));
            }
        }
        removed_anything |= stack::delete(&cfn, &target.stack).await?;
        let marks = pipeline::aws::WatchParameters::of_stack(&cloud.sdk, &target.stack);
        if marks.delete().await.map_err(Error::Pipeline)? > 0 {
            println!("release marks /sigship/{}/: deleted", target.stack);
        }
        let base_images = pipeline::aws::BaseImagesParameter::of_stack(&cloud.sdk, &target.stack);
        if base_images.delete().await.map_err(Error::Pipeline)? {
            println!("base image digests {}: deleted", base_images.name);
        }
        let reproduced = pipeline::aws::ReproducedParameter::of_stack(&cloud.sdk, &target.stack);
        if reproduced.delete().await.map_err(Error::Pipeline)? {
            println!("reproduce verdict {}: deleted", reproduced.name);
        }
        if let Some(file_system) = stack.output("ChainDataFileSystemId") {
            if keep_chain_data {
                print_kept_chain_data(&target.stack, &cloud.region, file_system);
            }
            // Stacks from before ChainDataBackups had them on.
            if stack.parameter("ChainDataBackups").unwrap_or("on") == "on" {
                print_backups_left(&cloud.region, &account, file_system);
            }
        }
    }
    match artifacts.remove(&target.stack).await? {
        Removed::Bucket { objects } => {
            println!("bucket {bucket}: deleted with {objects} objects");
            removed_anything = true;
        }
        Removed::KeysOnly { objects, reason } => {
            println!("bucket {bucket}: removed this stack's {objects} objects; kept the bucket: {reason}");
            removed_anything = true;
        }
        Removed::Nothing => {}
    }
    if removed_anything {
        println!("sigship down: stack {} is gone", target.stack);
    } else {
        println!("sigship down: nothing to tear down for stack {}", target.stack);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_repository_url;

    #[test]
    fn repository_urls_the_build_project_can_build_from() {
        for ok in [
            "https://github.com/btcsuite/btcd.git",
            "https://github.com/btcsuite/btcd",
            "git://127.0.0.1:9418/btcd",
            "http://localhost/btcd",
        ] {
            assert!(check_repository_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://gitlab.com/btcsuite/btcd.git",
            "https://github.com/btcsuite",
            "http://example.com/btcd",
            "git://127.0.0.1.example.com/x",
        ] {
            assert!(check_repository_url(refused).is_err(), "{refused}");
        }
    }
}
