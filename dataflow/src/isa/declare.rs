//! The machinery behind the opcode declaration (`opcodes.rs`): the macro
//! that turns each opcode's one declaration into its [`Instr`] variant, its
//! [`OPCODES`] row and its arms of [`Instr::field_values`] and
//! [`Instr::from_fields`], and [`Encoded`], how each Rust field type maps
//! to one or more encoded fields.
//!
//! [`Instr`]: super::Instr
//! [`OPCODES`]: super::OPCODES
//! [`Instr::field_values`]: super::Instr::field_values
//! [`Instr::from_fields`]: super::Instr::from_fields

use crate::error::IsaError;
use crate::im2col::ConvGeom;
use crate::nm::NmPattern;

use super::{Buf, DmaFormat, Field, FieldForm, GemmMode, OpcodeSpec, VecOp};

/// Declares the instruction set. Per opcode, in opcode order:
///
/// ```text
/// /// docs of the variant
/// CODE "mnemonic" Variant on Queue {
///     /// docs of the Rust field
///     rust_field: Type => ["name" BITS "meaning", ...],
///     ...
/// }
/// ```
///
/// Each Rust field lists the encoded fields it spans (their text name, width
/// and meaning for `docs/isa.md`), in encoding order; `Type`'s [`Encoded`]
/// impl packs and unpacks them. Every variant also carries `deps`.
macro_rules! instructions {
    ($(
        $(#[$vmeta:meta])*
        $code:literal $mnemonic:literal $Variant:ident on $queue:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty => [ $( $name:literal $bits:literal $doc:literal ),+ $(,)? ]
            ),* $(,)?
        }
    )+) => {
        /// One SAT instruction.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Instr {
            $(
                $(#[$vmeta])*
                $Variant {
                    /// Token flags.
                    deps: Deps,
                    $( $(#[$fmeta])* $field: $ty, )*
                },
            )+
        }

        /// The opcode table: the single definition of the encoding.
        pub const OPCODES: &[OpcodeSpec] = &[
            $(
                OpcodeSpec {
                    code: $code,
                    mnemonic: $mnemonic,
                    queue: Queue::$queue,
                    fields: &[
                        $( $( Field { name: $name, bits: $bits, doc: $doc, form: <$ty as Encoded>::FORM }, )+ )*
                    ],
                },
            )+
        ];

        // Each Rust field lists as many encoded fields as its type packs into.
        $( $(
            const _: () = assert!(
                <$ty as Encoded>::PARTS == [$($name),+].len(),
                concat!($mnemonic, " `", stringify!($field), "`: wrong number of encoded fields for its type")
            );
        )* )+

        impl Instr {
            /// Its opcode number.
            pub fn code(&self) -> u8 {
                match self {
                    $( Instr::$Variant { .. } => $code, )+
                }
            }

            /// Its token flags.
            pub fn deps(&self) -> Deps {
                match self {
                    $( Instr::$Variant { deps, .. } )|+ => *deps,
                }
            }

            /// Mutable token flags (the scheduler sets them).
            pub fn deps_mut(&mut self) -> &mut Deps {
                match self {
                    $( Instr::$Variant { deps, .. } )|+ => deps,
                }
            }

            /// Field values in table order.
            pub fn field_values(&self) -> Vec<u64> {
                let mut v = Vec::with_capacity(self.spec().fields.len());
                match self {
                    $( Instr::$Variant { deps: _, $( $field, )* } => {
                        $( Encoded::put($field, &mut v); )*
                    } )+
                }
                v
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
                let mut parts = Parts { spec, v, at: 0 };
                Ok(match spec.code {
                    $( $code => Instr::$Variant { deps, $( $field: parts.take()?, )* }, )+
                    _ => return Err(IsaError::Opcode(spec.code)),
                })
            }
        }
    };
}

pub(super) use instructions;

/// How a Rust field type maps to encoded fields.
pub(super) trait Encoded: Sized {
    /// Encoded fields it spans.
    const PARTS: usize = 1;
    /// How the text form shows its fields.
    const FORM: FieldForm = FieldForm::Decimal;
    /// Appends its [`Encoded::PARTS`] field values.
    fn put(&self, out: &mut Vec<u64>);
    /// Rebuilds it from the values `v` of its encoded `fields` (of an
    /// opcode `mnemonic`), or names the field that is wrong and why.
    fn take(v: &[u64], fields: &[Field], mnemonic: &str) -> Result<Self, (&'static str, String)>;
}

/// The field values of one opcode, taken in order by [`Instr::from_fields`](super::Instr::from_fields).
pub(super) struct Parts<'a> {
    pub(super) spec: &'a OpcodeSpec,
    pub(super) v: &'a [u64],
    pub(super) at: usize,
}

impl Parts<'_> {
    /// The next Rust field.
    pub(super) fn take<T: Encoded>(&mut self) -> Result<T, IsaError> {
        let r = self.at..self.at + T::PARTS;
        self.at = r.end;
        T::take(&self.v[r.clone()], &self.spec.fields[r], self.spec.mnemonic)
            .map_err(|(field, reason)| IsaError::Field { mnemonic: self.spec.mnemonic, field, reason })
    }
}

impl Encoded for u64 {
    /// 64-bit fields are DRAM byte addresses and strides.
    const FORM: FieldForm = FieldForm::Hex;
    fn put(&self, out: &mut Vec<u64>) {
        out.push(*self);
    }
    fn take(v: &[u64], _: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
        Ok(v[0])
    }
}

impl Encoded for u32 {
    fn put(&self, out: &mut Vec<u64>) {
        out.push(u64::from(*self));
    }
    fn take(v: &[u64], f: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
        u32::try_from(v[0]).map_err(|_| (f[0].name, "too large".to_string()))
    }
}

impl Encoded for u8 {
    fn put(&self, out: &mut Vec<u64>) {
        out.push(u64::from(*self));
    }
    fn take(v: &[u64], _: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
        Ok(v[0] as u8)
    }
}

impl Encoded for i8 {
    /// Two's complement in the field, signed in the text form.
    const FORM: FieldForm = FieldForm::Signed;
    fn put(&self, out: &mut Vec<u64>) {
        out.push(u64::from(*self as u8));
    }
    fn take(v: &[u64], _: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
        Ok(v[0] as u8 as i8)
    }
}

impl Encoded for bool {
    fn put(&self, out: &mut Vec<u64>) {
        out.push(u64::from(*self));
    }
    fn take(v: &[u64], _: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
        Ok(v[0] != 0)
    }
}

/// A coded enum in one field; `unknown` is the complaint about any other value.
macro_rules! encoded_by_code {
    ($($T:ty: $unknown:literal),+) => {$(
        impl Encoded for $T {
            fn put(&self, out: &mut Vec<u64>) {
                out.push(u64::from(self.code()));
            }
            fn take(v: &[u64], f: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
                <$T>::from_code(v[0]).ok_or_else(|| (f[0].name, $unknown.to_string()))
            }
        }
    )+};
}

encoded_by_code!(Buf: "unknown buffer", DmaFormat: "unknown format", VecOp: "unknown vector op");

/// `(n, m)`: a pattern, or `None` for `(0, 0)`.
fn pattern(v: &[u64], f: &[Field]) -> Result<Option<NmPattern>, (&'static str, String)> {
    if v[0] == 0 && v[1] == 0 {
        return Ok(None);
    }
    NmPattern::new(v[0] as u32, v[1] as u32).map(Some).map_err(|e| (f[0].name, e.to_string()))
}

/// `n_of`, `m_of` ([`GemmMode::code`]).
impl Encoded for GemmMode {
    const PARTS: usize = 2;
    fn put(&self, out: &mut Vec<u64>) {
        let (n, m) = self.code();
        out.extend([u64::from(n), u64::from(m)]);
    }
    fn take(v: &[u64], f: &[Field], _: &str) -> Result<Self, (&'static str, String)> {
        Ok(pattern(v, f)?.map_or(GemmMode::Dense, GemmMode::Nm))
    }
}

/// `n_of`, `m_of`, never `(0, 0)`.
impl Encoded for NmPattern {
    const PARTS: usize = 2;
    fn put(&self, out: &mut Vec<u64>) {
        out.extend([u64::from(self.n()), u64::from(self.m())]);
    }
    fn take(v: &[u64], f: &[Field], mnemonic: &str) -> Result<Self, (&'static str, String)> {
        pattern(v, f)?.ok_or_else(|| (f[0].name, format!("{mnemonic} needs a pattern")))
    }
}

/// The geometry's fields in struct order (`ih`, `iw`, `ic`, `kh`, `kw`,
/// `cs`, `pad_h`, `pad_w`, `dil`, `opad_h`, `opad_w`), each a `u32`.
impl Encoded for ConvGeom {
    const PARTS: usize = 11;
    fn put(&self, out: &mut Vec<u64>) {
        let g = self;
        for x in [g.ih, g.iw, g.ic, g.kh, g.kw, g.cs, g.pad_h, g.pad_w, g.dil, g.opad_h, g.opad_w] {
            x.put(out);
        }
    }
    fn take(v: &[u64], f: &[Field], mn: &str) -> Result<Self, (&'static str, String)> {
        let u = |i: usize| u32::take(&v[i..=i], &f[i..=i], mn);
        Ok(ConvGeom {
            ih: u(0)?,
            iw: u(1)?,
            ic: u(2)?,
            kh: u(3)?,
            kw: u(4)?,
            cs: u(5)?,
            pad_h: u(6)?,
            pad_w: u(7)?,
            dil: u(8)?,
            opad_h: u(9)?,
            opad_w: u(10)?,
        })
    }
}
