//! What `sigship up` uploads. The template is the list: every `${ArtifactsPrefix}…` key it
//! references is produced from the checkout, so template and uploader cannot drift apart.
//! Keys live under `<stack>/<content hash>/`, so any change to code, trust root, state machine
//! or buildspec is a new key CloudFormation sees (it does not re-read an unchanged key).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const TEMPLATE_KEY: &str = "template.yaml";
const PREFIX_PARAMETER: &str = "${ArtifactsPrefix}";
const TRUST_ROOT_DIR: &str = "trust-root/";

/// Where `sigship up` finds what it uploads.
pub struct Checkout {
    /// The repository root: `infrastructure/`, `statemachine/`, `source/`.
    pub root: PathBuf,
    /// `cargo lambda build --release --arm64 --output-format zip` output: `<name>/bootstrap.zip`.
    pub functions: PathBuf,
    pub trust_root: PathBuf,
}

impl Checkout {
    pub fn template_path(&self) -> PathBuf {
        self.root.join("infrastructure/sigship.yaml")
    }
}

pub struct Artifact {
    /// Relative to the release prefix.
    pub key: String,
    pub bytes: Vec<u8>,
}

pub struct Release {
    /// `<stack>/<16 hex digits of the content hash>/`
    pub prefix: String,
    pub artifacts: Vec<Artifact>,
}

impl Release {
    pub fn size(&self) -> usize {
        self.artifacts.iter().map(|a| a.bytes.len()).sum()
    }
}

/// The artifact keys the template references; directories end in `/`. Policy globs (`*`) are not
/// artifacts and are skipped.
pub fn referenced_keys(template: &str) -> Vec<String> {
    let mut keys: Vec<String> = template
        .split(PREFIX_PARAMETER)
        .skip(1)
        .map(|rest| rest.split(['"', '\'', '\n', ' ']).next().unwrap_or_default())
        .filter(|key| !key.is_empty() && !key.contains('*'))
        .map(str::to_string)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The template parameter that pins an artifact's S3 object version, for the artifacts read
/// from the bucket after `sigship up` (Lambda code, the state machine, the build's source):
/// `functions/tag-push.zip` → `TagPushCodeVersion`. The trust root is pinned by its SHA-256
/// instead (`TrustRootSha256`: the functions read a directory of files), the template by the
/// version in its URL.
pub fn version_parameter(key: &str) -> Option<String> {
    if let Some(name) = key.strip_prefix("functions/").and_then(|k| k.strip_suffix(".zip")) {
        let camel: String = name.split('-').map(|word| word[..1].to_uppercase() + &word[1..]).collect();
        return Some(format!("{camel}CodeVersion"));
    }
    match key {
        "source.zip" => Some("BuildSourceVersion".into()),
        "statemachine/sigship.asl.json" => Some("StateMachineVersion".into()),
        _ => None,
    }
}

/// The SHA-256 of the trust root the stack pins (`TrustRootSha256`), as the functions compute it.
pub fn trust_root_sha256(checkout: &Checkout) -> Result<String> {
    Ok(pipeline::verify::trust::digest(&files_in(&checkout.trust_root)?))
}

/// Reads everything the template references from the checkout.
pub fn collect(checkout: &Checkout, stack: &str) -> Result<Release> {
    let template_path = checkout.template_path();
    let template = std::fs::read_to_string(&template_path).map_err(|e| Error::io(template_path.display(), e))?;
    let mut artifacts = vec![Artifact { key: TEMPLATE_KEY.into(), bytes: template.clone().into_bytes() }];
    for key in referenced_keys(&template) {
        artifacts.extend(produce(checkout, &key)?);
    }
    artifacts.sort_by(|a, b| a.key.cmp(&b.key));

    let mut hash = Sha256::new();
    for artifact in &artifacts {
        hash.update(artifact.key.as_bytes());
        hash.update((artifact.bytes.len() as u64).to_be_bytes());
        hash.update(&artifact.bytes);
    }
    let digest = hex::encode(hash.finalize());
    Ok(Release { prefix: format!("{stack}/{}/", &digest[..16]), artifacts })
}

fn produce(checkout: &Checkout, key: &str) -> Result<Vec<Artifact>> {
    if key == TRUST_ROOT_DIR {
        return Ok(files_in(&checkout.trust_root)?
            .into_iter()
            .map(|(name, bytes)| Artifact { key: format!("{TRUST_ROOT_DIR}{name}"), bytes })
            .collect());
    }
    if let Some(name) = key.strip_prefix("functions/").and_then(|k| k.strip_suffix(".zip")) {
        let path = checkout.functions.join(name).join("bootstrap.zip");
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::ArtifactMissing(format!(
                "{}: {e}; build the functions first: cargo lambda build --release --arm64 --output-format zip",
                path.display()
            ))
        })?;
        return Ok(vec![Artifact { key: key.into(), bytes }]);
    }
    if let Some(dir) = key.strip_suffix(".zip") {
        return Ok(vec![Artifact { key: key.into(), bytes: zip_dir(&checkout.root.join(dir))? }]);
    }
    let path = checkout.root.join(key);
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::ArtifactMissing(format!("the template references {key}, but {}: {e}", path.display())))?;
    Ok(vec![Artifact { key: key.into(), bytes }])
}

/// The regular files directly in `dir`, sorted by name.
fn files_in(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::ArtifactMissing(format!("{}: {e}", dir.display())))? {
        let path = entry.map_err(|e| Error::io(dir.display(), e))?.path();
        if path.is_file() {
            let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
            files.push((name, std::fs::read(&path).map_err(|e| Error::io(path.display(), e))?));
        }
    }
    files.sort();
    Ok(files)
}

/// A zip of `dir`'s files with fixed timestamps and order: the same files give the same bytes,
/// so an unchanged checkout gives an unchanged release.
fn zip_dir(dir: &Path) -> Result<Vec<u8>> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).unix_permissions(0o644);
    let zip_error = |e: zip::result::ZipError| Error::Io(format!("zipping {}: {e}", dir.display()));
    for (name, bytes) in files_in(dir)? {
        writer.start_file(name, options).map_err(zip_error)?;
        writer.write_all(&bytes).map_err(|e| Error::io(dir.display(), e))?;
    }
    Ok(writer.finish().map_err(zip_error)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_template_references_only_what_up_produces() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let template = std::fs::read_to_string(root.join("infrastructure/sigship.yaml")).unwrap();
        let keys = referenced_keys(&template);
        for name in pipeline::FUNCTIONS {
            assert!(keys.contains(&format!("functions/{name}.zip")), "{keys:?}");
        }
        for key in ["trust-root/", "source.zip", "statemachine/sigship.asl.json"] {
            assert!(keys.contains(&key.to_string()), "{key} not in {keys:?}");
        }
        // Everything read from the bucket after `up` is pinned: each artifact but the trust root
        // (pinned by digest) and the template (by its URL) names its version parameter, which
        // the template declares and uses.
        for key in keys.iter().filter(|k| *k != "trust-root/") {
            let parameter = version_parameter(key).unwrap_or_else(|| panic!("{key} is not pinned"));
            assert!(template.contains(&format!("\n  {parameter}:\n    Type: String\n")), "{parameter} not declared");
            assert!(template.contains(&format!("!Ref {parameter}\n")), "{parameter} not used");
        }
        assert!(template.contains("SIGSHIP_TRUST_ROOT_SHA256: !Ref TrustRootSha256"));
        // Every other key must be a file in the checkout (the last rule of `produce`).
        for key in keys.iter().filter(|k| !k.starts_with("functions/") && *k != "trust-root/" && !k.ends_with(".zip")) {
            assert!(root.join(key).is_file(), "the template references {key}, which is not in the checkout");
        }
    }

    #[test]
    fn the_bootstrap_image_builds_every_function_the_template_deploys() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let template = std::fs::read_to_string(root.join("infrastructure/sigship.yaml")).unwrap();
        let dockerfile = std::fs::read_to_string(root.join("infrastructure/Dockerfile")).unwrap();
        let functions: Vec<String> = referenced_keys(&template)
            .iter()
            .filter_map(|k| k.strip_prefix("functions/")?.strip_suffix(".zip").map(str::to_string))
            .collect();
        assert_eq!(functions.len(), pipeline::FUNCTIONS.len(), "{functions:?}");
        for name in functions {
            assert!(dockerfile.contains(&format!("-p {name} ")), "infrastructure/Dockerfile does not build {name}");
        }
    }

    #[test]
    fn globs_and_other_parameters_are_not_artifacts() {
        let template = r#"
          A: !Sub "arn:aws:s3:::${ArtifactsBucket}/${ArtifactsPrefix}trust-root/*"
          B: !Sub "${ArtifactsPrefix}functions/verify.zip"
          C: !Sub "s3://${ArtifactsBucket}/${ArtifactsPrefix}trust-root/"
          D: !Sub "${ArtifactsBucket}/${ArtifactsPrefix}source*"
        "#;
        assert_eq!(referenced_keys(template), ["functions/verify.zip", "trust-root/"]);
    }

    #[test]
    fn the_same_checkout_gives_the_same_release_and_any_change_a_new_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, text) in [
            ("infrastructure/sigship.yaml", "K: !Sub \"${ArtifactsPrefix}functions/f.zip\"\nL: !Sub \"${ArtifactsPrefix}source.zip\"\nM: !Sub \"${ArtifactsPrefix}trust-root/\"\n"),
            ("source/Dockerfile", "FROM scratch\n"),
            ("lambda/f/bootstrap.zip", "zip"),
            ("trust/policy.toml", "threshold = 1\n"),
        ] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), text).unwrap();
        }
        let checkout =
            Checkout { root: root.to_path_buf(), functions: root.join("lambda"), trust_root: root.join("trust") };
        let first = collect(&checkout, "s").unwrap();
        let keys: Vec<&str> = first.artifacts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["functions/f.zip", "source.zip", "template.yaml", "trust-root/policy.toml"]);
        assert_eq!(collect(&checkout, "s").unwrap().prefix, first.prefix, "zips are reproducible");

        std::fs::write(root.join("trust/policy.toml"), "threshold = 2\n").unwrap();
        let changed = collect(&checkout, "s").unwrap();
        assert_ne!(changed.prefix, first.prefix);
        assert!(changed.prefix.starts_with("s/") && changed.prefix.len() == "s/".len() + 17, "{}", changed.prefix);

        std::fs::remove_file(root.join("lambda/f/bootstrap.zip")).unwrap();
        let Err(Error::ArtifactMissing(message)) = collect(&checkout, "s") else {
            panic!("a missing zip must be named")
        };
        assert!(message.contains("cargo lambda build --release --arm64 --output-format zip"), "{message}");
    }
}
