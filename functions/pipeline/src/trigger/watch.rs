//! The upstream watch: on a schedule, list the remote's tags (ls-refs, nothing cloned), keep
//! those the trust policy's patterns accept, and start the pipeline for the ones not run yet —
//! the execution history says which ran. For btcd the operator rarely owns the repository and
//! cannot add a webhook, so this is the usual trigger.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{execution_name, start_for_tag, tag_in_name, tag_of};
use crate::error::Result;
use crate::execution::{Executions, Started};
use crate::verify::{RemoteTag, RemoteTags, TagPolicy};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only the newest release tag, if it has not run: a node follows the latest release.
    #[default]
    Newest,
    /// Every release tag newer than the newest one that has run, oldest first (the queue then
    /// deploys them one after the other). Without any run yet, only the newest: a first watch
    /// does not rebuild the project's history.
    All,
}

/// `SIGSHIP_WATCH_MODE`: `newest` (default) or `all`.
pub fn mode_from_env(env: &crate::config::Env) -> Result<Mode> {
    match env.optional("SIGSHIP_WATCH_MODE").as_deref() {
        None | Some("newest") => Ok(Mode::Newest),
        Some("all") => Ok(Mode::All),
        Some(other) => Err(crate::Error::config(format!("SIGSHIP_WATCH_MODE={other:?} is not valid: newest or all"))),
    }
}

/// What the schedule sends (`{}`), or a hand-made run (`{"mode": "all"}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WatchRequest {
    /// Overrides the configured mode for this run.
    #[serde(default)]
    pub mode: Option<Mode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchReport {
    pub repository: String,
    pub mode: Mode,
    /// Release tags the remote has (matching the trust policy).
    pub release_tags: usize,
    /// Execution names started by this run, oldest tag first.
    pub started: Vec<String>,
    /// Chosen, but an execution with the name existed (started concurrently by the webhook).
    pub already_started: Vec<String>,
}

pub async fn watch(
    request: WatchRequest,
    configured: Mode,
    policy: &TagPolicy,
    remote: &impl RemoteTags,
    executions: &impl Executions,
) -> Result<WatchReport> {
    let mode = request.mode.unwrap_or(configured);
    let releases: Vec<RemoteTag> = remote.tags().await?.into_iter().filter(|t| policy.check(&t.name).is_ok()).collect();
    let names = executions.names().await?;
    let mut report = WatchReport {
        repository: remote.url().to_string(),
        mode,
        release_tags: releases.len(),
        started: Vec::new(),
        already_started: Vec::new(),
    };
    for tag in select(releases, &names, mode) {
        match start_for_tag(executions, &tag.name, &tag.object_id).await? {
            (name, Started::New(_)) => report.started.push(name),
            (name, Started::AlreadyExists) => report.already_started.push(name),
        }
    }
    tracing::info!(started = ?report.started, release_tags = report.release_tags, "watched");
    Ok(report)
}

/// The tags to start, oldest first.
pub fn select(mut releases: Vec<RemoteTag>, execution_names: &[String], mode: Mode) -> Vec<RemoteTag> {
    releases.sort_by(|a, b| compare_versions(&a.name, &b.name));
    let names: HashSet<&str> = execution_names.iter().map(String::as_str).collect();
    let not_run = |tag: &RemoteTag| !names.contains(execution_name(&tag.name, &tag.object_id).as_str());
    let newest = releases.last().cloned();
    match mode {
        Mode::Newest => newest.into_iter().filter(not_run).collect(),
        Mode::All => {
            let run_tags: HashSet<&str> = execution_names.iter().filter_map(|n| tag_of(n)).collect();
            let newest_run = releases.iter().rposition(|t| run_tags.contains(tag_in_name(&t.name).as_str()));
            match newest_run {
                Some(position) => releases.into_iter().skip(position + 1).filter(not_run).collect(),
                None => newest.into_iter().filter(not_run).collect(),
            }
        }
    }
}

/// Version order: runs of digits compare as numbers, so v0.9.0 < v0.10.0 < v0.24.2.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(tag: &str) -> Vec<(u8, u64, String)> {
        let mut parts = Vec::new();
        let mut rest = tag;
        while let Some(c) = rest.chars().next() {
            let digit = c.is_ascii_digit();
            let end = rest.find(|ch: char| ch.is_ascii_digit() != digit).unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            parts.push(if digit {
                (1, run.parse().unwrap_or(u64::MAX), String::new())
            } else {
                (0, 0, run.to_string())
            });
            rest = tail;
        }
        parts
    }
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, id: &str) -> RemoteTag {
        RemoteTag { name: name.into(), object_id: id.repeat(40 / id.len()) }
    }

    fn names(selected: &[RemoteTag]) -> Vec<&str> {
        selected.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn versions_order_numerically() {
        let mut tags = vec!["v0.10.0", "v0.9.1", "v0.24.2", "v0.9.0", "v0.24.0"];
        tags.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(tags, ["v0.9.0", "v0.9.1", "v0.10.0", "v0.24.0", "v0.24.2"]);
    }

    #[test]
    fn newest_mode_starts_only_the_newest_once() {
        let tags = vec![tag("v0.23.0", "a"), tag("v0.24.2", "b"), tag("v0.24.0", "c")];
        assert_eq!(names(&select(tags.clone(), &[], Mode::Newest)), ["v0.24.2"]);
        let ran = vec![execution_name("v0.24.2", &"b".repeat(40))];
        assert!(select(tags.clone(), &ran, Mode::Newest).is_empty());
        // The same name re-pointed to another tag object is a new tag object: it runs (and verify judges it).
        let moved = vec![tag("v0.24.2", "d")];
        assert_eq!(names(&select(moved, &ran, Mode::Newest)), ["v0.24.2"]);
    }

    #[test]
    fn all_mode_starts_every_newer_tag_oldest_first_and_never_the_history() {
        let tags = vec![tag("v0.25.0", "e"), tag("v0.23.0", "a"), tag("v0.24.2", "b"), tag("v0.24.0", "c")];
        assert_eq!(names(&select(tags.clone(), &[], Mode::All)), ["v0.25.0"], "no history: only the newest");
        let ran = vec!["down-1795846930".to_string(), execution_name("v0.23.0", &"a".repeat(40))];
        assert_eq!(names(&select(tags.clone(), &ran, Mode::All)), ["v0.24.0", "v0.24.2", "v0.25.0"]);
        let mut ran = ran;
        ran.push(execution_name("v0.24.2", &"b".repeat(40)));
        assert_eq!(names(&select(tags, &ran, Mode::All)), ["v0.25.0"]);
    }

    #[tokio::test]
    async fn a_new_tag_starts_once_between_runs() {
        use crate::testing::{FakeExecutions, FakeRemote};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let executions = FakeExecutions::with_history(&[]);
        let mut remote = FakeRemote(vec![tag("v0.24.0", "c"), tag("btcec/v2.4.0", "f")]);
        let first = watch(WatchRequest::default(), Mode::All, &policy, &remote, &executions).await.unwrap();
        assert_eq!((first.release_tags, first.started.clone()), (1, vec!["tag-v0.24.0-cccccccccccccccc".to_string()]));
        let quiet = watch(WatchRequest::default(), Mode::All, &policy, &remote, &executions).await.unwrap();
        assert!(quiet.started.is_empty());
        remote.0.push(tag("v0.24.2", "b"));
        let next = watch(WatchRequest::default(), Mode::All, &policy, &remote, &executions).await.unwrap();
        assert_eq!(next.started, ["tag-v0.24.2-bbbbbbbbbbbbbbbb"]);
        assert_eq!(executions.started.lock().unwrap().len(), 2);
    }
}
