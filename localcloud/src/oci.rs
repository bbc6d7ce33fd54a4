//! Real OCI images for the local cloud's builds: the image's root directory (what the
//! Dockerfile's final stage adds: binaries, SHA256SUMS, the entrypoint, the user's home) packed as
//! one layer — a gzipped tar made the same way every time (sorted, time 0, numeric owners) — with
//! its configuration and manifest, pushed through the OCI distribution API to the registry on
//! loopback that stands for ECR's. The base image's layers and what the final stage's RUN would
//! add (adduser's /etc/passwd) are not in it: there is no container engine to run them.

use std::path::Path;

use pipeline::build::image::{self, Descriptor, ImageConfig, Manifest, ProcessConfig, RootFs};

/// An image ready to push: its layer, configuration and manifest, as bytes, and their digests.
pub struct OciImage {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl OciImage {
    pub fn digest(&self) -> String {
        image::digest_of(&self.manifest)
    }

    pub fn layer_digest(&self) -> String {
        image::digest_of(&self.layer)
    }
}

/// The layer of `root`: files under the user's `home` are the user's (COPY --chown), the rest
/// root's, as the Dockerfile's COPY instructions give them.
pub fn layer(root: &Path, user: &pipeline::build::recipe::ImageUser) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut paths = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths.sort();
    let home = user.home.trim_start_matches('/');
    let mut tar = tar::Builder::new(Vec::new());
    for path in paths {
        let name = path.strip_prefix(root).unwrap().to_string_lossy().to_string();
        let metadata = std::fs::metadata(&path).map_err(|e| format!("{name}: {e}"))?;
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_mode(metadata.permissions().mode() & 0o7777);
        let (uid, gid) =
            if name == home || name.starts_with(&format!("{home}/")) { (user.uid, user.gid) } else { (0, 0) };
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        if metadata.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{name}/"), std::io::empty()).map_err(|e| e.to_string())?;
        } else {
            let contents = std::fs::read(&path).map_err(|e| format!("{name}: {e}"))?;
            header.set_size(contents.len() as u64);
            tar.append_data(&mut header, &name, contents.as_slice()).map_err(|e| e.to_string())?;
        }
    }
    let tar = tar.into_inner().map_err(|e| e.to_string())?;
    use std::io::Write;
    let mut gzip = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::default());
    gzip.write_all(&tar).map_err(|e| e.to_string())?;
    gzip.finish().map_err(|e| e.to_string())
}

/// The image of `layer` with the runner's `config` and the Dockerfile's labels.
pub fn image(layer: Vec<u8>, config: &crate::image::ImageConfig, labels: &[(&str, String)]) -> OciImage {
    let diff_id = {
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(layer.as_slice()), &mut tar)
            .expect("our own gzip");
        image::digest_of(&tar)
    };
    let image_config = ImageConfig {
        architecture: crate::image::host_goarch(),
        os: "linux".into(),
        config: ProcessConfig {
            user: Some(format!("{}:{}", config.user.uid, config.user.gid)),
            entrypoint: Some(config.entrypoint.clone()),
            env: Some(vec![format!("PATH={}", config.path.join(":"))]),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()),
        },
        rootfs: RootFs { kind: "layers".into(), diff_ids: vec![diff_id] },
    };
    let config_bytes = serde_json::to_vec(&image_config).expect("a config serialises");
    let manifest = Manifest {
        schema_version: 2,
        media_type: image::MANIFEST_OCI.into(),
        config: Some(Descriptor {
            media_type: image::CONFIG_OCI.into(),
            digest: image::digest_of(&config_bytes),
            size: config_bytes.len() as u64,
            platform: None,
        }),
        layers: vec![Descriptor {
            media_type: image::LAYER_OCI_GZIP.into(),
            digest: image::digest_of(&layer),
            size: layer.len() as u64,
            platform: None,
        }],
        manifests: Vec::new(),
        annotations: labels
            .iter()
            .filter(|(k, _)| k.starts_with("org.opencontainers."))
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
    OciImage { layer, config: config_bytes, manifest }
}

/// Pushes `image` as `repository:tag` through the distribution API (blob uploads, then the
/// manifest), as `docker push` does.
pub async fn push(endpoint: &str, repository: &str, tag: &str, image: &OciImage) -> Result<(), String> {
    let http = reqwest::Client::new();
    let auth = "Basic bG9jYWw6bG9jYWw="; // the registry checks only that there is one (see registry.rs)
    for blob in [&image.layer, &image.config] {
        let digest = image::digest_of(blob);
        let started = http
            .post(format!("{endpoint}/v2/{repository}/blobs/uploads/"))
            .header("Authorization", auth)
            .send()
            .await
            .map_err(|e| format!("blob upload: {e}"))?;
        let location = started
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or(format!("blob upload: HTTP {} without a Location", started.status()))?
            .to_string();
        let location = if location.starts_with('/') { format!("{endpoint}{location}") } else { location };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = http
            .put(format!("{location}{separator}digest={digest}"))
            .header("Authorization", auth)
            .header("Content-Type", "application/octet-stream")
            .body(blob.clone())
            .send()
            .await
            .map_err(|e| format!("blob {digest}: {e}"))?;
        if !put.status().is_success() {
            return Err(format!("blob {digest}: HTTP {}: {}", put.status(), put.text().await.unwrap_or_default()));
        }
    }
    let put = http
        .put(format!("{endpoint}/v2/{repository}/manifests/{tag}"))
        .header("Authorization", auth)
        .header("Content-Type", image::MANIFEST_OCI)
        .body(image.manifest.clone())
        .send()
        .await
        .map_err(|e| format!("manifest: {e}"))?;
    match put.status().is_success() {
        true => Ok(()),
        false => Err(format!("manifest: HTTP {}: {}", put.status(), put.text().await.unwrap_or_default())),
    }
}
