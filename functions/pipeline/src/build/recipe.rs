//! The build recipe: `source/Dockerfile`, read from the Dockerfile itself — its build stage's ENV
//! and RUN, which compile btcd, and what its final stage adds (the files it copies, the
//! entrypoint script, the user and its home, the ENTRYPOINT). The local cloud's CodeBuild compiles
//! with it and `sigship reproduce` rebuilds with it: one reading, so a rebuild runs exactly what
//! the image's build stage ran.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// The Dockerfile sigship builds with, as this version of sigship uploads it.
pub const DOCKERFILE: &str = include_str!("../../../../source/Dockerfile");

/// Go settings that change what `go build` writes, which the build stage does not set: a
/// machine's own must not leak into a build (the golang image sets none of them).
const SCRUBBED_GO_ENV: [&str; 7] = ["GOFLAGS", "GOAMD64", "GOARM64", "GOARM", "GO386", "GOEXPERIMENT", "GOFIPS140"];

/// The parts of the Dockerfile a build acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    /// `ARG GO_VERSION=<exact release>`: the Go every build uses.
    pub go_version: String,
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

/// What a compile targets: Go's architecture name and the toolchain (`local`: the machine's Go,
/// as the build image's; `go1.26.8`: that release, which Go downloads where the machine lacks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub goarch: String,
    pub toolchain: String,
}

impl Dockerfile {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| recipe(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| recipe(format!("{}: {e}", path.display())))
    }

    /// The Dockerfile this sigship builds with.
    pub fn sigship() -> Self {
        Self::parse(DOCKERFILE).expect("source/Dockerfile is tested to parse")
    }

    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut lines = text.lines().peekable();
        let (mut stage, mut build_stage) = (String::new(), None::<String>);
        let mut parsed = Dockerfile {
            go_version: String::new(),
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
                "ARG" if build_stage.is_none() => {
                    if let Some(version) = rest.strip_prefix("GO_VERSION=") {
                        parsed.go_version = version.trim_matches('"').to_string();
                    }
                }
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
        if parsed.go_version.is_empty() {
            return Err("no `ARG GO_VERSION=<release>` before the build stage".into());
        }
        Ok(parsed)
    }

    /// Runs the build stage's RUN commands in `context` (btcd's source at the commit) with the
    /// stage's ENV for `target`, and the build stage's `/out` at `out`. Returns the combined
    /// output; a failing RUN is [`Error::RebuildFailed`] with it.
    pub fn compile(&self, context: &Path, out: &Path, target: &Target) -> Result<String> {
        let mut log = String::new();
        for run in &self.build_run {
            let command = run.replace(" /out/", &format!(" {}/", out.display()));
            let mut process = Command::new("sh");
            process.args(["-c", &command]).current_dir(context);
            for name in SCRUBBED_GO_ENV {
                process.env_remove(name);
            }
            for (key, value) in &self.build_env {
                let value = match key.as_str() {
                    "GOARCH" => &target.goarch,
                    "GOTOOLCHAIN" => &target.toolchain,
                    _ => value,
                };
                process.env(key, value);
            }
            let output = process.output().map_err(|e| Error::RebuildFailed { output: format!("sh: {e}") })?;
            log.push_str(&format!("RUN {command}\n"));
            log.push_str(&String::from_utf8_lossy(&output.stdout));
            log.push_str(&String::from_utf8_lossy(&output.stderr));
            if !output.status.success() {
                return Err(Error::RebuildFailed {
                    output: format!("{log}\nthe build stage's RUN failed ({})", output.status),
                });
            }
        }
        Ok(log)
    }
}

fn recipe(reason: String) -> Error {
    Error::Configuration(format!("build recipe: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigship_s_dockerfile_is_read_as_docker_would_build_it() {
        let dockerfile = Dockerfile::sigship();
        assert_eq!(dockerfile.go_version, "1.26.8", "an exact Go release");
        assert!(dockerfile.build_env.contains(&("GOTOOLCHAIN".into(), "local".into())), "{:?}", dockerfile.build_env);
        assert!(dockerfile.build_env.contains(&("CGO_ENABLED".into(), "0".into())));
        assert_eq!(dockerfile.build_run.len(), 2, "the compile, then SHA256SUMS of what it made");
        let compile = &dockerfile.build_run[0];
        assert!(
            compile.contains("-trimpath") && compile.contains("-buildvcs=false") && compile.contains("./cmd/btcctl")
        );
        assert!(!compile.contains('\\'), "continuations joined");
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
        let changed = DOCKERFILE
            .replace("USER 10001:10001", "USER 20002:20003")
            .replace("-h /home/btcd", "-h /var/lib/btcd")
            .replace(r#"ENTRYPOINT ["/usr/local/bin/entrypoint"]"#, r#"ENTRYPOINT ["/usr/local/bin/btcd", "--notls"]"#);
        let dockerfile = Dockerfile::parse(&changed).unwrap();
        assert_eq!(dockerfile.user, ImageUser { uid: 20002, gid: 20003, home: "/var/lib/btcd".into() });
        assert_eq!(dockerfile.entrypoint, ["/usr/local/bin/btcd", "--notls"]);
        let no_home = DOCKERFILE.replace("RUN adduser -D -h /home/btcd -u 10001 btcd", "");
        assert!(Dockerfile::parse(&no_home).unwrap_err().contains("home"));
        let no_pin = DOCKERFILE.replace("ARG GO_VERSION=1.26.8", "ARG GO_VERSION");
        assert!(Dockerfile::parse(&no_pin).unwrap_err().contains("GO_VERSION"));
    }

    #[test]
    fn a_compile_targets_the_architecture_and_toolchain_asked_for() {
        let dockerfile = Dockerfile {
            build_run: vec!["env | grep -E '^(GO|CGO)' | sort > /out/env".into()],
            ..Dockerfile::sigship()
        };
        let (source, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let target = Target { goarch: "arm64".into(), toolchain: "go1.26.8".into() };
        dockerfile.compile(source.path(), out.path(), &target).unwrap();
        let env = std::fs::read_to_string(out.path().join("env")).unwrap();
        for expected in ["GOARCH=arm64\n", "GOTOOLCHAIN=go1.26.8\n", "CGO_ENABLED=0\n", "GOOS=linux\n"] {
            assert!(env.contains(expected), "{expected:?} in {env}");
        }
        let failing = Dockerfile { build_run: vec!["echo compiling; exit 3".into()], ..Dockerfile::sigship() };
        let err = failing.compile(source.path(), out.path(), &target).unwrap_err();
        assert_eq!(err.name(), "RebuildFailed");
        assert!(err.to_string().contains("compiling"), "{err}");
    }
}
