//! The one simulated step. moto's CodeBuild records builds but compiles nothing, and btcd cannot
//! be compiled into an image here (no Docker engine). When a build starts, the simulator does what
//! the buildspec's checks and push would: it confirms the requested commit exists in the served
//! repository and equals SIGSHIP_COMMIT, then pushes an image manifest for SIGSHIP_IMAGE_TAG to
//! moto's ECR, labelled as simulated. moto reports the build SUCCEEDED on its first poll.

use std::path::PathBuf;

use bytes::Bytes;
use std::sync::Mutex;

use aws_sdk_ecr::error::ProvideErrorMetadata;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct SimulatedBuild {
    pub build_id: String,
    pub commit: String,
    pub image_tag: String,
    pub outcome: String,
    /// Why the build was made to fail (see [`crate::faults`]); None for a build that ran.
    pub failure: Option<String>,
}

pub struct Simulator {
    pub ecr: aws_sdk_ecr::Client,
    pub repository: String,
    /// The working copy the build would clone.
    pub source: PathBuf,
    pub builds: Mutex<Vec<SimulatedBuild>>,
}

impl Simulator {
    /// moto reports every build SUCCEEDED; the ones made to fail are reported as CodeBuild
    /// reports a failed build: status FAILED, phase COMPLETED, the BUILD phase FAILED with why.
    pub fn report_failures(&self, body: Bytes) -> Bytes {
        let failed: Vec<(String, String)> =
            self.builds.lock().unwrap().iter().filter_map(|b| Some((b.build_id.clone(), b.failure.clone()?))).collect();
        if failed.is_empty() {
            return body;
        }
        let mut answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        for build in answer["builds"].as_array_mut().into_iter().flatten() {
            let Some((_, reason)) = failed.iter().find(|(id, _)| build["id"] == id.as_str()) else { continue };
            build["buildStatus"] = "FAILED".into();
            build["currentPhase"] = "COMPLETED".into();
            build["buildComplete"] = true.into();
            build["phases"] = serde_json::json!([
                {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED"},
                {"phaseType": "PRE_BUILD", "phaseStatus": "SUCCEEDED"},
                {"phaseType": "BUILD", "phaseStatus": "FAILED",
                 "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": reason}]},
                {"phaseType": "COMPLETED"}
            ]);
        }
        Bytes::from(answer.to_string())
    }

    pub async fn build(&self, request: &[u8], response: &[u8], failure: Option<String>) {
        let request: Value = serde_json::from_slice(request).unwrap_or_default();
        let response: Value = serde_json::from_slice(response).unwrap_or_default();
        let build_id = response["build"]["id"].as_str().unwrap_or("?").to_string();
        let source_version = request["sourceVersion"].as_str().unwrap_or_default().to_string();
        let env: Vec<(String, String)> = request["environmentVariablesOverride"]
            .as_array()
            .map(|vars| {
                vars.iter()
                    .map(|v| {
                        (v["name"].as_str().unwrap_or_default().into(), v["value"].as_str().unwrap_or_default().into())
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(reason) = failure {
            println!("  [SIMULATED CodeBuild] build {build_id}: FAILED (injected): {reason}");
            // A build that ends FAILED (its BUILD phase, with `reason` as CodeBuild's context
            // message): nothing is pushed.
            self.builds.lock().unwrap().push(SimulatedBuild {
                build_id,
                commit: String::new(),
                image_tag: String::new(),
                outcome: format!("FAILED: {reason}"),
                failure: Some(reason),
            });
            return;
        }
        let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let (commit, image_tag, version) = (
            var(pipeline::build::BUILD_ENV_COMMIT),
            var(pipeline::build::BUILD_ENV_IMAGE_TAG),
            var(pipeline::build::BUILD_ENV_VERSION),
        );
        let outcome = self.push(&source_version, &commit, &image_tag, &version).await;
        println!(
            "  [SIMULATED CodeBuild] build {build_id}: commit {commit} → {}:{image_tag}: {outcome}",
            self.repository
        );
        self.builds.lock().unwrap().push(SimulatedBuild { build_id, commit, image_tag, outcome, failure: None });
    }

    async fn push(&self, source_version: &str, commit: &str, image_tag: &str, version: &str) -> String {
        // CodeBuild's `<ref>^{<commit>}`: fetch the ref, check out the commit, which the ref
        // must reach (here: the commit the tag names). Anything else is not checked out.
        let Some((reference, wanted)) =
            source_version.strip_suffix('}').and_then(|v| v.split_once("^{")).filter(|(r, _)| r.starts_with("refs/"))
        else {
            return format!("not pushed: sourceVersion {source_version:?} is not <ref>^{{<commit>}}");
        };
        let resolved = std::process::Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")])
            .current_dir(&self.source)
            .output();
        let resolved =
            resolved.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if resolved.as_deref() != Some(wanted) {
            return format!("not pushed: {reference} gives {resolved:?}, not the requested {wanted}");
        }
        // The buildspec's guard: HEAD after checkout must be exactly the verified commit.
        if wanted != commit || commit.is_empty() {
            return format!("not pushed: HEAD would be {wanted}, the verified commit is {commit:?}");
        }
        // Real digests of what stands in for the image: a config carrying the OCI labels the
        // Dockerfile sets, and one layer naming the commit (moto derives the image digest from
        // the layer digests, so each commit gets its own).
        let config = serde_json::json!({
            "architecture": "arm64",
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.revision": commit, "org.opencontainers.image.version": version}}
        })
        .to_string();
        let layer = format!("simulated build of {commit} ({version})");
        let sha = |bytes: &[u8]| format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config.as_bytes()), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer.as_bytes()), "size": layer.len()}],
            "annotations": {
                "org.opencontainers.image.revision": commit,
                "org.opencontainers.image.version": version,
                "dev.sigship.simulated": "local cloud: manifest only, btcd was not compiled"
            }
        });
        match self
            .ecr
            .put_image()
            .repository_name(&self.repository)
            .image_tag(image_tag)
            .image_manifest(manifest.to_string())
            .image_manifest_media_type("application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
        {
            Ok(pushed) => format!(
                "pushed {}",
                pushed.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()).unwrap_or("?")
            ),
            Err(e) => format!("push failed: {}", e.code().unwrap_or("?")),
        }
    }
}
