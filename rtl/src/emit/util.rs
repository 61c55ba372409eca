//! Small helpers shared by the module generators: ISA codes, field
//! positions and literals from the Rust definitions (`dataflow::isa`), zero
//! extension and constant arithmetic that becomes shifts when the constant
//! is a power of two.

use nmsat_dataflow::isa::{
    self, Buf, DEPS_LO, DmaFormat, GemmMode, HEADER_BITS, OPCODE_BITS, OpcodeSpec, VecOp, index_bits,
};
use nmsat_dataflow::nm::MAX_M;

use crate::vast::{Expr, Item, Module, bl, if_else};

/// `(low bit, width)` of field `name` of opcode `mnemonic`, from
/// [`isa::OPCODES`] (the generated decoder and the Rust encoder share the one table).
pub fn field(mnemonic: &str, name: &str) -> (u32, u32) {
    let spec = OpcodeSpec::of(mnemonic).expect("mnemonic exists");
    let p = spec.field_pos(name).unwrap_or_else(|| panic!("opcode {mnemonic} has no field {name}"));
    (p.lo, p.bits)
}

/// Width of field `name` of opcode `mnemonic` (a compile-time constant).
pub const fn fbits(mnemonic: &str, name: &str) -> u32 {
    isa::field_pos(mnemonic, name).bits
}

/// Opcode number of `mnemonic`.
pub fn opcode(mnemonic: &str) -> u8 {
    OpcodeSpec::of(mnemonic).expect("mnemonic exists").code
}

/// The opcode of `mnemonic` as a literal of the opcode's width.
pub fn opcode_k(mnemonic: &str) -> String {
    k(OPCODE_BITS, u64::from(opcode(mnemonic)))
}

/// The opcode bits of the instruction `sig`.
pub fn opcode_of(sig: &str) -> String {
    slice(sig, OPCODE_BITS - 1, 0)
}

/// `(sig[3:0] == 4'd<code>)`: the instruction `sig` is a `mnemonic`.
pub fn is_opcode(sig: &str, mnemonic: &str) -> String {
    format!("({} == {})", opcode_of(sig), opcode_k(mnemonic))
}

/// The dependency-token flags of the instruction `sig` (bit `i` is `isa::Deps::NAMES[i]`).
pub fn deps_of(sig: &str) -> String {
    slice(sig, HEADER_BITS - 1, DEPS_LO)
}

/// `v` as a literal of the width of field `name` of `mnemonic`.
pub fn field_k(mnemonic: &str, name: &str, v: u64) -> String {
    k(field(mnemonic, name).1, v)
}

/// Bits of a buffer id ([`Buf::code`]): the DMA instructions' `buf` field.
pub const BUF_BITS: u32 = fbits("load", "buf");

/// A buffer id as a literal.
pub fn buf_k(b: Buf) -> String {
    k(BUF_BITS, u64::from(b.code()))
}

/// A DMA row format as a literal of the `fmt` field's width.
pub fn fmt_k(f: DmaFormat) -> String {
    field_k("load", "fmt", u64::from(f.code()))
}

/// A vector op as a literal of the `op` field's width.
pub fn vec_op_k(op: VecOp) -> String {
    field_k("vec", "op", u64::from(op.code()))
}

/// Bits of a GEMM mode code, the concatenation `{n_of, m_of}` of a `gemm`'s fields.
pub const MODE_BITS: u32 = fbits("gemm", "n_of") + fbits("gemm", "m_of");

/// The mode code `{n_of, m_of}` of `mode` (0 for dense).
pub fn mode_code(mode: GemmMode) -> u64 {
    let (n, m) = mode.code();
    (u64::from(n) << fbits("gemm", "m_of")) | u64::from(m)
}

/// The index width ([`index_bits`]) of the group size `m_sig` (an `m_of`
/// field) at the width of a DMA `ibits` field: a chain of comparisons with
/// the powers of two up to [`MAX_M`], each arm parenthesised when `nested`.
pub fn index_bits_of(m_sig: &str, nested: bool) -> String {
    let (mb, ib) = (fbits("sparsify", "m_of"), fbits("load", "ibits"));
    let ms: Vec<u32> = std::iter::successors(Some(MAX_M), |m| Some(m / 2)).take_while(|&m| index_bits(m) > 0).collect();
    let arm = |m: u32| format!("({m_sig} == {}) ? {}", k(mb, u64::from(m)), k(ib, u64::from(index_bits(m))));
    if nested {
        ms.iter().rev().fold(k(ib, 0), |e, &m| format!("({} : {e})", arm(m)))
    } else {
        let arms: String = ms.iter().map(|&m| format!("{} : ", arm(m))).collect();
        format!("({arms}{})", k(ib, 0))
    }
}

/// Declares `wire [w-1:0] <prefix>_<name> = instr[...]` for field `name` of `mnemonic`.
pub fn field_wire(m: &mut Module, instr: &str, mnemonic: &str, name: &str, prefix: &str) -> String {
    let (lo, bits) = field(mnemonic, name);
    let wname = format!("{prefix}_{name}");
    m.wire_assign(&wname, bits, slice(instr, lo + bits - 1, lo));
    wname
}

/// `sig[hi:lo]` (or `sig[hi]`).
pub fn slice(sig: &str, hi: u32, lo: u32) -> String {
    if hi == lo { format!("{sig}[{hi}]") } else { format!("{sig}[{hi}:{lo}]") }
}

/// Zero-extends `sig` of `from` bits to `to` bits.
pub fn zx(sig: &str, from: u32, to: u32) -> String {
    assert!(to >= from, "zx narrows {sig}");
    if to == from { sig.to_string() } else { format!("{{{}'d0, {sig}}}", to - from) }
}

/// A `w`-bit literal.
pub fn k(w: u32, v: u64) -> String {
    format!("{w}'d{v}")
}

/// `ceil(x / d)` for a constant `d` at width `w` (a shift when `d` is a power of two).
pub fn cdiv(x: &str, d: u64, w: u32) -> String {
    assert!(d > 0);
    if d == 1 {
        x.to_string()
    } else if d.is_power_of_two() {
        format!("(({x} + {}) >> {})", k(w, d - 1), d.trailing_zeros())
    } else {
        format!("(({x} + {}) / {})", k(w, d - 1), k(w, d))
    }
}

/// `x * d` for a constant `d` at width `w` (a shift when `d` is a power of two).
pub fn cmul(x: &str, d: u64, w: u32) -> String {
    if d == 1 {
        x.to_string()
    } else if d.is_power_of_two() {
        format!("({x} << {})", d.trailing_zeros())
    } else {
        format!("({x} * {})", k(w, d))
    }
}

/// `a > b ? a : b`.
pub fn max2(a: &str, b: &str) -> String {
    format!("(({a} > {b}) ? {a} : {b})")
}

/// `a < b ? a : b`.
pub fn min2(a: &str, b: &str) -> String {
    format!("(({a} < {b}) ? {a} : {b})")
}

/// Assigns `pieces` (least significant first, `w` bits each) to the slices
/// of `name`, one statement each: Verilator builds a wide concatenation piece
/// by piece every cycle, which is quadratic in the number of pieces.
pub fn assign_pieces(m: &mut Module, name: &str, w: u32, pieces: &[String]) {
    for (i, p) in pieces.iter().enumerate() {
        let lo = i as u32 * w;
        let lhs = if w == 1 { format!("{name}[{lo}]") } else { format!("{name}[{}:{lo}]", lo + w - 1) };
        m.assign(lhs, p.clone());
    }
}

/// A raw expression.
pub fn raw(s: impl Into<String>) -> Expr {
    Expr::Raw(s.into())
}

/// `saturate(x)`: the signed `from`-bit input clamped to a signed `to`-bit
/// result (`numerics::saturate_i16` / `saturate_i32` of a wider value).
pub fn fn_saturate(name: &str, from: u32, to: u32) -> Item {
    assert!(from > to, "saturate narrows");
    Item::Function {
        name: name.into(),
        width: to,
        inputs: vec![("x".into(), from)],
        locals: vec![],
        body: vec![bl(
            name,
            format!(
                "(((x[{hi}:{lo}] == {{{n}{{1'b0}}}}) | (x[{hi}:{lo}] == {{{n}{{1'b1}}}})) ? x[{lo}:0] : (x[{hi}] ? {{1'b1, {{{m}{{1'b0}}}}}} : {{1'b0, {{{m}{{1'b1}}}}}}))",
                hi = from - 1,
                lo = to - 1,
                n = from - to + 1,
                m = to - 1
            ),
        )],
        doc: format!("saturate a signed {from}-bit value to {to} bits"),
    }
}

/// `round_shift(x, s)` of `numerics` for a signed `w`-bit `x` and an
/// unsigned shift of `sw` bits: `x` when `s = 0`, else
/// `floor((x + 2^(s-1)) / 2^s)`, which is 0 once `s >= w` (then
/// `x + 2^(s-1)` lies in `[0, 2^s)`). The result has `w` bits.
pub fn fn_round_shift(name: &str, w: u32, sw: u32) -> Item {
    let x2 = w + 2;
    Item::Function {
        name: name.into(),
        width: w,
        inputs: vec![("x".into(), w), ("s".into(), sw)],
        locals: vec![("v".into(), x2)],
        body: vec![if_else(
            format!("s == {}", k(sw, 0)),
            vec![bl(name, "x")],
            vec![if_else(
                format!("s >= {}", k(sw, u64::from(w))),
                vec![bl(name, k(w, 0))],
                vec![
                    bl("v", format!("({{{{2{{x[{}]}}}}, x}} + ({} << (s - {})))", w - 1, k(x2, 1), k(sw, 1))),
                    bl("v", "($signed(v) >>> s)"),
                    bl(name, format!("v[{}:0]", w - 1)),
                ],
            )],
        )],
        doc: format!("numerics::round_shift of a signed {w}-bit value (ties toward +inf)"),
    }
}

/// `requantize(acc, s)` of a 48-bit accumulator (`numerics::requantize`):
/// [`fn_round_shift`] then saturation to 16 bits. Needs the functions
/// `rshift48` and `sat48_16` in the same module.
pub fn fn_requantize(name: &str) -> Item {
    Item::Function {
        name: name.into(),
        width: 16,
        inputs: vec![("x".into(), 48), ("s".into(), 8)],
        locals: vec![],
        body: vec![bl(name, "sat48_16(rshift48(x, s))")],
        doc: "numerics::requantize of a 48-bit accumulator by s (0..=255)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_isa_doc() {
        // docs/isa.md: gemm `m` is bits 41:22, load `cols` 119:100, vec `aux` 131:108.
        assert_eq!(field("gemm", "m"), (22, 20));
        assert_eq!(field("load", "cols"), (100, 20));
        assert_eq!(field("vec", "aux"), (108, 24));
        assert_eq!(opcode("halt"), 15);
        assert_eq!(is_opcode("instr", "halt"), "(instr[3:0] == 4'd15)");
        assert_eq!(deps_of("c_next"), "c_next[7:4]");
        assert_eq!(
            (buf_k(Buf::O), fmt_k(DmaFormat::NmIndices), vec_op_k(VecOp::Sgd)),
            ("2'd2".into(), "3'd4".into(), "4'd3".into())
        );
        assert_eq!(
            index_bits_of("sm", true),
            "((sm == 5'd16) ? 3'd4 : ((sm == 5'd8) ? 3'd3 : ((sm == 5'd4) ? 3'd2 : ((sm == 5'd2) ? 3'd1 : 3'd0))))"
        );
        assert_eq!(
            index_bits_of("i_m", false),
            "((i_m == 5'd16) ? 3'd4 : (i_m == 5'd8) ? 3'd3 : (i_m == 5'd4) ? 3'd2 : (i_m == 5'd2) ? 3'd1 : 3'd0)"
        );
        assert_eq!(
            (MODE_BITS, mode_code(GemmMode::Nm(nmsat_dataflow::NmPattern::new(2, 8).unwrap()))),
            (10, (2 << 5) | 8)
        );
    }

    #[test]
    fn constant_arithmetic() {
        assert_eq!(cdiv("x", 16, 8), "((x + 8'd15) >> 4)");
        assert_eq!(cdiv("x", 3, 8), "((x + 8'd2) / 8'd3)");
        assert_eq!(cmul("x", 1, 8), "x");
        assert_eq!(cmul("x", 6, 8), "(x * 8'd6)");
    }
}
