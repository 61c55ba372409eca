//! The SAT instruction set, defined once.
//!
//! Every instruction is 256 bits. Bits `[3:0]` hold the opcode, bits
//! `[7:4]` the four dependency-token flags, and the rest the opcode's fields
//! in the order of its row in [`OPCODES`]: the encoder, the decoder, the
//! text form, the disassembler, the ISA table in `docs/isa.md` and (later)
//! the Verilog decoder are all driven by that one table.
//!
//! Instructions run on three in-order queues (decoupled access-execute, as
//! in TVM's VTA): `load` (DMA DRAM → buffer), `compute` (PE array, vector
//! unit, sparsifier) and `store` (DMA buffer → DRAM). Queues synchronise
//! only through dependency tokens: an instruction *pops* a token from a
//! neighbouring queue before it starts and *pushes* one when it completes.
//! The neighbours are load ↔ compute ↔ store; for the load queue "next" is
//! compute, for the store queue "prev" is compute.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::IsaError;
use crate::nm::NmPattern;

/// Bytes of one encoded instruction.
pub const INSTR_BYTES: usize = 32;

/// Columns per chunk of the interleaved compressed layout ([`DmaFormat::NmRow`]).
pub const NM_CHUNK: u64 = 16;

/// A shift parameter of `vec sgd` (`p4` weight decay, `p5` SR-STE) that
/// switches its term off.
pub const NO_SHIFT: u8 = 0xFF;

/// The queue an instruction runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Queue {
    /// DMA loads.
    Load,
    /// PE array, vector unit and sparsifier.
    Compute,
    /// DMA stores.
    Store,
}

impl Queue {
    /// All queues, in the fixed order the controller evaluates them each cycle.
    pub const ALL: [Queue; 3] = [Queue::Load, Queue::Compute, Queue::Store];

    /// Index 0..3 in [`Queue::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Queue::Load => "load",
            Queue::Compute => "compute",
            Queue::Store => "store",
        }
    }
}

/// Dependency-token flags of one instruction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deps {
    /// Wait for and consume a token from the previous queue before starting.
    pub pop_prev: bool,
    /// Wait for and consume a token from the next queue before starting.
    pub pop_next: bool,
    /// Give a token to the previous queue on completion.
    pub push_prev: bool,
    /// Give a token to the next queue on completion.
    pub push_next: bool,
}

impl Deps {
    fn bits(self) -> u64 {
        u64::from(self.pop_prev)
            | u64::from(self.pop_next) << 1
            | u64::from(self.push_prev) << 2
            | u64::from(self.push_next) << 3
    }

    fn from_bits(b: u64) -> Self {
        Deps { pop_prev: b & 1 != 0, pop_next: b & 2 != 0, push_prev: b & 4 != 0, push_next: b & 8 != 0 }
    }

    /// True when no flag is set.
    pub fn is_empty(self) -> bool {
        self == Deps::default()
    }
}

/// An on-chip buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Buf {
    /// Activation buffer: 16-bit words.
    A = 0,
    /// Weight buffer: 16-bit values, each with a 4-bit index side-band.
    W = 1,
    /// Output/accumulator buffer: 48-bit words.
    O = 2,
}

impl Buf {
    /// All buffers.
    pub const ALL: [Buf; 3] = [Buf::A, Buf::W, Buf::O];

    fn from_u64(v: u64) -> Option<Self> {
        match v {
            0 => Some(Buf::A),
            1 => Some(Buf::W),
            2 => Some(Buf::O),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Buf::A => "a",
            Buf::W => "w",
            Buf::O => "o",
        }
    }
}

/// What a DMA row holds in DRAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmaFormat {
    /// 16-bit words (activations, dense weights).
    I16 = 0,
    /// 32-bit words (master weights, momentum, raw accumulators).
    I32 = 1,
    /// Compressed N:M weights, interleaved in chunks of [`NM_CHUNK`] columns:
    /// each chunk is its 16-bit values followed by their `log2(M)`-bit indices
    /// packed into `2·log2(M)` bytes, so one burst feeds a tile's values and
    /// indices together (the interleave mapping's layout) and any tile that
    /// starts on a chunk boundary is contiguous within each row.
    NmRow = 2,
    /// Values only of a compressed N:M row (16-bit words; non-interleaved layout).
    NmValues = 3,
    /// Indices only of a compressed N:M row, packed (non-interleaved layout).
    NmIndices = 4,
}

impl DmaFormat {
    fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            0 => DmaFormat::I16,
            1 => DmaFormat::I32,
            2 => DmaFormat::NmRow,
            3 => DmaFormat::NmValues,
            4 => DmaFormat::NmIndices,
            _ => return None,
        })
    }

    /// DRAM bytes of one row of `cols` elements with in-group indices of `index_bits`.
    pub fn row_bytes(self, cols: u64, index_bits: u32) -> u64 {
        let idx = (cols * u64::from(index_bits)).div_ceil(8);
        match self {
            DmaFormat::I16 | DmaFormat::NmValues => 2 * cols,
            DmaFormat::I32 => 4 * cols,
            DmaFormat::NmRow => cols.div_ceil(NM_CHUNK) * (2 * NM_CHUNK + NM_CHUNK * u64::from(index_bits) / 8),
            DmaFormat::NmIndices => idx,
        }
    }

    /// True for the compressed N:M formats.
    pub fn is_nm(self) -> bool {
        matches!(self, DmaFormat::NmRow | DmaFormat::NmValues | DmaFormat::NmIndices)
    }
}

/// Mode of a GEMM on the PE array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GemmMode {
    /// Dense: `lanes` weights and `lanes` activations per PE per cycle.
    Dense,
    /// N:M: `lanes` compressed weights, `lanes·M/N` activations per PE per cycle.
    Nm(NmPattern),
}

impl GemmMode {
    fn code(self) -> (u64, u64) {
        match self {
            GemmMode::Dense => (0, 0),
            GemmMode::Nm(p) => (u64::from(p.n()), u64::from(p.m())),
        }
    }

    /// Reduction elements consumed per compressed weight row: `M/N` (1 for dense),
    /// as `(num, den)`.
    pub fn expansion(self) -> (u64, u64) {
        match self {
            GemmMode::Dense => (1, 1),
            GemmMode::Nm(p) => (u64::from(p.m()), u64::from(p.n())),
        }
    }

    /// The pattern, when sparse.
    pub fn pattern(self) -> Option<NmPattern> {
        match self {
            GemmMode::Dense => None,
            GemmMode::Nm(p) => Some(p),
        }
    }
}

impl fmt::Display for GemmMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GemmMode::Dense => f.write_str("dense"),
            GemmMode::Nm(p) => write!(f, "{p}"),
        }
    }
}

/// Vector-unit operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VecOp {
    /// `A[dst+i] = sat16(round(O[src+i] >> shift))`, optionally ReLU'd.
    Requant = 0,
    /// `O[dst+i] = A[src2+i] > 0 ? O[src+i] : 0` (ReLU backward mask on accumulators).
    ReluBwd = 1,
    /// `A[dst+i] = sat16(A[src+i] + A[src2+i])` (residual add).
    Add = 2,
    /// SGD with momentum and weight decay on master weights in `O`
    /// (`O[dst]` master, `O[src2]` momentum, `O[src]` gradient), writing
    /// the new int16 operand weights to `A[aux]`; with SR-STE (`p5` a
    /// shift) the pruned flags `A[mask]` select where its term applies.
    Sgd = 3,
    /// Softmax cross-entropy gradient: logits `A[src]` (rows of `aux` classes),
    /// labels `A[src2]` (one per row), into `A[dst]`.
    LossGrad = 4,
    /// `O[dst+i] = 0` (clear accumulators).
    Clear = 5,
}

impl VecOp {
    fn from_u64(v: u64) -> Option<Self> {
        Some(match v {
            0 => VecOp::Requant,
            1 => VecOp::ReluBwd,
            2 => VecOp::Add,
            3 => VecOp::Sgd,
            4 => VecOp::LossGrad,
            5 => VecOp::Clear,
            _ => return None,
        })
    }

    /// Mnemonic suffix.
    pub fn name(self) -> &'static str {
        match self {
            VecOp::Requant => "requant",
            VecOp::ReluBwd => "relu_bwd",
            VecOp::Add => "add",
            VecOp::Sgd => "sgd",
            VecOp::LossGrad => "loss_grad",
            VecOp::Clear => "clear",
        }
    }
}

/// One SAT instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instr {
    /// DMA a 2-D block DRAM → buffer: `rows` rows of `cols` elements, DRAM
    /// rows `stride` bytes apart, written contiguously from element `sram`.
    Load {
        /// Token flags.
        deps: Deps,
        /// Destination buffer.
        buf: Buf,
        /// Row format in DRAM.
        fmt: DmaFormat,
        /// In-group index width for N:M formats (log2 M).
        index_bits: u8,
        /// DRAM byte address of the first row.
        dram: u64,
        /// Buffer element address.
        sram: u32,
        /// Rows.
        rows: u32,
        /// Elements per row.
        cols: u32,
        /// DRAM bytes between row starts.
        stride: u64,
    },
    /// DMA a 2-D block buffer → DRAM (the mirror of `Load`).
    Store {
        /// Token flags.
        deps: Deps,
        /// Source buffer.
        buf: Buf,
        /// Row format in DRAM.
        fmt: DmaFormat,
        /// In-group index width for N:M formats (log2 M).
        index_bits: u8,
        /// DRAM byte address of the first row.
        dram: u64,
        /// Buffer element address.
        sram: u32,
        /// Rows.
        rows: u32,
        /// Elements per row.
        cols: u32,
        /// DRAM bytes between row starts.
        stride: u64,
        /// From `O` in `i16` format: requantize each accumulator by this
        /// power-of-two shift (round half up, saturate), as the output stage
        /// of the accumulator drain path does.
        shift: i8,
        /// From `O` in `i16` format: apply ReLU after requantizing.
        relu: bool,
    },
    /// A GEMM tile on the PE array: `O[m×n] (+)= A[m×k] · W[k×n]`.
    ///
    /// `A` is read from the activation buffer with row stride `a_stride`
    /// elements; `W` is `k_eff×n` row-major in the weight buffer, where
    /// `k_eff = k·N/M` in N:M mode (values, with indices in the side-band);
    /// `O` is `m×n` row-major accumulators. The array walks the tile in
    /// `rows×cols` sub-tiles.
    Gemm {
        /// Token flags.
        deps: Deps,
        /// Dense or N:M.
        mode: GemmMode,
        /// Accumulate into `O` (else overwrite).
        acc: bool,
        /// Interleave-mapped: laid out so that it may follow a GEMM of the
        /// other mode (dense ↔ N:M) without draining the array first.
        il: bool,
        /// `A` is stored transposed (`k×m`, row stride `a_stride`): the WG
        /// pass reads `Xᵀ` from `X` as loaded.
        at: bool,
        /// `W` is stored transposed (`n×k`, row stride `k`; dense only): a
        /// dense BP reads `Wᵀ` from `W` as stored.
        wt: bool,
        /// Output rows.
        m: u32,
        /// Output columns.
        n: u32,
        /// Reduction length (logical, before compression).
        k: u32,
        /// Activation buffer address.
        a: u32,
        /// Activation row stride in elements.
        a_stride: u32,
        /// Weight buffer address.
        w: u32,
        /// Output buffer address.
        o: u32,
    },
    /// A vector-unit operation over `len` elements.
    Vec {
        /// Token flags.
        deps: Deps,
        /// The operation.
        op: VecOp,
        /// Elements.
        len: u32,
        /// First source address.
        src: u32,
        /// Second source address (op-specific).
        src2: u32,
        /// Destination address.
        dst: u32,
        /// Auxiliary address (op-specific).
        aux: u32,
        /// Shift amount (op-specific; signed).
        shift: i8,
        /// Second parameter (op-specific: ReLU flag, momentum shift, classes …).
        p1: u8,
        /// Third parameter (op-specific).
        p2: u8,
        /// Fourth parameter (op-specific).
        p3: u8,
        /// Fifth parameter (op-specific).
        p4: u8,
        /// Activation-buffer address of per-element flags (`sgd`: SR-STE's
        /// pruned mask, non-zero = pruned by the FF mask).
        mask: u32,
        /// Sixth parameter (`sgd`: SR-STE shift, [`NO_SHIFT`] = off).
        p5: u8,
    },
    /// The sparsifier: top-N-of-M over the dense int16 weights `A[src]`
    /// (`rows×cols`, row-major), writing compressed values and indices to
    /// `W[dst]`, with groups along the rows (`axis = 0`, W_ff) or along the
    /// columns (`axis = 1`, written transposed: W_bp).
    Sparsify {
        /// Token flags.
        deps: Deps,
        /// Pattern.
        pattern: NmPattern,
        /// 0: groups along rows; 1: along columns, output transposed.
        axis: u8,
        /// Read master weights from `O` (select by their magnitude, write the
        /// int16 operand `weight_from_master`) instead of int16 weights from `A`.
        master: bool,
        /// Write the dense pruned mask (1 where the group's top-N dropped the
        /// element, 0 where it kept it; `rows×cols` row-major) to `A[dst]`
        /// instead of compressed weights to `W[dst]`: SR-STE's operand.
        mask_out: bool,
        /// Rows of the dense block.
        rows: u32,
        /// Columns of the dense block.
        cols: u32,
        /// Source address in the activation buffer.
        src: u32,
        /// Destination address in the weight buffer.
        dst: u32,
    },
    /// The DMA engine's im2col gather (load queue): the `rows × cols` tile
    /// of the im2col matrix of the NHWC int16 tensor at `dram`, from output
    /// pixel `p0` and column `k0`, into `A[sram]` row-major, zeros where the
    /// kernel reaches into padding or between dilated pixels. The engine
    /// reads each tile row as its segments (the column range split at kernel
    /// taps: channels of one tap are contiguous in DRAM), each rounded up to
    /// whole bursts, or (`dram.im2col = "line_buffer"`) reads the raw window
    /// once; `bursts` is the transfer's count
    /// ([`crate::im2col::ConvGeom::gather_bursts`]), which times it.
    Load2col {
        /// Token flags.
        deps: Deps,
        /// DRAM byte address of the tensor (image 0, row 0, column 0).
        dram: u64,
        /// Activation buffer element address.
        sram: u32,
        /// Tile rows (output pixels).
        rows: u32,
        /// Tile columns (im2col columns).
        cols: u32,
        /// First output pixel (over batch, rows and columns).
        p0: u32,
        /// First im2col column.
        k0: u32,
        /// Convolution geometry.
        geom: crate::im2col::ConvGeom,
        /// DRAM bursts of the transfer (`ConvGeom::gather_bursts`).
        bursts: u32,
    },
    /// A compute-queue barrier with no work: it exists to carry tokens
    /// between the store and load queues (which are not neighbours).
    Sync {
        /// Token flags.
        deps: Deps,
    },
    /// End of program: completes when every queue has drained.
    Halt {
        /// Token flags.
        deps: Deps,
    },
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

const fn f(name: &'static str, bits: u32, doc: &'static str) -> Field {
    Field { name, bits, doc }
}

const DMA_FIELDS: &[Field] = &[
    f("buf", 2, "buffer: 0 a, 1 w, 2 o"),
    f("fmt", 3, "DRAM row format: 0 i16, 1 i32, 2 nm_row, 3 nm_values, 4 nm_indices"),
    f("ibits", 3, "index bits (log2 M) of N:M formats"),
    f("dram", 40, "DRAM byte address"),
    f("sram", 24, "buffer element address"),
    f("rows", 20, "rows"),
    f("cols", 20, "elements per row"),
    f("stride", 40, "DRAM bytes between rows"),
];

const STORE_FIELDS: &[Field] = &[
    f("buf", 2, "buffer: 0 a, 1 w, 2 o"),
    f("fmt", 3, "DRAM row format: 0 i16, 1 i32, 2 nm_row, 3 nm_values, 4 nm_indices"),
    f("ibits", 3, "index bits (log2 M) of N:M formats"),
    f("dram", 40, "DRAM byte address"),
    f("sram", 24, "buffer element address"),
    f("rows", 20, "rows"),
    f("cols", 20, "elements per row"),
    f("stride", 40, "DRAM bytes between rows"),
    f("shift", 8, "requantization shift from o in i16 format (two's complement)"),
    f("relu", 1, "ReLU after requantization"),
];

/// The opcode table: the single definition of the encoding.
pub const OPCODES: &[OpcodeSpec] = &[
    OpcodeSpec { code: 1, mnemonic: "load", queue: Queue::Load, fields: DMA_FIELDS },
    OpcodeSpec { code: 2, mnemonic: "store", queue: Queue::Store, fields: STORE_FIELDS },
    OpcodeSpec {
        code: 3,
        mnemonic: "gemm",
        queue: Queue::Compute,
        fields: &[
            f("n_of", 5, "N of the N:M pattern (0: dense)"),
            f("m_of", 5, "M of the N:M pattern (0: dense)"),
            f("acc", 1, "1: accumulate into O, 0: overwrite"),
            f("il", 1, "1: interleave-mapped, no drain on a mode switch"),
            f("at", 1, "1: A stored transposed (k x m, row stride astride)"),
            f("wt", 1, "1: W stored transposed (n x k), dense only"),
            f("m", 20, "output rows"),
            f("n", 20, "output columns"),
            f("k", 20, "reduction length (logical)"),
            f("a", 24, "activation buffer address"),
            f("astride", 20, "activation row stride (elements)"),
            f("w", 24, "weight buffer address"),
            f("o", 24, "output buffer address"),
        ],
    },
    OpcodeSpec {
        code: 4,
        mnemonic: "vec",
        queue: Queue::Compute,
        fields: &[
            f("op", 4, "0 requant, 1 relu_bwd, 2 add, 3 sgd, 4 loss_grad, 5 clear"),
            f("len", 24, "elements"),
            f("src", 24, "first source"),
            f("src2", 24, "second source"),
            f("dst", 24, "destination"),
            f("aux", 24, "auxiliary address"),
            f("shift", 8, "shift (two's complement)"),
            f("p1", 8, "parameter 1"),
            f("p2", 8, "parameter 2"),
            f("p3", 8, "parameter 3"),
            f("p4", 8, "parameter 4"),
            f("mask", 24, "flag address in a (sgd: SR-STE pruned mask)"),
            f("p5", 8, "parameter 5 (sgd: SR-STE shift, 255 off)"),
        ],
    },
    OpcodeSpec {
        code: 5,
        mnemonic: "sparsify",
        queue: Queue::Compute,
        fields: &[
            f("n_of", 5, "N"),
            f("m_of", 5, "M"),
            f("axis", 1, "0: groups along rows (W_ff), 1: along columns, transposed out (W_bp)"),
            f("master", 1, "1: source is master weights in o (select on them, write weight_from_master)"),
            f("mask_out", 1, "1: write the dense pruned mask (1 = pruned) to a at dst instead"),
            f("rows", 20, "rows of the dense block"),
            f("cols", 20, "columns of the dense block"),
            f("src", 24, "dense int16 weights in the activation buffer"),
            f("dst", 24, "compressed output in the weight buffer"),
        ],
    },
    OpcodeSpec { code: 6, mnemonic: "sync", queue: Queue::Compute, fields: &[] },
    OpcodeSpec {
        code: 7,
        mnemonic: "load2col",
        queue: Queue::Load,
        fields: &[
            f("dram", 40, "DRAM byte address of the NHWC int16 tensor"),
            f("sram", 24, "activation buffer element address"),
            f("rows", 20, "tile rows (output pixels)"),
            f("cols", 20, "tile columns (im2col columns (ky*kw + kx)*ic + c)"),
            f("p0", 24, "first output pixel (over batch, rows, columns)"),
            f("k0", 20, "first im2col column"),
            f("ih", 10, "input height"),
            f("iw", 10, "input width"),
            f("ic", 12, "input channels"),
            f("kh", 4, "kernel height"),
            f("kw", 4, "kernel width"),
            f("cs", 3, "stride"),
            f("padh", 4, "zero padding top and bottom"),
            f("padw", 4, "zero padding left and right"),
            f("dil", 3, "input dilation (1 none; transposed convolution: the stride)"),
            f("opadh", 3, "extra zero rows at the bottom (transposed convolution)"),
            f("opadw", 3, "extra zero columns at the right"),
            f("bursts", 32, "DRAM bursts of the gather (ConvGeom::gather_bursts under dram.im2col)"),
        ],
    },
    OpcodeSpec { code: 15, mnemonic: "halt", queue: Queue::Compute, fields: &[] },
];

impl Instr {
    /// The opcode row of this instruction.
    pub fn spec(&self) -> &'static OpcodeSpec {
        let code = match self {
            Instr::Load { .. } => 1,
            Instr::Store { .. } => 2,
            Instr::Gemm { .. } => 3,
            Instr::Vec { .. } => 4,
            Instr::Sparsify { .. } => 5,
            Instr::Sync { .. } => 6,
            Instr::Halt { .. } => 15,
            Instr::Load2col { .. } => 7,
        };
        OPCODES.iter().find(|s| s.code == code).expect("every instruction has a row")
    }

    /// The queue it runs on.
    pub fn queue(&self) -> Queue {
        self.spec().queue
    }

    /// Its token flags.
    pub fn deps(&self) -> Deps {
        match self {
            Instr::Load { deps, .. }
            | Instr::Store { deps, .. }
            | Instr::Gemm { deps, .. }
            | Instr::Vec { deps, .. }
            | Instr::Sparsify { deps, .. }
            | Instr::Sync { deps }
            | Instr::Load2col { deps, .. }
            | Instr::Halt { deps } => *deps,
        }
    }

    /// Mutable token flags (the scheduler sets them).
    pub fn deps_mut(&mut self) -> &mut Deps {
        match self {
            Instr::Load { deps, .. }
            | Instr::Store { deps, .. }
            | Instr::Gemm { deps, .. }
            | Instr::Vec { deps, .. }
            | Instr::Sparsify { deps, .. }
            | Instr::Sync { deps }
            | Instr::Load2col { deps, .. }
            | Instr::Halt { deps } => deps,
        }
    }

    /// Field values in table order.
    pub fn field_values(&self) -> Vec<u64> {
        match *self {
            Instr::Load { buf, fmt, index_bits, dram, sram, rows, cols, stride, .. } => vec![
                buf as u64,
                fmt as u64,
                u64::from(index_bits),
                dram,
                u64::from(sram),
                u64::from(rows),
                u64::from(cols),
                stride,
            ],
            Instr::Store { buf, fmt, index_bits, dram, sram, rows, cols, stride, shift, relu, .. } => vec![
                buf as u64,
                fmt as u64,
                u64::from(index_bits),
                dram,
                u64::from(sram),
                u64::from(rows),
                u64::from(cols),
                stride,
                u64::from(shift as u8),
                u64::from(relu),
            ],
            Instr::Gemm { mode, acc, il, at, wt, m, n, k, a, a_stride, w, o, .. } => {
                let (nn, mm) = mode.code();
                vec![
                    nn,
                    mm,
                    u64::from(acc),
                    u64::from(il),
                    u64::from(at),
                    u64::from(wt),
                    u64::from(m),
                    u64::from(n),
                    u64::from(k),
                    u64::from(a),
                    u64::from(a_stride),
                    u64::from(w),
                    u64::from(o),
                ]
            }
            Instr::Vec { op, len, src, src2, dst, aux, shift, p1, p2, p3, p4, mask, p5, .. } => vec![
                op as u64,
                u64::from(len),
                u64::from(src),
                u64::from(src2),
                u64::from(dst),
                u64::from(aux),
                u64::from(shift as u8),
                u64::from(p1),
                u64::from(p2),
                u64::from(p3),
                u64::from(p4),
                u64::from(mask),
                u64::from(p5),
            ],
            Instr::Sparsify { pattern, axis, master, mask_out, rows, cols, src, dst, .. } => vec![
                u64::from(pattern.n()),
                u64::from(pattern.m()),
                u64::from(axis),
                u64::from(master),
                u64::from(mask_out),
                u64::from(rows),
                u64::from(cols),
                u64::from(src),
                u64::from(dst),
            ],
            Instr::Load2col { dram, sram, rows, cols, p0, k0, geom: g, bursts, .. } => vec![
                dram,
                u64::from(sram),
                u64::from(rows),
                u64::from(cols),
                u64::from(p0),
                u64::from(k0),
                u64::from(g.ih),
                u64::from(g.iw),
                u64::from(g.ic),
                u64::from(g.kh),
                u64::from(g.kw),
                u64::from(g.cs),
                u64::from(g.pad_h),
                u64::from(g.pad_w),
                u64::from(g.dil),
                u64::from(g.opad_h),
                u64::from(g.opad_w),
                u64::from(bursts),
            ],
            Instr::Sync { .. } | Instr::Halt { .. } => vec![],
        }
    }

    /// Rebuilds an instruction from its opcode row, flags and field values.
    pub fn from_fields(spec: &OpcodeSpec, deps: Deps, v: &[u64]) -> Result<Self, IsaError> {
        if v.len() != spec.fields.len() {
            return Err(IsaError::Field {
                mnemonic: spec.mnemonic,
                field: "",
                reason: "wrong number of fields".into(),
            });
        }
        let bad = |field: &'static str, reason: &str| IsaError::Field {
            mnemonic: spec.mnemonic,
            field,
            reason: reason.to_string(),
        };
        let u32_of = |i: usize| u32::try_from(v[i]).map_err(|_| bad(spec.fields[i].name, "too large"));
        let pattern = |n: u64, m: u64| -> Result<Option<NmPattern>, IsaError> {
            if n == 0 && m == 0 {
                return Ok(None);
            }
            NmPattern::new(n as u32, m as u32).map(Some).map_err(|e| bad("n_of", &e.to_string()))
        };
        Ok(match spec.code {
            1 | 2 => {
                let buf = Buf::from_u64(v[0]).ok_or_else(|| bad("buf", "unknown buffer"))?;
                let fmt = DmaFormat::from_u64(v[1]).ok_or_else(|| bad("fmt", "unknown format"))?;
                if spec.code == 1 {
                    Instr::Load {
                        deps,
                        buf,
                        fmt,
                        index_bits: v[2] as u8,
                        dram: v[3],
                        sram: u32_of(4)?,
                        rows: u32_of(5)?,
                        cols: u32_of(6)?,
                        stride: v[7],
                    }
                } else {
                    Instr::Store {
                        deps,
                        buf,
                        fmt,
                        index_bits: v[2] as u8,
                        dram: v[3],
                        sram: u32_of(4)?,
                        rows: u32_of(5)?,
                        cols: u32_of(6)?,
                        stride: v[7],
                        shift: v[8] as u8 as i8,
                        relu: v[9] != 0,
                    }
                }
            }
            3 => {
                let mode = match pattern(v[0], v[1])? {
                    None => GemmMode::Dense,
                    Some(p) => GemmMode::Nm(p),
                };
                Instr::Gemm {
                    deps,
                    mode,
                    acc: v[2] != 0,
                    il: v[3] != 0,
                    at: v[4] != 0,
                    wt: v[5] != 0,
                    m: u32_of(6)?,
                    n: u32_of(7)?,
                    k: u32_of(8)?,
                    a: u32_of(9)?,
                    a_stride: u32_of(10)?,
                    w: u32_of(11)?,
                    o: u32_of(12)?,
                }
            }
            4 => Instr::Vec {
                deps,
                op: VecOp::from_u64(v[0]).ok_or_else(|| bad("op", "unknown vector op"))?,
                len: u32_of(1)?,
                src: u32_of(2)?,
                src2: u32_of(3)?,
                dst: u32_of(4)?,
                aux: u32_of(5)?,
                shift: v[6] as u8 as i8,
                p1: v[7] as u8,
                p2: v[8] as u8,
                p3: v[9] as u8,
                p4: v[10] as u8,
                mask: u32_of(11)?,
                p5: v[12] as u8,
            },
            5 => Instr::Sparsify {
                deps,
                pattern: pattern(v[0], v[1])?.ok_or_else(|| bad("n_of", "sparsify needs a pattern"))?,
                axis: v[2] as u8,
                master: v[3] != 0,
                mask_out: v[4] != 0,
                rows: u32_of(5)?,
                cols: u32_of(6)?,
                src: u32_of(7)?,
                dst: u32_of(8)?,
            },
            6 => Instr::Sync { deps },
            7 => Instr::Load2col {
                deps,
                dram: v[0],
                sram: u32_of(1)?,
                rows: u32_of(2)?,
                cols: u32_of(3)?,
                p0: u32_of(4)?,
                k0: u32_of(5)?,
                geom: crate::im2col::ConvGeom {
                    ih: u32_of(6)?,
                    iw: u32_of(7)?,
                    ic: u32_of(8)?,
                    kh: u32_of(9)?,
                    kw: u32_of(10)?,
                    cs: u32_of(11)?,
                    pad_h: u32_of(12)?,
                    pad_w: u32_of(13)?,
                    dil: u32_of(14)?,
                    opad_h: u32_of(15)?,
                    opad_w: u32_of(16)?,
                },
                bursts: u32_of(17)?,
            },
            15 => Instr::Halt { deps },
            _ => return Err(IsaError::Opcode(spec.code)),
        })
    }

    /// Encodes into 32 bytes (little-endian bit order).
    pub fn encode(&self) -> Result<[u8; INSTR_BYTES], IsaError> {
        let spec = self.spec();
        let mut w = BitWriter::default();
        w.put(u64::from(spec.code), 4);
        w.put(self.deps().bits(), 4);
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
        let code = r.get(4) as u8;
        let deps = Deps::from_bits(r.get(4));
        let spec = OPCODES.iter().find(|s| s.code == code).ok_or(IsaError::Opcode(code))?;
        let vals: Vec<u64> = spec.fields.iter().map(|f| r.get(f.bits)).collect();
        let used = r.pos;
        // Unused high bits must be zero so every 256-bit word has one meaning.
        let mut rest = BitReader { bytes, pos: used };
        while rest.pos < INSTR_BYTES as u32 * 8 {
            let take = (INSTR_BYTES as u32 * 8 - rest.pos).min(32);
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
            let shown = match (spec.code, f.name) {
                (_, "dram" | "stride") => format!("{v:#x}"),
                (2 | 4, "shift") => format!("{}", v as u8 as i8),
                _ => v.to_string(),
            };
            s.push_str(&format!(" {}={}", f.name, shown));
        }
        let d = self.deps();
        for (on, name) in
            [(d.pop_prev, "pop_prev"), (d.pop_next, "pop_next"), (d.push_prev, "push_prev"), (d.push_next, "push_next")]
        {
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
        let mut deps = Deps::default();
        for w in words {
            match w {
                "pop_prev" => deps.pop_prev = true,
                "pop_next" => deps.pop_next = true,
                "push_prev" => deps.push_prev = true,
                "push_next" => deps.push_next = true,
                _ => {
                    let (k, v) =
                        w.split_once('=').ok_or_else(|| IsaError::Text(format!("expected field=value, got `{w}`")))?;
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
            }
        }
        let vals: Vec<u64> = vals
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| IsaError::Text(format!("`{mn}` is missing field `{}`", spec.fields[i].name))))
            .collect::<Result<_, _>>()?;
        Self::from_fields(spec, deps, &vals)
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
        assert!(self.pos <= INSTR_BYTES as u32 * 8, "opcode table exceeds 256 bits");
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
        s.push_str(&format!("| {} | `{}` | {} | 3:0 | opcode | |\n", spec.code, spec.mnemonic, spec.queue.name()));
        s.push_str("| | | | 7:4 | deps | pop_prev, pop_next, push_prev, push_next |\n");
        let mut pos = 8;
        for f in spec.fields {
            s.push_str(&format!("| | | | {}:{} | `{}` | {} |\n", pos + f.bits - 1, pos, f.name, f.doc));
            pos += f.bits;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_fits_256_bits() {
        for s in OPCODES {
            let bits: u32 = 8 + s.fields.iter().map(|f| f.bits).sum::<u32>();
            assert!(bits <= 256, "{} uses {bits} bits", s.mnemonic);
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        let mut b = [0u8; INSTR_BYTES];
        b[0] = 0x0e;
        assert!(matches!(Instr::decode(&b), Err(IsaError::Opcode(14))));
        let mut b = Instr::Halt { deps: Deps::default() }.encode().unwrap();
        b[31] = 1;
        assert!(Instr::decode(&b).is_err());
    }

    #[test]
    fn text_errors_are_clear() {
        assert!(Instr::parse_text("gemm m=1").unwrap_err().to_string().contains("missing field"));
        assert!(Instr::parse_text("frob").unwrap_err().to_string().contains("unknown mnemonic"));
    }

    fn deps() -> impl Strategy<Value = Deps> {
        (0u64..16).prop_map(Deps::from_bits)
    }

    fn pattern() -> impl Strategy<Value = NmPattern> {
        prop_oneof![Just((1, 4)), Just((2, 4)), Just((1, 8)), Just((2, 8)), Just((4, 8))]
            .prop_map(|(n, m)| NmPattern::new(n, m).unwrap())
    }

    /// Any valid instruction.
    pub fn instr() -> impl Strategy<Value = Instr> {
        let a24 = 0u32..(1 << 24);
        let d20 = 0u32..(1 << 20);
        let buf = prop_oneof![Just(Buf::A), Just(Buf::W), Just(Buf::O)];
        let fmt = prop_oneof![
            Just(DmaFormat::I16),
            Just(DmaFormat::I32),
            Just(DmaFormat::NmRow),
            Just(DmaFormat::NmValues),
            Just(DmaFormat::NmIndices)
        ];
        prop_oneof![
            (
                deps(),
                buf.clone(),
                fmt.clone(),
                0u8..5,
                0u64..(1 << 40),
                a24.clone(),
                d20.clone(),
                d20.clone(),
                0u64..(1 << 40)
            )
                .prop_map(|(deps, buf, fmt, index_bits, dram, sram, rows, cols, stride)| Instr::Load {
                    deps,
                    buf,
                    fmt,
                    index_bits,
                    dram,
                    sram,
                    rows,
                    cols,
                    stride
                }),
            (
                deps(),
                buf,
                fmt,
                0u8..5,
                0u64..(1 << 40),
                a24.clone(),
                d20.clone(),
                d20.clone(),
                0u64..(1 << 40),
                any::<(i8, bool)>()
            )
                .prop_map(|(deps, buf, fmt, index_bits, dram, sram, rows, cols, stride, (shift, relu))| {
                    Instr::Store { deps, buf, fmt, index_bits, shift, relu, dram, sram, rows, cols, stride }
                }),
            (
                deps(),
                proptest::option::of(pattern()),
                any::<(bool, bool, bool, bool)>(),
                (d20.clone(), d20.clone(), d20.clone()),
                (a24.clone(), d20.clone(), a24.clone(), a24.clone())
            )
                .prop_map(|(deps, p, (acc, il, at, wt), (m, n, k), (a, a_stride, w, o))| Instr::Gemm {
                    deps,
                    mode: p.map_or(GemmMode::Dense, GemmMode::Nm),
                    acc,
                    il,
                    at,
                    wt,
                    m,
                    n,
                    k,
                    a,
                    a_stride,
                    w,
                    o
                }),
            (
                deps(),
                0u64..6,
                a24.clone(),
                (a24.clone(), a24.clone(), a24.clone(), a24.clone()),
                any::<(i8, u8, u8, u8, u8)>(),
                (a24.clone(), any::<u8>())
            )
                .prop_map(|(deps, op, len, (src, src2, dst, aux), (shift, p1, p2, p3, p4), (mask, p5))| {
                    Instr::Vec {
                        deps,
                        op: VecOp::from_u64(op).unwrap(),
                        len,
                        src,
                        src2,
                        dst,
                        aux,
                        shift,
                        p1,
                        p2,
                        p3,
                        p4,
                        mask,
                        p5,
                    }
                }),
            (
                deps(),
                pattern(),
                (0u8..2, any::<bool>(), any::<bool>()),
                d20.clone(),
                d20.clone(),
                a24.clone(),
                a24.clone()
            )
                .prop_map(|(deps, pattern, (axis, master, mask_out), rows, cols, src, dst)| {
                    Instr::Sparsify { deps, pattern, axis, master, mask_out, rows, cols, src, dst }
                }),
            (
                deps(),
                any::<u32>(),
                (a24.clone(), d20.clone(), d20.clone()),
                (a24.clone(), d20.clone()),
                any::<[u16; 9]>(),
                any::<u32>()
            )
                .prop_map(|(deps, dram, (sram, rows, cols), (p0, k0), g, bursts)| {
                    Instr::Load2col {
                        deps,
                        dram: u64::from(dram),
                        sram,
                        rows,
                        cols,
                        p0,
                        k0,
                        geom: crate::im2col::ConvGeom {
                            ih: u32::from(g[0]) % 1024,
                            iw: u32::from(g[1]) % 1024,
                            ic: u32::from(g[2]) % 4096,
                            kh: u32::from(g[3]) % 16,
                            kw: u32::from(g[4]) % 16,
                            cs: u32::from(g[5]) % 8,
                            pad_h: u32::from(g[6]) % 16,
                            pad_w: u32::from(g[7]) % 16,
                            dil: u32::from(g[8]) % 8,
                            opad_h: u32::from(g[0] >> 12) % 8,
                            opad_w: u32::from(g[1] >> 12) % 8,
                        },
                        bursts,
                    }
                }),
            deps().prop_map(|deps| Instr::Halt { deps }),
            deps().prop_map(|deps| Instr::Sync { deps }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn encode_decode_encode(i in instr()) {
            let b = i.encode().unwrap();
            let d = Instr::decode(&b).unwrap();
            prop_assert_eq!(&d, &i);
            prop_assert_eq!(d.encode().unwrap(), b);
        }

        #[test]
        fn text_roundtrip(i in instr()) {
            prop_assert_eq!(Instr::parse_text(&i.to_text()).unwrap(), i);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), INSTR_BYTES)) {
            let arr: [u8; INSTR_BYTES] = bytes.try_into().unwrap();
            if let Ok(i) = Instr::decode(&arr) {
                prop_assert_eq!(i.encode().unwrap(), arr);
            }
        }
    }
}
