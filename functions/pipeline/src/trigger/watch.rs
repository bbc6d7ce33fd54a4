//! The upstream watch: on a schedule, list the remote's tags (ls-refs, nothing cloned), keep
//! those the trust policy's patterns accept, and start the pipeline for the ones not run yet —
//! the execution history says which ran. For btcd the operator rarely owns the repository and
//! cannot add a webhook, so this is the usual trigger.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{execution_name, start_for_tag, tag_in_name, tag_of, ReleaseCheck};
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

/// Tags that fail verification tried per run at most, newest first: a flood of junk tags costs a
/// bounded number of fetches (and hides older releases only until the junk is deleted).
pub const MAX_UNVERIFIED_PER_RUN: usize = 5;

/// A release tag newer than the newest verified one that fails verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnverifiedTag {
    pub tag: String,
    /// The named error verify would end with (`Unsigned`, `UnknownSigner`, ...).
    pub error: &'static str,
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
    /// Chosen, but not started: as many executions ran as the triggers allow
    /// ([`super::MAX_RUNNING_FROM_TRIGGERS`]); a later run starts them.
    pub deferred: Vec<String>,
    /// Release tags newer than the newest signed one that fail verification: never started, and
    /// counted by the `UnverifiedReleaseTags` metric the stack alarms on.
    pub unverified: Vec<UnverifiedTag>,
}

/// The metric the watch publishes per repository: how many newer tags fail verification.
pub const UNVERIFIED_METRIC: &str = "UnverifiedReleaseTags";
pub const REPOSITORY_DIMENSION: &str = "Repository";

impl WatchReport {
    /// [`UNVERIFIED_METRIC`] in CloudWatch's embedded metric format (see [`crate::node::embedded_metrics`]).
    pub fn embedded_metrics(&self, now_ms: i64) -> serde_json::Value {
        crate::node::embedded_metrics(
            now_ms,
            &[(REPOSITORY_DIMENSION, self.repository.as_str())],
            &[(UNVERIFIED_METRIC, self.unverified.len() as f64, "Count")],
        )
    }
}

pub async fn watch(
    request: WatchRequest,
    configured: Mode,
    policy: &TagPolicy,
    remote: &impl RemoteTags,
    releases_check: &impl ReleaseCheck,
    executions: &impl Executions,
) -> Result<WatchReport> {
    let mode = request.mode.unwrap_or(configured);
    let mut releases: Vec<RemoteTag> =
        remote.tags().await?.into_iter().filter(|t| policy.check(&t.name).is_ok()).collect();
    releases.sort_by(|a, b| compare_versions(&a.name, &b.name));
    let names = executions.names().await?;
    let (chosen, unverified) = select(&releases, &names, mode, releases_check).await?;
    let mut report = WatchReport {
        repository: remote.url().to_string(),
        mode,
        release_tags: releases.len(),
        started: Vec::new(),
        already_started: Vec::new(),
        deferred: Vec::new(),
        unverified,
    };
    let requested_by = format!("watch {}", crate::lambda::now_ms());
    for tag in chosen {
        if !report.deferred.is_empty() {
            report.deferred.push(tag.name);
            continue;
        }
        match start_for_tag(executions, &tag.name, &tag.object_id, &requested_by).await {
            Ok((name, Started::New(_))) => report.started.push(name),
            Ok((name, Started::AlreadyExists)) => report.already_started.push(name),
            Err(crate::Error::TooManyExecutions { .. }) => report.deferred.push(tag.name),
            Err(other) => return Err(other),
        }
    }
    // stdout, not tracing: CloudWatch reads embedded metrics only from a top-level JSON line.
    println!("{}", report.embedded_metrics(crate::lambda::now_ms()));
    tracing::info!(started = ?report.started, deferred = ?report.deferred, unverified = ?report.unverified, release_tags = report.release_tags, "watched");
    Ok(report)
}

/// The tags to start, oldest first, and the newer ones that fail verification. `releases` in
/// version order. Newest first, each tag is verified; one that fails is skipped (only a signed
/// release counts, so a junk tag cannot become "the newest that ran"). Newest mode takes the
/// newest verified tag; all mode every verified tag down to the newest one that has run (without
/// any run yet, only the newest). A tag that has run is not started again.
pub async fn select(
    releases: &[RemoteTag],
    execution_names: &[String],
    mode: Mode,
    releases_check: &impl ReleaseCheck,
) -> Result<(Vec<RemoteTag>, Vec<UnverifiedTag>)> {
    let names: HashSet<&str> = execution_names.iter().map(String::as_str).collect();
    let run_tags: HashSet<&str> = execution_names.iter().filter_map(|n| tag_of(n)).collect();
    let ran = |tag: &RemoteTag| run_tags.contains(tag_in_name(&tag.name).as_str());
    let oldest_ran = releases.iter().position(ran);
    let (mut chosen, mut unverified) = (Vec::new(), Vec::new());
    let mut failures = 0;
    for (index, tag) in releases.iter().enumerate().rev() {
        if mode == Mode::All && !chosen.is_empty() && oldest_ran.is_none_or(|oldest| index < oldest) {
            // Older than every tag that ran, and none of those verified: no signed release has
            // run yet, so only the newest starts (a first watch does not rebuild the history).
            chosen.truncate(1);
            break;
        }
        match releases_check.check(tag).await {
            Ok(()) => {
                // Newest mode runs a re-pointed tag (a new tag object); all mode stops at its name.
                let started_before = match mode {
                    Mode::Newest => names.contains(execution_name(&tag.name, &tag.object_id).as_str()),
                    Mode::All => ran(tag),
                };
                if !started_before {
                    chosen.push(tag.clone());
                }
                if mode == Mode::Newest || ran(tag) {
                    break;
                }
            }
            Err(refused) if refused.is_verdict() => {
                if chosen.is_empty() {
                    unverified.push(UnverifiedTag { tag: tag.name.clone(), error: refused.name() });
                }
                failures += 1;
                if failures >= MAX_UNVERIFIED_PER_RUN {
                    break;
                }
            }
            Err(other) => return Err(other),
        }
    }
    chosen.reverse();
    Ok((chosen, unverified))
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
    use crate::testing::Verdicts;

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

    async fn choose(tags: &[RemoteTag], ran: &[String], mode: Mode, junk: &'static [&'static str]) -> Vec<String> {
        let mut sorted = tags.to_vec();
        sorted.sort_by(|a, b| compare_versions(&a.name, &b.name));
        let (chosen, _) = select(&sorted, ran, mode, &Verdicts(junk)).await.unwrap();
        names(&chosen).into_iter().map(String::from).collect()
    }

    #[tokio::test]
    async fn newest_mode_starts_only_the_newest_once() {
        let tags = vec![tag("v0.23.0", "a"), tag("v0.24.2", "b"), tag("v0.24.0", "c")];
        assert_eq!(choose(&tags, &[], Mode::Newest, &[]).await, ["v0.24.2"]);
        let ran = vec![execution_name("v0.24.2", &"b".repeat(40))];
        assert!(choose(&tags, &ran, Mode::Newest, &[]).await.is_empty());
        // The same name re-pointed to another tag object is a new tag object: it runs (and verify judges it).
        let moved = vec![tag("v0.24.2", "d")];
        assert_eq!(choose(&moved, &ran, Mode::Newest, &[]).await, ["v0.24.2"]);
    }

    #[tokio::test]
    async fn all_mode_starts_every_newer_tag_oldest_first_and_never_the_history() {
        let tags = vec![tag("v0.25.0", "e"), tag("v0.23.0", "a"), tag("v0.24.2", "b"), tag("v0.24.0", "c")];
        assert_eq!(choose(&tags, &[], Mode::All, &[]).await, ["v0.25.0"], "no history: only the newest");
        let ran = vec!["down-1795846930".to_string(), execution_name("v0.23.0", &"a".repeat(40))];
        assert_eq!(choose(&tags, &ran, Mode::All, &[]).await, ["v0.24.0", "v0.24.2", "v0.25.0"]);
        let mut ran = ran;
        ran.push(execution_name("v0.24.2", &"b".repeat(40)));
        assert_eq!(choose(&tags, &ran, Mode::All, &[]).await, ["v0.25.0"]);
    }

    #[tokio::test]
    async fn a_junk_tag_never_counts_as_the_newest_release_and_is_reported() {
        // An unsigned v99.0.0 pushed beside the releases, and run once (it failed in verify).
        let tags = vec![tag("v0.24.0", "c"), tag("v99.0.0", "9"), tag("v0.24.2", "b")];
        let junk_ran = vec![execution_name("v0.24.0", &"c".repeat(40)), execution_name("v99.0.0", &"9".repeat(40))];
        assert_eq!(choose(&tags, &junk_ran, Mode::Newest, &["v99.0.0"]).await, ["v0.24.2"]);
        assert_eq!(choose(&tags, &junk_ran, Mode::All, &["v99.0.0"]).await, ["v0.24.2"]);
        // Only junk ran: no signed release has, so all mode starts only the newest signed one.
        let only_junk = vec![execution_name("v99.0.0", &"9".repeat(40))];
        assert_eq!(choose(&tags, &only_junk, Mode::All, &["v99.0.0"]).await, ["v0.24.2"]);

        let mut sorted = tags.clone();
        sorted.sort_by(|a, b| compare_versions(&a.name, &b.name));
        let (_, unverified) = select(&sorted, &junk_ran, Mode::Newest, &Verdicts(&["v99.0.0"])).await.unwrap();
        assert_eq!(unverified, [UnverifiedTag { tag: "v99.0.0".into(), error: "Unsigned" }]);
        // Junk older than the newest signed release is harmless: not reported.
        let (_, unverified) = select(&sorted, &[], Mode::Newest, &Verdicts(&["v0.24.0"])).await.unwrap();
        assert!(unverified.is_empty());
    }

    #[tokio::test]
    async fn a_flood_of_junk_costs_a_bounded_number_of_checks() {
        let mut tags: Vec<RemoteTag> = (90..99).map(|n| tag(&format!("v{n}.0.0"), "9")).collect();
        tags.insert(0, tag("v0.24.2", "b"));
        const JUNK: &[&str] =
            &["v90.0.0", "v91.0.0", "v92.0.0", "v93.0.0", "v94.0.0", "v95.0.0", "v96.0.0", "v97.0.0", "v98.0.0"];
        let (chosen, unverified) = select(&tags, &[], Mode::Newest, &Verdicts(JUNK)).await.unwrap();
        assert!(chosen.is_empty(), "the signed release is below the budget this run");
        assert_eq!(unverified.len(), MAX_UNVERIFIED_PER_RUN);
        assert_eq!(unverified[0].tag, "v98.0.0", "newest first");
    }

    #[tokio::test]
    async fn a_new_tag_starts_once_between_runs() {
        use crate::testing::{FakeExecutions, FakeRemote};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let executions = FakeExecutions::with_history(&[]);
        let mut remote = FakeRemote(vec![tag("v0.24.0", "c"), tag("btcec/v2.4.0", "f")]);
        let check = Verdicts(&[]);
        let first = watch(WatchRequest::default(), Mode::All, &policy, &remote, &check, &executions).await.unwrap();
        assert_eq!((first.release_tags, first.started.clone()), (1, vec!["tag-v0.24.0-cccccccccccccccc".to_string()]));
        let quiet = watch(WatchRequest::default(), Mode::All, &policy, &remote, &check, &executions).await.unwrap();
        assert!(quiet.started.is_empty());
        remote.0.push(tag("v0.24.2", "b"));
        let next = watch(WatchRequest::default(), Mode::All, &policy, &remote, &check, &executions).await.unwrap();
        assert_eq!(next.started, ["tag-v0.24.2-bbbbbbbbbbbbbbbb"]);
        assert_eq!(executions.started.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn with_the_triggers_bound_of_executions_running_the_watch_defers_and_starts_nothing() {
        use crate::testing::{FakeExecutions, FakeRemote};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let arns: Vec<String> = (0..crate::trigger::MAX_RUNNING_FROM_TRIGGERS)
            .map(|i| format!("arn:aws:states:::execution:s:junk-{i}"))
            .collect();
        let running: Vec<(&str, i64)> = arns.iter().map(|a| (a.as_str(), 0)).collect();
        let executions = FakeExecutions::running(&running);
        let remote = FakeRemote(vec![tag("v0.24.2", "b")]);
        let report =
            watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &Verdicts(&[]), &executions).await.unwrap();
        assert_eq!((report.started.len(), report.deferred.clone()), (0, vec!["v0.24.2".to_string()]));
        assert!(executions.started.lock().unwrap().is_empty());
    }
}
