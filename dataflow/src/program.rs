//! A SAT program: the instruction stream, what each instruction belongs to
//! (layer and pass), the DRAM memory map, and the config it was compiled
//! for. Saved as a `.sat` file and disassembled by `nmsat disasm`.
//!
//! File format (little-endian):
//! `b"NMSATPRG"`, `u32` version, `u32` header length, the header as JSON
//! (config TOML, layers, memory map, compile options), `u64` instruction
//! count, the 32-byte instructions, then one `u32` layer index and one `u8`
//! pass per instruction, then `u64` count of memory-image segments, each
//! `u64` address, `u64` length and the bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::arch::ArchConfig;
use crate::error::ProgramError;
use crate::isa::{INSTR_BYTES, Instr, Queue};
use crate::workload::Pass;

const MAGIC: &[u8; 8] = b"NMSATPRG";
const VERSION: u32 = 1;

/// Layer index meaning "no layer" (program-level instructions such as `halt`).
pub const NO_LAYER: u32 = u32::MAX;

/// Which layer and pass an instruction belongs to, for per-layer statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// Index into [`Program::layers`], or [`NO_LAYER`].
    pub layer: u32,
    /// The pass.
    pub pass: Pass,
}

/// What a DRAM region holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    /// Training inputs of the batch.
    Input,
    /// Labels of the batch.
    Labels,
    /// An activation kept for BP/WG, or an output.
    Activation,
    /// A gradient with respect to an activation.
    Gradient,
    /// Dense master weights (32-bit).
    MasterWeights,
    /// Momentum (32-bit).
    Momentum,
    /// Dense int16 operand weights.
    Weights,
    /// Compressed N:M weights for FF (values and indices interleaved per row).
    WeightsFf,
    /// Compressed, transposed N:M weights for BP.
    WeightsBp,
    /// Index arrays of a non-interleaved compressed layout.
    Indices,
    /// Weight gradients (32-bit).
    WeightGradient,
}

/// A named DRAM region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Name, e.g. `conv2.w_ff.next`.
    pub name: String,
    /// What it holds.
    pub kind: RegionKind,
    /// Byte address.
    pub addr: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// How the program was compiled, kept for reports and reproducibility.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileInfo {
    /// Model name or path.
    pub model: String,
    /// Training method (`dense`, `srste`, `bdwp`).
    pub method: String,
    /// N:M pattern, when the method uses one.
    pub nm: Option<String>,
    /// Batch size.
    pub batch: u64,
    /// Dataflow passes that were enabled, by name.
    pub passes: Vec<String>,
    /// The training GEMMs the program computes, as the compiler lowered them.
    #[serde(default)]
    pub gemms: Vec<GemmRecord>,
}

/// One training GEMM as lowered (before tiling), for per-layer reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GemmRecord {
    /// Layer name.
    pub layer: String,
    /// Pass.
    pub pass: Pass,
    /// Rows.
    pub m: u64,
    /// Columns.
    pub n: u64,
    /// Reduction.
    pub k: u64,
    /// Independent copies.
    pub count: u64,
    /// `dense` or the N:M pattern it runs in.
    pub mode: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    arch_toml: String,
    layers: Vec<String>,
    regions: Vec<Region>,
    dram_bytes: u64,
    info: CompileInfo,
}

/// A compiled SAT program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The config it was compiled for (the simulator's default).
    pub arch: ArchConfig,
    /// The instructions, in issue order (each queue keeps this relative order).
    pub instrs: Vec<Instr>,
    /// One tag per instruction.
    pub tags: Vec<Tag>,
    /// Layer names.
    pub layers: Vec<String>,
    /// DRAM memory map.
    pub regions: Vec<Region>,
    /// Total DRAM bytes addressed.
    pub dram_bytes: u64,
    /// Initial DRAM contents (address, bytes); empty for timing-only programs.
    pub image: Vec<(u64, Vec<u8>)>,
    /// How it was compiled.
    pub info: CompileInfo,
}

impl Program {
    /// An empty program for `arch`.
    pub fn new(arch: ArchConfig) -> Self {
        Self {
            arch,
            instrs: Vec::new(),
            tags: Vec::new(),
            layers: Vec::new(),
            regions: Vec::new(),
            dram_bytes: 0,
            image: Vec::new(),
            info: CompileInfo::default(),
        }
    }

    /// Appends an instruction with its tag; returns its index.
    pub fn push(&mut self, instr: Instr, tag: Tag) -> usize {
        self.instrs.push(instr);
        self.tags.push(tag);
        self.instrs.len() - 1
    }

    /// Index of a layer name, adding it when new.
    pub fn layer_index(&mut self, name: &str) -> u32 {
        if let Some(i) = self.layers.iter().position(|l| l == name) {
            return i as u32;
        }
        self.layers.push(name.to_string());
        (self.layers.len() - 1) as u32
    }

    /// Allocates a DRAM region (64-byte aligned) and returns its address.
    pub fn alloc(&mut self, name: impl Into<String>, kind: RegionKind, bytes: u64) -> u64 {
        // Saturating: an impossible size (refused by the checks that follow
        // planning) must not overflow first.
        let addr = self.dram_bytes.checked_next_multiple_of(64).unwrap_or(u64::MAX);
        self.regions.push(Region { name: name.into(), kind, addr, bytes });
        self.dram_bytes = addr.saturating_add(bytes);
        addr
    }

    /// The name of a tag's layer.
    pub fn layer_name(&self, tag: Tag) -> &str {
        if tag.layer == NO_LAYER { "-" } else { self.layers.get(tag.layer as usize).map_or("?", String::as_str) }
    }

    /// Serializes to the `.sat` format.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProgramError> {
        let header = Header {
            arch_toml: self.arch.to_toml(),
            layers: self.layers.clone(),
            regions: self.regions.clone(),
            dram_bytes: self.dram_bytes,
            info: self.info.clone(),
        };
        let json = serde_json::to_vec(&header).map_err(|e| fmt_err("<memory>", e.to_string()))?;
        let mut out = Vec::with_capacity(32 + json.len() + self.instrs.len() * (INSTR_BYTES + 5));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&(self.instrs.len() as u64).to_le_bytes());
        for (index, i) in self.instrs.iter().enumerate() {
            let b = i.encode().map_err(|source| ProgramError::Instr { origin: "<memory>".into(), index, source })?;
            out.extend_from_slice(&b);
        }
        for t in &self.tags {
            out.extend_from_slice(&t.layer.to_le_bytes());
            out.push(pass_code(t.pass));
        }
        out.extend_from_slice(&(self.image.len() as u64).to_le_bytes());
        for (addr, bytes) in &self.image {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }

    /// Parses the `.sat` format; `origin` names the source in errors.
    pub fn from_bytes(data: &[u8], origin: &str) -> Result<Self, ProgramError> {
        let mut r = Reader { data, pos: 0, origin };
        if r.take(8)? != MAGIC {
            return Err(fmt_err(
                origin,
                "not an nmsat program (bad magic; expected a file written by `nmsat compile -o`)",
            ));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(fmt_err(origin, format!("program format version {version}, this nmsat reads {VERSION}")));
        }
        let hlen = r.u32()? as usize;
        let header: Header =
            serde_json::from_slice(r.take(hlen)?).map_err(|e| fmt_err(origin, format!("bad header: {e}")))?;
        let arch = ArchConfig::from_toml_str(&header.arch_toml, &format!("{origin} (embedded config)"))
            .map_err(|e| fmt_err(origin, e.to_string()))?;
        let extent = header.regions.iter().map(|g| g.addr.saturating_add(g.bytes)).max().unwrap_or(0);
        if header.dram_bytes > extent {
            return Err(fmt_err(
                origin,
                format!("the header claims {} DRAM bytes, but its regions end at {extent}", header.dram_bytes),
            ));
        }
        let n = r.u64()? as usize;
        if n > data.len() / INSTR_BYTES {
            return Err(fmt_err(origin, format!("claims {n} instructions, file too short")));
        }
        let mut instrs = Vec::with_capacity(n);
        for index in 0..n {
            let b: &[u8; INSTR_BYTES] = r.take(INSTR_BYTES)?.try_into().expect("length checked");
            instrs.push(Instr::decode(b).map_err(|source| ProgramError::Instr {
                origin: origin.into(),
                index,
                source,
            })?);
        }
        let mut tags = Vec::with_capacity(n);
        for i in 0..n {
            let layer = r.u32()?;
            let pass = pass_from(r.take(1)?[0]).ok_or_else(|| fmt_err(origin, format!("bad pass tag at {i}")))?;
            if layer != NO_LAYER && layer as usize >= header.layers.len() {
                return Err(fmt_err(origin, format!("instruction {i} tagged with unknown layer {layer}")));
            }
            tags.push(Tag { layer, pass });
        }
        let segs = r.u64()? as usize;
        let mut image = Vec::new();
        for _ in 0..segs {
            let addr = r.u64()?;
            let len = r.u64()? as usize;
            image.push((addr, r.take(len)?.to_vec()));
        }
        if r.pos != data.len() {
            return Err(fmt_err(origin, "trailing bytes after the memory image"));
        }
        Ok(Self {
            arch,
            instrs,
            tags,
            layers: header.layers,
            regions: header.regions,
            dram_bytes: header.dram_bytes,
            image,
            info: header.info,
        })
    }

    /// Writes the program to a file.
    pub fn save(&self, path: &Path) -> Result<(), ProgramError> {
        let bytes = self.to_bytes()?;
        // Write to a sibling temp file and rename, so a failure leaves nothing half written.
        let tmp = path.with_extension("sat.partial");
        let io = |source| ProgramError::Io { path: path.to_path_buf(), source };
        if let Err(e) = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }

    /// Checks, before any work, that [`Program::save`] can write `path`: it
    /// is not a directory and its directory exists (the write itself can
    /// still fail, and then leaves nothing).
    pub fn check_writable(path: &Path) -> Result<(), ProgramError> {
        let io = |kind: std::io::ErrorKind, what: &str| ProgramError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(kind, what.to_string()),
        };
        if path.is_dir() {
            return Err(io(std::io::ErrorKind::IsADirectory, "is a directory; give a file name"));
        }
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(io(std::io::ErrorKind::NotFound, "its directory does not exist"));
        }
        Ok(())
    }

    /// Reads a program file.
    pub fn load(path: &Path) -> Result<Self, ProgramError> {
        let data = std::fs::read(path).map_err(|source| ProgramError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(&data, &path.display().to_string())
    }

    /// The assembly text: one instruction per line (`queue: text ; layer pass`),
    /// which [`Program::parse_asm`] reads back.
    pub fn disassemble(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "; nmsat SAT program for `{}`", self.arch.name);
        let _ = writeln!(
            s,
            "; model {} method {} nm {} batch {}",
            self.info.model,
            self.info.method,
            self.info.nm.as_deref().unwrap_or("-"),
            self.info.batch
        );
        let _ = writeln!(s, "; dataflow passes: {}", self.info.passes.join(", "));
        let _ = writeln!(
            s,
            "; {} instructions, {} DRAM bytes, {} regions",
            self.instrs.len(),
            self.dram_bytes,
            self.regions.len()
        );
        for r in &self.regions {
            let _ = writeln!(s, ";   region {:#012x} {:>10} B {:?} {}", r.addr, r.bytes, r.kind, r.name);
        }
        for (i, (instr, tag)) in self.instrs.iter().zip(&self.tags).enumerate() {
            let _ =
                writeln!(s, "{i:>7} {:<7} {} ; {} {}", instr.queue().name(), instr, self.layer_name(*tag), tag.pass);
        }
        s
    }

    /// Parses instructions and tags back from [`Program::disassemble`] text
    /// into a program for `arch` (regions and image are not part of the text).
    pub fn parse_asm(text: &str, arch: ArchConfig, origin: &str) -> Result<Self, ProgramError> {
        let mut p = Program::new(arch);
        for (ln, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            let (code, comment) = line.split_once(';').unwrap_or((line, ""));
            let mut words = code.split_whitespace();
            let first = words.next().unwrap_or("");
            // Optional leading index and queue name.
            let rest: Vec<&str> = if first.chars().all(|c| c.is_ascii_digit()) {
                let q = words.next().unwrap_or("");
                if !["load", "compute", "store"].contains(&q) {
                    return Err(ProgramError::Asm {
                        origin: origin.into(),
                        line: ln + 1,
                        source: crate::error::IsaError::Text(format!("unknown queue `{q}`")),
                    });
                }
                words.collect()
            } else {
                std::iter::once(first).chain(words).collect()
            };
            let instr = Instr::parse_text(&rest.join(" ")).map_err(|source| ProgramError::Asm {
                origin: origin.into(),
                line: ln + 1,
                source,
            })?;
            let mut cw = comment.split_whitespace();
            let (layer, pass) = (cw.next(), cw.next());
            let tag = match (layer, pass.and_then(pass_from_name)) {
                (Some(l), Some(pass)) if l != "-" => Tag { layer: p.layer_index(l), pass },
                (_, Some(pass)) => Tag { layer: NO_LAYER, pass },
                _ => Tag { layer: NO_LAYER, pass: Pass::Ff },
            };
            p.push(instr, tag);
        }
        Ok(p)
    }

    /// Per (layer, pass): instruction counts per queue, DRAM bytes moved and MACs.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let mut rows: BTreeMap<(u32, Pass), SummaryRow> = BTreeMap::new();
        let ib = |i: &Instr| match i {
            Instr::Load { fmt, index_bits, rows, cols, .. } => {
                u64::from(*rows) * fmt.row_bytes(u64::from(*cols), u32::from(*index_bits))
            }
            Instr::Store { fmt, index_bits, rows, cols, .. } => {
                u64::from(*rows) * fmt.row_bytes(u64::from(*cols), u32::from(*index_bits))
            }
            Instr::Load2col { rows, cols, .. } => 2 * u64::from(*rows) * u64::from(*cols),
            _ => 0,
        };
        for (i, t) in self.instrs.iter().zip(&self.tags) {
            let row = rows.entry((t.layer, t.pass)).or_insert_with(|| SummaryRow {
                layer: self.layer_name(*t).to_string(),
                pass: t.pass,
                ..SummaryRow::default()
            });
            match i.queue() {
                Queue::Load => row.loads += 1,
                Queue::Compute => row.computes += 1,
                Queue::Store => row.stores += 1,
            }
            row.dram_bytes += ib(i);
            if let Instr::Gemm { m, n, k, mode, .. } = i {
                let macs = u64::from(*m) * u64::from(*n) * u64::from(*k);
                row.macs_dense += macs;
                let (num, den) = mode.expansion();
                row.macs_executed += macs * den / num;
            }
        }
        rows.into_values().collect()
    }
}

/// One row of [`Program::summary`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    /// Layer name.
    pub layer: String,
    /// Pass.
    pub pass: Pass,
    /// Load-queue instructions.
    pub loads: u64,
    /// Compute-queue instructions.
    pub computes: u64,
    /// Store-queue instructions.
    pub stores: u64,
    /// DRAM bytes moved by its DMA instructions.
    pub dram_bytes: u64,
    /// Dense MACs of its GEMMs.
    pub macs_dense: u64,
    /// MACs its GEMMs execute (N/M of dense when sparse).
    pub macs_executed: u64,
}

fn pass_code(p: Pass) -> u8 {
    match p {
        Pass::Ff => 0,
        Pass::Bp => 1,
        Pass::Wg => 2,
        Pass::Wu => 3,
    }
}

fn pass_from(b: u8) -> Option<Pass> {
    Some(match b {
        0 => Pass::Ff,
        1 => Pass::Bp,
        2 => Pass::Wg,
        3 => Pass::Wu,
        _ => return None,
    })
}

fn pass_from_name(s: &str) -> Option<Pass> {
    Pass::ALL.into_iter().find(|p| p.name() == s)
}

fn fmt_err(origin: &str, message: impl Into<String>) -> ProgramError {
    ProgramError::Format { origin: origin.to_string(), message: message.into() }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    origin: &'a str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProgramError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            fmt_err(
                self.origin,
                format!("truncated: needs {n} bytes at offset {}, file has {}", self.pos, self.data.len()),
            )
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, ProgramError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, ProgramError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::{Buf, Deps, DmaFormat, GemmMode};

    fn sample() -> Program {
        let mut p = Program::new(ArchConfig::preset("tiny").unwrap());
        let l = p.layer_index("fc1");
        let a = p.alloc("x", RegionKind::Input, 128);
        p.push(
            Instr::Load {
                deps: Deps { push_next: true, ..Deps::default() },
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: a,
                sram: 0,
                rows: 4,
                cols: 16,
                stride: 32,
            },
            Tag { layer: l, pass: Pass::Ff },
        );
        p.push(
            Instr::Gemm {
                deps: Deps { pop_prev: true, ..Deps::default() },
                mode: GemmMode::Dense,
                acc: false,
                il: false,
                at: false,
                wt: false,
                m: 4,
                n: 2,
                k: 16,
                a: 0,
                a_stride: 16,
                w: 0,
                o: 0,
                ws: false,
            },
            Tag { layer: l, pass: Pass::Ff },
        );
        p.push(Instr::Halt { deps: Deps::default() }, Tag { layer: NO_LAYER, pass: Pass::Wu });
        p.image.push((a, vec![1, 2, 3]));
        p.info.model = "t".into();
        p
    }

    #[test]
    fn bytes_roundtrip_and_asm_roundtrip() {
        let p = sample();
        let b = p.to_bytes().unwrap();
        assert_eq!(Program::from_bytes(&b, "x").unwrap(), p);
        let asm = p.disassemble();
        let q = Program::parse_asm(&asm, p.arch.clone(), "x.asm").unwrap();
        assert_eq!(q.instrs, p.instrs);
        assert_eq!(q.tags, p.tags);
        let s = p.summary();
        assert_eq!(s[0].macs_dense, 4 * 2 * 16);
        assert_eq!(s[0].dram_bytes, 4 * 32);
    }

    #[test]
    fn truncated_and_garbage_files_are_errors() {
        let b = sample().to_bytes().unwrap();
        for cut in [0, 7, 12, 40, b.len() - 1] {
            assert!(Program::from_bytes(&b[..cut], "x").is_err(), "cut {cut}");
        }
        assert!(Program::from_bytes(b"hello world, not a program", "x").is_err());
    }

    #[test]
    fn a_header_claiming_more_dram_than_its_regions_is_refused() {
        let mut p = sample();
        p.dram_bytes = 1 << 34;
        let e = Program::from_bytes(&p.to_bytes().unwrap(), "big.sat").unwrap_err().to_string();
        assert!(
            e.contains("big.sat") && e.contains("17179869184 DRAM bytes") && e.contains("regions end at 128"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_save_names_the_users_path_and_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("nmsat-save-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("taken.sat")).unwrap();
        let e = sample().save(&dir.join("taken.sat")).unwrap_err().to_string();
        assert!(e.contains("taken.sat") && !e.contains("partial"), "{e}");
        assert!(!dir.join("taken.sat.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
