//! The workspace's layering, read from `cargo metadata`: a library may only
//! depend on the nmsat crates below it.
//!
//! ```text
//! nmsat (CLI) → flow → compiler, rtl, reports → sim → dataflow
//! ```
//!
//! dataflow is the shared contract and depends on no other nmsat crate; the
//! simulator knows nothing of the front ends, the RTL or the reports; the
//! compiler nothing of the back ends; the reports render the simulator's
//! statistics without knowing how they were compiled; no library depends on
//! the binary.

use std::collections::BTreeMap;
use std::process::Command;

/// For each crate, the nmsat crates it must not depend on (normal,
/// build or dev dependencies alike).
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("nmsat-dataflow", &["nmsat-compiler", "nmsat-sim", "nmsat-rtl", "nmsat-reports", "nmsat-flow", "nmsat"]),
    ("nmsat-sim", &["nmsat-compiler", "nmsat-rtl", "nmsat-reports", "nmsat-flow", "nmsat"]),
    ("nmsat-compiler", &["nmsat-sim", "nmsat-rtl", "nmsat-reports", "nmsat-flow", "nmsat"]),
    ("nmsat-reports", &["nmsat-compiler", "nmsat-rtl", "nmsat-flow", "nmsat"]),
    ("nmsat-rtl", &["nmsat-compiler", "nmsat-reports", "nmsat-flow", "nmsat"]),
    ("nmsat-flow", &["nmsat"]),
];

/// The nmsat crates each workspace member depends on, from `cargo metadata` JSON.
fn edges(metadata: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for p in metadata["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str())
            .filter(|d| *d == "nmsat" || d.starts_with("nmsat-"))
            .map(String::from)
            .collect();
        out.insert(name, deps);
    }
    out
}

/// Every forbidden edge, as `from -> to`.
fn violations(edges: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut v = Vec::new();
    for (from, banned) in FORBIDDEN {
        for to in edges.get(*from).into_iter().flatten() {
            if banned.contains(&to.as_str()) {
                v.push(format!("{from} -> {to}"));
            }
        }
    }
    v
}

fn metadata() -> serde_json::Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn the_workspace_has_no_forbidden_crate_edge() {
    let e = edges(&metadata());
    for (krate, _) in FORBIDDEN {
        assert!(e.contains_key(*krate), "{krate} is not a workspace member: {e:?}");
    }
    let v = violations(&e);
    assert!(v.is_empty(), "forbidden crate edges: {}", v.join(", "));
}

#[test]
fn an_added_edge_is_caught() {
    let mut e = edges(&metadata());
    e.get_mut("nmsat-sim").unwrap().push("nmsat-compiler".into());
    e.get_mut("nmsat-reports").unwrap().push("nmsat-rtl".into());
    assert_eq!(violations(&e), ["nmsat-sim -> nmsat-compiler", "nmsat-reports -> nmsat-rtl"]);
}
