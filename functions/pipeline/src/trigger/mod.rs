//! What starts the pipeline on its own: a tag push delivered to the webhook, and the watch of the
//! upstream repository's tags. Both name the execution after the tag and its object id, so one
//! tag object starts one execution, however many deliveries or watch runs see it. A name says
//! nothing the pipeline reads back: the tag is in the execution's input, and what has run is the
//! release mark deploy keeps (see `aws::WatchParameters`).

pub mod watch;
pub mod webhook;

use std::time::Duration;

use crate::arn::Arn;
use crate::config::Env;
use crate::error::{Error, Result};
use crate::execution::{Executions, Started};
use crate::node::SyncGate;
use crate::verify::{verify, GitRemote, RemoteTag, TagRequest, TrustRoot, VerifyConfig};

pub const NAME_PREFIX: &str = "tag-";
/// Object-id characters kept in the name: 64 bits, and room for long tag names within 80.
const OBJECT_ID_CHARS: usize = 16;
/// Step Functions' limit on execution names.
const MAX_NAME: usize = 80;

/// `tag-<tag>-<first 16 hex digits of the tag object id>`, within Step Functions' name rules and
/// those of its CloudWatch Logs (at most 80 characters of `0-9A-Za-z-_`: anything else, `.`
/// included, becomes `_`; an execution whose name has a `.` logs nothing).
pub fn execution_name(tag: &str, object_id: &str) -> String {
    let object_id = &object_id[..object_id.len().min(OBJECT_ID_CHARS)];
    format!("{NAME_PREFIX}{}-{object_id}", tag_in_name(tag))
}

/// The tag as an execution name carries it (see [`execution_name`]).
pub fn tag_in_name(tag: &str) -> String {
    let room = MAX_NAME - NAME_PREFIX.len() - 1 - OBJECT_ID_CHARS;
    tag.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).take(room).collect()
}

/// An operator's run: `run-<tag>-<unix seconds>`, a new execution each time (the triggers'
/// names are per tag object, so a run can deploy the same tag again on purpose).
pub fn run_name(tag: &str, unix_seconds: u64) -> String {
    format!("{RUN_PREFIX}{}-{unix_seconds}", tag_in_name(tag))
}

pub const RUN_PREFIX: &str = "run-";

/// What tag-push and tag-watch read once per environment.
pub struct TriggerConfig {
    /// The daemon's repository: the only one whose tags start anything.
    pub repository_url: String,
    pub trust_root: crate::verify::TrustRootLocation,
    pub state_machine_arn: String,
    pub fetch_timeout: Duration,
    /// The node's service: while it syncs, releases wait ([`crate::node::Syncing`]).
    pub cluster: String,
    pub service: String,
}

impl TriggerConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        let repository = env.required("SIGSHIP_REPOSITORY")?;
        crate::verify::fetch::check_remote_url(&repository, false)?;
        Ok(TriggerConfig {
            repository_url: repository,
            trust_root: crate::verify::trust_root_location(env)?,
            state_machine_arn: env.required("SIGSHIP_STATE_MACHINE_ARN")?,
            fetch_timeout: Duration::from_secs(env.parsed_or("SIGSHIP_FETCH_TIMEOUT_SECONDS", 20)?),
            cluster: env.required("SIGSHIP_CLUSTER")?,
            service: env.optional("SIGSHIP_SERVICE").unwrap_or_else(|| "btcd".into()),
        })
    }

    pub fn remote(&self) -> GitRemote {
        GitRemote { url: self.repository_url.clone(), timeout: self.fetch_timeout, allow_local_paths: false }
    }
}

/// Whether a release tag is maintainer-signed: the pipeline's own verification, run by the watch
/// before it starts anything (read-only: one fetch of the tag object and its commit).
pub trait ReleaseCheck {
    async fn check(&self, tag: &RemoteTag) -> Result<()>;
}

/// The real check: the verify function's own [`verify`] of the tag as the remote serves it now,
/// and still the object the listing advertised.
pub struct ReleaseVerifier {
    pub remote: GitRemote,
    pub trust: TrustRoot,
}

impl ReleaseCheck for ReleaseVerifier {
    async fn check(&self, tag: &RemoteTag) -> Result<()> {
        check_release(&self.remote, &self.trust, tag).await
    }
}

/// A release check that also refuses a release older than the newest deployed (`Downgrade`): a
/// replayed delivery or an old signed tag starts nothing, so nothing is queued or built for it.
pub struct NewerThanDeployed<C, L> {
    pub check: C,
    pub deployed: L,
}

impl<C: ReleaseCheck, L: crate::release::ReleaseLedger> ReleaseCheck for NewerThanDeployed<C, L> {
    async fn check(&self, tag: &RemoteTag) -> Result<()> {
        self.check.check(tag).await?;
        crate::release::check_against_ledger(&self.deployed, &tag.name, false).await
    }
}

/// [`ReleaseVerifier`]'s check, for a caller that keeps its trust root (`sigship up`).
pub async fn check_release(remote: &GitRemote, trust: &TrustRoot, tag: &RemoteTag) -> Result<()> {
    let config = VerifyConfig {
        default_repository_url: Some(remote.url.clone()),
        fetch_timeout: remote.timeout,
        allow_local_paths: remote.allow_local_paths,
    };
    let request = TagRequest { tag: tag.name.clone(), repository: None, allow_downgrade: false, requested_by: None };
    let verified = verify(&request, &config, trust).await?;
    if verified.tag_object_id != tag.object_id {
        return Err(Error::TagMismatch {
            tag: tag.name.clone(),
            reason: format!("moved from {} to {} while it was checked", tag.object_id, verified.tag_object_id),
        });
    }
    Ok(())
}

/// What the triggers start releases in: the pipeline's executions, and the node a release
/// would be deployed to (which may be syncing).
pub struct Target<X, N> {
    pub executions: X,
    pub node: N,
}

/// Executions the triggers let run (and wait in the queue) at once, counting their own starts
/// (`tag-…`): a flood of tag pushes cannot push a real release past the queue's bounded wait. An
/// operator's `sigship run` is not bound, and does not count.
pub const MAX_RUNNING_FROM_TRIGGERS: usize = 4;

/// Starts the pipeline for one tag object, once — unless the node syncs (`NodeSyncing`: a
/// deploy would stop it; the watch starts the tag once it is current) or
/// [`MAX_RUNNING_FROM_TRIGGERS`] executions run already (`TooManyExecutions`; the tag is
/// started by a later delivery or watch). `requested_by` names this ask uniquely (see
/// [`crate::verify::TagRequest::requested_by`]).
pub async fn start_for_tag(
    target: &Target<impl Executions, impl SyncGate>,
    tag: &str,
    object_id: &str,
    requested_by: &str,
) -> Result<(String, Started)> {
    let Target { executions, node } = target;
    let name = execution_name(tag, object_id);
    let running = executions.running().await?;
    // The running executions' names (`…:execution:<machine>:<name>`).
    let names: Vec<&str> =
        running.iter().filter_map(|r| Arn::parse(&r.arn)?.resource_parts().last().copied()).collect();
    if names.contains(&name.as_str()) {
        return Ok((name, Started::AlreadyExists));
    }
    if let Some(syncing) = node.syncing().await? {
        return Err(Error::NodeSyncing { task_definition: syncing.task_definition });
    }
    // The triggers' own starts: an operator's runs and destroys do not hold releases back.
    let from_triggers = names.iter().filter(|n| n.starts_with(NAME_PREFIX)).count();
    if from_triggers >= MAX_RUNNING_FROM_TRIGGERS {
        return Err(Error::TooManyExecutions { running: from_triggers, limit: MAX_RUNNING_FROM_TRIGGERS });
    }
    let input = serde_json::json!({ "tag": tag, "requestedBy": requested_by });
    let started = executions.start(&name, &input).await?;
    Ok((name, started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_only_what_logging_executions_may_carry() {
        let name = execution_name("v0.24.2", "8f2a1c9be04d7d3e21b3aa7c8c0b1f2e3d4c5b6a");
        assert_eq!(name, "tag-v0_24_2-8f2a1c9be04d7d3e");
        assert_eq!(run_name("v0.24.2", 1795846930), "run-v0_24_2-1795846930");
        let odd = execution_name("btcec/v2.4.0 rc?", "0123456789abcdef0123");
        assert_eq!(odd, "tag-btcec_v2_4_0_rc_-0123456789abcdef");
        let long = execution_name(&"v".repeat(200), &"a".repeat(40));
        assert_eq!(long.len(), 80);
        for name in [name, odd, long, run_name("v1.0.0-rc.1+build", 1)] {
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')), "{name}");
        }
    }
}
