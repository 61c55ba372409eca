//! The instruction set, one declaration per opcode: its number, mnemonic,
//! queue and fields (Rust field, type, encoded name, width and meaning).
//! The [`Instr`] enum, the [`OPCODES`] table (and with it the encoder, the
//! decoder, the text form, `docs/isa.md` and the RTL's decoders) are
//! generated from it (see `declare.rs`).
//!
//! `load` and `store` share their first eight fields (the RTL's DMA
//! decoders read either through `load`'s layout).

use serde::{Deserialize, Serialize};

use crate::error::IsaError;
use crate::im2col::ConvGeom;
use crate::nm::NmPattern;

use super::declare::{Encoded, Parts, instructions};
use super::{Buf, Deps, DmaFormat, Field, GemmMode, OpcodeSpec, Queue, VecOp};

instructions! {
    /// DMA a 2-D block DRAM → buffer: `rows` rows of `cols` elements, DRAM
    /// rows `stride` bytes apart, written contiguously from element `sram`.
    1 "load" Load on Load {
        /// Destination buffer.
        buf: Buf => ["buf" 2 "buffer: 0 a, 1 w, 2 o"],
        /// Row format in DRAM.
        fmt: DmaFormat => ["fmt" 3 "DRAM row format: 0 i16, 1 i32, 2 nm_row, 3 nm_values, 4 nm_indices"],
        /// In-group index width for N:M formats (log2 M).
        index_bits: u8 => ["ibits" 3 "index bits (log2 M) of N:M formats"],
        /// DRAM byte address of the first row.
        dram: u64 => ["dram" 40 "DRAM byte address"],
        /// Buffer element address.
        sram: u32 => ["sram" 24 "buffer element address"],
        /// Rows.
        rows: u32 => ["rows" 20 "rows"],
        /// Elements per row.
        cols: u32 => ["cols" 20 "elements per row"],
        /// DRAM bytes between row starts.
        stride: u64 => ["stride" 40 "DRAM bytes between rows"],
    }

    /// DMA a 2-D block buffer → DRAM (the mirror of `Load`).
    2 "store" Store on Store {
        /// Source buffer.
        buf: Buf => ["buf" 2 "buffer: 0 a, 1 w, 2 o"],
        /// Row format in DRAM.
        fmt: DmaFormat => ["fmt" 3 "DRAM row format: 0 i16, 1 i32, 2 nm_row, 3 nm_values, 4 nm_indices"],
        /// In-group index width for N:M formats (log2 M).
        index_bits: u8 => ["ibits" 3 "index bits (log2 M) of N:M formats"],
        /// DRAM byte address of the first row.
        dram: u64 => ["dram" 40 "DRAM byte address"],
        /// Buffer element address.
        sram: u32 => ["sram" 24 "buffer element address"],
        /// Rows.
        rows: u32 => ["rows" 20 "rows"],
        /// Elements per row.
        cols: u32 => ["cols" 20 "elements per row"],
        /// DRAM bytes between row starts.
        stride: u64 => ["stride" 40 "DRAM bytes between rows"],
        /// From `O` in `i16` format: requantize each accumulator by this
        /// power-of-two shift (round half up, saturate), as the output stage
        /// of the accumulator drain path does.
        shift: i8 => ["shift" 8 "requantization shift from o in i16 format (two's complement)"],
        /// From `O` in `i16` format: apply ReLU after requantizing.
        relu: bool => ["relu" 1 "ReLU after requantization"],
    }

    /// A GEMM tile on the PE array: `O[m×n] (+)= A[m×k] · W[k×n]`.
    ///
    /// `A` is read from the activation buffer with row stride `a_stride`
    /// elements; `W` is `k_eff×n` row-major in the weight buffer, where
    /// `k_eff = k·N/M` in N:M mode (values, with indices in the side-band);
    /// `O` is `m×n` row-major accumulators. The array walks the tile in
    /// `rows×cols` sub-tiles.
    3 "gemm" Gemm on Compute {
        /// Dense or N:M.
        mode: GemmMode => [
            "n_of" 5 "N of the N:M pattern (0: dense)",
            "m_of" 5 "M of the N:M pattern (0: dense)",
        ],
        /// Accumulate into `O` (else overwrite).
        acc: bool => ["acc" 1 "1: accumulate into O, 0: overwrite"],
        /// Interleave-mapped: laid out so that it may follow a GEMM of the
        /// other mode (dense ↔ N:M) without draining the array first.
        il: bool => ["il" 1 "1: interleave-mapped, no drain on a mode switch"],
        /// `A` is stored transposed (`k×m`, row stride `a_stride`): the WG
        /// pass reads `Xᵀ` from `X` as loaded.
        at: bool => ["at" 1 "1: A stored transposed (k x m, row stride astride)"],
        /// `W` is stored transposed (`n×k`, row stride `k`; dense only): a
        /// dense BP reads `Wᵀ` from `W` as stored.
        wt: bool => ["wt" 1 "1: W stored transposed (n x k), dense only"],
        /// Output rows.
        m: u32 => ["m" 20 "output rows"],
        /// Output columns.
        n: u32 => ["n" 20 "output columns"],
        /// Reduction length (logical, before compression).
        k: u32 => ["k" 20 "reduction length (logical)"],
        /// Activation buffer address.
        a: u32 => ["a" 24 "activation buffer address"],
        /// Activation row stride in elements.
        a_stride: u32 => ["astride" 20 "activation row stride (elements)"],
        /// Weight buffer address.
        w: u32 => ["w" 24 "weight buffer address"],
        /// Output buffer address.
        o: u32 => ["o" 24 "output buffer address"],
        /// Weight-stationary mapping (ADR 004): each PE row holds a
        /// `lanes × cols` slice of the weights while the rows of `A` stream
        /// past and partial sums are added into `O`; else output-stationary.
        /// Needs `"ws"` in the config's `pe_array.dataflows` and `at = 0`.
        ws: bool => ["ws" 1 "1: weight-stationary mapping (ADR 004), else output-stationary"],
    }

    /// A vector-unit operation over `len` elements.
    4 "vec" Vec on Compute {
        /// The operation.
        op: VecOp => ["op" 4 "0 requant, 1 relu_bwd, 2 add, 3 sgd, 4 loss_grad, 5 clear"],
        /// Elements.
        len: u32 => ["len" 24 "elements"],
        /// First source address.
        src: u32 => ["src" 24 "first source"],
        /// Second source address (op-specific).
        src2: u32 => ["src2" 24 "second source"],
        /// Destination address.
        dst: u32 => ["dst" 24 "destination"],
        /// Auxiliary address (op-specific).
        aux: u32 => ["aux" 24 "auxiliary address"],
        /// Shift amount (op-specific; signed).
        shift: i8 => ["shift" 8 "shift (two's complement)"],
        /// Second parameter (op-specific: ReLU flag, momentum shift, classes …).
        p1: u8 => ["p1" 8 "parameter 1"],
        /// Third parameter (op-specific).
        p2: u8 => ["p2" 8 "parameter 2"],
        /// Fourth parameter (op-specific).
        p3: u8 => ["p3" 8 "parameter 3"],
        /// Fifth parameter (op-specific).
        p4: u8 => ["p4" 8 "parameter 4"],
        /// Activation-buffer address of per-element flags (`sgd`: SR-STE's
        /// pruned mask, non-zero = pruned by the FF mask).
        mask: u32 => ["mask" 24 "flag address in a (sgd: SR-STE pruned mask)"],
        /// Sixth parameter (`sgd`: SR-STE shift, [`NO_SHIFT`](super::NO_SHIFT) = off).
        p5: u8 => ["p5" 8 "parameter 5 (sgd: SR-STE shift, 255 off)"],
    }

    /// The sparsifier: top-N-of-M over the dense int16 weights `A[src]`
    /// (`rows×cols`, row-major), writing compressed values and indices to
    /// `W[dst]`, with groups along the rows (`axis = 0`, W_ff) or along the
    /// columns (`axis = 1`, written transposed: W_bp).
    5 "sparsify" Sparsify on Compute {
        /// Pattern.
        pattern: NmPattern => ["n_of" 5 "N", "m_of" 5 "M"],
        /// 0: groups along rows; 1: along columns, output transposed.
        axis: u8 => ["axis" 1 "0: groups along rows (W_ff), 1: along columns, transposed out (W_bp)"],
        /// Read master weights from `O` (select by their magnitude, write the
        /// int16 operand `weight_from_master`) instead of int16 weights from `A`.
        master: bool => [
            "master" 1 "1: source is master weights in o (select on them, write weight_from_master)",
        ],
        /// Write the dense pruned mask (1 where the group's top-N dropped the
        /// element, 0 where it kept it; `rows×cols` row-major) to `A[dst]`
        /// instead of compressed weights to `W[dst]`: SR-STE's operand.
        mask_out: bool => ["mask_out" 1 "1: write the dense pruned mask (1 = pruned) to a at dst instead"],
        /// Rows of the dense block.
        rows: u32 => ["rows" 20 "rows of the dense block"],
        /// Columns of the dense block.
        cols: u32 => ["cols" 20 "columns of the dense block"],
        /// Source address in the activation buffer.
        src: u32 => ["src" 24 "dense int16 weights in the activation buffer"],
        /// Destination address in the weight buffer.
        dst: u32 => ["dst" 24 "compressed output in the weight buffer"],
    }

    /// A compute-queue barrier with no work: it exists to carry tokens
    /// between the store and load queues (which are not neighbours).
    6 "sync" Sync on Compute {}

    /// The DMA engine's im2col gather (load queue): the `rows × cols` tile
    /// of the im2col matrix of the NHWC int16 tensor at `dram`, from output
    /// pixel `p0` and column `k0`, into `A[sram]` row-major, zeros where the
    /// kernel reaches into padding or between dilated pixels. The engine
    /// reads each tile row as its segments (the column range split at kernel
    /// taps: channels of one tap are contiguous in DRAM), each rounded up to
    /// whole bursts, or (`dram.im2col = "line_buffer"`) reads the raw window
    /// once; `bursts` is the transfer's count
    /// ([`crate::im2col::ConvGeom::gather_bursts`]), which times it.
    7 "load2col" Load2col on Load {
        /// DRAM byte address of the tensor (image 0, row 0, column 0).
        dram: u64 => ["dram" 40 "DRAM byte address of the NHWC int16 tensor"],
        /// Activation buffer element address.
        sram: u32 => ["sram" 24 "activation buffer element address"],
        /// Tile rows (output pixels).
        rows: u32 => ["rows" 20 "tile rows (output pixels)"],
        /// Tile columns (im2col columns).
        cols: u32 => ["cols" 20 "tile columns (im2col columns (ky*kw + kx)*ic + c)"],
        /// First output pixel (over batch, rows and columns).
        p0: u32 => ["p0" 24 "first output pixel (over batch, rows, columns)"],
        /// First im2col column.
        k0: u32 => ["k0" 20 "first im2col column"],
        /// Convolution geometry.
        geom: ConvGeom => [
            "ih" 10 "input height",
            "iw" 10 "input width",
            "ic" 12 "input channels",
            "kh" 4 "kernel height",
            "kw" 4 "kernel width",
            "cs" 3 "stride",
            "padh" 4 "zero padding top and bottom",
            "padw" 4 "zero padding left and right",
            "dil" 3 "input dilation (1 none; transposed convolution: the stride)",
            "opadh" 3 "extra zero rows at the bottom (transposed convolution)",
            "opadw" 3 "extra zero columns at the right",
        ],
        /// DRAM bursts of the transfer (`ConvGeom::gather_bursts`).
        bursts: u32 => ["bursts" 32 "DRAM bursts of the gather (ConvGeom::gather_bursts under dram.im2col)"],
    }

    /// End of program: completes when every queue has drained.
    15 "halt" Halt on Compute {}
}
