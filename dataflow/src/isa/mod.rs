//! The SAT instruction set, defined once.
//!
//! Every instruction is 256 bits. Bits `[3:0]` hold the opcode, bits
//! `[7:4]` the four dependency-token flags, and the rest the opcode's fields
//! in the order of its row in [`OPCODES`]. Each opcode is declared once, in
//! `opcodes.rs`: that declaration generates the [`Instr`] variant, the
//! [`OPCODES`] row and the conversions between the two, and the encoder,
//! the decoder, the text form, the disassembler, the ISA table in
//! `docs/isa.md` and the RTL's decoders are all driven by that one table.
//! The codes inside fields (buffers, DMA formats, vector ops, GEMM modes,
//! queues, token flags) are defined once each in `codes.rs`.
//!
//! Instructions run on three in-order queues (decoupled access-execute, as
//! in TVM's VTA): `load` (DMA DRAM → buffer), `compute` (PE array, vector
//! unit, sparsifier) and `store` (DMA buffer → DRAM). Queues synchronise
//! only through dependency tokens: an instruction *pops* a token from a
//! neighbouring queue before it starts and *pushes* one when it completes.
//! The neighbours are load ↔ compute ↔ store; for the load queue "next" is
//! compute, for the store queue "prev" is compute.

mod codes;
mod declare;
mod opcodes;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::error::IsaError;

pub use crate::nm::{MAX_INDEX_BITS, index_bits};
pub use codes::{Buf, Deps, DmaFormat, GemmMode, Queue, VecOp};
pub use opcodes::{Instr, OPCODES};

/// Bytes of one encoded instruction.
pub const INSTR_BYTES: usize = 32;

/// Bits of one encoded instruction.
pub const INSTR_BITS: u32 = INSTR_BYTES as u32 * 8;

/// Bits of the opcode, bits `[OPCODE_BITS-1:0]` of every instruction.
pub const OPCODE_BITS: u32 = 4;

/// Lowest bit of the four dependency-token flags ([`Deps::bits`]).
pub const DEPS_LO: u32 = OPCODE_BITS;

/// Bits of the dependency-token flags.
pub const DEPS_BITS: u32 = 4;

/// Bits before the first field: the opcode and the flags.
pub const HEADER_BITS: u32 = DEPS_LO + DEPS_BITS;

/// Columns per chunk of the interleaved compressed layout ([`DmaFormat::NmRow`]).
pub const NM_CHUNK: u64 = 16;

/// A shift parameter of `vec sgd` (`p4` weight decay, `p5` SR-STE) that
/// switches its term off.
pub const NO_SHIFT: u8 = 0xFF;

/// How the text form shows a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldForm {
    /// Unsigned decimal.
    Decimal,
    /// `0x`-prefixed hexadecimal (DRAM addresses and strides).
    Hex,
    /// Two's complement of the low byte, as a signed decimal.
    Signed,
}

/// One field of an opcode's encoding.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Name in the text form.
    pub name: &'static str,
    /// Width in bits.
    pub bits: u32,
    /// Meaning, for docs and the generated decoder.
    pub doc: &'static str,
    /// How the text form shows it (from the Rust field's type).
    pub form: FieldForm,
}

/// Where a field lies in the 256-bit word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPos {
    /// Lowest bit.
    pub lo: u32,
    /// Width in bits.
    pub bits: u32,
}

impl FieldPos {
    /// Highest bit.
    pub const fn hi(self) -> u32 {
        self.lo + self.bits - 1
    }
}

/// One opcode: its number, mnemonic, queue and fields.
#[derive(Debug, Clone, Copy)]
pub struct OpcodeSpec {
    /// Opcode number (bits 3:0).
    pub code: u8,
    /// Mnemonic.
    pub mnemonic: &'static str,
    /// Queue it runs on.
    pub queue: Queue,
    /// Fields after the 8-bit header, from bit 8 upward.
    pub fields: &'static [Field],
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl OpcodeSpec {
    /// The row of `mnemonic`.
    pub const fn of(mnemonic: &str) -> Option<&'static OpcodeSpec> {
        let mut i = 0;
        while i < OPCODES.len() {
            if str_eq(OPCODES[i].mnemonic, mnemonic) {
                return Some(&OPCODES[i]);
            }
            i += 1;
        }
        None
    }

    /// Where its field `name` lies.
    pub const fn field_pos(&self, name: &str) -> Option<FieldPos> {
        let mut lo = HEADER_BITS;
        let mut i = 0;
        while i < self.fields.len() {
            if str_eq(self.fields[i].name, name) {
                return Some(FieldPos { lo, bits: self.fields[i].bits });
            }
            lo += self.fields[i].bits;
            i += 1;
        }
        None
    }

    /// Bits its header and fields use.
    pub const fn used_bits(&self) -> u32 {
        let mut bits = HEADER_BITS;
        let mut i = 0;
        while i < self.fields.len() {
            bits += self.fields[i].bits;
            i += 1;
        }
        bits
    }
}

/// Opcode number of `mnemonic` (panics, at compile time in a `const`, if none has it).
pub const fn opcode(mnemonic: &str) -> u8 {
    match OpcodeSpec::of(mnemonic) {
        Some(s) => s.code,
        None => panic!("no such mnemonic"),
    }
}

/// Where field `name` of opcode `mnemonic` lies (panics, at compile time
/// in a `const`, if there is no such field).
pub const fn field_pos(mnemonic: &str, name: &str) -> FieldPos {
    match OpcodeSpec::of(mnemonic) {
        Some(s) => match s.field_pos(name) {
            Some(p) => p,
            None => panic!("no such field"),
        },
        None => panic!("no such mnemonic"),
    }
}

// The table is well formed: opcodes ascend and fit their bits, and every
// opcode's fields fit the word.
const _: () = {
    let mut i = 0;
    while i < OPCODES.len() {
        assert!((OPCODES[i].code as u32) < 1 << OPCODE_BITS, "opcode does not fit its bits");
        assert!(i == 0 || OPCODES[i - 1].code < OPCODES[i].code, "opcodes are declared in ascending order");
        assert!(OPCODES[i].used_bits() <= INSTR_BITS, "an opcode's fields exceed the instruction word");
        i += 1;
    }
};

impl Instr {
    /// The opcode row of this instruction.
    pub fn spec(&self) -> &'static OpcodeSpec {
        let code = self.code();
        OPCODES.iter().find(|s| s.code == code).expect("every instruction has a row")
    }

    /// The queue it runs on.
    pub fn queue(&self) -> Queue {
        self.spec().queue
    }

    /// Encodes into 32 bytes (little-endian bit order).
    pub fn encode(&self) -> Result<[u8; INSTR_BYTES], IsaError> {
        let spec = self.spec();
        let mut w = BitWriter::default();
        w.put(u64::from(spec.code), OPCODE_BITS);
        w.put(self.deps().bits(), DEPS_BITS);
        for (field, value) in spec.fields.iter().zip(self.field_values()) {
            if field.bits < 64 && value >> field.bits != 0 {
                return Err(IsaError::Field {
                    mnemonic: spec.mnemonic,
                    field: field.name,
                    reason: format!("value {value} does not fit in {} bits", field.bits),
                });
            }
            w.put(value, field.bits);
        }
        Ok(w.bytes)
    }

    /// Decodes 32 bytes.
    pub fn decode(bytes: &[u8; INSTR_BYTES]) -> Result<Self, IsaError> {
        let mut r = BitReader { bytes, pos: 0 };
        let code = r.get(OPCODE_BITS) as u8;
        let deps = Deps::from_bits(r.get(DEPS_BITS));
        let spec = OPCODES.iter().find(|s| s.code == code).ok_or(IsaError::Opcode(code))?;
        let vals: Vec<u64> = spec.fields.iter().map(|f| r.get(f.bits)).collect();
        let used = r.pos;
        // Unused high bits must be zero so every 256-bit word has one meaning.
        let mut rest = BitReader { bytes, pos: used };
        while rest.pos < INSTR_BITS {
            let take = (INSTR_BITS - rest.pos).min(32);
            if rest.get(take) != 0 {
                return Err(IsaError::Field { mnemonic: spec.mnemonic, field: "", reason: "reserved bits set".into() });
            }
        }
        Self::from_fields(spec, deps, &vals)
    }

    /// The text form: `mnemonic field=value … [deps]`.
    pub fn to_text(&self) -> String {
        let spec = self.spec();
        let mut s = spec.mnemonic.to_string();
        let vals = self.field_values();
        for (f, v) in spec.fields.iter().zip(vals) {
            let shown = match f.form {
                FieldForm::Hex => format!("{v:#x}"),
                FieldForm::Signed => format!("{}", v as u8 as i8),
                FieldForm::Decimal => v.to_string(),
            };
            s.push_str(&format!(" {}={}", f.name, shown));
        }
        for (on, name) in self.deps().flags().into_iter().zip(Deps::NAMES) {
            if on {
                s.push(' ');
                s.push_str(name);
            }
        }
        s
    }

    /// Parses the text form produced by [`Instr::to_text`].
    pub fn parse_text(line: &str) -> Result<Self, IsaError> {
        let mut words = line.split_whitespace();
        let mn = words.next().ok_or_else(|| IsaError::Text("empty line".into()))?;
        let spec = OPCODES
            .iter()
            .find(|s| s.mnemonic == mn)
            .ok_or_else(|| IsaError::Text(format!("unknown mnemonic `{mn}`")))?;
        let mut vals: Vec<Option<u64>> = vec![None; spec.fields.len()];
        let mut flags = 0u64;
        for w in words {
            if let Some(bit) = Deps::NAMES.iter().position(|&n| n == w) {
                flags |= 1 << bit;
                continue;
            }
            let (k, v) = w.split_once('=').ok_or_else(|| IsaError::Text(format!("expected field=value, got `{w}`")))?;
            let i = spec
                .fields
                .iter()
                .position(|f| f.name == k)
                .ok_or_else(|| IsaError::Text(format!("`{mn}` has no field `{k}`")))?;
            let parsed = if let Some(h) = v.strip_prefix("0x") {
                u64::from_str_radix(h, 16).ok()
            } else if let Some(neg) = v.strip_prefix('-') {
                neg.parse::<i64>().ok().and_then(|x| i8::try_from(-x).ok()).map(|x| u64::from(x as u8))
            } else {
                v.parse::<u64>().ok()
            };
            vals[i] = Some(parsed.ok_or_else(|| IsaError::Text(format!("bad value `{v}` for `{k}`")))?);
        }
        let vals: Vec<u64> = vals
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| IsaError::Text(format!("`{mn}` is missing field `{}`", spec.fields[i].name))))
            .collect::<Result<_, _>>()?;
        Self::from_fields(spec, Deps::from_bits(flags), &vals)
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[derive(Default)]
struct BitWriter {
    bytes: [u8; INSTR_BYTES],
    pos: u32,
}

impl BitWriter {
    fn put(&mut self, v: u64, bits: u32) {
        for i in 0..bits {
            if v >> i & 1 == 1 {
                let p = self.pos + i;
                self.bytes[(p / 8) as usize] |= 1 << (p % 8);
            }
        }
        self.pos += bits;
        assert!(self.pos <= INSTR_BITS, "opcode table exceeds 256 bits");
    }
}

struct BitReader<'a> {
    bytes: &'a [u8; INSTR_BYTES],
    pos: u32,
}

impl BitReader<'_> {
    fn get(&mut self, bits: u32) -> u64 {
        let mut v = 0u64;
        for i in 0..bits {
            let p = self.pos + i;
            if self.bytes[(p / 8) as usize] >> (p % 8) & 1 == 1 {
                v |= 1 << i;
            }
        }
        self.pos += bits;
        v
    }
}

/// Markdown table of the encoding, generated from [`OPCODES`] (for `docs/isa.md`).
pub fn isa_markdown() -> String {
    let mut s = String::from("| opcode | mnemonic | queue | bits | field | meaning |\n|---|---|---|---|---|---|\n");
    for spec in OPCODES {
        s.push_str(&format!(
            "| {} | `{}` | {} | {}:0 | opcode | |\n",
            spec.code,
            spec.mnemonic,
            spec.queue.name(),
            OPCODE_BITS - 1
        ));
        s.push_str(&format!("| | | | {}:{} | deps | {} |\n", HEADER_BITS - 1, DEPS_LO, Deps::NAMES.join(", ")));
        let mut pos = HEADER_BITS;
        for f in spec.fields {
            s.push_str(&format!("| | | | {}:{} | `{}` | {} |\n", pos + f.bits - 1, pos, f.name, f.doc));
            pos += f.bits;
        }
    }
    s
}
