//! The btcd image's build, as far as it runs without a Docker engine: the Go version check the
//! buildspec runs (source/go-version.sh), and the Dockerfile's user, which btcd needs a home for.

use std::process::Command;

fn go_version(go_mod_line: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let go_mod = dir.path().join("go.mod");
    std::fs::write(&go_mod, format!("module github.com/btcsuite/btcd\n\n{go_mod_line}\n\nrequire ()\n")).unwrap();
    let source = localcloud::workspace_root().join("source");
    let out = Command::new("bash")
        .arg(source.join("go-version.sh"))
        .arg(&go_mod)
        .arg(source.join("Dockerfile"))
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn every_btcd_release_builds_with_the_pinned_go_and_a_newer_go_mod_is_refused_clearly() {
    let (ok, pinned, _) = go_version("go 1.25");
    assert!(ok);
    let pinned = pinned.trim().to_string();
    // An exact release (the image tag golang:<minor> floats; a reproducible build names one).
    let parts: Vec<&str> = pinned.split('.').collect();
    assert_eq!(parts.len(), 3, "{pinned}");
    let (major, minor) = (parts[0], parts[1].parse::<u32>().unwrap());
    // v0.23.x-v0.24.2 say go 1.17, v0.25.0 go 1.23.2, v0.26.0 go 1.25; all build with the pinned Go,
    // as does any go.mod of the pinned minor release.
    for line in ["go 1.17", "go 1.23.2", "go 1.25", &format!("go {major}.{minor}"), &format!("go {major}.{minor}.1")] {
        let (ok, printed, stderr) = go_version(line);
        assert!(ok, "{line}: {stderr}");
        assert_eq!(printed.trim(), pinned, "{line}");
    }
    let newer = format!("{major}.{}", minor + 1);
    let (ok, _, stderr) = go_version(&format!("go {newer}"));
    assert!(!ok);
    assert!(stderr.contains(&format!("go.mod asks for Go {newer}, newer than the pinned Go {pinned}")), "{stderr}");
    assert!(stderr.contains("raise ARG GO_VERSION in source/Dockerfile"), "{stderr}");
    let (ok, _, stderr) = go_version("// no go line");
    assert!(!ok && stderr.contains("has no go line"), "{stderr}");
}

#[test]
fn the_daemon_runs_as_a_user_with_a_home_it_owns() {
    let dockerfile = std::fs::read_to_string(localcloud::workspace_root().join("source/Dockerfile")).unwrap();
    let adduser = dockerfile.lines().find(|l| l.contains("adduser")).expect("the image creates its user");
    let flags: Vec<&str> = adduser.split_whitespace().collect();
    // busybox adduser: -H would skip the home directory, and btcd exits when it cannot create ~/.btcd.
    assert!(!flags.contains(&"-H"), "{adduser}");
    let home = flags.iter().position(|f| *f == "-h").map(|i| flags[i + 1]).expect("an explicit home");
    assert!(home.starts_with("/home/"), "{adduser}");
    assert!(flags.contains(&"-u") && flags.contains(&"10001"), "the access point's uid: {adduser}");
    assert!(dockerfile.contains("USER 10001:10001"));
    assert!(dockerfile.contains("GOTOOLCHAIN=local"), "no toolchain download during the build");
    let buildspec = std::fs::read_to_string(localcloud::workspace_root().join("source/buildspec.yml")).unwrap();
    assert!(buildspec.contains("go-version.sh\" go.mod"), "the buildspec checks go.mod against the pinned Go");
}
