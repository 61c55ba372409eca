//! Datapath generators: the buffers, the PE (lanes multipliers, adder tree,
//! index decode and M:1 activation muxes), the PE array and the GEMM
//! engine that sequences sub-tiles and K-steps exactly as `timing::gemm`
//! counts them.
//!
//! **Buffers.** Each buffer is a storage array with one port per unit that
//! uses it (a read port delivers `lanes` consecutive elements from each of
//! its `groups` start addresses, a write port takes the same shape with a
//! lane mask). The timing model charges each unit its own bandwidth and
//! never port conflicts between units, so the RTL gives every unit its own
//! ports: an idealisation of banked SRAM that `nmsat synth` reports as
//! block RAM from the buffer geometry (the buffers are black boxes there).
//!
//! **PE array.** Operands are broadcast (row `i` gets the activations of
//! output row `i`, column `j` the weights of output column `j`) instead of
//! skewed through a systolic mesh; the results are in the output buffer
//! three cycles after the last K-step, which is never later than the
//! model's fill-and-drain tail (the emitter checks `fill >= 2`).

use nmsat_dataflow::isa::MAX_INDEX_BITS;

/// Lanes (groups times lanes) up to which a buffer write port is a loop:
/// Verilator unrolls loops of up to 64 iterations, and a non-blocking write
/// to an array in a loop it keeps is not supported.
const MAX_LOOP_LANES: u32 = 64;

/// Bits of a weight's in-group index side-band (an index of the largest group).
pub const INDEX_BITS: u32 = MAX_INDEX_BITS;

/// Bits of a pattern's `N` and `M` (the `n_of`, `m_of` fields), and of
/// counts within a group.
const NB: u32 = crate::emit::util::fbits("sparsify", "n_of");
const MB: u32 = crate::emit::util::fbits("sparsify", "m_of");

mod buffers;
mod gemm;
mod gemm_ws;
mod pe;
mod sparsifier;

pub use buffers::{BufPort, BufSpec, PortKind, act_window, buffer, buffers, clear_lanes, modes};
pub use gemm::gemm;
pub use pe::{pe, pe_array};
pub use sparsifier::{sparsifier, sparsifier_groups};
