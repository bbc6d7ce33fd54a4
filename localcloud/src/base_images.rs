//! The registry the base images come from, as far as a build pulls them: each reference (a tag)
//! names a current digest, and every digest it ever named stays pullable (a tag moved upstream
//! leaves the old image in the registry). SIMULATED: nothing is downloaded — the local build
//! compiles with this machine's Go — but what a build would pull, and whether a pinned digest
//! exists, is decided here as a registry would.

use std::collections::HashMap;
use std::sync::Mutex;

use pipeline::build::image::digest_of;

#[derive(Default)]
pub struct BaseImageRegistry {
    /// Reference → the digests it named, the current one last.
    digests: Mutex<HashMap<String, Vec<String>>>,
}

impl BaseImageRegistry {
    /// The digest `reference` names now.
    pub fn current(&self, reference: &str) -> String {
        let mut digests = self.digests.lock().unwrap();
        let named = digests.entry(reference.to_string()).or_insert_with(|| vec![digest_of(reference.as_bytes())]);
        named.last().cloned().unwrap_or_default()
    }

    /// The tag moves upstream to a new image; returns its digest.
    pub fn move_tag(&self, reference: &str) -> String {
        self.current(reference);
        let mut digests = self.digests.lock().unwrap();
        let named = digests.get_mut(reference).expect("named above");
        let moved = digest_of(format!("{reference} #{}", named.len()).as_bytes());
        named.push(moved.clone());
        moved
    }

    /// What the buildspec's pre_build does with base-images.sh's `<NAME>=<reference>[@digest]`
    /// lines: pulls each by its digest, or by tag at the digest the tag names now. Ok: what was
    /// pulled (`reference@digest`, space-separated); Err: a digest the registry does not have.
    pub fn pull(&self, lines: &str) -> Result<String, String> {
        let mut pulled = Vec::new();
        for line in lines.lines().filter(|l| !l.trim().is_empty()) {
            let (_, image) = line.split_once('=').ok_or(format!("base-images.sh printed {line:?}"))?;
            let entry = match image.rsplit_once('@') {
                Some((reference, digest)) => {
                    self.current(reference);
                    let known = self.digests.lock().unwrap()[reference].iter().any(|d| d == digest);
                    if !known {
                        return Err(format!("manifest unknown: {reference}@{digest}"));
                    }
                    image.to_string()
                }
                None => format!("{image}@{}", self.current(image)),
            };
            pulled.push(entry);
        }
        Ok(pulled.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_tag_keeps_its_old_digest_pullable_and_an_unknown_digest_is_refused() {
        let registry = BaseImageRegistry::default();
        let alpine = "public.ecr.aws/docker/library/alpine:3.23";
        let first = registry.pull(&format!("RUNTIME_IMAGE={alpine}")).unwrap();
        let old = registry.current(alpine);
        assert_eq!(first, format!("{alpine}@{old}"));
        let moved = registry.move_tag(alpine);
        assert_ne!(moved, old);
        assert_eq!(registry.pull(&format!("RUNTIME_IMAGE={first}")).unwrap(), first, "pinned: the old image");
        assert_eq!(registry.pull(&format!("RUNTIME_IMAGE={alpine}")).unwrap(), format!("{alpine}@{moved}"));
        let unknown = format!("RUNTIME_IMAGE={alpine}@sha256:{}", "0".repeat(64));
        assert!(registry.pull(&unknown).unwrap_err().starts_with("manifest unknown"));
    }
}
