//! Releases: the tag and commit a revision runs, release tags in version order, and the rule
//! that an older release never replaces a newer one unasked.

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// The release a revision runs: its tag and commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tag: String,
    pub commit: String,
}

/// A release as a revision's tags name it: the tag, and its commit when recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRef<'a> {
    pub tag: &'a str,
    pub commit: Option<&'a str>,
}

/// A release tag's version: `v` and a SemVer 2.0 version (`v0.25.0`, `v0.25.0-rc1`).
pub fn version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v')?).ok()
}

/// Version order, SemVer's: v0.9.0 < v0.10.0 and v0.25.0-rc1 < v0.25.0. A tag that is no
/// version (only a custom tag policy admits one) sorts below every version, by name among its kind.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (version(a), version(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// Refuses to replace the running release with an older one (version order), or with the same
/// version built from another commit, unless `allowed`.
pub fn check_not_a_downgrade(running: ReleaseRef<'_>, requested: ReleaseRef<'_>, allowed: bool) -> Result<()> {
    let older = match compare(requested.tag, running.tag) {
        Ordering::Less => true,
        Ordering::Equal => running.commit != requested.commit,
        Ordering::Greater => false,
    };
    let name = |release: ReleaseRef<'_>| {
        format!("{} (commit {})", release.tag, release.commit.map_or("?", |c| &c[..c.len().min(12)]))
    };
    if older && !allowed {
        return Err(Error::Downgrade { running: name(running), requested: name(requested) });
    }
    if older {
        tracing::warn!(running = %running.tag, requested = %requested.tag, "downgrade, as the execution asked");
    }
    Ok(())
}

/// The newest release deployed, kept beside the watch's marks: what "ran" means to the watch and
/// to `sigship status`, whatever the execution history still holds.
pub trait ReleaseLedger {
    async fn newest_ran(&self) -> Result<Option<String>>;
    async fn record_ran(&self, tag: &str) -> Result<()>;
}

/// Refuses `tag` when it is older (version order) than `deployed`, the newest release deployed,
/// unless `allowed`: checked before anything is queued or built — by the triggers and `sigship
/// run` at once, by verify before the build — so a replayed or old signed tag costs nothing.
/// (Deploy still compares with the release that runs: [`check_not_a_downgrade`].)
pub fn check_newer_than_deployed(tag: &str, deployed: Option<&str>, allowed: bool) -> Result<()> {
    match deployed {
        Some(deployed) if !allowed && compare(tag, deployed) == Ordering::Less => {
            Err(Error::Downgrade { running: format!("{deployed} (the newest deployed)"), requested: tag.to_string() })
        }
        _ => Ok(()),
    }
}

/// [`check_newer_than_deployed`] against the ledger.
pub async fn check_against_ledger(ledger: &impl ReleaseLedger, tag: &str, allowed: bool) -> Result<()> {
    if allowed {
        return Ok(());
    }
    check_newer_than_deployed(tag, ledger.newest_ran().await?.as_deref(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_release_than_the_newest_deployed_is_refused_before_anything_is_built() {
        assert!(check_newer_than_deployed("v0.24.2", Some("v0.25.0"), true).is_ok(), "asked for");
        assert!(check_newer_than_deployed("v0.25.0", Some("v0.25.0"), false).is_ok(), "the same again");
        assert!(check_newer_than_deployed("v0.26.0", Some("v0.25.0"), false).is_ok());
        assert!(check_newer_than_deployed("v0.24.2", None, false).is_ok(), "nothing deployed yet");
        let refused = check_newer_than_deployed("v0.24.2", Some("v0.25.0"), false).unwrap_err();
        assert_eq!(refused.name(), "Downgrade");
        assert!(
            refused.to_string().contains("v0.24.2 is older than the running v0.25.0 (the newest deployed)"),
            "{refused}"
        );
    }

    #[test]
    fn versions_order_numerically_and_a_pre_release_before_its_release() {
        let mut tags =
            vec!["v0.10.0", "v0.25.0", "v0.9.1", "v0.25.0-rc1", "v0.24.2", "v0.9.0", "v0.25.0-rc2", "v0.24.0"];
        tags.sort_by(|a, b| compare(a, b));
        assert_eq!(
            tags,
            ["v0.9.0", "v0.9.1", "v0.10.0", "v0.24.0", "v0.24.2", "v0.25.0-rc1", "v0.25.0-rc2", "v0.25.0"]
        );
        assert_eq!(compare("release-2026", "v0.1.0"), Ordering::Less, "no version sorts below every version");
    }

    #[test]
    fn an_older_release_or_the_same_version_from_another_commit_is_a_downgrade() {
        let at = |tag, commit| ReleaseRef { tag, commit: Some(commit) };
        let running = at("v0.25.0", "bbbb");
        for (requested, downgrade) in [
            (at("v0.24.2", "aaaa"), true),
            (at("v0.25.0-rc2", "cccc"), true),
            (at("v0.25.0", "bbbb"), false),
            (at("v0.25.0", "cccc"), true),
            (at("v0.25.1-rc1", "dddd"), false),
        ] {
            let checked = check_not_a_downgrade(running, requested, false);
            assert_eq!(checked.is_err(), downgrade, "{requested:?}: {checked:?}");
            check_not_a_downgrade(running, requested, true).unwrap();
        }
    }
}
