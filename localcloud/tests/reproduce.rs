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
