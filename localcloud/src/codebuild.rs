//! The local CodeBuild. moto records builds but runs none; here a StartBuild of the stack's
//! project runs what the buildspec and the Dockerfile's build stage run, for real: it checks out
//! `sourceVersion` (`<ref>^{<commit>}`) from the served repository, refuses unless HEAD is the
//! verified commit, runs `go-version.sh` from the uploaded `source.zip` on that commit's go.mod, and
//! compiles btcd and btcctl with the Dockerfile's RUN and ENV (`GOTOOLCHAIN=local`, this machine's
//! GOARCH; modules through the Go proxy, cached in the user's Go caches between runs). Then it
//! pushes a real OCI image — one layer of what the final stage adds (see [`crate::oci`]; no
//! container engine runs the base image or the final stage's RUN: that assembly is SIMULATED) —
//! to the registry on loopback and its manifest to moto's ECR under the same digest; the layer's
//! files stay in the [`ImageStore`] for the local Fargate.
//! BatchGetBuilds reports each build as CodeBuild would: IN_PROGRESS while it runs, then
//! SUCCEEDED or FAILED with the failing phase's message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_sdk_ecr::error::ProvideErrorMetadata;
use bytes::Bytes;
use serde_json::Value;

use pipeline::build::recipe::{Dockerfile, Target};

use crate::image::ImageConfig;

/// Built images by layer digest: each a directory holding the image's files, its configuration,
/// and its layer as the registry serves it. What ECR's manifests name, the task runner finds here.
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    pub fn new(root: PathBuf) -> Self {
        std::fs::create_dir_all(&root).unwrap();
        ImageStore { root }
    }

    /// Files a built root directory under its layer's digest; returns the digest.
    pub fn add(&self, built: &Path, config: &ImageConfig) -> Result<String, String> {
        let layer = crate::oci::layer(built, &config.user)?;
        let digest = pipeline::build::image::digest_of(&layer);
        let target = self.root.join(digest.replace(':', "-"));
        if !target.exists() {
            std::fs::rename(built, &target).map_err(|e| format!("image store: {e}"))?;
        }
        std::fs::write(target.with_extension("layer"), &layer).map_err(|e| format!("image store: {e}"))?;
        let config = serde_json::to_string(config).unwrap();
        std::fs::write(target.with_extension("json"), config).map_err(|e| format!("image store: {e}"))?;
        Ok(digest)
    }

    /// The root directory and configuration of the image whose layer is `digest`.
    pub fn get(&self, digest: &str) -> Option<(PathBuf, ImageConfig)> {
        let root = self.root.join(digest.replace(':', "-"));
        let config = std::fs::read_to_string(root.with_extension("json")).ok()?;
        Some((root, serde_json::from_str(&config).ok()?))
    }

    /// The layer (gzipped tar) of the image whose layer is `digest`.
    pub fn layer(&self, digest: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.root.join(digest.replace(':', "-")).with_extension("layer"))
            .map_err(|e| format!("layer {digest}: {e}"))
    }

    /// The image's `/usr/local/share/btcd/SHA256SUMS` as the buildspec exports it:
    /// `btcd=<hex> btcctl=<hex>` (empty when the image has none).
    pub fn binaries(&self, digest: &str) -> String {
        let sums = self.root.join(digest.replace(':', "-")).join("usr/local/share/btcd/SHA256SUMS");
        let sums = std::fs::read_to_string(sums).unwrap_or_default();
        let pairs: Vec<String> = sums
            .lines()
            .filter_map(|line| line.split_once("  "))
            .map(|(hash, name)| format!("{name}={hash}"))
            .collect();
        pairs.join(" ")
    }

    /// A scratch directory on the store's file system (renamed into place by [`add`](Self::add)).
    pub fn scratch(&self) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(".build-").tempdir_in(&self.root).unwrap()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BuildStatus {
    InProgress,
    Succeeded {
        digest: String,
        /// The base images as pulled (`reference@digest`, space-separated).
        pulled: String,
        /// The image's SHA256SUMS as the buildspec exports it (`btcd=<hex> btcctl=<hex>`).
        binaries: String,
        /// The Go release and platform, as the buildspec exports them (`go1.26.8 linux/amd64`).
        built_with: String,
    },
    /// The phase that failed and why.
    Failed {
        phase: &'static str,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Build {
    pub build_id: String,
    pub commit: String,
    pub image_tag: String,
    pub status: BuildStatus,
    /// Why the build was made to fail (see [`crate::faults`]); None for a build that ran.
    pub injected: Option<String>,
    /// What CodeBuild records of how it was started (see [`recorded`]).
    pub record: Value,
}

pub struct CodeBuild {
    /// As the project's service role.
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
    /// The secondary source `sigship`: source.zip's bucket, key and the object version the
    /// project pins (SecondarySourceVersions).
    pub sigship_source: (String, String, String),
    pub repository: String,
    /// The repository the project's source location names (the local git server's).
    pub source: PathBuf,
    pub images: Arc<ImageStore>,
    /// Build logs (`codebuild-<id>.log`).
    pub logs: PathBuf,
    pub builds: Mutex<Vec<Build>>,
    /// The project as BatchGetProjects answers (see [`project_record`]).
    pub project: Value,
    /// Where the base images are pulled from.
    pub base_images: Arc<crate::base_images::BaseImageRegistry>,
    /// The registry behind ECR (see [`crate::registry`]), where images are pushed.
    pub registry: String,
}

/// What a build environment does to what it compiles, besides compiling it: the ways the local
/// cloud plays a build that is not what sigship's buildspec and Dockerfile make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tampering {
    /// Another buildspec ran (someone's StartBuild): planted in the image.
    ForeignBuildspec(String),
    /// The build environment changed one byte of btcd after the compile, and wrote SHA256SUMS to
    /// agree (a poisoned build image, a compromised build host).
    ChangedByte,
}

impl CodeBuild {
    /// Starts the build StartBuild asked for (its request, moto's answer and who signed it) in
    /// the background; returns the answer with what CodeBuild records of the build.
    pub fn start(
        self: &Arc<Self>,
        request: &[u8],
        response: Bytes,
        initiator: &str,
        injected: Option<String>,
        tampered: bool,
    ) -> Bytes {
        let request: Value = serde_json::from_slice(request).unwrap_or_default();
        let mut response: Value = serde_json::from_slice(&response).unwrap_or_default();
        let record = recorded(&self.project, &request, initiator);
        merge(&mut response["build"], &record);
        let build_id = response["build"]["id"].as_str().unwrap_or("?").to_string();
        let var = |name: &str| {
            request["environmentVariablesOverride"]
                .as_array()
                .and_then(|vars| vars.iter().find(|v| v["name"] == name))
                .and_then(|v| v["value"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        let (commit, image_tag, version, base_images) = (
            var(pipeline::build::BUILD_ENV_COMMIT),
            var(pipeline::build::BUILD_ENV_IMAGE_TAG),
            var(pipeline::build::BUILD_ENV_VERSION),
            var(pipeline::build::BUILD_ENV_BASE_IMAGES),
        );
        let source_version = request["sourceVersion"].as_str().unwrap_or_default().to_string();
        // btcd's source holds no buildspec.yml and the project names none: a build without a
        // buildspec fails. Another buildspec than sigship's runs, as in AWS, with the build role:
        // here its steps are sigship's, plus the buildspec itself planted in the image — what it
        // changes, standing for whatever such a buildspec would change.
        let (refused, foreign) = match request["buildspecOverride"].as_str() {
            Some(buildspec) if buildspec == pipeline::build::BUILDSPEC => {
                (None, tampered.then_some(Tampering::ChangedByte))
            }
            Some(buildspec) => (None, Some(Tampering::ForeignBuildspec(buildspec.to_string()))),
            None => (
                Some("YAML_FILE_ERROR: no buildspec (the project names none; btcd's source has none)".to_string()),
                None,
            ),
        };
        let build = Build {
            build_id: build_id.clone(),
            commit: commit.clone(),
            image_tag: image_tag.clone(),
            status: BuildStatus::InProgress,
            injected: injected.clone(),
            record,
        };
        self.builds.lock().unwrap().push(build);
        let this = self.clone();
        tokio::spawn(async move {
            let status = match (refused, injected) {
                (Some(reason), _) => {
                    println!("  [local CodeBuild] build {build_id}: FAILED in DOWNLOAD_SOURCE: {reason}");
                    BuildStatus::Failed { phase: "DOWNLOAD_SOURCE", reason }
                }
                (None, Some(reason)) => {
                    println!("  [local CodeBuild] build {build_id}: FAILED (injected): {reason}");
                    BuildStatus::Failed { phase: "BUILD", reason }
                }
                (None, None) => {
                    let asked = Asked { source_version, commit, image_tag, version, base_images, tampering: foreign };
                    this.run(&build_id, &asked).await
                }
            };
            for build in this.builds.lock().unwrap().iter_mut().filter(|b| b.build_id == build_id) {
                build.status = status.clone();
            }
        });
        Bytes::from(response.to_string())
    }

    async fn run(&self, build_id: &str, asked: &Asked) -> BuildStatus {
        let Asked { source_version, commit, image_tag: tag, version, .. } = asked;
        let (source_version, commit, tag, version) =
            (source_version.as_str(), commit.as_str(), tag.as_str(), version.as_str());
        let started = std::time::Instant::now();
        let log_path = self.logs.join(format!("codebuild-{}.log", build_id.rsplit(':').next().unwrap_or(build_id)));
        let sigship = match self.sigship_source().await {
            Ok(dir) => dir,
            Err(reason) => return BuildStatus::Failed { phase: "DOWNLOAD_SOURCE", reason },
        };
        let (source, images) = (self.source.clone(), self.images.clone());
        let (wanted, verified) = (source_version.to_string(), commit.to_string());
        let (tampering, recorded, registry) =
            (asked.tampering.clone(), asked.base_images.clone(), self.base_images.clone());
        let compiled = tokio::task::spawn_blocking(move || {
            let work = tempfile::tempdir().map_err(|e| ("BUILD", e.to_string()))?;
            let paths = (source.as_path(), sigship.path(), work.path());
            let base = (recorded.as_str(), registry.as_ref());
            let result = compile(paths, &wanted, &verified, (&images, base), tampering.as_ref());
            drop(sigship);
            result
        })
        .await
        .unwrap_or_else(|e| Err(("BUILD", e.to_string())));
        let (log, outcome) = match compiled {
            Ok((log, digest, config, pulled, go)) => {
                let binaries = self.images.binaries(&digest);
                let pushed = self.push(commit_of(source_version), tag, version, &digest, &config, &go).await;
                let built_with = format!("go{go} linux/{}", crate::image::host_goarch());
                (log, pushed.map(|digest| (digest, pulled, binaries, built_with)).map_err(|e| ("POST_BUILD", e)))
            }
            Err((phase, log)) => (log.clone(), Err((phase, log.lines().last().unwrap_or_default().to_string()))),
        };
        let _ = std::fs::write(&log_path, &log);
        let seconds = started.elapsed().as_secs_f32();
        match outcome {
            Ok((digest, pulled, binaries, built_with)) => {
                println!(
                    "  [local CodeBuild] build {build_id}: compiled btcd at {commit_short} in {seconds:.0} s → {}:{tag} \
                     ({digest}; one layer, no base image: no Docker engine)",
                    self.repository,
                    commit_short = &commit_of(source_version)[..12.min(commit_of(source_version).len())]
                );
                BuildStatus::Succeeded { digest, pulled, binaries, built_with }
            }
            Err((phase, reason)) => {
                println!(
                    "  [local CodeBuild] build {build_id}: FAILED in {phase}: {reason} (log: {})",
                    log_path.display()
                );
                BuildStatus::Failed { phase, reason }
            }
        }
    }

    /// The secondary source `sigship` (buildspec, Dockerfile, go-version.sh) as the build role
    /// downloads it: `source.zip` from the artifacts bucket.
    async fn sigship_source(&self) -> Result<tempfile::TempDir, String> {
        let (bucket, key, version) = &self.sigship_source;
        let object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .version_id(version)
            .send()
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let bytes = object.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| format!("{key}: {e}"))?;
        archive.extract(dir.path()).map_err(|e| format!("{key}: {e}"))?;
        Ok(dir)
    }

    /// `docker push` of the image whose layer is `digest`: its blobs and manifest to the
    /// registry, and the manifest to ECR's record under the same digest (moto would otherwise
    /// make one up from the layers).
    async fn push(
        &self,
        commit: &str,
        tag: &str,
        version: &str,
        digest: &str,
        config: &ImageConfig,
        go: &str,
    ) -> Result<String, String> {
        // The Dockerfile's LABELs, as its build arguments fill them in.
        let labels = [
            ("org.opencontainers.image.title", "btcd".to_string()),
            ("org.opencontainers.image.revision", commit.to_string()),
            ("org.opencontainers.image.version", version.to_string()),
            (pipeline::build::reproduce::GO_LABEL, format!("go{go}")),
            ("dev.sigship.platform", format!("linux/{}", crate::image::host_goarch())),
        ];
        let image = crate::oci::image(self.images.layer(digest)?, config, &labels);
        crate::oci::push(&self.registry, &self.repository, tag, &image).await?;
        let manifest = String::from_utf8(image.manifest.clone()).expect("JSON is UTF-8");
        let pushed = self
            .ecr
            .put_image()
            .repository_name(&self.repository)
            .image_tag(tag)
            .image_manifest(manifest)
            .image_manifest_media_type(pipeline::build::image::MANIFEST_OCI)
            .image_digest(image.digest())
            .send()
            .await
            .map_err(|e| format!("push failed: {}", e.code().unwrap_or("?")))?;
        Ok(pushed.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()).unwrap_or("?").to_string())
    }

    /// moto reports every build SUCCEEDED at once, started by "rootme" with settings of its own;
    /// this reports each as it is, with what CodeBuild recorded of how it was started.
    pub fn report(&self, body: Bytes) -> Bytes {
        let builds = self.builds.lock().unwrap().clone();
        let mut answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        for reported in answer["builds"].as_array_mut().into_iter().flatten() {
            let Some(build) = builds.iter().find(|b| reported["id"] == b.build_id.as_str()) else { continue };
            merge(reported, &build.record);
            match &build.status {
                // The buildspec's exported-variables.
                BuildStatus::Succeeded { digest, pulled, binaries, built_with } => {
                    reported["exportedEnvironmentVariables"] = serde_json::json!([
                        {"name": pipeline::build::BUILD_EXPORTED_DIGEST, "value": digest},
                        {"name": pipeline::build::BUILD_EXPORTED_BASE_IMAGES, "value": pulled},
                        {"name": pipeline::build::BUILD_EXPORTED_BINARIES, "value": binaries},
                        {"name": pipeline::build::BUILD_EXPORTED_BUILT_WITH, "value": built_with}
                    ]);
                }
                BuildStatus::InProgress => {
                    reported["buildStatus"] = "IN_PROGRESS".into();
                    reported["currentPhase"] = "BUILD".into();
                    reported["buildComplete"] = false.into();
                    reported["phases"] = serde_json::json!([
                        {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED"},
                        {"phaseType": "PRE_BUILD", "phaseStatus": "SUCCEEDED"},
                        {"phaseType": "BUILD"}
                    ]);
                }
                BuildStatus::Failed { phase, reason } => {
                    reported["buildStatus"] = "FAILED".into();
                    reported["currentPhase"] = "COMPLETED".into();
                    reported["buildComplete"] = true.into();
                    reported["phases"] = serde_json::json!([
                        {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED"},
                        {"phaseType": phase, "phaseStatus": "FAILED",
                         "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": reason}]},
                        {"phaseType": "COMPLETED"}
                    ]);
                }
            }
        }
        Bytes::from(answer.to_string())
    }
}

/// What CodeBuild records of a build StartBuild `request` started of `project`, by `initiator`:
/// the project's settings with the request's overrides applied.
fn recorded(project: &Value, request: &Value, initiator: &str) -> Value {
    let mut record = project.clone();
    record["initiator"] = initiator.into();
    let overrides = [
        ("buildspecOverride", "/source/buildspec"),
        ("sourceTypeOverride", "/source/type"),
        ("sourceLocationOverride", "/source/location"),
        ("imageOverride", "/environment/image"),
        ("computeTypeOverride", "/environment/computeType"),
        ("environmentTypeOverride", "/environment/type"),
        ("privilegedModeOverride", "/environment/privilegedMode"),
        ("secondarySourcesOverride", "/secondarySources"),
        ("secondarySourcesVersionOverride", "/secondarySourceVersions"),
        ("serviceRoleOverride", "/serviceRole"),
    ];
    for (field, pointer) in overrides {
        if let (Some(value), Some(slot)) = (request.get(field), record.pointer_mut(pointer)) {
            *slot = value.clone();
        } else if let Some(value) = request.get(field) {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            if let Some(parent) = record.pointer_mut(parent).filter(|p| p.is_object()) {
                parent[key] = value.clone();
            }
        }
    }
    // Overridden variables replace the project's of the same name; the others are added.
    let variables = record.pointer_mut("/environment/environmentVariables").and_then(Value::as_array_mut);
    if let (Some(variables), Some(overrides)) = (variables, request["environmentVariablesOverride"].as_array()) {
        for variable in overrides {
            variables.retain(|v| v["name"] != variable["name"]);
            variables.push(variable.clone());
        }
    }
    if request["debugSessionEnabled"] == true {
        record["debugSession"] = serde_json::json!({"sessionEnabled": true});
    }
    record
}

/// `from`'s keys over `into`'s.
fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        into.extend(from.clone());
    }
}

/// The project as BatchGetProjects answers it, as far as a build's record repeats it.
pub fn project_record(project: &aws_sdk_codebuild::types::Project) -> Value {
    use serde_json::json;
    let source = |s: &aws_sdk_codebuild::types::ProjectSource| {
        let mut source = json!({"type": s.r#type().as_str()});
        for (key, value) in
            [("location", s.location()), ("sourceIdentifier", s.source_identifier()), ("buildspec", s.buildspec())]
        {
            if let Some(value) = value {
                source[key] = value.into();
            }
        }
        source
    };
    let environment = project.environment().map(|e| {
        let variables: Vec<Value> = e
            .environment_variables()
            .iter()
            .map(|v| json!({"name": v.name(), "value": v.value(), "type": v.r#type().map_or("PLAINTEXT", |t| t.as_str())}))
            .collect();
        json!({
            "type": e.r#type().as_str(),
            "image": e.image(),
            "computeType": e.compute_type().as_str(),
            "privilegedMode": e.privileged_mode().unwrap_or(false),
            "environmentVariables": variables,
        })
    });
    json!({
        "source": project.source().map(source),
        "environment": environment,
        "secondarySources": project.secondary_sources().iter().map(source).collect::<Vec<_>>(),
        "secondarySourceVersions": project
            .secondary_source_versions()
            .iter()
            .map(|v| json!({"sourceIdentifier": v.source_identifier(), "sourceVersion": v.source_version()}))
            .collect::<Vec<_>>(),
        "serviceRole": project.service_role(),
        "debugSession": {"sessionEnabled": false},
    })
}

/// `<ref>^{<commit>}` → the commit.
fn commit_of(source_version: &str) -> &str {
    source_version.strip_suffix('}').and_then(|v| v.split_once("^{")).map_or("", |(_, c)| c)
}

type Failure = (&'static str, String);

/// What a StartBuild asked to build.
struct Asked {
    source_version: String,
    commit: String,
    image_tag: String,
    version: String,
    /// The recorded base images trigger-build sent.
    base_images: String,
    tampering: Option<Tampering>,
}

/// Checkout, the buildspec's checks, the base images' pull, the Dockerfile's build stage, the
/// image's root directory. Ok: (the build's log, the image's layer digest, its configuration,
/// the base images as pulled). `paths`: the source repository, sigship's secondary source, a
/// work directory; `base`: the recorded base images sent and where they are pulled from.
/// `foreign`: a buildspec other than sigship's, planted in the image.
fn compile(
    (repository, sigship, work): (&Path, &Path, &Path),
    source_version: &str,
    verified: &str,
    (images, base): (&ImageStore, (&str, &crate::base_images::BaseImageRegistry)),
    tampering: Option<&Tampering>,
) -> Result<(String, String, ImageConfig, String, String), Failure> {
    let mut log = String::new();
    let fail = |phase: &'static str, log: &str, why: String| Err((phase, format!("{log}{why}")));
    // CodeBuild's `<ref>^{<commit>}`: fetch the ref, check out the commit, which the ref must reach.
    let Some((reference, wanted)) =
        source_version.strip_suffix('}').and_then(|v| v.split_once("^{")).filter(|(r, _)| r.starts_with("refs/"))
    else {
        return fail("DOWNLOAD_SOURCE", &log, format!("sourceVersion {source_version:?} is not <ref>^{{<commit>}}"));
    };
    let src = work.join("src");
    let git = |args: &[&str], dir: &Path| -> Result<String, String> {
        let out = Command::new("git").args(args).current_dir(dir).output().map_err(|e| format!("git: {e}"))?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())),
        }
    };
    let checkout = (|| {
        git(&["clone", "--quiet", "--no-checkout", repository.to_str().unwrap(), src.to_str().unwrap()], work)?;
        git(&["fetch", "--quiet", "origin", &format!("+{reference}:{reference}")], &src)?;
        let reached = git(&["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")], &src)?;
        if reached != wanted {
            return Err(format!("{reference} gives {reached}, not the requested {wanted}"));
        }
        git(&["checkout", "--quiet", wanted], &src)
    })();
    if let Err(why) = checkout {
        return fail("DOWNLOAD_SOURCE", &log, why);
    }
    // The buildspec's pre_build: HEAD must be exactly the verified commit.
    let head = git(&["rev-parse", "HEAD"], &src).unwrap_or_default();
    if head != verified {
        return fail(
            "PRE_BUILD",
            &log,
            format!("refusing to build: HEAD is {head}, the verified commit is {verified}"),
        );
    }
    log.push_str(&format!("HEAD {head} is the verified commit\n"));
    let go_version = Command::new("bash")
        .arg(sigship.join("go-version.sh"))
        .arg("go.mod")
        .arg(sigship.join("Dockerfile"))
        .current_dir(&src)
        .output()
        .map_err(|e| ("PRE_BUILD", format!("go-version.sh: {e}")))?;
    if !go_version.status.success() {
        return fail("PRE_BUILD", &log, String::from_utf8_lossy(&go_version.stderr).trim().to_string());
    }
    let pinned = String::from_utf8_lossy(&go_version.stdout).trim().to_string();
    // The image golang:<pinned>-bookworm; here, this machine's Go must be that release.
    let local = Command::new("go").args(["env", "GOVERSION"]).output().map_err(|e| ("BUILD", format!("go: {e}")))?;
    let local = String::from_utf8_lossy(&local.stdout).trim().to_string();
    if !(local == format!("go{pinned}") || local.starts_with(&format!("go{pinned}."))) {
        return fail("BUILD", &log, format!("the Dockerfile pins Go {pinned}; this machine's Go is {local}"));
    }
    log.push_str(&format!("go-version.sh: Go {pinned} (this machine: {local})\n"));
    // The buildspec's base-images.sh, run for real; the pull it leads to is the registry's.
    let (recorded, registry) = base;
    let chosen = Command::new("bash")
        .arg(sigship.join("base-images.sh"))
        .arg(sigship.join("Dockerfile"))
        .arg(&pinned)
        .arg(recorded)
        .output()
        .map_err(|e| ("PRE_BUILD", format!("base-images.sh: {e}")))?;
    log.push_str(&String::from_utf8_lossy(&chosen.stderr));
    if !chosen.status.success() {
        return fail("PRE_BUILD", &log, "base-images.sh failed".into());
    }
    let pulled = match registry.pull(&String::from_utf8_lossy(&chosen.stdout)) {
        Ok(pulled) => pulled,
        Err(why) => return fail("PRE_BUILD", &log, why),
    };
    log.push_str(&format!("base images pulled: {pulled}\n"));
    let (built, digest, config) = build_image(&src, &sigship.join("Dockerfile"), images, tampering)
        .map_err(|e| ("BUILD", format!("{log}{e}")))?;
    log.push_str(&built);
    Ok((log, digest, config, pulled, pinned))
}

/// Compiles `source` (btcd's source, a work tree) with the Dockerfile's build stage and files the
/// image in `images`: what a build does after its checks, and what the local cloud's own peer
/// needs before any pipeline runs. Ok: (the compile's output, the image's layer digest, its
/// configuration).
pub fn build_image(
    source: &Path,
    dockerfile: &Path,
    images: &ImageStore,
    tampering: Option<&Tampering>,
) -> Result<(String, String, ImageConfig), String> {
    let dockerfile = Dockerfile::read(dockerfile).map_err(|e| e.to_string())?;
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let target = Target { goarch: crate::image::host_goarch(), toolchain: "local".into() };
    let log = dockerfile.compile(source, out.path(), &target).map_err(|e| e.to_string())?;
    if tampering == Some(&Tampering::ChangedByte) {
        change_one_byte(out.path())?;
    }
    let root = images.scratch();
    let config = crate::image::assemble(&dockerfile, out.path(), root.path())?;
    if let Some(Tampering::ForeignBuildspec(buildspec)) = tampering {
        std::fs::write(root.path().join("foreign-buildspec.yml"), buildspec).map_err(|e| e.to_string())?;
    }
    let digest = images.add(&root.keep(), &config)?;
    Ok((log, digest, config))
}

/// Flips the lowest bit of btcd's last byte (in the section headers, which the loader does not
/// read: the daemon runs as before) and rewrites SHA256SUMS to agree.
fn change_one_byte(out: &Path) -> Result<(), String> {
    let path = out.join("btcd");
    let mut btcd = std::fs::read(&path).map_err(|e| format!("btcd: {e}"))?;
    *btcd.last_mut().ok_or("btcd is empty")? ^= 1;
    std::fs::write(&path, &btcd).map_err(|e| format!("btcd: {e}"))?;
    let sums: String = ["btcd", "btcctl"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(out.join(name)).unwrap_or_default();
            format!("{}  {name}\n", pipeline::build::image::sha256_hex(&bytes))
        })
        .collect();
    std::fs::write(out.join("SHA256SUMS"), sums).map_err(|e| format!("SHA256SUMS: {e}"))
}
