//! The small enumerations an instruction carries, each with its codes in
//! one place: the queues, the dependency-token flags, the buffers, the DMA
//! row formats, the GEMM modes and the vector-unit operations. The encoder,
//! the decoder, the text form and the RTL take every code from here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::nm::NmPattern;

use super::NM_CHUNK;

/// Declares a field-less enum whose variants have a code (their
/// discriminant, the value in an instruction field or an RTL select) and a
/// lower-case name, and generates `ALL` (in code order), `code`,
/// `from_code` and `name` from that one list.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        pub enum $Name:ident {
            $( $(#[$vmeta:meta])* $V:ident = $code:literal $name:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[repr(u8)]
        pub enum $Name {
            $( $(#[$vmeta])* $V = $code, )+
        }

        impl $Name {
            /// Every value, in code order.
            pub const ALL: [$Name; [$($code),+].len()] = [$($Name::$V),+];

            /// Its code (the value of its instruction field).
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The value whose code is `code`.
            pub const fn from_code(code: u64) -> Option<Self> {
                match code {
                    $( $code => Some($Name::$V), )+
                    _ => None,
                }
            }

            /// Lower-case name.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $Name::$V => $name, )+
                }
            }
        }

        const _: () = {
            let all = $Name::ALL;
            let mut i = 0;
            while i < all.len() {
                assert!(all[i] as usize == i, concat!(stringify!($Name), " codes are 0, 1, 2, ... in order"));
                i += 1;
            }
        };
    };
}

coded_enum! {
    /// The queue an instruction runs on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Queue {
        /// DMA loads.
        Load = 0 "load",
        /// PE array, vector unit and sparsifier.
        Compute = 1 "compute",
        /// DMA stores.
        Store = 2 "store",
    }
}

impl Queue {
    /// Index 0..3 in [`Queue::ALL`], the fixed order the controller
    /// evaluates the queues each cycle (its code).
    pub fn index(self) -> usize {
        usize::from(self.code())
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
    /// Bit of `pop_prev` in the 4-bit flags field.
    pub const POP_PREV: u32 = 0;
    /// Bit of `pop_next`.
    pub const POP_NEXT: u32 = 1;
    /// Bit of `push_prev`.
    pub const PUSH_PREV: u32 = 2;
    /// Bit of `push_next`.
    pub const PUSH_NEXT: u32 = 3;
    /// Flag names (text form, docs) by bit.
    pub const NAMES: [&'static str; 4] = ["pop_prev", "pop_next", "push_prev", "push_next"];

    /// The flags by bit (bit `i` is [`Deps::NAMES`]`[i]`).
    pub fn flags(self) -> [bool; 4] {
        let mut f = [false; 4];
        for (bit, on) in [
            (Self::POP_PREV, self.pop_prev),
            (Self::POP_NEXT, self.pop_next),
            (Self::PUSH_PREV, self.push_prev),
            (Self::PUSH_NEXT, self.push_next),
        ] {
            f[bit as usize] = on;
        }
        f
    }

    /// The 4-bit flags field.
    pub fn bits(self) -> u64 {
        self.flags().iter().enumerate().map(|(i, &on)| u64::from(on) << i).sum()
    }

    /// Flags from the 4-bit field (higher bits ignored).
    pub fn from_bits(b: u64) -> Self {
        let on = |bit: u32| b >> bit & 1 != 0;
        Deps {
            pop_prev: on(Self::POP_PREV),
            pop_next: on(Self::POP_NEXT),
            push_prev: on(Self::PUSH_PREV),
            push_next: on(Self::PUSH_NEXT),
        }
    }

    /// True when no flag is set.
    pub fn is_empty(self) -> bool {
        self == Deps::default()
    }
}

coded_enum! {
    /// An on-chip buffer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Buf {
        /// Activation buffer: 16-bit words.
        A = 0 "a",
        /// Weight buffer: 16-bit values, each with a
        /// [`MAX_INDEX_BITS`](crate::nm::MAX_INDEX_BITS)-bit index side-band.
        W = 1 "w",
        /// Output/accumulator buffer: 48-bit words.
        O = 2 "o",
    }
}

coded_enum! {
    /// What a DMA row holds in DRAM.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum DmaFormat {
        /// 16-bit words (activations, dense weights).
        I16 = 0 "i16",
        /// 32-bit words (master weights, momentum, raw accumulators).
        I32 = 1 "i32",
        /// Compressed N:M weights, interleaved in chunks of [`NM_CHUNK`] columns:
        /// each chunk is its 16-bit values followed by their `log2(M)`-bit indices
        /// packed into `2·log2(M)` bytes, so one burst feeds a tile's values and
        /// indices together (the interleave mapping's layout) and any tile that
        /// starts on a chunk boundary is contiguous within each row.
        NmRow = 2 "nm_row",
        /// Values only of a compressed N:M row (16-bit words; non-interleaved layout).
        NmValues = 3 "nm_values",
        /// Indices only of a compressed N:M row, packed (non-interleaved layout).
        NmIndices = 4 "nm_indices",
    }
}

impl DmaFormat {
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
    /// Its code, the `(n_of, m_of)` fields of a `gemm`: `(0, 0)` for dense.
    pub fn code(self) -> (u32, u32) {
        match self {
            GemmMode::Dense => (0, 0),
            GemmMode::Nm(p) => (p.n(), p.m()),
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

coded_enum! {
    /// Vector-unit operations.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum VecOp {
        /// `A[dst+i] = sat16(round(O[src+i] >> shift))`, optionally ReLU'd.
        Requant = 0 "requant",
        /// `O[dst+i] = A[src2+i] > 0 ? O[src+i] : 0` (ReLU backward mask on accumulators).
        ReluBwd = 1 "relu_bwd",
        /// `A[dst+i] = sat16(A[src+i] + A[src2+i])` (residual add).
        Add = 2 "add",
        /// SGD with momentum and weight decay on master weights in `O`
        /// (`O[dst]` master, `O[src2]` momentum, `O[src]` gradient), writing
        /// the new int16 operand weights to `A[aux]`; with SR-STE (`p5` a
        /// shift) the pruned flags `A[mask]` select where its term applies.
        Sgd = 3 "sgd",
        /// Softmax cross-entropy gradient: logits `A[src]` (rows of `aux` classes),
        /// labels `A[src2]` (one per row), into `A[dst]`.
        LossGrad = 4 "loss_grad",
        /// `O[dst+i] = 0` (clear accumulators).
        Clear = 5 "clear",
    }
}
