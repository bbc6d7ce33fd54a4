//! `sigship reproduce` against the local cloud, as an operator runs it after a deployment: each
//! release the pipeline deploys — btcd v0.24.2, v0.25.0 and v0.26.0, compiled by the local
//! CodeBuild and pushed as a real OCI image to the registry on loopback — is verified from its
//! signed tag, rebuilt by the CLI from the source it fetches, pulled through the registry API by
//! the digest the service runs, and found byte for byte the same; `status` shows the verdict.

use localcloud::{LocalCloud, Options};
use serde_json::json;

const RELEASES: [&str; 3] = ["v0.24.2", "v0.25.0", "v0.26.0"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_release_the_pipeline_deploys_is_byte_for_byte_the_rebuild_of_its_signed_source() {
    let cloud = LocalCloud::start(Options::default()).await;
    let trust = cloud.trust_root.to_str().unwrap().to_string();
    for (index, release) in RELEASES.into_iter().enumerate() {
        if release != localcloud::DEMO_RELEASE {
            cloud.repository.commit_release(release);
        }
        cloud.repository.signed_tag(release, &cloud.maintainer);
        let commit = cloud.repository.head();
        let run = cloud.run(json!({"tag": release}), &format!("deploy-{index}"), false).await;
        run.assert_succeeded(&cloud.logs);
        let output = run.output.unwrap();
        let digest = output["image"].as_str().unwrap().rsplit_once('@').unwrap().1.to_string();

        let (code, stdout, stderr) = cloud.sigship_as_operator(&["reproduce", "--running", "--trust", &trust]).await;
        println!("{stdout}");
        assert_eq!(code, 0, "{release}: reproduce exited {code}:\n{stdout}\n{stderr}");
        assert!(stdout.contains(&format!("VERIFIED  {release}: commit {commit}")), "{release}:\n{stdout}");
        assert!(stdout.contains(&format!("@{digest} (linux/")), "the image the service runs:\n{stdout}");
        for binary in ["btcd", "btcctl"] {
            let built = output["binaries"][binary].as_str().unwrap();
            let line = stdout.lines().find(|l| l.starts_with(&format!("MATCH     {binary} "))).unwrap_or_default();
            // The rebuild, the image, the image's SHA256SUMS and the build's export agree.
            assert!(
                line.contains(&format!("{built}  rebuilt = image = the build's SHA256SUMS")),
                "{release} {binary}:\n{stdout}"
            );
        }

        let (_, status, _) = cloud.sigship_as_operator(&["status"]).await;
        let rebuilt = status.lines().find(|l| l.trim_start().starts_with("rebuilt")).unwrap_or_default();
        assert!(rebuilt.contains(&format!("MATCH: btcd, btcctl rebuilt from {release} with go1.26.8")), "{status}");
    }

    // The maintainers' own release of v0.26.0 for this platform — here built by the same recipe, so
    // byte for byte the rebuild — its archive listed in a manifest the maintainer signed.
    let release = MaintainersRelease::build("v0.26.0", &cloud.maintainer);
    let (code, stdout, stderr) = cloud.sigship_as_operator(&release.args(&trust)).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "RELEASE   {}: listed in manifest-v0.26.0.txt, signed by Test Maintainer",
            release.name
        )),
        "{stdout}"
    );
    for binary in ["btcd", "btcctl"] {
        let line = format!("  rebuilt = the maintainers' {}", release.name);
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("MATCH     {binary} ")) && l.ends_with(&line)),
            "{stdout}"
        );
    }
    // A manifest someone else signed, or an archive it does not list, is refused before the rebuild.
    let forged = MaintainersRelease::build("v0.26.0", &localcloud::keys::Maintainer::generate("Someone"));
    let (code, stdout, stderr) = cloud.sigship_as_operator(&forged.args(&trust)).await;
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stdout.contains("REFUSED   manifest-v0.26.0.txt: its signature is not the trust root's: UnknownSigner"),
        "{stdout}"
    );
    assert!(stderr.contains("not an allowed signer") && !stdout.contains("REBUILD"), "{stdout}\n{stderr}");
    std::fs::write(&release.archive, b"another archive").unwrap();
    let (code, stdout, stderr) = cloud.sigship_as_operator(&release.args(&trust)).await;
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("is not the archive manifest-v0.26.0.txt lists"), "{stderr}");

    // An earlier release's image, by its tag: still in ECR, still the rebuild of its source; the
    // verdict kept is then about an image the service does not run.
    let (code, stdout, stderr) = cloud.sigship_as_operator(&["reproduce", "--tag", "v0.24.2", "--trust", &trust]).await;
    assert_eq!(code, 0, "reproduce --tag v0.24.2:\n{stdout}\n{stderr}");
    let (_, status, _) = cloud.sigship_as_operator(&["status"]).await;
    assert!(status.contains("rebuilt   not checked: `sigship reproduce --running`"), "{status}");

    // A tag no maintainer signed is refused before anything is built or pulled.
    cloud.repository.commit("NEXT", "work after the releases\n", "after v0.26.0");
    let object = cloud.repository.tag_payload("v0.27.0", &cloud.repository.head(), "Someone");
    cloud.repository.write_tag("v0.27.0", &object);
    let (code, stdout, stderr) = cloud.sigship_as_operator(&["reproduce", "--tag", "v0.27.0", "--trust", &trust]).await;
    assert_ne!(code, 0, "{stdout}");
    assert!(stdout.contains("REJECTED  v0.27.0: Unsigned"), "{stdout}\n{stderr}");
    assert!(!stdout.contains("REBUILD"), "nothing rebuilt for an unsigned tag:\n{stdout}");
}

/// A release as btcd publishes one (`release/release.sh`): `btcd-linux-<arch>-<tag>.tar.gz` holding
/// `btcd-linux-<arch>-<tag>/btcd` and `btcctl`, `manifest-<tag>.txt` with `shasum -a 256` of the
/// archive, and the manifest's detached signature.
struct MaintainersRelease {
    name: String,
    archive: std::path::PathBuf,
    manifest: std::path::PathBuf,
    signature: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl MaintainersRelease {
    fn build(tag: &str, signer: &localcloud::keys::Maintainer) -> Self {
        use pipeline::build::recipe::{Dockerfile, Target};
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let source = localcloud::git::btcd_module_source(tag).unwrap();
        let target = Target { goarch: localcloud::image::host_goarch(), toolchain: "local".into() };
        Dockerfile::sigship().compile(&source, &out, &target).unwrap();
        let folder = format!("btcd-linux-{}-{tag}", localcloud::image::host_goarch());
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
        for binary in ["btcd", "btcctl"] {
            tar.append_path_with_name(out.join(binary), format!("{folder}/{binary}")).unwrap();
        }
        let archive_bytes = tar.into_inner().unwrap().finish().unwrap();
        let name = format!("{folder}.tar.gz");
        let archive = dir.path().join(&name);
        std::fs::write(&archive, &archive_bytes).unwrap();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&archive_bytes));
        let manifest_text = format!("{sha}  {name}\n{}  vendor.tar.gz\n", "0".repeat(64));
        let manifest = dir.path().join(format!("manifest-{tag}.txt"));
        std::fs::write(&manifest, &manifest_text).unwrap();
        let signature = dir.path().join(format!("manifest-{tag}.txt.sig"));
        std::fs::write(&signature, signer.sign(manifest_text.as_bytes())).unwrap();
        MaintainersRelease { name, archive, manifest, signature, _dir: dir }
    }

    fn args<'a>(&'a self, trust: &'a str) -> Vec<&'a str> {
        vec![
            "reproduce",
            "--running",
            "--trust",
            trust,
            "--release-archive",
            self.archive.to_str().unwrap(),
            "--manifest",
            self.manifest.to_str().unwrap(),
            "--manifest-signature",
            self.signature.to_str().unwrap(),
        ]
    }
}
