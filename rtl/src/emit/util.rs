//! Small helpers shared by the module generators: ISA field positions from
//! the opcode table, zero extension and constant arithmetic that becomes
//! shifts when the constant is a power of two.

use nmsat_dataflow::isa::OPCODES;

use crate::vast::{Expr, Item, Module, bl, if_else};

/// `(low bit, width)` of field `name` of opcode `mnemonic`, from [`OPCODES`]
/// (the generated decoder and the Rust encoder share the one table).
pub fn field(mnemonic: &str, name: &str) -> (u32, u32) {
    let spec = OPCODES.iter().find(|s| s.mnemonic == mnemonic).expect("mnemonic exists");
    let mut pos = 8;
    for f in spec.fields {
        if f.name == name {
            return (pos, f.bits);
        }
        pos += f.bits;
    }
    panic!("opcode {mnemonic} has no field {name}")
}

/// Opcode number of `mnemonic`.
pub fn opcode(mnemonic: &str) -> u8 {
    OPCODES.iter().find(|s| s.mnemonic == mnemonic).expect("mnemonic exists").code
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
    }

    #[test]
    fn constant_arithmetic() {
        assert_eq!(cdiv("x", 16, 8), "((x + 8'd15) >> 4)");
        assert_eq!(cdiv("x", 3, 8), "((x + 8'd2) / 8'd3)");
        assert_eq!(cmul("x", 1, 8), "x");
        assert_eq!(cmul("x", 6, 8), "(x * 8'd6)");
    }
}
