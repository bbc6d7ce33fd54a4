//! OCI images as a registry serves them (the OCI image and distribution specifications, which
//! Docker's v2 schema matches field for field): the manifest, the configuration and the layers'
//! media types. The local cloud's build writes images of these types; `sigship reproduce` reads
//! the image the service runs with them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MANIFEST_OCI: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MANIFEST_DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const INDEX_OCI: &str = "application/vnd.oci.image.index.v1+json";
pub const INDEX_DOCKER: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const CONFIG_OCI: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_OCI_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const LAYER_DOCKER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What a registry is asked to answer for a manifest (an index is followed to the platform's).
pub const MANIFEST_ACCEPT: [&str; 4] = [MANIFEST_OCI, MANIFEST_DOCKER, INDEX_OCI, INDEX_DOCKER];

/// A blob as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
}

/// An image manifest, or an index of them (multi-platform images, attestations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Descriptor>,
    /// An index's manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        self.media_type == INDEX_OCI || self.media_type == INDEX_DOCKER || !self.manifests.is_empty()
    }

    /// An index's one Linux image (BuildKit adds attestation manifests for `unknown/unknown`);
    /// None when it has none, or several: which one runs is then not the index's to say.
    pub fn linux_image(&self) -> Option<&Descriptor> {
        let mut linux = self
            .manifests
            .iter()
            .filter(|m| m.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture != "unknown"));
        match (linux.next(), linux.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

/// The image configuration: platform, the process it starts, labels, and the layers' digests
/// uncompressed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub config: ProcessConfig,
    #[serde(default)]
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ImageConfig {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.config.labels.as_ref()?.get(name).map(String::as_str)
    }
}

/// How a layer's bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerPacking {
    Tar,
    Gzip,
}

/// A layer media type sigship can read; others (zstd, foreign layers) are refused by name.
pub fn layer_packing(media_type: &str) -> Result<LayerPacking> {
    match media_type {
        LAYER_OCI_TAR => Ok(LayerPacking::Tar),
        LAYER_OCI_GZIP | LAYER_DOCKER_GZIP => Ok(LayerPacking::Gzip),
        other => Err(Error::ImageUnreadable { reason: format!("layer media type {other} is not one sigship reads") }),
    }
}

/// `sha256:<hex>` of `bytes`: a blob's and a manifest's digest.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// The SHA-256 of `bytes` in hex, as `sha256sum` prints it (a binary's, an archive's).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `bytes` are the blob `digest` names, or the registry answered something else.
pub fn check_digest(what: &str, digest: &str, bytes: &[u8]) -> Result<()> {
    let found = digest_of(bytes);
    match found == digest {
        true => Ok(()),
        false => Err(Error::ImageUnreadable { reason: format!("{what}: the registry answered {found} for {digest}") }),
    }
}

/// A path in a layer as the image holds it (`usr/local/bin/btcd`), and the whiteout that deletes it.
pub fn layer_path(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

/// The whiteout file name that removes `name` from the layers below (`.wh.<name>`).
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The whiteout that empties a directory of the layers below.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_manifest_and_an_index_read_as_the_registry_serves_them() {
        let manifest: Manifest = serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_DOCKER}",
               "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:c","size":7}},
               "layers":[{{"mediaType":"{LAYER_DOCKER_GZIP}","digest":"sha256:l","size":9}}]}}"#
        ))
        .unwrap();
        assert!(!manifest.is_index());
        assert_eq!(layer_packing(&manifest.layers[0].media_type).unwrap(), LayerPacking::Gzip);
        let index: Manifest = serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"mediaType":"{INDEX_OCI}","manifests":[
               {{"mediaType":"{MANIFEST_OCI}","digest":"sha256:a","size":1,"platform":{{"architecture":"unknown","os":"unknown"}}}},
               {{"mediaType":"{MANIFEST_OCI}","digest":"sha256:b","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#
        ))
        .unwrap();
        assert!(index.is_index());
        assert_eq!(index.linux_image().unwrap().digest, "sha256:b", "the attestation is not an image");
        let mut two = index.clone();
        two.manifests[0].platform = Some(Platform { architecture: "amd64".into(), os: "linux".into() });
        assert!(two.linux_image().is_none(), "two platforms: not the index's to choose");
        let zstd = layer_packing("application/vnd.oci.image.layer.v1.tar+zstd").unwrap_err();
        assert_eq!(zstd.name(), "ImageUnreadable");
    }

    #[test]
    fn a_blob_is_checked_against_the_digest_that_named_it() {
        let digest = digest_of(b"layer");
        assert!(check_digest("layer", &digest, b"layer").is_ok());
        let err = check_digest("layer", &digest, b"layeR").unwrap_err().to_string();
        assert!(err.contains(&digest) && err.contains(&digest_of(b"layeR")), "{err}");
    }
}
