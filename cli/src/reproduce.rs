//! `sigship reproduce`: proves the node runs exactly the signed source, trusting neither
//! CodeBuild, nor ECR, nor the account. It verifies the release tag against the trust root here,
//! fetches that commit's source, rebuilds btcd and btcctl with the build recipe and the Go release
//! the image names, pulls the image the service runs from the registry by digest (no Docker), and
//! compares the binaries byte for byte. MATCH, or which file differs with the build information of
//! both (`go version -m`); the verdict is kept for `status`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pipeline::build::image::sha256_hex;
use pipeline::build::recipe::{Dockerfile, Target};
use pipeline::build::reproduce::{self, Reproduced, Verdict, BINARIES, GO_LABEL};
use pipeline::verify::{TagRequest, TrustRoot, VerifyConfig};

use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// What to reproduce: a release by tag, or whatever the service runs now.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct Which {
    /// A release tag: the image the stack built for it.
    #[arg(long)]
    pub tag: Option<String>,
    /// The image the service runs now.
    #[arg(long)]
    pub running: bool,
}

/// An image to check.
struct Subject {
    /// `<registry host>/<repository>`.
    repository_uri: String,
    digest: String,
}

pub struct Options<'a> {
    pub trust: &'a Path,
    /// The repository to fetch from [default: the stack's RepositoryUrl].
    pub repository: Option<String>,
    /// The maintainers' own release binaries to compare as well.
    pub release: Option<&'a ReleaseFiles>,
}

/// btcd's published release for one platform: the archive, the manifest listing it, and the
/// manifest's detached OpenPGP signature.
#[derive(clap::Args)]
pub struct ReleaseFiles {
    /// The maintainers' archive for the image's platform, e.g. btcd-linux-arm64-v0.24.2.tar.gz.
    #[arg(long = "release-archive", value_name = "FILE", requires_all = ["manifest", "manifest_signature"])]
    pub archive: Option<std::path::PathBuf>,
    /// The release's manifest (manifest-v0.24.2.txt), listing the archive's SHA-256.
    #[arg(long, value_name = "FILE", requires = "archive")]
    pub manifest: Option<std::path::PathBuf>,
    /// The manifest's detached signature, by the trust root's signers.
    #[arg(long, value_name = "FILE", requires = "archive")]
    pub manifest_signature: Option<std::path::PathBuf>,
}

/// Runs a reproduce; Ok(verdict). A verdict is printed either way.
pub async fn run(
    cloud: &Cloud,
    stack_name: &str,
    located: &crate::operate::Pipeline,
    which: &Which,
    options: &Options<'_>,
) -> Result<Verdict> {
    let started = Instant::now();
    let trust = TrustRoot::from_dir(options.trust).map_err(Error::TrustRoot)?;
    let stack = crate::stack::describe(&cloud.cloudformation(), stack_name)
        .await?
        .ok_or_else(|| Error::Usage(format!("no stack {stack_name} in {}: run `sigship up`", cloud.region)))?;
    let url = match &options.repository {
        Some(url) => url.clone(),
        None => stack
            .parameter("RepositoryUrl")
            .ok_or_else(|| Error::Usage(format!("stack {stack_name} names no RepositoryUrl; give --repository")))?
            .to_string(),
    };
    // 1. The signature, as the pipeline checks it, against the trust root here.
    let (running, tag) = match &which.tag {
        Some(tag) => (None, tag.clone()),
        None => {
            let (subject, tag) = running_release(cloud, located).await?;
            (Some(subject), tag)
        }
    };
    let config =
        VerifyConfig { default_repository_url: None, fetch_timeout: Duration::from_secs(60), allow_local_paths: true };
    let request =
        TagRequest { tag: tag.clone(), repository: Some(url.clone()), allow_downgrade: false, requested_by: None };
    let verified = match pipeline::verify::verify(&request, &config, &trust).await {
        Ok(verified) => verified,
        Err(err) => {
            println!("REJECTED  {tag}: {}: nothing is rebuilt or pulled", err.name());
            return Err(Error::Pipeline(err));
        }
    };
    let signers: Vec<&str> = verified.signers.iter().map(|s| s.label.as_str()).collect();
    println!("VERIFIED  {tag}: commit {}, signed by {}", verified.commit, signers.join(", "));
    let maintainers = match options.release {
        Some(files) => Some(maintainers_release(files, &trust)?),
        None => None,
    };
    // 2. The image: what the service runs, or what the stack built for the tag.
    let subject = match running {
        Some(subject) => subject,
        None => {
            let repository_uri = stack
                .output("ImageRepositoryUri")
                .ok_or_else(|| Error::Usage(format!("stack {stack_name} has no ImageRepositoryUri output")))?;
            built_image(cloud, repository_uri, &tag, &verified.commit).await?
        }
    };
    let (_, repository) = subject
        .repository_uri
        .split_once('/')
        .ok_or_else(|| Error::Usage(format!("{} is not <registry>/<repository>", subject.repository_uri)))?;
    let registry = Registry::of_ecr(&cloud.sdk).await?;
    let wanted: Vec<&str> = BINARIES.iter().map(|(_, path)| *path).chain([SUMS_PATH]).collect();
    let pulled = registry.pull(repository, &subject.digest, &wanted).await?;
    let arch = pulled.config.architecture.clone();
    let recipe = Dockerfile::sigship();
    let go = match pulled.config.label(GO_LABEL) {
        Some(go) if reproduce::is_go_release(go) => go.to_string(),
        Some(other) => {
            return Err(Error::Usage(format!("the image's {GO_LABEL} label {other:?} is not a Go release name")))
        }
        None => format!("go{}", recipe.go_version),
    };
    println!(
        "IMAGE     {}@{} (linux/{arch}, built with {go}, {} of {} binaries in it)",
        subject.repository_uri,
        subject.digest,
        BINARIES.iter().filter(|(_, p)| pulled.files.contains_key(*p)).count(),
        BINARIES.len()
    );
    // 3. The source at the verified commit, rebuilt.
    let work = tempfile::tempdir().map_err(|e| Error::Io(format!("temporary directory: {e}")))?;
    let source = work.path().join("src");
    fetch_source(&url, &tag, &verified.commit, &source)?;
    println!("REBUILD   btcd and btcctl at {} with {go} for linux/{arch} (the Go toolchain and modules come from the Go proxy when this machine lacks them)…", &verified.commit[..12]);
    let out = work.path().join("out");
    std::fs::create_dir_all(&out).map_err(|e| Error::Io(e.to_string()))?;
    let rebuild_started = Instant::now();
    let target = Target { goarch: arch.clone(), toolchain: go.clone() };
    recipe.compile(&source, &out, &target).map_err(Error::Pipeline)?;
    println!("          rebuilt in {:.0} s", rebuild_started.elapsed().as_secs_f32());
    // 4. Byte for byte.
    let mut rebuilt = BTreeMap::new();
    let mut in_image = BTreeMap::new();
    for (name, path) in BINARIES {
        let bytes = std::fs::read(out.join(name)).map_err(|e| Error::Io(format!("the rebuilt {name}: {e}")))?;
        rebuilt.insert(name.to_string(), sha256_hex(&bytes));
        if let Some(bytes) = pulled.files.get(path) {
            in_image.insert(name.to_string(), sha256_hex(bytes));
        }
    }
    let recorded =
        pulled.files.get(SUMS_PATH).map(|sums| reproduce::sums_of(&String::from_utf8_lossy(sums))).unwrap_or_default();
    let (mut verdict, files) = reproduce::compare(&rebuilt, &in_image, &recorded);
    for file in &files {
        let recorded = match &file.recorded {
            Some(hash) if Some(hash) == file.image.as_ref() => "= the build's SHA256SUMS".to_string(),
            Some(hash) => format!("≠ the build's SHA256SUMS {hash}"),
            None => "(not in the build's SHA256SUMS)".to_string(),
        };
        if file.matches() {
            println!("MATCH     {:<7} {}  rebuilt = image {recorded}", file.file, file.rebuilt);
            continue;
        }
        println!("DIFFERS   {:<7} rebuilt {}", file.file, file.rebuilt);
        println!("                  image   {} {recorded}", file.image.as_deref().unwrap_or("(not in the image)"));
        let in_image = BINARIES.iter().find(|(n, _)| *n == file.file).and_then(|(_, p)| pulled.files.get(*p));
        let image_info = match in_image {
            Some(bytes) => build_info_of(bytes, &work.path().join(format!("image-{}", file.file))),
            None => "absent".to_string(),
        };
        println!("  the rebuild's `go version -m`:\n{}", indent(&build_info(&out.join(&file.file))));
        println!("  the image's `go version -m`:\n{}", indent(&image_info));
    }
    if let Some(release) = &maintainers {
        if compare_with_maintainers(release, &out, work.path()) == Verdict::Mismatch {
            verdict = Verdict::Mismatch;
        }
    }
    let record = Reproduced {
        image: subject.digest.clone(),
        tag: tag.clone(),
        commit: verified.commit.clone(),
        go,
        verdict,
        files,
        at: pipeline::config::now_ms() / 1000,
    };
    println!("{} ({:.0} s in all)", record.describe(), started.elapsed().as_secs_f32());
    let parameter = pipeline::aws::ReproducedParameter::of_stack(&cloud.sdk, stack_name);
    if let Err(e) = parameter.write(&record).await {
        println!("the verdict is not kept for `status`: {e}");
    }
    Ok(verdict)
}

/// The image's SHA256SUMS (the build's own record of what it compiled).
const SUMS_PATH: &str = "usr/local/share/btcd/SHA256SUMS";

/// The maintainers' binaries, from an archive whose SHA-256 their signed manifest lists.
struct MaintainersRelease {
    archive: String,
    /// btcd and btcctl as the archive holds them.
    files: BTreeMap<String, Vec<u8>>,
}

/// Checks the manifest's signature against the trust root and the archive against the manifest,
/// then reads btcd and btcctl from it (`<archive name without .tar.gz>/btcd`). Either check
/// failing is an error: nothing is compared with files nobody signed for.
fn maintainers_release(files: &ReleaseFiles, trust: &TrustRoot) -> Result<MaintainersRelease> {
    let read = |path: &Option<std::path::PathBuf>| -> Result<(String, Vec<u8>)> {
        let path = path
            .as_ref()
            .ok_or_else(|| Error::Usage("--release-archive, --manifest and --manifest-signature go together".into()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        Ok((name, std::fs::read(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?))
    };
    let (archive_name, archive) = read(&files.archive)?;
    let (manifest_name, manifest) = read(&files.manifest)?;
    let (_, signature) = read(&files.manifest_signature)?;
    let signers = match pipeline::verify::signature::verify_detached(&manifest, &signature, &manifest_name, trust) {
        Ok(signers) => signers,
        Err(err) => {
            println!("REFUSED   {manifest_name}: its signature is not the trust root's: {}", err.name());
            return Err(Error::Pipeline(err));
        }
    };
    let labels: Vec<&str> = signers.iter().map(|s| s.label.as_str()).collect();
    let listed = reproduce::sums_of(&String::from_utf8_lossy(&manifest));
    let sha = sha256_hex(&archive);
    match listed.get(&archive_name) {
        Some(hash) if *hash == sha => {}
        Some(hash) => {
            return Err(Error::Usage(format!(
            "{archive_name} is not the archive {manifest_name} lists: its SHA-256 is {sha}, the manifest says {hash}"
        )))
        }
        None => return Err(Error::Usage(format!("{manifest_name} lists no {archive_name}"))),
    }
    println!("RELEASE   {archive_name}: listed in {manifest_name}, signed by {}", labels.join(", "));
    let folder = archive_name.trim_end_matches(".tar.gz").trim_end_matches(".tgz");
    let paths: Vec<String> = BINARIES.iter().map(|(name, _)| format!("{folder}/{name}")).collect();
    let wanted: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut found = BTreeMap::new();
    crate::registry::read_tar(&archive, pipeline::build::image::LayerPacking::Gzip, &wanted, &mut found)?;
    let files = found
        .into_iter()
        .map(|(path, bytes)| (path.rsplit('/').next().unwrap_or_default().to_string(), bytes))
        .collect();
    Ok(MaintainersRelease { archive: archive_name, files })
}

/// The rebuild beside the maintainers' binaries. Their build differs from sigship's by design
/// (their Go release, VCS stamping), which `go version -m` shows: bytes that differ under the
/// same build information are a mismatch; under other build information, a difference explained.
fn compare_with_maintainers(release: &MaintainersRelease, rebuilt: &Path, work: &Path) -> Verdict {
    let mut verdict = Verdict::Match;
    for (name, _) in BINARIES {
        let ours = std::fs::read(rebuilt.join(name)).unwrap_or_default();
        let Some(theirs) = release.files.get(name) else {
            println!("DIFFERS   {name:<7} not in {}", release.archive);
            verdict = Verdict::Mismatch;
            continue;
        };
        if ours == *theirs {
            println!("MATCH     {name:<7} {}  rebuilt = the maintainers' {}", sha256_hex(&ours), release.archive);
            continue;
        }
        let theirs_info = build_info_of(theirs, &work.join(format!("maintainers-{name}")));
        let ours_info = build_info(&rebuilt.join(name));
        let settings = |info: &str| info.lines().skip(1).map(str::trim).collect::<Vec<_>>().join("\n");
        if settings(&ours_info) == settings(&theirs_info) {
            println!("DIFFERS   {name:<7} from the maintainers' {} under the same build information", release.archive);
            verdict = Verdict::Mismatch;
        } else {
            println!(
                "OTHER     {name:<7} the maintainers' {} was built otherwise (see below); not comparable",
                release.archive
            );
        }
        println!("  the rebuild's `go version -m`:\n{}", indent(&ours_info));
        println!("  the maintainers' `go version -m`:\n{}", indent(&theirs_info));
    }
    verdict
}

/// The image the service runs and the release its revision names.
async fn running_release(cloud: &Cloud, located: &crate::operate::Pipeline) -> Result<(Subject, String)> {
    let node = crate::operate::read_node(cloud, located)
        .await?
        .ok_or_else(|| Error::Usage("the stack names no service to read: give --tag".into()))?;
    let revision = node.revision.ok_or_else(|| {
        Error::Usage(format!("service {} runs nothing sigship deployed: deploy a release, or give --tag", node.service))
    })?;
    let tag = revision.release_tag.clone().ok_or_else(|| {
        Error::Usage(format!("{} names no release: give --tag", pipeline::arn::name_of(&revision.task_definition)))
    })?;
    let (repository_uri, digest) = revision
        .image
        .split_once('@')
        .ok_or_else(|| Error::Usage(format!("the service runs {}, not an image pinned by digest", revision.image)))?;
    Ok((Subject { repository_uri: repository_uri.into(), digest: digest.into() }, tag))
}

/// The image the stack's build pushed for the release (`<tag>-<commit>`), by its digest.
async fn built_image(cloud: &Cloud, repository_uri: &str, tag: &str, commit: &str) -> Result<Subject> {
    let (_, repository) = repository_uri.split_once('/').unwrap_or(("", repository_uri));
    let image_tag = pipeline::build::image_tag(tag, commit);
    let described = aws_sdk_ecr::Client::new(&cloud.sdk)
        .describe_images()
        .repository_name(repository)
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(&image_tag).build())
        .send()
        .await
        .map_err(|e| Error::aws("ecr:DescribeImages", e))?;
    let digest = described.image_details().first().and_then(|d| d.image_digest()).ok_or_else(|| {
        Error::Usage(format!("{repository_uri} holds no image {image_tag}: the stack has not built {tag}"))
    })?;
    Ok(Subject { repository_uri: repository_uri.into(), digest: digest.into() })
}

/// btcd's source at exactly `commit`, fetched with git (depth 1, the tag only).
fn fetch_source(url: &str, tag: &str, commit: &str, into: &Path) -> Result<()> {
    pipeline::verify::fetch::check_remote_url(url, true).map_err(Error::Pipeline)?;
    std::fs::create_dir_all(into).map_err(|e| Error::Io(e.to_string()))?;
    let git = |args: &[&str]| -> Result<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(into)
            .output()
            .map_err(|e| Error::Io(format!("git (reproduce fetches the source with it): {e}")))?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(Error::Io(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))),
        }
    };
    git(&["init", "--quiet"])?;
    let refspec = format!("+refs/tags/{tag}:refs/tags/{tag}");
    git(&["fetch", "--quiet", "--depth=1", "--no-tags", url, &refspec])?;
    let fetched = git(&["rev-parse", "--verify", &format!("refs/tags/{tag}^{{commit}}")])?;
    if fetched != commit {
        return Err(Error::Usage(format!(
            "{url} now gives {tag} at {fetched}, not the verified {commit}: the tag moved; run again"
        )));
    }
    git(&["-c", "advice.detachedHead=false", "checkout", "--quiet", commit])?;
    Ok(())
}

/// `go version -m` of a binary: its Go release, module, dependencies and build settings.
fn build_info(binary: &Path) -> String {
    match Command::new("go").args(["version", "-m"]).arg(binary).output() {
        Ok(out) => format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        Err(e) => format!("go version -m: {e}"),
    }
}

/// [`build_info`] of a binary held in memory, written to `at` first.
fn build_info_of(bytes: &[u8], at: &Path) -> String {
    std::fs::write(at, bytes).map(|_| build_info(at)).unwrap_or_else(|e| format!("{}: {e}", at.display()))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
