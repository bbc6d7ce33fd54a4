//! The upstream watch: on a schedule, list the remote's tags (ls-refs, nothing cloned), keep
//! those the trust policy's patterns accept, and start the pipeline for the ones not run yet —
//! the execution history says which ran. For btcd the operator rarely owns the repository and
//! cannot add a webhook, so this is the usual trigger.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::{start_for_tag, ReleaseCheck, Target};
use crate::error::Result;
use crate::execution::{Executions, Started};
use crate::release;
use crate::verify::{RemoteTag, RemoteTags, TagPolicy};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::EnumString, strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
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
    let Some(raw) = env.optional("SIGSHIP_WATCH_MODE") else { return Ok(Mode::default()) };
    raw.parse().map_err(|_| crate::Error::config(format!("SIGSHIP_WATCH_MODE={raw:?} is not valid: newest or all")))
}

/// What the schedule sends (`{}`), or a hand-made run (`{"mode": "all"}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WatchRequest {
    /// Overrides the configured mode for this run.
    #[serde(default)]
    pub mode: Option<Mode>,
}

/// The baseline of a stack whose repository had no release when it came up: every release
/// that appears later starts.
pub const NO_RELEASE_YET: &str = "none";

/// A tag object that failed verification: remembered (per trust root), so a junk tag costs one
/// check, ever. A tag moved to another object is checked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedTag {
    pub tag: String,
    pub object_id: String,
    /// The named error verify ended with.
    pub error: String,
}

/// How many refused tag objects the watch remembers, the newest kept: they fit one SSM
/// parameter (4 KB).
pub const MAX_REMEMBERED: usize = 30;

/// What the watch keeps besides the execution history (SSM parameters in AWS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchMarks {
    /// The newest release tag when the stack came up (`sigship up` records it once).
    pub after: Option<String>,
    /// The release an operator's `sigship run` of an older release pinned (`sigship follow`
    /// lifts it).
    pub pin: Option<String>,
    /// The newest release deployed (deploy raises it): what the watch starts only newer ones than.
    pub ran: Option<String>,
    /// Tag objects that failed verification under the stack's trust root, oldest first.
    pub refused: Vec<RefusedTag>,
}

pub trait WatchState {
    fn read(&self) -> impl std::future::Future<Output = Result<WatchMarks>> + Send;
    /// Keeps `refused` (at most [`MAX_REMEMBERED`], oldest first) for the next runs.
    fn remember(&self, refused: &[RefusedTag]) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// Checks that fail tried per run at most, newest first — tags that fail verification, and tags
/// whose check could not finish: a flood of junk costs a bounded number of fetches per run, and
/// since failed verdicts are remembered, the next run goes past them to what is below.
pub const MAX_UNVERIFIED_PER_RUN: usize = 5;

/// A release tag newer than the newest verified one that fails verification (or whose check
/// could not finish).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnverifiedTag {
    pub tag: String,
    /// The named error verify would end with (`Unsigned`, `UnknownSigner`, ...).
    pub error: String,
}

/// What one run chose, and what it found on the way.
#[derive(Debug, Default, PartialEq)]
pub struct Selection {
    /// To start, oldest first.
    pub chosen: Vec<RemoteTag>,
    /// Newer than the newest verified one and refused (now or in an earlier run), newest first.
    pub unverified: Vec<UnverifiedTag>,
    /// Refused in this run: to remember.
    pub newly_refused: Vec<RefusedTag>,
    /// Tags whose check did not finish (a fetch that timed out, AWS unavailable): checked again
    /// next run.
    pub unchecked: Vec<UnverifiedTag>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchReport {
    pub repository: String,
    pub mode: Mode,
    /// The newest release when the stack came up: only newer ones start.
    pub after: Option<String>,
    /// The release the operator pinned: while set, nothing starts.
    pub pinned: Option<String>,
    /// Release tags the remote has (matching the trust policy).
    pub release_tags: usize,
    /// Execution names started by this run, oldest tag first.
    pub started: Vec<String>,
    /// Chosen, but an execution with the name existed (started concurrently by the webhook).
    pub already_started: Vec<String>,
    /// Chosen, but not started: as many executions ran as the triggers allow
    /// ([`super::MAX_RUNNING_FROM_TRIGGERS`]); a later run starts them.
    pub deferred: Vec<String>,
    /// Chosen, but waiting: the node syncs at its sync size (this revision), and a deploy would
    /// stop it; the first run after it is current starts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_sync: Option<String>,
    /// Release tags newer than the newest signed one that fail verification: never started, and
    /// counted by the `UnverifiedReleaseTags` metric the stack alarms on.
    pub unverified: Vec<UnverifiedTag>,
    /// Release tags whose check did not finish this run (checked again next run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<UnverifiedTag>,
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
    target: &Target<impl Executions, impl crate::node::SyncGate>,
    state: &impl WatchState,
) -> Result<WatchReport> {
    let mode = request.mode.unwrap_or(configured);
    let releases = releases_in_order(remote.tags().await?, policy);
    let marks = state.read().await?;
    let selection = match &marks.pin {
        // The operator chose a release: nothing newer starts until `sigship follow`.
        Some(_) => Selection::default(),
        None => select(&releases, &marks, mode, releases_check).await?,
    };
    if !selection.newly_refused.is_empty() {
        let mut refused = marks.refused.clone();
        refused.extend(selection.newly_refused.iter().cloned());
        let keep_from = refused.len().saturating_sub(MAX_REMEMBERED);
        // Not remembered only costs the same checks again next run: the starts go on.
        if let Err(err) = state.remember(&refused[keep_from..]).await {
            tracing::warn!(error = %err, "the refused tags could not be remembered");
        }
    }
    let Selection { chosen, unverified, unchecked, .. } = selection;
    let mut report = WatchReport {
        repository: remote.url().to_string(),
        mode,
        after: marks.after.clone(),
        pinned: marks.pin.clone(),
        release_tags: releases.len(),
        started: Vec::new(),
        already_started: Vec::new(),
        deferred: Vec::new(),
        waiting_for_sync: None,
        unverified,
        unchecked,
    };
    let requested_by = format!("watch {}", crate::config::now_ms());
    for tag in chosen {
        if !report.deferred.is_empty() {
            report.deferred.push(tag.name);
            continue;
        }
        match start_for_tag(target, &tag.name, &tag.object_id, &requested_by).await {
            Ok((name, Started::New(_))) => report.started.push(name),
            Ok((name, Started::AlreadyExists)) => report.already_started.push(name),
            Err(crate::Error::TooManyExecutions { .. }) => report.deferred.push(tag.name),
            Err(crate::Error::NodeSyncing { task_definition }) => {
                report.waiting_for_sync = Some(task_definition);
                report.deferred.push(tag.name);
            }
            Err(other) => return Err(other),
        }
    }
    // stdout, not tracing: CloudWatch reads embedded metrics only from a top-level JSON line.
    println!("{}", report.embedded_metrics(crate::config::now_ms()));
    tracing::info!(started = ?report.started, deferred = ?report.deferred, waiting_for_sync = ?report.waiting_for_sync, unverified = ?report.unverified, release_tags = report.release_tags, "watched");
    Ok(report)
}

/// The tags to start, oldest first, and the newer ones that fail verification. `releases` in
/// version order. Only releases above the floor start: the newer of the newest release deployed
/// (`ran`, which deploy records) and the newest release there was when the stack came up
/// (`after`) — so nothing deploys unasked, and the watch acts like a tag push. With neither (a
/// stack from before the watch kept `after`), nothing starts until a release has run. Newest
/// first, each tag is verified; one that fails is skipped (only a deployed release raises the
/// floor, so a junk tag never becomes it), one remembered as refused is skipped unchecked, and a
/// check that cannot finish is that tag's problem, not the run's. Newest mode takes the newest
/// verified tag above the floor; all mode every one, oldest first.
pub async fn select(
    releases: &[RemoteTag],
    marks: &WatchMarks,
    mode: Mode,
    releases_check: &impl ReleaseCheck,
) -> Result<Selection> {
    let mut selection = Selection::default();
    if marks.after.is_none() && marks.ran.is_none() {
        return Ok(selection);
    }
    let after = marks.after.as_deref().filter(|after| *after != NO_RELEASE_YET);
    let floor = [after, marks.ran.as_deref()].into_iter().flatten().max_by(|a, b| release::compare(a, b));
    let mut failures = 0;
    for tag in releases.iter().rev() {
        if floor.is_some_and(|floor| release::compare(&tag.name, floor) != Ordering::Greater) {
            break;
        }
        let known = marks.refused.iter().find(|r| r.object_id == tag.object_id && r.tag == tag.name);
        if let Some(known) = known {
            if selection.chosen.is_empty() {
                selection.unverified.push(UnverifiedTag { tag: tag.name.clone(), error: known.error.clone() });
            }
            continue;
        }
        match releases_check.check(tag).await {
            Ok(()) => {
                selection.chosen.push(tag.clone());
                if mode == Mode::Newest {
                    break;
                }
                continue;
            }
            Err(refused) if refused.is_verdict() => {
                if selection.chosen.is_empty() {
                    selection.unverified.push(UnverifiedTag { tag: tag.name.clone(), error: refused.name().into() });
                }
                let error = refused.name().to_string();
                selection.newly_refused.push(RefusedTag {
                    tag: tag.name.clone(),
                    object_id: tag.object_id.clone(),
                    error,
                });
            }
            Err(other) => {
                tracing::warn!(tag = %tag.name, error_type = other.name(), error = %other, "the tag could not be checked; checked again next run");
                selection.unchecked.push(UnverifiedTag { tag: tag.name.clone(), error: other.name().into() });
            }
        }
        failures += 1;
        if failures >= MAX_UNVERIFIED_PER_RUN {
            break;
        }
    }
    selection.chosen.reverse();
    Ok(selection)
}

/// The newest of `releases` (version order) that verifies, trying at most `most`, newest first,
/// with the tags refused on the way: the baseline `sigship up` records, so a junk tag pushed
/// above the releases is never taken for the newest release.
pub async fn newest_verified(
    releases: &[RemoteTag],
    check: &impl ReleaseCheck,
    most: usize,
) -> Result<(Option<RemoteTag>, Vec<RefusedTag>)> {
    let mut refused = Vec::new();
    for tag in releases.iter().rev().take(most) {
        match check.check(tag).await {
            Ok(()) => return Ok((Some(tag.clone()), refused)),
            Err(verdict) if verdict.is_verdict() => refused.push(RefusedTag {
                tag: tag.name.clone(),
                object_id: tag.object_id.clone(),
                error: verdict.name().into(),
            }),
            Err(other) => return Err(other),
        }
    }
    Ok((None, refused))
}

/// The tags the policy calls releases, oldest first (version order).
pub fn releases_in_order(tags: Vec<RemoteTag>, policy: &TagPolicy) -> Vec<RemoteTag> {
    let mut releases: Vec<RemoteTag> = tags.into_iter().filter(|t| policy.check(&t.name).is_ok()).collect();
    releases.sort_by(|a, b| release::compare(&a.name, &b.name));
    releases
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

    async fn choose(
        tags: &[RemoteTag],
        ran: Option<&str>,
        mode: Mode,
        after: Option<&str>,
        junk: &'static [&'static str],
    ) -> Vec<String> {
        let mut sorted = tags.to_vec();
        sorted.sort_by(|a, b| release::compare(&a.name, &b.name));
        let selection = select(&sorted, &marks(ran, after), mode, &Verdicts(junk)).await.unwrap();
        names(&selection.chosen).into_iter().map(String::from).collect()
    }

    fn marks(ran: Option<&str>, after: Option<&str>) -> WatchMarks {
        WatchMarks { ran: ran.map(String::from), after: after.map(String::from), ..Default::default() }
    }

    #[tokio::test]
    async fn nothing_starts_unasked_and_releases_that_appear_after_up_do() {
        let at_up = vec![tag("v0.23.0", "a"), tag("v0.24.2", "b"), tag("v0.24.0", "c")];
        for mode in [Mode::Newest, Mode::All] {
            assert!(choose(&at_up, None, mode, None, &[]).await.is_empty(), "no baseline, nothing ran: nothing");
            assert!(choose(&at_up, None, mode, Some("v0.24.2"), &[]).await.is_empty(), "nothing new since up");
        }
        for mode in [Mode::Newest, Mode::All] {
            let first = choose(&at_up, None, mode, Some(NO_RELEASE_YET), &[]).await;
            assert_eq!(first.last().map(String::as_str), Some("v0.24.2"), "none at up: what appeared since starts");
        }
        assert_eq!(choose(&at_up, None, Mode::All, Some(NO_RELEASE_YET), &[]).await, ["v0.23.0", "v0.24.0", "v0.24.2"]);
        let later = [at_up.clone(), vec![tag("v0.25.0", "e"), tag("v0.26.0", "f")]].concat();
        assert_eq!(choose(&later, None, Mode::Newest, Some("v0.24.2"), &[]).await, ["v0.26.0"]);
        assert_eq!(choose(&later, None, Mode::All, Some("v0.24.2"), &[]).await, ["v0.25.0", "v0.26.0"]);
    }

    #[tokio::test]
    async fn once_a_release_runs_only_newer_ones_start() {
        let tags = vec![tag("v0.24.2", "b"), tag("v0.25.0", "e"), tag("v0.26.0", "f"), tag("v0.27.0", "d")];
        assert_eq!(choose(&tags, Some("v0.26.0"), Mode::Newest, Some("v0.24.2"), &[]).await, ["v0.27.0"]);
        assert_eq!(choose(&tags, Some("v0.26.0"), Mode::All, Some("v0.24.2"), &[]).await, ["v0.27.0"]);
        assert!(choose(&tags, Some("v0.27.0"), Mode::All, None, &[]).await.is_empty());
        // An older release deployed on purpose does not lower the floor below the baseline.
        assert_eq!(choose(&tags, Some("v0.24.2"), Mode::All, Some("v0.25.0"), &[]).await, ["v0.26.0", "v0.27.0"]);
        // Without a baseline (a stack from before it was kept), the newest that ran is the floor.
        assert_eq!(choose(&tags, Some("v0.24.2"), Mode::All, None, &[]).await, ["v0.25.0", "v0.26.0", "v0.27.0"]);
    }

    #[tokio::test]
    async fn a_junk_tag_never_counts_as_the_newest_release_and_is_reported() {
        // An unsigned v99.0.0 pushed beside the releases: only a deployed release raises the floor.
        let tags = vec![tag("v0.24.0", "c"), tag("v99.0.0", "9"), tag("v0.24.2", "b")];
        assert_eq!(choose(&tags, Some("v0.24.0"), Mode::Newest, None, &["v99.0.0"]).await, ["v0.24.2"]);
        assert_eq!(choose(&tags, Some("v0.24.0"), Mode::All, None, &["v99.0.0"]).await, ["v0.24.2"]);

        let mut sorted = tags.clone();
        sorted.sort_by(|a, b| release::compare(&a.name, &b.name));
        let selection =
            select(&sorted, &marks(Some("v0.24.0"), None), Mode::Newest, &Verdicts(&["v99.0.0"])).await.unwrap();
        assert_eq!(selection.unverified, [UnverifiedTag { tag: "v99.0.0".into(), error: "Unsigned".into() }]);
        // Junk older than the newest signed release is harmless: not reported.
        let selection =
            select(&sorted, &marks(None, Some("v0.1.0")), Mode::Newest, &Verdicts(&["v0.24.0"])).await.unwrap();
        assert!(selection.unverified.is_empty());
    }

    /// Verdicts by tag name, counting checks: `junk` is unsigned, `slow` cannot be fetched.
    struct Checks {
        junk: Vec<String>,
        slow: Vec<String>,
        checked: std::sync::Mutex<Vec<String>>,
    }

    impl ReleaseCheck for Checks {
        async fn check(&self, tag: &RemoteTag) -> Result<()> {
            self.checked.lock().unwrap().push(tag.name.clone());
            if self.slow.contains(&tag.name) {
                return Err(crate::Error::RepositoryUnreachable {
                    url: "https://example.org/btcd.git".into(),
                    reason: "timed out after 30 s".into(),
                });
            }
            match self.junk.contains(&tag.name) {
                true => Err(crate::Error::Unsigned { tag: tag.name.clone() }),
                false => Ok(()),
            }
        }
    }

    /// Six unsigned tags and one that cannot be fetched, all above a real release: each run costs
    /// at most five failed checks, a refused tag is remembered and never checked again, the slow
    /// one is that tag's problem — the release starts by the second run, and the report names
    /// the junk.
    #[tokio::test]
    async fn junk_tags_and_a_slow_tag_cannot_freeze_the_watch() {
        use crate::testing::{FakeExecutions, FakeRemote, SharedMarks};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let junk: Vec<String> = (90..96).map(|n| format!("v{n}.0.0")).collect();
        let mut tags: Vec<RemoteTag> = junk.iter().map(|name| tag(name, "9")).collect();
        tags.extend([tag("v0.25.0", "e"), tag("v96.0.0", "6")]);
        let checks = Checks { junk: junk.clone(), slow: vec!["v96.0.0".into()], checked: Default::default() };
        let remote = FakeRemote(tags);
        let state = SharedMarks::new(WatchMarks { after: Some("v0.24.2".into()), ..Default::default() });
        let target = Target { executions: FakeExecutions::with_history(&[]), node: None };
        let run = || watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &checks, &target, &state);

        let first = run().await.unwrap();
        assert!(first.started.is_empty(), "five failed checks end the first run");
        assert_eq!(checks.checked.lock().unwrap().len(), MAX_UNVERIFIED_PER_RUN);
        assert_eq!(first.unchecked, [UnverifiedTag { tag: "v96.0.0".into(), error: "RepositoryUnreachable".into() }]);
        assert_eq!(state.read().await.unwrap().refused.len(), 4, "the verdicts are remembered, the slow tag not");

        let second = run().await.unwrap();
        assert_eq!(second.started, ["tag-v0_25_0-eeeeeeeeeeeeeeee"], "{second:?}");
        let reported: Vec<&str> = second.unverified.iter().map(|u| u.tag.as_str()).collect();
        assert_eq!(
            reported,
            ["v95.0.0", "v94.0.0", "v93.0.0", "v92.0.0", "v91.0.0", "v90.0.0"],
            "the alarm's tags, named"
        );
        let checked = checks.checked.lock().unwrap().clone();
        for name in &junk {
            assert_eq!(checked.iter().filter(|c| *c == name).count(), 1, "{name} costs one check, ever: {checked:?}");
        }
        // A tag moved to another object is checked again; one run's memory is bounded.
        let moved = RefusedTag { tag: "v95.0.0".into(), object_id: "0".repeat(40), error: "Unsigned".into() };
        let with_moved = WatchMarks { refused: vec![moved], ..marks(None, Some("v0.24.2")) };
        let selection =
            select(&releases_in_order(remote.0.clone(), &policy), &with_moved, Mode::Newest, &checks).await.unwrap();
        assert_eq!(selection.newly_refused.first().map(|r| r.tag.as_str()), Some("v95.0.0"));
        let many: Vec<RefusedTag> = (0..MAX_REMEMBERED + 5)
            .map(|n| RefusedTag { tag: format!("v{n}.9.9"), object_id: format!("{n:040}"), error: "Unsigned".into() })
            .collect();
        let full = SharedMarks::new(WatchMarks { refused: many, ..marks(None, Some("v0.24.2")) });
        watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &checks, &target, &full).await.unwrap();
        assert_eq!(full.read().await.unwrap().refused.len(), MAX_REMEMBERED, "the newest kept");
    }

    #[tokio::test]
    async fn the_baseline_is_the_newest_release_that_verifies() {
        let releases = vec![tag("v0.24.2", "b"), tag("v0.25.0", "e"), tag("v98.0.0", "8"), tag("v99.0.0", "9")];
        let (newest, refused) = newest_verified(&releases, &Verdicts(&["v98.0.0", "v99.0.0"]), 50).await.unwrap();
        assert_eq!(newest.map(|t| t.name).as_deref(), Some("v0.25.0"));
        assert_eq!(refused.iter().map(|r| r.tag.as_str()).collect::<Vec<_>>(), ["v99.0.0", "v98.0.0"]);
        let (none, _) = newest_verified(&releases, &Verdicts(&["v98.0.0", "v99.0.0"]), 2).await.unwrap();
        assert!(none.is_none(), "the budget ends the search");
    }

    #[tokio::test]
    async fn a_new_tag_starts_once_between_runs_and_a_pin_holds_everything() {
        use crate::testing::{FakeExecutions, FakeRemote, Marks};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let target = Target { executions: FakeExecutions::with_history(&[]), node: None };
        let mut remote = FakeRemote(vec![tag("v0.24.0", "c"), tag("btcec/v2.4.0", "f")]);
        let check = Verdicts(&[]);
        let at_up = Marks(WatchMarks { after: Some("v0.24.0".into()), ..Default::default() });
        let run = |remote: &FakeRemote, marks: &Marks| {
            let (remote, marks) = (remote.clone(), marks.clone());
            let (policy, check, target) = (&policy, &check, &target);
            async move { watch(WatchRequest::default(), Mode::All, policy, &remote, check, target, &marks).await.unwrap() }
        };
        let first = run(&remote, &at_up).await;
        assert_eq!((first.release_tags, first.started.len()), (1, 0), "the release there was at up does not start");
        remote.0.push(tag("v0.24.2", "b"));
        let next = run(&remote, &at_up).await;
        assert_eq!(next.started, ["tag-v0_24_2-bbbbbbbbbbbbbbbb"]);
        // Until it deploys (and raises the release mark) a later run meets its execution again.
        run(&remote, &at_up).await;
        assert_eq!(target.executions.started.lock().unwrap().len(), 1, "once");
        // The operator ran v0.24.0 again and it pinned: v0.25.0 waits until `follow`.
        remote.0.push(tag("v0.25.0", "e"));
        let pinned =
            Marks(WatchMarks { after: Some("v0.24.0".into()), pin: Some("v0.24.0".into()), ..Default::default() });
        let held = run(&remote, &pinned).await;
        assert_eq!((held.started.len(), held.pinned.as_deref()), (0, Some("v0.24.0")));
        // Lifted, once v0.24.2 has deployed (its mark raised): v0.25.0 alone starts.
        let deployed =
            Marks(WatchMarks { after: Some("v0.24.0".into()), ran: Some("v0.24.2".into()), ..Default::default() });
        assert_eq!(run(&remote, &deployed).await.started, ["tag-v0_25_0-eeeeeeeeeeeeeeee"]);
        assert_eq!(target.executions.started.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn with_the_triggers_bound_of_executions_running_the_watch_defers_and_starts_nothing() {
        use crate::testing::{FakeExecutions, FakeRemote};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let arns: Vec<String> = (0..crate::trigger::MAX_RUNNING_FROM_TRIGGERS)
            .map(|i| format!("arn:aws:states:::execution:s:tag-junk-{i}"))
            .collect();
        let running: Vec<(&str, i64)> = arns.iter().map(|a| (a.as_str(), 0)).collect();
        let executions = FakeExecutions::running(&running);
        let remote = FakeRemote(vec![tag("v0.24.2", "b")]);
        let marks = crate::testing::Marks(WatchMarks { after: Some("v0.1.0".into()), ..Default::default() });
        let target = Target { executions, node: None };
        let report = watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &Verdicts(&[]), &target, &marks)
            .await
            .unwrap();
        assert_eq!((report.started.len(), report.deferred.clone()), (0, vec!["v0.24.2".to_string()]));
        assert!(target.executions.started.lock().unwrap().is_empty());
        // An operator's runs are not the triggers' starts: they hold nothing back.
        let runs: Vec<String> = (0..crate::trigger::MAX_RUNNING_FROM_TRIGGERS)
            .map(|i| format!("arn:aws:states:::execution:s:run-v0_1_{i}-1"))
            .collect();
        let running: Vec<(&str, i64)> = runs.iter().map(|a| (a.as_str(), 0)).collect();
        let target = Target { executions: FakeExecutions::running(&running), node: None };
        let report = watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &Verdicts(&[]), &target, &marks)
            .await
            .unwrap();
        assert_eq!(report.started.len(), 1, "{report:?}");
    }

    /// A release that appears while the node syncs waits: a deploy would stop the sync. The
    /// first watch run after the node is back at its steady size starts it.
    #[tokio::test]
    async fn while_the_node_syncs_a_new_release_waits_and_starts_once_it_is_current() {
        use crate::node::Syncing;
        use crate::testing::{FakeExecutions, FakeRemote, Marks};
        let policy = TagPolicy::new(&[r"v\d+\.\d+\.\d+".into()]).unwrap();
        let remote = FakeRemote(vec![tag("v0.24.2", "b"), tag("v0.25.0", "e")]);
        let marks = Marks(WatchMarks { after: Some("v0.24.2".into()), ..Default::default() });
        let syncing = Some(Syncing { task_definition: "btcd:7".into(), network: "mainnet", size: None });
        let target = Target { executions: FakeExecutions::with_history(&[]), node: syncing };
        let held = watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &Verdicts(&[]), &target, &marks)
            .await
            .unwrap();
        assert_eq!(held.started, Vec::<String>::new());
        assert_eq!(
            (held.deferred.clone(), held.waiting_for_sync.as_deref()),
            (vec!["v0.25.0".to_string()], Some("btcd:7"))
        );
        assert!(target.executions.started.lock().unwrap().is_empty(), "nothing started while it syncs");

        let current = Target { executions: target.executions, node: None };
        let later = watch(WatchRequest::default(), Mode::Newest, &policy, &remote, &Verdicts(&[]), &current, &marks)
            .await
            .unwrap();
        assert_eq!(later.started, ["tag-v0_25_0-eeeeeeeeeeeeeeee"]);
    }
}
