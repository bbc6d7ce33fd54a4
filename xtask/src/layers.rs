//! The pipeline library's layers, checked: every module of `functions/pipeline/src` sits in one
//! layer, imports only from its own layer or below, and the module graph has no cycle. Read from
//! the source's `crate::…` paths (tests and the test fakes excluded), so it needs no build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom up. A module imports only from its own layer or one below it.
pub const LAYERS: [(&str, &[&str]); 9] = [
    ("foundation: errors, configuration, ARNs", &["arn", "config", "error"]),
    ("vocabulary: networks, releases, sizes, quotas (no AWS, no I/O)", &["network", "quota", "release", "sizing"]),
    ("verification and executions", &["execution", "verify"]),
    ("the build, and what runs", &["build", "running"]),
    ("the task definition", &["task_definition"]),
    ("deployment and the node's operation", &["deployment", "node", "queue"]),
    ("what starts and ends a deployment", &["teardown", "trigger"]),
    ("AWS adapters", &["aws"]),
    ("Lambda glue", &["lambda"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// `cargo xtask layers [SRC]`: the check on its own (default: the pipeline library).
pub fn run(args: &[String]) -> Result<(), String> {
    let src = match args.first() {
        Some(dir) => std::path::PathBuf::from(dir),
        None => localcloud::workspace_root().join("functions/pipeline/src"),
    };
    check(&src)?;
    println!("xtask: the pipeline library's {} layers hold; its module graph has no cycle", LAYERS.len());
    Ok(())
}

/// Every offence, one line each, or Ok.
pub fn check(src: &Path) -> Result<(), String> {
    let imports = imports(src)?;
    let mut problems = Vec::new();
    let declared = declared_modules(src)?;
    for module in &declared {
        if layer_of(module).is_none() {
            problems.push(format!("module {module} is in no layer: add it to LAYERS in xtask/src/layers.rs"));
        }
    }
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for import in &imports {
        let (Some(from), Some(to)) = (layer_of(&import.from), layer_of(&import.to)) else { continue };
        graph.entry(import.from.as_str()).or_default().insert(import.to.as_str());
        if to > from {
            problems.push(format!(
                "{}:{}: {} ({}) imports {} ({}), a layer above it",
                import.file, import.line, import.from, LAYERS[from].0, import.to, LAYERS[to].0
            ));
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!("the module graph has a cycle: {}", cycle.join(" → ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the pipeline library's layers are broken:\n  {}", problems.join("\n  ")))
    }
}

#[derive(Debug)]
struct Import {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// The crate root's `mod` declarations.
fn declared_modules(src: &Path) -> Result<Vec<String>, String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).map_err(|e| format!("{}: {e}", src.display()))?;
    Ok(lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .filter_map(|l| l.strip_suffix(';'))
        .filter(|m| *m != "testing")
        .map(String::from)
        .collect())
}

/// Each `crate::<module>` a non-test line of a module's files names, with `use crate::{a, b}` groups.
fn imports(src: &Path) -> Result<Vec<Import>, String> {
    let mut found = Vec::new();
    for path in rust_files(src)? {
        let relative = path.strip_prefix(src).unwrap_or(&path).to_string_lossy().into_owned();
        let module = relative.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_string();
        let is_test_file = relative.ends_with("tests.rs") || relative.contains("/tests/") || module == "testing";
        if module == "lib" || is_test_file {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (line, to) in crate_paths(&text) {
            if to != module {
                found.push(Import {
                    file: format!("functions/pipeline/src/{relative}"),
                    line,
                    from: module.clone(),
                    to,
                });
            }
        }
    }
    Ok(found)
}

/// (line number, first segment) of every `crate::…` path outside `#[cfg(test)] mod … { }` blocks.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[cfg(test)]" && lines.get(i + 1).is_some_and(|l| l.trim_end().ends_with('{')) {
            // Skip to the block's closing brace at the attribute's indentation.
            let indent = lines[i].len() - lines[i].trim_start().len();
            i += 2;
            while i < lines.len() && !(lines[i].len() - lines[i].trim_start().len() == indent && lines[i].trim() == "}")
            {
                i += 1;
            }
            i += 1;
            continue;
        }
        let code = lines[i].split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    paths.push((i + 1, identifier(item.trim())));
                }
            } else {
                paths.push((i + 1, identifier(after)));
            }
            rest = after;
        }
        i += 1;
    }
    paths.retain(|(_, name)| !name.is_empty());
    paths
}

fn identifier(text: &str) -> String {
    text.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A cycle in `graph` as the modules along it (first repeated last), if there is one.
fn find_cycle<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn the_pipeline_library_holds_its_layers() {
        check(&localcloud::workspace_root().join("functions/pipeline/src")).unwrap();
    }

    #[test]
    fn an_import_from_above_a_cycle_and_an_unplaced_module_are_each_named() {
        let lib = "pub mod network;\npub mod deployment;\npub mod gadgets;\n";
        let upward = library(&[
            ("lib.rs", lib),
            (
                "network.rs",
                "use crate::deployment::Services;\n\n#[cfg(test)]\nmod tests {\n    use crate::gadgets::X;\n}\n",
            ),
            ("deployment/mod.rs", "use crate::{error::Result, network::Network};\n"),
        ]);
        let err = check(upward.path()).unwrap_err();
        assert!(err.contains("network.rs:1: network (vocabulary"), "{err}");
        assert!(err.contains("imports deployment (deployment"), "{err}");
        assert!(err.contains("cycle: deployment → network → deployment"), "{err}");
        assert!(err.contains("module gadgets is in no layer"), "{err}");
        assert!(!err.contains("gadgets::X"), "test blocks do not count: {err}");
        let fine = library(&[("lib.rs", "pub mod network;\npub mod deployment;\n"), ("deployment.rs", lib_use())]);
        check(fine.path()).unwrap();
    }

    fn lib_use() -> &'static str {
        "use crate::network::Network; // crate::lambda in a comment does not count\n"
    }
}
