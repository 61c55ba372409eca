//! `RUN_DIR/results.jsonl`: one JSON object per point per line, appended in
//! point order with one write each, resumable after a kill, and shards
//! merged back into one file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::points::points;
use super::spec::Spec;
use crate::error::FlowError;

/// The results file of a run directory.
pub fn results_path(dir: &Path) -> PathBuf {
    dir.join("results.jsonl")
}

/// The lines of `path` that parse, after truncating the file to its last
/// complete line (a run killed mid-write leaves a partial one).
pub fn read_and_repair(path: &Path) -> Result<Vec<Json>, FlowError> {
    Ok(read_lines(path)?.into_iter().map(|(v, _)| v).collect())
}

/// [`read_and_repair`] with each line's text as written (re-serialising a
/// parsed line may print its floats differently).
pub fn read_lines(path: &Path) -> Result<Vec<(Json, String)>, FlowError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FlowError::io(path, &e)),
    };
    let mut lines = Vec::new();
    let mut good_len = 0usize;
    let mut pos = 0usize;
    for chunk in text.split_inclusive('\n') {
        pos += chunk.len();
        let parsed = chunk.ends_with('\n').then(|| serde_json::from_str::<Json>(chunk.trim_end()).ok()).flatten();
        match parsed {
            Some(v) if v.get("key").is_some() => {
                lines.push((v, chunk.trim_end().to_string()));
                good_len = pos;
            }
            _ => break,
        }
    }
    if good_len < text.len() {
        let f = OpenOptions::new().write(true).open(path).map_err(|e| FlowError::io(path, &e))?;
        f.set_len(good_len as u64).map_err(|e| FlowError::io(path, &e))?;
    }
    Ok(lines)
}

/// An append-only results file.
pub struct Appender {
    file: File,
    path: PathBuf,
}

impl Appender {
    /// Opens `path` for appending (creating it).
    pub fn open(path: &Path) -> Result<Self, FlowError> {
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| FlowError::io(path, &e))?;
        Ok(Appender { file, path: path.to_path_buf() })
    }

    /// Appends `line` with one write, then flushes.
    pub fn push(&mut self, line: &Json) -> Result<(), FlowError> {
        let text = format!("{line}\n");
        self.file.write_all(text.as_bytes()).and_then(|_| self.file.flush()).map_err(|e| FlowError::io(&self.path, &e))
    }
}

/// The spec hash recorded in a run directory.
pub fn read_spec_hash(dir: &Path) -> Result<Option<String>, FlowError> {
    let p = dir.join("spec.hash");
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FlowError::io(&p, &e)),
    }
}

/// What a merge wrote, dropped and found missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeCounts {
    /// Lines written.
    pub lines: usize,
    /// Lines dropped as duplicates of a key already taken.
    pub duplicates: usize,
    /// Points in the spec's list.
    pub points: usize,
    /// Indices of the spec's points that no directory holds (a shard that
    /// did not run or did not finish), ascending.
    pub missing: Vec<u64>,
}

impl MergeCounts {
    /// The warning about points no directory holds, if any.
    pub fn missing_warning(&self) -> Option<String> {
        if self.missing.is_empty() {
            return None;
        }
        let shown: Vec<String> = self.missing.iter().take(10).map(u64::to_string).collect();
        let more = if self.missing.len() > shown.len() { ", ..." } else { "" };
        Some(format!(
            "{} of the spec's {} points are in no directory (index {}{more}); \
             rerun their shards (a rerun reuses what a shard holds), then merge again",
            self.missing.len(),
            self.points,
            shown.join(", ")
        ))
    }
}

/// The spec hash of run directory `dir`, or an error saying it is not one.
fn run_dir_hash(dir: &Path) -> Result<String, FlowError> {
    read_spec_hash(dir)?.ok_or_else(|| {
        FlowError::Request(format!(
            "{}: not a run directory (no spec.hash): did its shard run? run it, then merge again",
            dir.display()
        ))
    })
}

/// Joins the results of run directories `dirs` (shards of one spec) into
/// `out`: deduplicated by key, in point order. Refuses directories whose
/// spec hash differs; reports the spec's points no directory holds. `out`
/// may be one of `dirs`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeCounts, FlowError> {
    let first = dirs.first().ok_or_else(|| FlowError::Request("merge needs at least one run directory".into()))?;
    let hash = run_dir_hash(first)?;
    let spec_path = first.join("spec.toml");
    let spec_text = std::fs::read_to_string(&spec_path).map_err(|e| FlowError::io(&spec_path, &e))?;
    let spec = Spec::parse(&spec_text, &spec_path.display().to_string())?;
    let points = points(&spec)?.len();
    let mut by_index: BTreeMap<u64, String> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = 0;
    for d in dirs {
        let h = run_dir_hash(d)?;
        if h != hash {
            return Err(FlowError::Request(format!(
                "{}: spec hash {h} differs from {}'s {hash}: not shards of one spec",
                d.display(),
                first.display()
            )));
        }
        for (line, text) in read_lines(&results_path(d))? {
            let key = line["key"].as_str().unwrap_or_default().to_string();
            let index = line["index"].as_u64().unwrap_or(u64::MAX);
            if seen.insert(key) {
                by_index.insert(index, text);
            } else {
                duplicates += 1;
            }
        }
    }
    let missing = (0..points as u64).filter(|i| !by_index.contains_key(i)).collect();
    // Everything is read before anything is written: `out` may be an input
    // (copying a file onto itself would empty it).
    std::fs::create_dir_all(out).map_err(|e| FlowError::io(out, &e))?;
    let write = |name: &str, text: &str| {
        let (tmp, path) = (out.join(format!("{name}.merging")), out.join(name));
        std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| FlowError::io(&path, &e))
    };
    write("spec.toml", &spec_text)?;
    write("spec.hash", &format!("{hash}\n"))?;
    write("results.jsonl", &by_index.values().map(|l| format!("{l}\n")).collect::<String>())?;
    Ok(MergeCounts { lines: by_index.len(), duplicates, points, missing })
}
