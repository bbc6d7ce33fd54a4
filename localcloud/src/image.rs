//! What `source/Dockerfile` makes of btcd's source, read from the Dockerfile itself: the one place
//! the local cloud learns the build stage's environment and RUN command, and what the final stage
//! adds (the files it copies, the entrypoint script, the user and its home, the ENTRYPOINT).
//!
//! There is no Docker engine here. The build stage's RUN runs on this machine with the stage's
//! ENV (GOARCH set to this machine's), and the image is assembled as a directory standing for its
//! root file system: that assembly is SIMULATED; the compile is real.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The parts of the Dockerfile the local cloud acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    /// The build stage's ENV, in order.
    pub build_env: Vec<(String, String)>,
    /// The build stage's RUN commands (continuation lines joined).
    pub build_run: Vec<String>,
    /// `COPY --from=<build stage> <sources…> <destination>` of the final stage.
    pub copies: Vec<(Vec<String>, String)>,
    /// Files the final stage writes from a heredoc: (path, mode, content).
    pub scripts: Vec<(String, u32, String)>,
    pub user: ImageUser,
    pub entrypoint: Vec<String>,
}

/// `USER uid:gid`, and the home `adduser -h` gives that user (btcd needs one it can write).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageUser {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// What a built image holds: its root directory here, and what the runner needs to start it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageConfig {
    pub user: ImageUser,
    pub entrypoint: Vec<String>,
    /// The image's PATH (the golang/alpine default: /usr/local/bin first).
    pub path: Vec<String>,
}

const IMAGE_PATH: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

impl Dockerfile {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines().peekable();
        let (mut stage, mut build_stage) = (String::new(), None::<String>);
        let mut parsed = Dockerfile {
            build_env: Vec::new(),
            build_run: Vec::new(),
            copies: Vec::new(),
            scripts: Vec::new(),
            user: ImageUser { uid: 0, gid: 0, home: "/root".into() },
            entrypoint: Vec::new(),
        };
        let mut user_home = None;
        while let Some(line) = lines.next() {
            let mut instruction = line.trim().to_string();
            if instruction.is_empty() || instruction.starts_with('#') {
                continue;
            }
            while instruction.ends_with('\\') {
                instruction.pop();
                instruction.push(' ');
                instruction.push_str(lines.next().unwrap_or_default().trim());
            }
            let (keyword, rest) = instruction.split_once(char::is_whitespace).unwrap_or((&instruction, ""));
            let rest = rest.trim();
            match keyword.to_ascii_uppercase().as_str() {
                "FROM" => {
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    stage = match words.as_slice() {
                        [_, as_, name] if as_.eq_ignore_ascii_case("as") => name.to_string(),
                        _ => String::new(),
                    };
                    if build_stage.is_none() && !stage.is_empty() {
                        build_stage = Some(stage.clone());
                    }
                }
                "ENV" if Some(&stage) == build_stage.as_ref() => {
                    for pair in rest.split_whitespace() {
                        let (k, v) = pair.split_once('=').ok_or(format!("ENV {pair}: expected KEY=VALUE"))?;
                        parsed.build_env.push((k.into(), v.trim_matches('"').into()));
                    }
                }
                "RUN" if Some(&stage) == build_stage.as_ref() => parsed.build_run.push(rest.to_string()),
                "RUN" => {
                    // `adduser -D -h /home/btcd -u 10001 btcd`: the user's home.
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    if words.first() == Some(&"adduser") {
                        user_home = words.windows(2).find(|w| w[0] == "-h").map(|w| w[1].to_string());
                    }
                }
                "COPY" if rest.contains("<<") => {
                    let mode = rest
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("--chmod="))
                        .map(|m| u32::from_str_radix(m, 8).map_err(|e| format!("COPY --chmod={m}: {e}")))
                        .transpose()?
                        .unwrap_or(0o644);
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    let marker =
                        words.iter().find_map(|w| w.strip_prefix("<<")).ok_or("COPY heredoc without a marker")?;
                    let marker = marker.trim_matches(|c| c == '\'' || c == '"').to_string();
                    let destination = words.last().ok_or("COPY heredoc without a destination")?.to_string();
                    let mut content = String::new();
                    for line in lines.by_ref() {
                        if line == marker {
                            break;
                        }
                        content.push_str(line);
                        content.push('\n');
                    }
                    parsed.scripts.push((destination, mode, content));
                }
                "COPY" if build_stage.as_ref().is_some_and(|b| rest.contains(&format!("--from={b}"))) => {
                    let words: Vec<String> =
                        rest.split_whitespace().filter(|w| !w.starts_with("--")).map(String::from).collect();
                    let (destination, sources) = words.split_last().ok_or("COPY --from without paths")?;
                    parsed.copies.push((sources.to_vec(), destination.clone()));
                }
                "USER" => {
                    let (uid, gid) = rest.split_once(':').unwrap_or((rest, rest));
                    let number =
                        |n: &str| n.parse::<u32>().map_err(|_| format!("USER {rest}: numeric uid:gid expected"));
                    parsed.user.uid = number(uid)?;
                    parsed.user.gid = number(gid)?;
                }
                "ENTRYPOINT" => {
                    parsed.entrypoint = serde_json::from_str(rest).map_err(|e| format!("ENTRYPOINT {rest}: {e}"))?;
                }
                _ => {}
            }
        }
        parsed.user.home = user_home.ok_or("no `adduser -h <home>`: btcd needs a home it can write")?;
        if parsed.build_run.is_empty() || parsed.entrypoint.is_empty() {
            return Err("no build stage RUN or no ENTRYPOINT".into());
        }
        Ok(parsed)
    }

    /// Runs the build stage's RUN commands in `context` with the stage's ENV, this machine's
    /// GOARCH, and the build stage's `/out` at `out`. Returns the combined output.
    pub fn compile(&self, context: &Path, out: &Path) -> Result<String, String> {
        let mut log = String::new();
        for run in &self.build_run {
            let command = run.replace(" /out/", &format!(" {}/", out.display()));
            let mut process = Command::new("sh");
            process.args(["-c", &command]).current_dir(context);
            // The golang image sets no GOFLAGS; this machine's (e.g. -buildvcs=false) must not leak in.
            process.env_remove("GOFLAGS");
            for (key, value) in &self.build_env {
                process.env(key, if key == "GOARCH" { host_goarch() } else { value.clone() });
            }
            let output = process.output().map_err(|e| format!("sh: {e}"))?;
            log.push_str(&format!("RUN {command}\n"));
            log.push_str(&String::from_utf8_lossy(&output.stdout));
            log.push_str(&String::from_utf8_lossy(&output.stderr));
            if !output.status.success() {
                return Err(format!("{log}\nthe build stage's RUN failed ({})", output.status));
            }
        }
        Ok(log)
    }

    /// Assembles the image's root directory under `root` from the build output in `out`
    /// (SIMULATED: Docker would make layers of it).
    pub fn assemble(&self, out: &Path, root: &Path) -> Result<ImageConfig, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        for (sources, destination) in &self.copies {
            let target = inside(root, destination);
            std::fs::create_dir_all(&target).map_err(|e| io("image dir", e))?;
            for source in sources {
                let built = inside(out, source.strip_prefix("/out").unwrap_or(source));
                let name = built.file_name().ok_or(format!("COPY {source}: no file name"))?;
                std::fs::copy(&built, target.join(name)).map_err(|e| io(source, e))?;
            }
        }
        for (destination, mode, content) in &self.scripts {
            let target = inside(root, destination);
            std::fs::create_dir_all(target.parent().unwrap()).map_err(|e| io("image dir", e))?;
            std::fs::write(&target, content).map_err(|e| io(destination, e))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))
                .map_err(|e| io(destination, e))?;
        }
        Ok(ImageConfig {
            user: self.user.clone(),
            entrypoint: self.entrypoint.clone(),
            path: IMAGE_PATH.map(String::from).to_vec(),
        })
    }
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

/// A digest of a directory's files (paths, modes, contents), standing for the image's layer.
pub fn directory_digest(root: &Path) -> String {
    use sha2::Digest;
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hash = sha2::Sha256::new();
    for file in files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).map(|m| m.permissions().mode()).unwrap_or_default();
        hash.update(format!("{} {mode:o}\n", file.strip_prefix(root).unwrap().display()));
        hash.update(sha2::Sha256::digest(std::fs::read(&file).unwrap_or_default()));
    }
    format!("sha256:{}", hex::encode(hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigship_s_dockerfile_is_read_as_docker_would_build_it() {
        let dockerfile = Dockerfile::read(&crate::workspace_root().join("source/Dockerfile")).unwrap();
        assert!(dockerfile.build_env.contains(&("GOTOOLCHAIN".into(), "local".into())), "{:?}", dockerfile.build_env);
        assert!(dockerfile.build_env.contains(&("CGO_ENABLED".into(), "0".into())));
        assert_eq!(dockerfile.build_run.len(), 2, "the compile, then SHA256SUMS of what it made");
        assert!(dockerfile.build_run[0].contains("-trimpath") && dockerfile.build_run[0].contains("./cmd/btcctl"));
        assert!(!dockerfile.build_run[0].contains('\\'), "continuations joined");
        assert!(dockerfile.build_run[1].contains("> /out/SHA256SUMS"), "{:?}", dockerfile.build_run);
        assert_eq!(
            dockerfile.copies,
            [
                (vec!["/out/btcd".into(), "/out/btcctl".into()], "/usr/local/bin/".into()),
                (vec!["/out/SHA256SUMS".into()], "/usr/local/share/btcd/".into())
            ]
        );
        let (path, mode, script) = &dockerfile.scripts[0];
        assert_eq!((path.as_str(), *mode), ("/usr/local/bin/entrypoint", 0o755));
        assert!(script.starts_with("#!/bin/sh\n") && script.contains("exec btcd"), "{script}");
        assert_eq!(dockerfile.user, ImageUser { uid: 10001, gid: 10001, home: "/home/btcd".into() });
        assert_eq!(dockerfile.entrypoint, ["/usr/local/bin/entrypoint"]);
    }

    #[test]
    fn a_changed_user_or_entrypoint_is_what_the_image_gets() {
        let text = std::fs::read_to_string(crate::workspace_root().join("source/Dockerfile")).unwrap();
        let changed = text
            .replace("USER 10001:10001", "USER 20002:20003")
            .replace("-h /home/btcd", "-h /var/lib/btcd")
            .replace(r#"ENTRYPOINT ["/usr/local/bin/entrypoint"]"#, r#"ENTRYPOINT ["/usr/local/bin/btcd", "--notls"]"#);
        let dockerfile = Dockerfile::parse(&changed).unwrap();
        assert_eq!(dockerfile.user, ImageUser { uid: 20002, gid: 20003, home: "/var/lib/btcd".into() });
        assert_eq!(dockerfile.entrypoint, ["/usr/local/bin/btcd", "--notls"]);
        let no_home = text.replace("RUN adduser -D -h /home/btcd -u 10001 btcd", "");
        assert!(Dockerfile::parse(&no_home).unwrap_err().contains("home"));
    }
}
