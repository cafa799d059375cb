//! The architecture, held by the compiler's neighbour: which module of the
//! library may use which (a layer may only use the layers beneath it, so
//! no import cycle can form), that the binary's modules form no cycle
//! either, and that only `oauth` speaks HTTP. A new top-level module fails
//! here until it is given its place in [`LAYERS`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules, bottom layer first. A module may use
/// the modules of the layers before its own, never those of its own layer
/// or after.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["time", "settings", "sasl", "signals", "replace"],
    &["secret"],
    &["provider", "password", "tls"],
    &["account", "protocol"],
    &["request"],
    &["config", "store", "oauth"],
    &["flows", "health"],
    &["engine"],
    &["proxy"],
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its top-level module name (the first
/// path part under `dir`, without `.rs`).
fn sources(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(dir).unwrap();
                let first = rel.components().next().unwrap().as_os_str();
                let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
                out.push((module, path));
            }
        }
    }
    out
}

/// The file's text without its tests: from the first `#[cfg(test)]` on (the
/// project keeps tests at the end of a file), and nothing of a `tests.rs`.
fn non_test_text(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `text` names as `<prefix>NAME` (`crate::engine`).
fn uses(text: &str, prefix: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let name: String = text[i + prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if known.contains(&name) {
            found.insert(name);
        }
    }
    // `use crate::{a, b}` names several at once.
    for (i, _) in text.match_indices(&format!("{prefix}{{")) {
        let rest = &text[i + prefix.len() + 1..];
        let group = &rest[..rest.find('}').unwrap_or(rest.len())];
        for part in group.split(',') {
            let name = part.trim().split("::").next().unwrap_or_default();
            if known.contains(name) {
                found.insert(name.to_string());
            }
        }
    }
    found
}

/// module -> the modules it uses, for the files under `dir` (one level of
/// the tree: the library, or the binary) naming each other by `prefix`.
fn graph(dir: &Path, prefix: &str, skip: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(String, PathBuf)> = sources(dir)
        .into_iter()
        .filter(|(m, p)| !skip.iter().any(|s| m == s || p.starts_with(dir.join(s))))
        .collect();
    let known: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &files {
        let mut used = uses(&non_test_text(path), prefix, &known);
        used.remove(module);
        g.entry(module.clone()).or_default().extend(used);
    }
    g
}

/// A cycle in `g`, if there is one, as the modules along it.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            return Some(path[start..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in g.get(node).into_iter().flatten() {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

#[test]
fn library_modules_use_only_the_layers_beneath_them() {
    let src = root().join("src");
    let g = graph(&src, "crate::", &["lib", "bin"]);
    let layer_of = |m: &str| LAYERS.iter().position(|layer| layer.contains(&m));
    let mut wrong = Vec::new();
    for (module, used) in &g {
        let Some(own) = layer_of(module) else {
            wrong.push(format!("{module}: not in LAYERS (tests/architecture.rs)"));
            continue;
        };
        for u in used {
            if layer_of(u).is_none_or(|l| l >= own) {
                wrong.push(format!("{module} uses {u}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken: {wrong:#?}");
    assert_eq!(cycle(&g), None);
}

#[test]
fn binary_modules_form_no_cycle() {
    let bin = root().join("src/bin/ooauth2");
    let g = graph(&bin, "crate::", &["main"]);
    assert!(
        g.contains_key("front") && g.contains_key("context"),
        "{g:?}"
    );
    assert_eq!(cycle(&g), None, "{g:#?}");
}

#[test]
fn only_oauth_speaks_http() {
    for (module, path) in sources(&root().join("src")) {
        let text = non_test_text(&path);
        if text.contains("reqwest::blocking") || text.contains("reqwest::Client") {
            assert_eq!(module, "oauth", "{} speaks HTTP", path.display());
        }
    }
}

#[test]
fn the_checks_see_a_cycle_when_there_is_one() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g), Some(vec!["a".into(), "b".into(), "c".into()]));
    let known: BTreeSet<String> = ["store", "oauth"].map(String::from).into();
    let text = "use crate::{store::Store, oauth};\nlet x = crate::store::id();";
    assert_eq!(uses(text, "crate::", &known), known);
}
