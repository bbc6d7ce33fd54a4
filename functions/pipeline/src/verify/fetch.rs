//! Fetches one annotated tag object over git with gix (Lambda has no git binary): a shallow
//! fetch of exactly `refs/tags/<tag>` into a throw-away bare repository.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gix::remote::fetch::Tags;
use gix::remote::Direction;

use crate::error::{Error, Result};

mod protocol;

/// Tag objects are a few KiB; anything far larger is not a release tag.
pub const MAX_TAG_OBJECT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct FetchedTag {
    pub tag_object_id: String,
    pub raw: Vec<u8>,
    /// Whether the remote honoured [`OBJECT_FILTER`]; without it the commit's whole tree came too.
    pub filtered: bool,
    /// Size of the pack the remote sent.
    pub pack_bytes: u64,
}

/// Refuses remotes that could be tampered with in transit: https anywhere, plain http and git://
/// only on loopback (the local cloud and tests), local paths only when allowed (the CLI).
pub fn check_remote_url(url: &str, allow_local_paths: bool) -> Result<()> {
    let refuse = |reason: &str| Err(Error::InsecureRepositoryUrl { url: url.into(), reason: reason.into() });
    let parsed = match gix::url::parse(url.as_bytes()) {
        Ok(parsed) => parsed,
        Err(e) => return refuse(&format!("not a git URL: {e}")),
    };
    let loopback = parsed.host().is_some_and(is_loopback);
    match parsed.scheme {
        gix::url::Scheme::Https => Ok(()),
        gix::url::Scheme::Http | gix::url::Scheme::Git if loopback => Ok(()),
        gix::url::Scheme::Http | gix::url::Scheme::Git => {
            refuse("plain http and git:// are only allowed on loopback; use https")
        }
        gix::url::Scheme::File if allow_local_paths => Ok(()),
        _ => refuse("only https (or http/git:// on loopback) remotes are supported"),
    }
}

/// An http(s) address nothing in transit can tamper with: https anywhere, plain http only on
/// loopback (the local cloud and tests). Certificates and the image registry are held to it.
pub fn is_secure_http(scheme: &str, host: Option<&str>) -> bool {
    scheme == "https" || (scheme == "http" && host.is_some_and(is_loopback))
}

/// Whether `host` (a name or an IP literal, bracketed or not) is this machine.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Fetches the object `refs/tags/<tag>` points at, giving up after `timeout`.
pub async fn fetch_tag(url: &str, tag: &str, timeout: Duration, allow_local_paths: bool) -> Result<FetchedTag> {
    check_remote_url(url, allow_local_paths)?;
    check_tag_name(tag)?;
    let (url_owned, tag_owned) = (url.to_string(), tag.to_string());
    with_deadline(url, timeout, move |interrupt| fetch_blocking(&url_owned, &tag_owned, interrupt)).await
}

/// A tag as the remote advertises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTag {
    pub name: String,
    /// The tag object for an annotated tag, the commit for a lightweight one.
    pub object_id: String,
}

/// The remote's tags matching `pattern` (`*` for all), from its ref advertisement (ls-refs):
/// no object is downloaded.
pub async fn list_tags(url: &str, pattern: &str, timeout: Duration, allow_local_paths: bool) -> Result<Vec<RemoteTag>> {
    check_remote_url(url, allow_local_paths)?;
    let (url_owned, refspec) = (url.to_string(), format!("+refs/tags/{pattern}:refs/tags/{pattern}"));
    with_deadline(url, timeout, move |_| list_blocking(&url_owned, &refspec)).await
}

fn check_tag_name(tag: &str) -> Result<()> {
    gix::refs::FullName::try_from(format!("refs/tags/{tag}"))
        .map(|_| ())
        .map_err(|e| Error::InvalidInput(format!("{tag:?} is not a valid tag name: {e}")))
}

/// Runs blocking git work on the blocking pool; past `timeout` it is interrupted and the remote
/// reported unreachable.
async fn with_deadline<T: Send + 'static>(
    url: &str,
    timeout: Duration,
    work: impl FnOnce(&AtomicBool) -> Result<T> + Send + 'static,
) -> Result<T> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let task = tokio::task::spawn_blocking(move || work(&flag));
    match tokio::time::timeout(timeout, task).await {
        Ok(joined) => joined.map_err(|e| Error::RepositoryUnreachable { url: url.into(), reason: e.to_string() })?,
        Err(_) => {
            interrupt.store(true, Ordering::Relaxed);
            Err(Error::RepositoryUnreachable {
                url: url.into(),
                reason: format!("no answer within {} s", timeout.as_secs_f32()),
            })
        }
    }
}

fn list_blocking(url: &str, refspec: &str) -> Result<Vec<RemoteTag>> {
    let unreachable =
        |e: &dyn std::fmt::Display| Error::RepositoryUnreachable { url: url.into(), reason: e.to_string() };
    let (_scratch, repo) = scratch_repository(url)?;
    let remote = only_refspec(&repo, url, refspec)?;
    let connection = remote.connect(Direction::Fetch).map_err(|e| unreachable(&e))?;
    let (ref_map, _) = connection.ref_map(gix::progress::Discard, Default::default()).map_err(|e| unreachable(&e))?;
    Ok(ref_map
        .mappings
        .iter()
        .filter_map(|mapping| {
            let name = mapping.remote.as_name()?.to_string();
            Some(RemoteTag {
                name: name.strip_prefix("refs/tags/")?.to_string(),
                object_id: mapping.remote.as_id()?.to_string(),
            })
        })
        .collect())
}

/// A git remote's tags, behind a trait so the triggers are unit-testable.
pub trait RemoteTags {
    fn url(&self) -> &str;
    /// Every tag of the remote.
    async fn tags(&self) -> Result<Vec<RemoteTag>>;
    /// The object `refs/tags/<tag>` points at, if the remote has it.
    async fn tag_object(&self, tag: &str) -> Result<Option<String>>;
}

pub struct GitRemote {
    pub url: String,
    pub timeout: Duration,
    pub allow_local_paths: bool,
}

impl RemoteTags for GitRemote {
    fn url(&self) -> &str {
        &self.url
    }

    async fn tags(&self) -> Result<Vec<RemoteTag>> {
        list_tags(&self.url, "*", self.timeout, self.allow_local_paths).await
    }

    async fn tag_object(&self, tag: &str) -> Result<Option<String>> {
        check_tag_name(tag)?;
        let found = list_tags(&self.url, tag, self.timeout, self.allow_local_paths).await?;
        Ok(found.into_iter().find(|t| t.name == tag).map(|t| t.object_id))
    }
}

/// A throw-away bare repository to fetch into; it lives as long as the returned directory.
fn scratch_repository(url: &str) -> Result<(tempfile::TempDir, gix::Repository)> {
    let scratch = tempfile::tempdir().map_err(|e| Error::Internal(format!("temporary directory: {e}")))?;
    let repo = gix::init_bare(scratch.path())
        .map_err(|e| Error::RepositoryUnreachable { url: url.into(), reason: e.to_string() })?;
    Ok((scratch, repo))
}

/// The remote at `url` fetching exactly `refspec`, no other tags.
fn only_refspec<'r>(repo: &'r gix::Repository, url: &str, refspec: &str) -> Result<gix::Remote<'r>> {
    repo.remote_at(url)
        .map_err(|e| Error::RepositoryUnreachable { url: url.into(), reason: e.to_string() })?
        .with_fetch_tags(Tags::None)
        .with_refspecs(Some(refspec), Direction::Fetch)
        .map_err(|e| Error::Internal(format!("refspec {refspec:?}: {e}")))
}

/// What a release-tag fetch asks for beyond the tag: its commit, without trees or blobs.
pub const OBJECT_FILTER: &str = "tree:0";

fn fetch_blocking(url: &str, tag: &str, interrupt: &AtomicBool) -> Result<FetchedTag> {
    let unreachable =
        |e: &dyn std::fmt::Display| Error::RepositoryUnreachable { url: url.into(), reason: e.to_string() };
    let (_scratch, repo) = scratch_repository(url)?;
    let remote = only_refspec(&repo, url, &format!("+refs/tags/{tag}:refs/tags/{tag}"))?;
    let mut connection = remote.connect(Direction::Fetch).map_err(|e| unreachable(&e))?;
    let authenticate = connection.configured_credentials_for_current_url();
    let transport_options = repo.transport_options(url, None).map_err(|e| unreachable(&e))?;
    let transport = connection.transport_mut();
    if let Some(options) = transport_options {
        transport.configure(&*options).map_err(|e| unreachable(&e))?;
    }
    let received =
        protocol::receive_tag(transport, authenticate, &repo, &remote, interrupt).map_err(|e| unreachable(&e))?;
    let Some(received) = received else {
        return Err(Error::TagNotFound { url: url.into(), tag: tag.into() });
    };
    if received.filtered {
        tracing::info!(filter = OBJECT_FILTER, pack_bytes = received.pack_bytes, "fetched the tag and its commit");
    } else {
        tracing::warn!(
            pack_bytes = received.pack_bytes,
            "the remote does not offer object filters: fetched the tagged commit's whole tree"
        );
    }
    let object = received.tag_object;
    let found = repo.find_object(object).map_err(|e| unreachable(&e))?;
    if found.kind != gix::objs::Kind::Tag {
        return Err(Error::NotAnnotatedTag { tag: tag.into(), object: object.to_string() });
    }
    if found.data.len() > MAX_TAG_OBJECT_BYTES {
        return Err(Error::TagTooLarge { tag: tag.into(), size: found.data.len(), limit: MAX_TAG_OBJECT_BYTES });
    }
    Ok(FetchedTag {
        tag_object_id: object.to_string(),
        raw: found.data.clone(),
        filtered: received.filtered,
        pack_bytes: received.pack_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_remotes_pass() {
        for ok in [
            "https://github.com/btcsuite/btcd.git",
            "http://127.0.0.1:9418/btcd.git",
            "git://localhost/btcd.git",
            "http://[::1]:8080/btcd.git",
        ] {
            assert!(check_remote_url(ok, false).is_ok(), "{ok} should pass");
        }
        for refused in [
            "http://github.com/btcsuite/btcd.git",
            "git://example.org/btcd.git",
            "ssh://git@github.com/btcsuite/btcd.git",
            "file:///srv/btcd.git",
        ] {
            let err = check_remote_url(refused, false).unwrap_err();
            assert_eq!(err.name(), "InsecureRepositoryUrl", "{refused}");
        }
        assert!(check_remote_url("/srv/btcd", true).is_ok());
        assert!(check_remote_url("ssh://git@github.com/btcsuite/btcd.git", true).is_err());
    }
}
