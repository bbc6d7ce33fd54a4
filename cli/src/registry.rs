//! The image registry behind ECR, read through the OCI distribution API (no Docker): ECR's
//! GetAuthorizationToken gives the endpoint and a token for HTTP Basic; manifests and blobs are
//! fetched by digest and each checked against the digest that named it, so nothing the registry
//! (or the path to it) changes goes unnoticed. Layers are read in order, whiteouts honoured, for
//! the few files `reproduce` compares.

use std::collections::BTreeMap;
use std::io::Read;

use pipeline::build::image::{self, ImageConfig, LayerPacking, Manifest};

use crate::error::{Error, Result};

pub struct Registry {
    http: reqwest::Client,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com` (http only on loopback).
    endpoint: String,
    /// `Basic <base64 of AWS:<password>>`, as ECR's token is.
    authorization: String,
}

/// An image pulled far enough to compare: its configuration and the files asked for.
pub struct Pulled {
    pub config: ImageConfig,
    /// Image path (`usr/local/bin/btcd`) → contents; a path absent from the image is absent here.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Registry {
    /// The account's registry, as ECR's GetAuthorizationToken names it.
    pub async fn of_ecr(sdk: &aws_config::SdkConfig) -> Result<Self> {
        let answer = aws_sdk_ecr::Client::new(sdk)
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| Error::aws("ecr:GetAuthorizationToken", e))?;
        let data = answer.authorization_data().first().ok_or_else(|| missing("authorizationData"))?;
        let endpoint = data.proxy_endpoint().ok_or_else(|| missing("proxyEndpoint"))?.trim_end_matches('/');
        let token = data.authorization_token().ok_or_else(|| missing("authorizationToken"))?;
        Self::new(endpoint, &format!("Basic {token}"))
    }

    pub fn new(endpoint: &str, authorization: &str) -> Result<Self> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| registry(endpoint, format!("not a URL: {e}")))?;
        if !pipeline::verify::fetch::is_secure_http(url.scheme(), url.host_str()) {
            return Err(registry(
                endpoint,
                "plain http is only allowed on loopback; the registry must be https".into(),
            ));
        }
        // Blobs may answer with a redirect to a presigned S3 address; reqwest drops the
        // Authorization header when a redirect leaves the host, as S3 requires.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| registry(endpoint, e.to_string()))?;
        Ok(Registry { http, endpoint: endpoint.to_string(), authorization: authorization.to_string() })
    }

    /// The image `repository@digest` (an index is followed to its one Linux image; attestation
    /// manifests name no platform): its configuration and the files at `paths`.
    pub async fn pull(&self, repository: &str, digest: &str, paths: &[&str]) -> Result<Pulled> {
        let mut manifest = self.manifest(repository, digest).await?;
        if manifest.is_index() {
            let chosen = manifest.linux_image().ok_or_else(|| {
                registry(&self.endpoint, format!("{repository}@{digest} is an index of no single Linux image"))
            })?;
            let digest = chosen.digest.clone();
            manifest = self.manifest(repository, &digest).await?;
        }
        let config = manifest.config.as_ref().ok_or_else(|| unreadable("the manifest names no configuration"))?;
        let config: ImageConfig = serde_json::from_slice(&self.blob(repository, &config.digest).await?)
            .map_err(|e| unreadable(&format!("the image configuration: {e}")))?;
        let mut files = BTreeMap::new();
        for layer in &manifest.layers {
            let packing = image::layer_packing(&layer.media_type).map_err(Error::Pipeline)?;
            let bytes = self.blob(repository, &layer.digest).await?;
            read_tar(&bytes, packing, paths, &mut files)?;
        }
        Ok(Pulled { config, files })
    }

    async fn manifest(&self, repository: &str, digest: &str) -> Result<Manifest> {
        let url = format!("{}/v2/{repository}/manifests/{digest}", self.endpoint);
        let bytes = self.get(&url, &image::MANIFEST_ACCEPT.join(", ")).await?;
        image::check_digest("manifest", digest, &bytes).map_err(Error::Pipeline)?;
        serde_json::from_slice(&bytes).map_err(|e| unreadable(&format!("manifest {digest}: {e}")))
    }

    async fn blob(&self, repository: &str, digest: &str) -> Result<Vec<u8>> {
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.endpoint);
        let bytes = self.get(&url, "*/*").await?;
        image::check_digest("blob", digest, &bytes).map_err(Error::Pipeline)?;
        Ok(bytes)
    }

    async fn get(&self, url: &str, accept: &str) -> Result<Vec<u8>> {
        let answer = self
            .http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(|e| registry(url, e.to_string()))?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            return Err(registry(url, format!("HTTP {status}: {}", body.chars().take(300).collect::<String>())));
        }
        Ok(answer.bytes().await.map_err(|e| registry(url, e.to_string()))?.to_vec())
    }
}

/// Reads one layer (or any tar) into `files`: a wanted path in it replaces the one below; its
/// whiteout (or an opaque whiteout of its directory) removes it.
pub fn read_tar(
    bytes: &[u8],
    packing: LayerPacking,
    paths: &[&str],
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    let reader: Box<dyn Read + '_> = match packing {
        LayerPacking::Tar => Box::new(bytes),
        LayerPacking::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| unreadable(&format!("layer: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(&format!("layer: {e}")))?;
        let path = entry.path().map_err(|e| unreadable(&format!("layer: {e}")))?.to_string_lossy().to_string();
        let path = image::layer_path(&path).to_string();
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        if name == image::OPAQUE_WHITEOUT {
            files.retain(|wanted, _| !wanted.starts_with(&format!("{dir}/")));
        } else if let Some(removed) = name.strip_prefix(image::WHITEOUT_PREFIX) {
            let removed = if dir.is_empty() { removed.to_string() } else { format!("{dir}/{removed}") };
            files.retain(|wanted, _| *wanted != removed && !wanted.starts_with(&format!("{removed}/")));
        } else if paths.contains(&path.as_str()) && entry.header().entry_type().is_file() {
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).map_err(|e| unreadable(&format!("layer, {path}: {e}")))?;
            files.insert(path, contents);
        }
    }
    Ok(())
}

fn registry(at: &str, reason: String) -> Error {
    Error::Registry { at: at.to_string(), reason }
}

fn unreadable(reason: &str) -> Error {
    Error::Pipeline(pipeline::Error::ImageUnreadable { reason: reason.to_string() })
}

fn missing(field: &str) -> Error {
    Error::Aws { operation: "ecr:GetAuthorizationToken", message: format!("the answer has no {field}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o755);
            header.set_cksum();
            builder.append_data(&mut header, path, *contents).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn later_layers_replace_and_whiteouts_remove_what_is_below() {
        let wanted = ["usr/local/bin/btcd", "usr/local/bin/btcctl"];
        let mut files = BTreeMap::new();
        let first = layer(&[("usr/local/bin/btcd", b"one"), ("usr/local/bin/btcctl", b"ctl"), ("etc/x", b"x")]);
        read_tar(&first, LayerPacking::Tar, &wanted, &mut files).unwrap();
        assert_eq!(files.len(), 2, "only the wanted paths: {:?}", files.keys());
        let second = gzip(&layer(&[("./usr/local/bin/btcd", b"two"), ("usr/local/bin/.wh.btcctl", b"")]));
        read_tar(&second, LayerPacking::Gzip, &wanted, &mut files).unwrap();
        assert_eq!(files.get("usr/local/bin/btcd").map(Vec::as_slice), Some(&b"two"[..]));
        assert!(!files.contains_key("usr/local/bin/btcctl"), "the whiteout removed it");
        let opaque = layer(&[("usr/local/bin/.wh..wh..opq", b"")]);
        read_tar(&opaque, LayerPacking::Tar, &wanted, &mut files).unwrap();
        assert!(files.is_empty(), "an opaque whiteout empties the directory");
    }

    #[test]
    fn a_registry_over_plain_http_is_refused_unless_on_loopback() {
        assert!(Registry::new("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "Basic x").is_ok());
        assert!(Registry::new("http://127.0.0.1:5000", "Basic x").is_ok());
        let err = Registry::new("http://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "Basic x").err().unwrap();
        assert!(err.to_string().contains("only allowed on loopback"), "{err}");
    }
}
