//! What `sigship reproduce` decides and keeps: btcd and btcctl rebuilt from the signed source,
//! compared byte for byte (by SHA-256) with the binaries inside the image the service runs, beside
//! what the build itself recorded of them. The rebuild and the registry read are the CLI's; the
//! verdict is here, so `status` reads the same record the command wrote.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The binaries a rebuild compares, as the image holds them.
pub const BINARIES: [(&str, &str); 2] = [("btcd", "usr/local/bin/btcd"), ("btcctl", "usr/local/bin/btcctl")];

/// The image label that names the Go release its build used (the Dockerfile's LABEL).
pub const GO_LABEL: &str = "dev.sigship.go";

/// One binary: its SHA-256 rebuilt here, in the image, and in the build's own record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileComparison {
    pub file: String,
    pub rebuilt: String,
    /// None: the image holds no such file.
    pub image: Option<String>,
    /// What the build exported (the execution's `binaries`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
}

impl FileComparison {
    pub fn matches(&self) -> bool {
        self.image.as_deref() == Some(self.rebuilt.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every binary in the image is byte for byte the rebuild of the signed source.
    Match,
    /// At least one differs, or is missing.
    Mismatch,
}

/// What a reproduce found, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reproduced {
    /// The image's manifest digest (`sha256:…`).
    pub image: String,
    pub tag: String,
    pub commit: String,
    /// The Go release the rebuild used.
    pub go: String,
    pub verdict: Verdict,
    pub files: Vec<FileComparison>,
    /// Unix seconds.
    pub at: i64,
}

/// Compares each rebuilt binary (name → SHA-256 hex) with the image's and the build's record.
pub fn compare(
    rebuilt: &BTreeMap<String, String>,
    image: &BTreeMap<String, String>,
    recorded: &BTreeMap<String, String>,
) -> (Verdict, Vec<FileComparison>) {
    // btcd first, as the image lists them; anything else after.
    let mut order: Vec<(&String, &String)> = rebuilt.iter().collect();
    order.sort_by_key(|(file, _)| BINARIES.iter().position(|(name, _)| name == file).unwrap_or(BINARIES.len()));
    let files: Vec<FileComparison> = order
        .into_iter()
        .map(|(file, hash)| FileComparison {
            file: file.clone(),
            rebuilt: hash.clone(),
            image: image.get(file).cloned(),
            recorded: recorded.get(file).cloned(),
        })
        .collect();
    let verdict = match !files.is_empty() && files.iter().all(FileComparison::matches) {
        true => Verdict::Match,
        false => Verdict::Mismatch,
    };
    (verdict, files)
}

/// `sha256sum`/`shasum -a 256` output (`<hex>  <name>`, or `<hex> *<name>` in binary mode) →
/// name → hex: the image's SHA256SUMS and btcd's release manifest.
pub fn sums_of(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(hash, _)| hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        .map(|(hash, name)| (name.trim_start_matches([' ', '*']).trim_end().to_string(), hash.to_ascii_lowercase()))
        .collect()
}

/// A Go release name a label may give (`go1.26.8`): anything else is not passed to GOTOOLCHAIN.
pub fn is_go_release(name: &str) -> bool {
    let Some(version) = name.strip_prefix("go") else { return false };
    let parts: Vec<&str> = version.split('.').collect();
    (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

impl Reproduced {
    /// One line for `status`: the verdict, from what, and which file differs.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|f| f.file.as_str()).collect();
        match self.verdict {
            Verdict::Match => {
                format!("MATCH: {} rebuilt from {} with {} are the image's bytes", names.join(", "), self.tag, self.go)
            }
            Verdict::Mismatch => {
                let differ: Vec<&str> = self.files.iter().filter(|f| !f.matches()).map(|f| f.file.as_str()).collect();
                format!(
                    "MISMATCH: {} in the image {} not the rebuild of {} with {}",
                    differ.join(", "),
                    if differ.len() == 1 { "is" } else { "are" },
                    self.tag,
                    self.go
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_binary_must_be_the_rebuild_s_bytes() {
        let rebuilt = hashes(&[("btcd", "aa"), ("btcctl", "bb")]);
        let (verdict, files) = compare(&rebuilt, &hashes(&[("btcd", "aa"), ("btcctl", "bb")]), &BTreeMap::new());
        assert_eq!(verdict, Verdict::Match);
        assert!(files.iter().all(|f| f.recorded.is_none()));
        let (verdict, files) =
            compare(&rebuilt, &hashes(&[("btcd", "ab"), ("btcctl", "bb")]), &hashes(&[("btcd", "ab")]));
        assert_eq!(verdict, Verdict::Mismatch);
        let btcd = files.iter().find(|f| f.file == "btcd").unwrap();
        assert_eq!((btcd.image.as_deref(), btcd.recorded.as_deref()), (Some("ab"), Some("ab")));
        let (verdict, _) = compare(&rebuilt, &hashes(&[("btcd", "aa")]), &BTreeMap::new());
        assert_eq!(verdict, Verdict::Mismatch, "a binary missing from the image is a mismatch");
        assert_eq!(compare(&BTreeMap::new(), &BTreeMap::new(), &BTreeMap::new()).0, Verdict::Mismatch);
    }

    #[test]
    fn sums_read_as_sha256sum_and_shasum_write_them() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let sums = sums_of(&format!(
            "{a}  btcd\n{b} *btcd-linux-arm64-v0.24.2.tar.gz\nnot a line\n{}  short\n",
            "c".repeat(12)
        ));
        assert_eq!(sums.get("btcd"), Some(&a));
        assert_eq!(sums.get("btcd-linux-arm64-v0.24.2.tar.gz"), Some(&"b".repeat(64)));
        assert_eq!(sums.len(), 2);
    }

    #[test]
    fn only_a_go_release_name_reaches_gotoolchain() {
        assert!(is_go_release("go1.26.8") && is_go_release("go1.26"));
        for bad in ["1.26.8", "go1.26.8; rm -rf /", "go1..8", "local", "go1.26.8+auto", "go1.26rc1"] {
            assert!(!is_go_release(bad), "{bad}");
        }
    }

    #[test]
    fn status_names_the_verdict_and_what_differs() {
        let (verdict, files) = compare(
            &hashes(&[("btcd", "aa"), ("btcctl", "bb")]),
            &hashes(&[("btcd", "ff"), ("btcctl", "bb")]),
            &BTreeMap::new(),
        );
        let record = Reproduced {
            image: "sha256:1".into(),
            tag: "v0.24.2".into(),
            commit: "c".into(),
            go: "go1.26.8".into(),
            verdict,
            files,
            at: 1_796_000_000,
        };
        let line = record.describe();
        assert!(line.starts_with("MISMATCH: ") && line.contains("btcd in the image is not"), "{line}");
        let round_trip: Reproduced = serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(round_trip, record);
        assert!(serde_json::to_string(&record).unwrap().contains(r#""verdict":"MISMATCH""#));
    }
}
