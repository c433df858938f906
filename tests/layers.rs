//! The module map in src/lib.rs is the layering: a module uses only modules listed below it,
//! so there are no import cycles and the foundation (`base`, last) imports nothing of the
//! project. This reads every module's `crate::` paths (tests included) and checks them
//! against the map's order.

use std::collections::BTreeMap;
use std::path::Path;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The modules of the map in src/lib.rs, top first.
fn map(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| line.strip_prefix("//! | [`"))
        .map(|rest| rest.split('`').next().unwrap_or_default().to_string())
        .collect()
}

/// The project modules `source` names through `crate::`, either as a path or in a
/// `use crate::{...}` group; comments are left out.
fn used(source: &str) -> Vec<String> {
    let code: String = source.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let mut names = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: track nesting so `a::{b, c}` gives `a` only.
            let (mut depth, mut item, mut end) = (0, String::new(), group.len());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => names.push(std::mem::take(&mut item)),
                    _ => item.push(c),
                }
            }
            names.push(item);
            rest = &group[end..];
        } else {
            names.push(rest.to_string());
        }
    }
    names
        .iter()
        .map(|n| n.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Every `.rs` file of module `name`: `src/name.rs` and everything under `src/name/`.
fn sources(name: &str) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(Path::new(SRC).join(format!("{name}.rs"))) {
        out.push(text);
    }
    walk(&Path::new(SRC).join(name), &mut out);
    out
}

/// `(module, module it uses that is listed above it)` pairs.
fn upward(order: &[String], uses: &BTreeMap<String, Vec<String>>) -> Vec<(String, String)> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut found = Vec::new();
    for (module, names) in uses {
        let mine = rank(module).unwrap();
        for name in names {
            if rank(name).is_some_and(|r| r <= mine) && name != module {
                found.push((module.clone(), name.clone()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_module_uses_one_above_it_in_the_module_map() {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    let order = map(&lib);
    let declared: Vec<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ").or_else(|| l.strip_prefix("pub(crate) mod ")))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mut listed = order.clone();
    listed.sort();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    assert_eq!(listed, declared_sorted, "every module is in the map exactly once");
    assert_eq!(order.last().map(String::as_str), Some("base"), "the foundation is at the bottom");

    let uses: BTreeMap<String, Vec<String>> =
        declared.iter().map(|m| (m.clone(), sources(m).iter().flat_map(|s| used(s)).filter(|n| declared.contains(n)).collect())).collect();
    assert!(uses["base"].is_empty(), "base imports {:?}", uses["base"]);
    assert_eq!(upward(&order, &uses), Vec::<(String, String)>::new());
}

#[test]
fn the_check_finds_grouped_nested_and_path_uses() {
    let source = "use crate::a::X; // crate::commented\nuse crate::{b::{Y, Z}, c, lock};\nfn f() { crate::d::g(); }\n";
    assert_eq!(used(source), ["a", "b", "c", "lock", "d"]);
    let order: Vec<String> = ["top", "mid", "bottom"].map(String::from).to_vec();
    let uses = BTreeMap::from([("mid".to_string(), vec!["top".to_string(), "bottom".to_string()]), ("bottom".to_string(), vec![])]);
    assert_eq!(upward(&order, &uses), [("mid".to_string(), "top".to_string())]);
}
