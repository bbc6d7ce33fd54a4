//! The image a local build makes of `source/Dockerfile` (read by the library's
//! [`pipeline::build::recipe`]): the build stage's RUN runs on this machine with the stage's ENV
//! (GOARCH set to this machine's), and the final stage's files — what its COPY instructions add —
//! are assembled into a directory standing for the image's root file system, from which
//! [`crate::oci`] packs the real layer the registry serves. There is no Docker engine here: the
//! base image's layers and the final stage's RUN are not in it.

use std::path::{Path, PathBuf};

use pipeline::build::recipe::{Dockerfile, ImageUser};

/// What a built image holds: its root directory here, and what the runner needs to start it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageConfig {
    pub user: ImageUser,
    pub entrypoint: Vec<String>,
    /// The image's PATH (the golang/alpine default: /usr/local/bin first).
    pub path: Vec<String>,
}

const IMAGE_PATH: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

/// Assembles the image's root directory under `root` from the build output in `out`: what the
/// final stage's COPY instructions add.
pub fn assemble(dockerfile: &Dockerfile, out: &Path, root: &Path) -> Result<ImageConfig, String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for (sources, destination) in &dockerfile.copies {
        let target = inside(root, destination);
        std::fs::create_dir_all(&target).map_err(|e| io("image dir", e))?;
        for source in sources {
            let built = inside(out, source.strip_prefix("/out").unwrap_or(source));
            let name = built.file_name().ok_or(format!("COPY {source}: no file name"))?;
            std::fs::copy(&built, target.join(name)).map_err(|e| io(source, e))?;
        }
    }
    for (destination, mode, content) in &dockerfile.scripts {
        let target = inside(root, destination);
        std::fs::create_dir_all(target.parent().unwrap()).map_err(|e| io("image dir", e))?;
        std::fs::write(&target, content).map_err(|e| io(destination, e))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode)).map_err(|e| io(destination, e))?;
    }
    Ok(ImageConfig {
        user: dockerfile.user.clone(),
        entrypoint: dockerfile.entrypoint.clone(),
        path: IMAGE_PATH.map(String::from).to_vec(),
    })
}

/// `path` (absolute, as in the image) under `root`.
pub fn inside(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Go's name for this machine's architecture.
pub fn host_goarch() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        other => other.into(),
    }
}
