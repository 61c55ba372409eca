//! `sat_dma`: the DMA data engine. It moves the data of every load and
//! store between the DRAM memory interface and the buffers, in the five
//! row formats of the data semantics (`sim::datapath`), inside the
//! transfer's channel beats.
//!
//! **Units.** A transfer is moved as *units* of up to `E` consecutive
//! columns of one row, `E` fixed per format ([`crate::params::DmaGeom`],
//! for slices of `B` bytes, `B` the smaller of a burst and the largest power
//! of two in the bytes per cycle): `B/2` 16-bit values, `B/4` 32-bit
//! values, `8·ceil(B/ib)` packed indices, or `ceil(B/34)` interleaved
//! `nm_row` chunks of 16 columns. No row has more units than slices, and
//! the engine handles `ceil(bytes_per_cycle / B)` units per cycle (lane 0's
//! position is a register, the next units follow by one-unit steps that
//! wrap to the next row), so a transfer needs at most its `timing::dma` beats.
//!
//! **Schedule.** The controller grants each transfer the channel for
//! `beats` cycles from `grant`, and grants never overlap. The engine keeps
//! one pending load and one pending store (each queue issues its next
//! transfer only after its previous one's beats) and moves a transfer's
//! units in the cycles `grant + 1 ..= grant + beats`, one cycle after its
//! beats: every transfer is therefore moved in issue order, one at a time.
//!
//! **Memory interface.** Per unit: a read port (`dram_rd_*`: a byte address
//! and a window of `window` bytes that the memory returns in the same
//! cycle) and a write port (`dram_wr_*`: address, window and a *bit* mask, so
//! packed indices that share a byte with other data are written alone). The
//! memory applies the cycle's writes before it serves the cycle's reads.
//! A load reads DRAM and writes the buffer in the unit's cycle; a store
//! reads the buffer in the unit's cycle (synchronous read) and writes DRAM
//! the next cycle. A load's data is in the buffer the cycle after its last
//! beat, before it retires (`latency` cycles later), and a store's last
//! write reaches DRAM before any later transfer reads it.

use nmsat_dataflow::isa::{Buf, DmaFormat, MAX_INDEX_BITS, NM_CHUNK};

use crate::emit::util::{
    BUF_BITS, buf_k, fbits, field, fmt_k, fn_requantize, fn_round_shift, fn_saturate, is_opcode, k, raw,
};
use crate::params::{DRAM_ADDR_BITS, INSTR_BITS, Params, TIME_BITS, chunk_bytes};
use crate::vast::{Always, Expr, Item, Module, Stmt, bl, if_, if_else, nb};

mod gather;

pub use gather::line_buffer;
use gather::{GATHER_REGS, gather_next, gather_regs, gather_start, gather_unit, line_window};

/// Transfer kinds (buffer × format) the engine distinguishes.
pub const KIND_A16: u64 = 0;
/// `o` in `i32`.
pub const KIND_O32: u64 = 1;
/// `o` stored as `i16` (requantized).
pub const KIND_O16: u64 = 2;
/// `w` in `i16` or `nm_values`.
pub const KIND_W16: u64 = 3;
/// `w` in `nm_row`.
pub const KIND_WROW: u64 = 4;
/// `w` in `nm_indices`.
pub const KIND_WIDX: u64 = 5;
/// Nothing to move (a format its buffer cannot hold; the checker rejects it).
pub const KIND_NONE: u64 = 7;

const A: u32 = DRAM_ADDR_BITS;
/// Bits of column counters (a `cols` field plus one unit).
pub(super) const CW: u32 = fbits("load", "cols") + 2;
/// Bits of row counters (a `rows` field).
pub(super) const RL: u32 = fbits("load", "rows");
/// Bits of an in-group index in the weight buffer's side-band.
const IB: u32 = MAX_INDEX_BITS;
/// Bits of a weight-buffer element: a 16-bit value and its index.
const WW: u32 = 16 + IB;
/// Columns of an `nm_row` chunk.
const CH: u32 = NM_CHUNK as u32;
/// Bits of a DMA instruction's `ibits` field.
const IBF: u32 = fbits("load", "ibits");
/// Bits of a store's requantization shift.
const SH: u32 = fbits("store", "shift");

/// `ib` index bits as a literal of the `ibits` field.
fn ib_k(ib: u32) -> String {
    k(IBF, u64::from(ib))
}

/// Generates `sat_dma`.
/// The engine's sizes, derived once from the config.
#[derive(Debug, Clone, Copy)]
struct Dims {
    /// Units moved per cycle on the DRAM side.
    u: u32,
    /// Units of the expansion into A (with a line buffer; `u` without).
    nx: u32,
    /// A line buffer holds the `load2col` fetches.
    lb: bool,
    /// Bits of a unit's DRAM window.
    wb: u32,
    /// Bits of a buffer element address.
    rw: u32,
    /// Elements per unit of 16-bit rows.
    e16: u32,
    /// Elements per unit of `i32` rows.
    e32: u32,
    /// Weight-buffer lanes per unit.
    lw: u32,
    /// Index side-band lanes per unit.
    li: u32,
    /// Chunks per unit of `nm_row` rows.
    krow: u32,
    /// Columns per unit of `nm_row` rows.
    erow: u32,
    /// Bits of an accumulator.
    acc: u32,
    /// Elements per unit of packed indices, per index bits (at `ib - 1`).
    eidx: [u32; IB as usize],
}

impl Dims {
    /// The sizes of `p`'s engine.
    fn new(p: &Params) -> Self {
        let d = p.dma;
        Dims {
            u: d.units,
            // With a line buffer the expansion moves `nx` units a cycle into A (the
            // DRAM side `u`); units u.. exist only for it.
            nx: p.a_dma_units(),
            lb: p.line_buffer > 0,
            wb: d.window * 8,
            rw: p.range_bits,
            e16: d.e16,
            e32: d.e32,
            lw: d.lanes_w(),
            li: d.lanes_i(),
            krow: d.krow,
            erow: d.erow(),
            acc: p.acc_bits,
            eidx: d.eidx,
        }
    }

    /// Buffer write ports: (prefix, lanes, lane bits).
    fn write_ports(&self) -> [(&'static str, u32, u32); 4] {
        [("a_wr", self.e16, 16), ("o_wr", self.e32, self.acc), ("w_wr", self.lw, WW), ("wi_wr", self.li, IB)]
    }

    /// Buffer read ports: (prefix, lanes, lane bits).
    fn read_ports(&self) -> [(&'static str, u32, u32); 4] {
        [("a_rd", self.e16, 16), ("o_rd", self.e16, self.acc), ("w_rd", self.lw, WW), ("wi_rd", self.li, IB)]
    }
}

/// Generates `sat_dma`.
pub fn dma(p: &Params, faults: bool) -> Module {
    let d = p.dma;
    let dm = Dims::new(p);
    let (u, e16, e32) = (dm.u, dm.e16, dm.e32);
    let mut m = Module::new("sat_dma");
    m.doc.extend([
        format!(
            "DMA data engine: {u} unit(s) per cycle; {e16} 16-bit or {e32} 32-bit values, {} to {} packed",
            d.eidx[3], d.eidx[0]
        ),
        format!(
            "indices or {} nm_row chunk(s) per unit; {}-byte DRAM windows. Moves each transfer in the",
            d.krow, d.window
        ),
        "cycles after its channel beats' first, in grant order (see the emitter's dma docs).".to_string(),
    ]);
    ports(&mut m, &dm, faults);
    store_functions(&mut m, dm.acc, faults);
    pending_transfers(&mut m);
    let fields = decode_start(&mut m, &dm);
    transfer_regs(&mut m, &dm);
    unit_chain(&mut m, &dm);
    let start = start_stmts(&mut m, &dm, &fields);
    let advance = advance_stmts(&dm);
    sequencer(&mut m, &dm, start, advance);
    loads(&mut m, &dm);
    stores(&mut m, &dm, faults);
    m.lint_off.push((
        "UNUSED".into(),
        "reads a few fields of the instructions; buffer lanes beyond a format's unit are unused".into(),
    ));
    m
}

/// The ports: the controller's issues and grants, the DRAM read and write
/// ports of every unit, the buffers' (and the line buffer's) ports.
fn ports(m: &mut Module, dm: &Dims, faults: bool) {
    let Dims { u, nx, lb, wb, rw, e16, .. } = *dm;
    m.input("clk", 1, "");
    m.input("rst", 1, "");
    m.input("t", TIME_BITS, "the controller's cycle");
    for q in ["ld", "st"] {
        m.input(&format!("{q}_issue"), 1, if q == "ld" { "a load issues" } else { "a store issues" });
        m.input(&format!("{q}_instr"), INSTR_BITS, "");
        m.input(&format!("{q}_grant"), TIME_BITS, "cycle it is granted the DRAM channel");
    }
    m.output("error", 1, "a transfer could not start in its grant cycle");
    if faults {
        m.input("fault_sel", crate::emit::FAULT_SEL_BITS, "fault-injection build: the fault switched on");
    }
    m.output("dram_rd_en", u, "unit g reads DRAM");
    m.output("dram_rd_addr", u * A, "unit g: first byte of its window");
    m.input("dram_rd_data", u * wb, "unit g: its window, byte i at bits 8i+7:8i (same cycle)");
    m.output("dram_wr_en", u, "unit g writes DRAM");
    m.output("dram_wr_addr", u * A, "");
    m.output("dram_wr_data", u * wb, "");
    m.output("dram_wr_mask", u * wb, "bits written");
    for (n, l, w) in dm.write_ports() {
        let g = if n == "a_wr" { nx } else { u };
        m.output(&format!("{n}_en"), g, "");
        m.output(&format!("{n}_addr"), g * rw, "");
        m.output(&format!("{n}_mask"), g * l, "");
        m.output(&format!("{n}_data"), g * l * w, "");
    }
    if lb {
        m.output("lb_wr_en", u, "line buffer: the fetch's unit g writes");
        m.output("lb_wr_addr", u * rw, "");
        m.output("lb_wr_mask", u * e16, "");
        m.output("lb_wr_data", u * e16 * 16, "");
        m.output("lb_rd_addr", nx * rw, "line buffer: the expansion's unit g reads");
        m.input("lb_rd_data", nx * e16 * 16, "unit g: its elements (same cycle)");
    }
    for (n, l, w) in dm.read_ports() {
        m.output(&format!("{n}_en"), 1, "");
        m.output(&format!("{n}_addr"), u * rw, "");
        m.input(&format!("{n}_data"), u * l * w, "next cycle");
    }
}

/// The functions the stores pack with: rounding, saturation and the
/// requantization of `o` to `i16` (and its faulty twin in a fault build).
fn store_functions(m: &mut Module, acc: u32, faults: bool) {
    m.push(fn_round_shift("rshift48", acc, 8));
    m.push(fn_saturate("sat48_16", acc, 16));
    m.push(fn_saturate("sat48_32", acc, 32));
    m.push(fn_requantize("requant"));
    if faults {
        m.push(Item::Function {
            name: "requant_trunc".into(),
            width: 16,
            inputs: vec![("x".into(), acc), ("s".into(), 8)],
            locals: vec![("v".into(), acc)],
            body: vec![bl("v", "($signed(x) >>> s)"), bl("requant_trunc", "sat48_16(v)")],
            doc: "FAULT (dma-store-truncates): requantization without rounding".into(),
        });
    }
}

/// The pending load and store slots, and `start`/`si`: the transfer that
/// starts this cycle (the load first when both do, which is an error).
fn pending_transfers(m: &mut Module) {
    m.comment("pending transfers: at most one load and one store (each waits for its queue's previous beats)");
    m.comment("a transfer starts in its grant cycle (from the issuing head when granted at once), so its units");
    m.comment("move in the cycles grant+1 ..= grant+beats");
    for q in ["ld", "st"] {
        m.reg(&format!("p_{q}_v"), 1, "");
        m.reg(&format!("p_{q}_i"), INSTR_BITS, "");
        m.reg(&format!("p_{q}_g"), TIME_BITS, "");
        m.wire_assign(&format!("now_{q}"), 1, format!("({q}_issue & ({q}_grant == t))"));
        m.wire_assign(&format!("s_{q}"), 1, format!("((p_{q}_v & (p_{q}_g == t)) | now_{q})"));
        m.wire_assign(&format!("late_{q}"), 1, format!("(p_{q}_v & (p_{q}_g < t))"));
        m.wire_assign(&format!("i_{q}"), INSTR_BITS, format!("(now_{q} ? {q}_instr : p_{q}_i)"));
    }
    m.wire_assign("start", 1, "(s_ld | s_st)");
    m.wire_assign("si", INSTR_BITS, "(s_ld ? i_ld : i_st)");
}

/// Fields of the starting instruction `si` that the start copies as they are.
struct StartFields {
    shift: String,
    relu: String,
    stride: String,
    dram: String,
    rows: String,
}

/// The decode of the starting instruction: its gather (and line-buffer
/// window), its transfer kind, its unit size and its first addresses.
fn decode_start(m: &mut Module, dm: &Dims) -> StartFields {
    let rw = dm.rw;
    let f = |name: &str| {
        let (lo, bits) = field(if name == "shift" || name == "relu" { "store" } else { "load" }, name);
        (format!("si[{}:{lo}]", lo + bits - 1), bits)
    };
    let (fbuf, _) = f("buf");
    let (ffmt, _) = f("fmt");
    let (fib, _) = f("ibits");
    let (fdram, _) = f("dram");
    let (fsram, sbits) = f("sram");
    let (frows, _) = f("rows");
    let (fcols, _) = f("cols");
    let (fstride, _) = f("stride");
    let (fshift, _) = f("shift");
    let (frelu, _) = f("relu");
    m.wire_assign("i_2col", 1, is_opcode("si", "load2col"));
    gather_start(m, rw);
    if dm.lb {
        line_window(m);
    }
    m.wire_assign("i_buf", BUF_BITS, fbuf);
    m.wire_assign("i_fmt", fbits("load", "fmt"), ffmt);
    m.wire_assign("i_ib", IBF, fib);
    m.wire_assign("i_kind", 3, kind_of_start());
    unit_size(m, dm);
    m.wire_assign("i_cols", CW, crate::emit::util::zx(&fcols, fbits("load", "cols"), CW));
    let (slo, _) = field("load", "sram");
    m.wire_assign(
        "i_sram",
        rw,
        if rw <= sbits { format!("si[{}:{slo}]", slo + rw - 1) } else { crate::emit::util::zx(&fsram, sbits, rw) },
    );
    StartFields { shift: fshift, relu: frelu, stride: fstride, dram: fdram, rows: frows }
}

/// The transfer kind of the starting instruction, from its buffer and
/// format (`KIND_NONE` for a format its buffer cannot hold).
fn kind_of_start() -> String {
    let isb = |x: Buf| format!("(i_buf == {})", buf_k(x));
    let isf = |x: DmaFormat| format!("(i_fmt == {})", fmt_k(x));
    use DmaFormat::{I16, I32, NmIndices, NmRow, NmValues};
    format!(
        "({} ? ({} ? 3'd{KIND_A16} : 3'd{KIND_NONE}) : {} ? ({} ? 3'd{KIND_O32} : {} ? 3'd{KIND_O16} : 3'd{KIND_NONE}) : {} ? (({} | {}) ? 3'd{KIND_W16} : {} ? 3'd{KIND_WROW} : {} ? 3'd{KIND_WIDX} : 3'd{KIND_NONE}) : 3'd{KIND_NONE})",
        isb(Buf::A),
        isf(I16),
        isb(Buf::O),
        isf(I32),
        isf(I16),
        isb(Buf::W),
        isf(I16),
        isf(NmValues),
        isf(NmRow),
        isf(NmIndices),
    )
}

/// `i_e` and `i_ub`: the elements and DRAM bytes of one unit of the
/// starting transfer, which depend on its kind and index bits.
fn unit_size(m: &mut Module, dm: &Dims) {
    let idx_case = |f: &dyn Fn(u32) -> u64| {
        let mut e = k(CW, 0);
        for ib in (1..=IB).rev() {
            e = format!("((i_ib == {}) ? {} : {e})", ib_k(ib), k(CW, f(ib)));
        }
        e
    };
    let e_idx = idx_case(&|ib| u64::from(dm.eidx[ib as usize - 1]));
    let ub_idx = idx_case(&|ib| u64::from(dm.eidx[ib as usize - 1] * ib / 8));
    let ub_row = idx_case(&|ib| u64::from(dm.krow * chunk_bytes(ib)));
    m.wire_assign(
        "i_e",
        CW,
        format!(
            "((i_kind == 3'd{KIND_O32}) ? {} : (i_kind == 3'd{KIND_WROW}) ? {} : (i_kind == 3'd{KIND_WIDX}) ? {e_idx} : {})",
            k(CW, dm.e32.into()),
            k(CW, dm.erow.into()),
            k(CW, dm.e16.into())
        ),
    );
    m.wire_assign(
        "i_ub",
        CW,
        format!(
            "((i_kind == 3'd{KIND_O32}) ? {} : (i_kind == 3'd{KIND_WROW}) ? {ub_row} : (i_kind == 3'd{KIND_WIDX}) ? {ub_idx} : {})",
            k(CW, (4 * dm.e32).into()),
            k(CW, (2 * dm.e16).into())
        ),
    );
}

/// The registers of the transfer being moved: its kind and geometry, and
/// lane 0's position (with a line buffer, the tile the expansion writes).
fn transfer_regs(m: &mut Module, dm: &Dims) {
    for (n, w, doc) in [
        ("act", 1, "a transfer is being moved"),
        ("dir", 1, "0 load, 1 store"),
        ("kind", 3, ""),
        ("ib", IBF, "index bits"),
        ("shift", SH, "store from o in i16: requantization shift"),
        ("relu", 1, ""),
        ("cols", CW, ""),
        ("stride", A, ""),
        ("e", CW, "elements per unit"),
        ("ub", CW, "DRAM bytes per unit"),
        ("rl", RL, "rows left, lane 0's row included"),
        ("c", CW, "lane 0: first column"),
        ("off", A, "lane 0: byte offset in its row"),
        ("rd", A, "lane 0: DRAM address of its row"),
        ("re", dm.rw, "lane 0: element address of its row"),
    ] {
        m.reg(n, w, doc);
    }
    if dm.lb {
        m.reg("lbf", 1, "a line-buffer load2col's fetch phase (the expansion follows)");
        m.reg("x_rows", RL, "its tile rows, for the expansion");
        m.reg("x_cols", CW, "its tile columns");
        m.reg("x_sram", dm.rw, "its A address");
    }
}

/// The chain of units: unit g+1's position is unit g's advanced by one
/// unit (or gather segment), so one cycle moves `nx` units without a
/// multiplier; each unit's valid bit, element count and addresses.
fn unit_chain(m: &mut Module, dm: &Dims) {
    let Dims { u, nx, lb, rw, .. } = *dm;
    m.comment("unit g+1 is unit g advanced by one unit (to the next row when the row ends)");
    m.wire_assign("u0_c", CW, "c");
    m.wire_assign("u0_off", A, "off");
    m.wire_assign("u0_rd", A, "rd");
    m.wire_assign("u0_re", rw, "re");
    m.wire_assign("u0_rl", RL, "rl");
    let cw_rw = |s: &str| if rw <= CW { format!("{s}[{}:0]", rw - 1) } else { crate::emit::util::zx(s, CW, rw) };
    gather_regs(m);
    for g in 0..nx {
        let n = g + 1;
        let only_x = if g >= u { " & is2" } else { "" };
        m.wire_assign(&format!("v{g}"), 1, format!("(act{only_x} & (u{g}_rl != {}))", k(RL, 0)));
        gather_unit(m, g);
        m.wire_assign(&format!("c2_{g}"), CW, format!("(u{g}_c + (is2 ? n2_{g} : e))"));
        m.wire_assign(&format!("wrap{g}"), 1, format!("(c2_{g} >= cols)"));
        gather_next(m, g);
        m.wire_assign(&format!("u{n}_c"), CW, format!("(wrap{g} ? {} : c2_{g})", k(CW, 0)));
        m.wire_assign(&format!("u{n}_off"), A, format!("(wrap{g} ? {} : (u{g}_off + {{{}'d0, ub}}))", k(A, 0), A - CW));
        m.wire_assign(&format!("u{n}_rd"), A, format!("(wrap{g} ? (u{g}_rd + stride) : u{g}_rd)"));
        m.wire_assign(&format!("u{n}_re"), rw, format!("(wrap{g} ? (u{g}_re + {}) : u{g}_re)", cw_rw("cols")));
        m.wire_assign(
            &format!("u{n}_rl"),
            RL,
            format!("((wrap{g} & (u{g}_rl != {})) ? (u{g}_rl - {}) : u{g}_rl)", k(RL, 0), k(RL, 1)),
        );
        m.wire_assign(&format!("left{g}"), CW, format!("(cols - u{g}_c)"));
        m.wire_assign(&format!("nv{g}"), CW, format!("(is2 ? n2_{g} : (left{g} < e) ? left{g} : e)"));
        m.wire_assign(&format!("ea{g}"), rw, format!("(u{g}_re + {})", cw_rw(&format!("u{g}_c"))));
        if g < u {
            let da = if lb { format!("(u{g}_rd + u{g}_off)") } else { format!("(is2 ? ga{g} : (u{g}_rd + u{g}_off))") };
            m.wire_assign(&format!("da{g}"), A, da);
        }
    }
}

/// What a transfer's start loads into the transfer registers (a
/// `load2col` with a line buffer begins with its fetch), and the error
/// when it starts while the previous one still moves.
fn start_stmts(m: &mut Module, dm: &Dims, f: &StartFields) -> Vec<Stmt> {
    let Dims { u, nx, lb, rw, e16, .. } = *dm;
    let lbs = |plain: &str, fetch: String| if lb { format!("(i_2col ? {fetch} : {plain})") } else { plain.to_string() };
    let mut start = vec![
        nb("act", "1'b1"),
        nb("dir", "~s_ld"),
        nb("kind", format!("(i_2col ? 3'd{KIND_A16} : i_kind)")),
        nb("ib", "i_ib"),
        nb("shift", f.shift.clone()),
        nb("relu", f.relu.clone()),
        nb("cols", lbs("(i_2col ? g_cols_w : i_cols)", "(lb_go ? lb_len : g_cols_w)".into())),
        nb("stride", lbs(&f.stride, "lb_stride".into())),
        nb("e", format!("(i_2col ? {} : i_e)", k(CW, e16.into()))),
        nb("ub", lbs("i_ub", k(CW, (2 * e16).into()))),
        nb(
            "rl",
            format!(
                "(i_2col ? {g_rl} : ((i_cols == {z}) ? {r0} : {frows}))",
                z = k(CW, 0),
                r0 = k(RL, 0),
                frows = f.rows,
                // With a line buffer: the fetch's runs first (none: straight to the expansion).
                g_rl = if lb {
                    format!("(lb_go ? lb_runs : (g_cols_w == {z}) ? {r0} : g_rows)", z = k(CW, 0), r0 = k(RL, 0))
                } else {
                    format!("((g_cols_w == {}) ? {} : g_rows)", k(CW, 0), k(RL, 0))
                }
            ),
        ),
        nb("c", k(CW, 0)),
        nb("off", k(A, 0)),
        nb("rd", lbs(&f.dram, "lb_rd0".into())),
        nb("re", lbs("(i_2col ? g_sram_w : i_sram)", format!("(lb_go ? {} : g_sram_w)", k(rw, 0)))),
        nb("is2", if lb { "(i_2col & ~lb_go)" } else { "i_2col" }),
    ];
    // The line buffer's gather addresses its window, not DRAM.
    let lb_reg = |n: &str| lb && matches!(n, "pc" | "pr" | "pb" | "img");
    start.extend(
        GATHER_REGS.iter().map(|(n, _, _)| nb(*n, if lb_reg(n) { format!("g0l_{n}") } else { format!("g0_{n}") })),
    );
    if lb {
        m.wire_assign("lb_go", 1, format!("(lb_runs != {})", k(RL, 0)));
        start.extend([
            nb("lbf", "(i_2col & lb_go)"),
            nb("x_rows", "g_rows"),
            nb("x_cols", "g_cols_w"),
            nb("x_sram", "g_sram_w"),
        ]);
    }
    // The previous transfer may move its last unit in this cycle, not more.
    let busy = if lb {
        format!("(lbf | ((is2 ? u{nx}_rl : u{u}_rl) != {}))", k(RL, 0))
    } else {
        format!("(u{u}_rl != {})", k(RL, 0))
    };
    start.push(if_(format!("(act & {busy}) | (s_ld & s_st)"), vec![nb("err", "1'b1")]));
    start
}

/// How a moving transfer advances past this cycle's units (with a line
/// buffer, the fetch's last units hand over to the expansion).
fn advance_stmts(dm: &Dims) -> Vec<Stmt> {
    let Dims { u, nx, lb, .. } = *dm;
    // After this cycle's units: the DRAM side's `u`, or the expansion's `nx`.
    let next = |n: &str| if lb { format!("(is2 ? u{nx}_{n} : u{u}_{n})") } else { format!("u{u}_{n}") };
    // The gather's position moves only in a gather (with a line buffer, not in its fetch).
    let gnext = |n: &str| if lb { format!("(is2 ? u{nx}_{n} : {n})") } else { format!("u{u}_{n}") };
    let mut advance: Vec<Stmt> =
        ["cc", "kx", "ky", "ox", "oy", "xb", "yb", "img"].iter().map(|n| nb(*n, gnext(n))).collect();
    advance.extend(["c", "off", "rd", "re", "rl"].iter().map(|n| nb(*n, next(n))));
    advance.push(nb("act", format!("({} != {})", next("rl"), k(RL, 0))));
    if lb {
        // The fetch's last units: the expansion starts the next cycle.
        advance = vec![if_else(
            format!("lbf & (u{u}_rl == {})", k(RL, 0)),
            vec![
                nb("lbf", "1'b0"),
                nb("is2", "1'b1"),
                nb("rl", "x_rows"),
                nb("cols", "x_cols"),
                nb("re", "x_sram"),
                nb("c", k(CW, 0)),
                nb("off", k(A, 0)),
            ],
            advance,
        )];
    }
    advance
}

/// The engine's sequential block: the pending slots, the start or the
/// advance of the transfer, the sticky error and the stores' stage 2.
fn sequencer(m: &mut Module, dm: &Dims, start: Vec<Stmt>, advance: Vec<Stmt>) {
    let u = dm.u;
    m.reg("err", 1, "sticky: a transfer started late or while another moved");
    m.assign("error", "err");
    // Stage 2 of stores: the buffer data arrives.
    m.reg("s2_kind", 3, "store stage 2: the buffer data arrives, DRAM is written");
    m.reg("s2_ib", IBF, "");
    m.reg("s2_shift", SH, "");
    m.reg("s2_relu", 1, "");
    for g in 0..u {
        m.reg(&format!("s2_v{g}"), 1, "");
        m.reg(&format!("s2_da{g}"), A, "");
        m.reg(&format!("s2_nv{g}"), CW, "");
    }
    let mut stage2 = vec![nb("s2_kind", "kind"), nb("s2_ib", "ib"), nb("s2_shift", "shift"), nb("s2_relu", "relu")];
    for g in 0..u {
        stage2.push(nb(format!("s2_v{g}"), format!("(v{g} & dir)")));
        stage2.push(nb(format!("s2_da{g}"), format!("da{g}")));
        stage2.push(nb(format!("s2_nv{g}"), format!("nv{g}")));
    }
    // A transfer granted later waits in its slot; a start empties the slot.
    let mut body = Vec::new();
    for q in ["ld", "st"] {
        body.push(if_else(
            format!("{q}_issue & ~now_{q}"),
            vec![
                nb(format!("p_{q}_v"), "1'b1"),
                nb(format!("p_{q}_i"), format!("{q}_instr")),
                nb(format!("p_{q}_g"), format!("{q}_grant")),
            ],
            vec![if_(format!("s_{q}"), vec![nb(format!("p_{q}_v"), "1'b0")])],
        ));
    }
    body.push(if_("late_ld | late_st", vec![nb("err", "1'b1")]));
    body.push(if_else("start", start, vec![if_("act", advance)]));
    body.extend(stage2);
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_else(
            "rst",
            vec![nb("p_ld_v", "1'b0"), nb("p_st_v", "1'b0"), nb("act", "1'b0"), nb("err", "1'b0")]
                .into_iter()
                .chain(dm.lb.then(|| nb("lbf", "1'b0")))
                .chain((0..u).map(|g| nb(format!("s2_v{g}"), "1'b0")))
                .collect(),
            body,
        )],
    ));
}

/// `(~dir & (kind == k0 | …))`: the moving transfer is a load of one of `kinds`.
fn load_of(kinds: &[u64]) -> String {
    let t: Vec<String> = kinds.iter().map(|x| format!("(kind == 3'd{x})")).collect();
    format!("(~dir & ({}))", t.join(" | "))
}

/// The loads' port pieces, pushed most significant unit (and lane) first.
#[derive(Default)]
struct LoadPieces {
    rd_en: Vec<String>,
    rd_addr: Vec<String>,
    /// Per write port (A, O, W, W's indices): enable, address, mask, data.
    en: [Vec<String>; 4],
    addr: [Vec<String>; 4],
    mask: [Vec<String>; 4],
    data: [Vec<String>; 4],
    /// The weight buffer's lanes unpack in a block that only a moving load enters.
    unpack: Vec<Stmt>,
    idle: Vec<Stmt>,
    lb_wr_en: Vec<String>,
    lb_wr_addr: Vec<String>,
    lb_rd_addr: Vec<String>,
    lb_wr_mask: Vec<String>,
    lb_wr_data: Vec<String>,
}

/// Loads: each unit's DRAM window (or, in an expansion, its line-buffer
/// elements) unpacked into the buffer write ports in the unit's cycle.
fn loads(m: &mut Module, dm: &Dims) {
    let Dims { u, nx, wb, .. } = *dm;
    m.comment("loads: unpack each unit's DRAM window into the buffer ports");
    let mut lp = LoadPieces::default();
    for g in (0..nx).rev() {
        if g < u {
            let win = format!("dram_rd_data[{}:{}]", (g + 1) * wb - 1, g * wb);
            m.wire_assign(&format!("win{g}"), wb, win);
        }
        load_a_unit(&mut lp, dm, g);
        if g >= u {
            continue;
        }
        load_dram_unit(&mut lp, dm, g);
        unpack_weight_lanes(m, &mut lp, dm, g);
        unpack_index_lanes(m, &mut lp, dm, g);
    }
    m.push(Item::Always(Always::Comb, vec![if_else("act & ~dir", lp.unpack, lp.idle)]));
    m.assign("dram_rd_en", format!("{{{}}}", lp.rd_en.join(", ")));
    m.assign("dram_rd_addr", format!("{{{}}}", lp.rd_addr.join(", ")));
    if dm.lb {
        m.assign("lb_wr_en", format!("{{{}}}", lp.lb_wr_en.join(", ")));
        m.assign("lb_wr_addr", format!("{{{}}}", lp.lb_wr_addr.join(", ")));
        m.assign("lb_rd_addr", format!("{{{}}}", lp.lb_rd_addr.join(", ")));
        lp.lb_wr_mask.reverse();
        lp.lb_wr_data.reverse();
        crate::emit::util::assign_pieces(m, "lb_wr_mask", 1, &lp.lb_wr_mask);
        crate::emit::util::assign_pieces(m, "lb_wr_data", 16, &lp.lb_wr_data);
    }
    for (pi, (n, _, w)) in dm.write_ports().iter().enumerate() {
        m.assign(format!("{n}_en"), format!("{{{}}}", lp.en[pi].join(", ")));
        m.assign(format!("{n}_addr"), format!("{{{}}}", lp.addr[pi].join(", ")));
        // Pieces were pushed most significant first.
        let (mut mask, mut data) = (lp.mask[pi].clone(), lp.data[pi].clone());
        mask.reverse();
        data.reverse();
        crate::emit::util::assign_pieces(m, &format!("{n}_mask"), 1, &mask);
        crate::emit::util::assign_pieces(m, &format!("{n}_data"), *w, &data);
    }
}

/// Unit `g`'s activation-buffer write: a load's 16-bit lanes, or a
/// gather's (zeros in padding), from DRAM or from the line buffer.
fn load_a_unit(lp: &mut LoadPieces, dm: &Dims, g: u32) {
    let Dims { u, lb, rw, e16, .. } = *dm;
    // A: loads, and the gathers (from DRAM, or from the line buffer).
    lp.en[0].push(if lb {
        format!("(v{g} & {} & ~lbf)", load_of(&[KIND_A16]))
    } else {
        format!("(v{g} & {})", load_of(&[KIND_A16]))
    });
    lp.addr[0].push(format!("ea{g}"));
    for x in (0..e16).rev() {
        lp.mask[0].push(format!("(nv{g} > {})", k(CW, x.into())));
        let dram = format!("win{g}[{}:{}]", 16 * x + 15, 16 * x);
        let line = format!("lb_rd_data[{}:{}]", (g * e16 + x) * 16 + 15, (g * e16 + x) * 16);
        lp.data[0].push(match (lb, g < u) {
            (false, _) => format!("((is2 & ~gv{g}) ? 16'd0 : {dram})"),
            (true, true) => format!("(is2 ? (gv{g} ? {line} : 16'd0) : {dram})"),
            (true, false) => format!("(gv{g} ? {line} : 16'd0)"),
        });
    }
    if lb {
        lp.lb_rd_addr.push(format!("ga{g}[{rw}:1]"));
    }
}

/// Unit `g`'s DRAM read, its line-buffer write (a fetch), and the
/// enables, addresses and masks of the other buffers' writes, with `o`'s
/// 32-bit lanes sign-extended to the accumulator width.
fn load_dram_unit(lp: &mut LoadPieces, dm: &Dims, g: u32) {
    let Dims { lb, e16, e32, lw, li, acc, .. } = *dm;
    let gated = if lb { "~is2".to_string() } else { format!("(~is2 | gv{g})") };
    lp.rd_en.push(format!("(v{g} & ~dir & (kind != 3'd{KIND_NONE}) & {gated})"));
    lp.rd_addr.push(format!("da{g}"));
    if lb {
        // The fetch writes the DRAM window's 16-bit lanes into the line buffer.
        lp.lb_wr_en.push(format!("(v{g} & ~dir & lbf)"));
        lp.lb_wr_addr.push(format!("ea{g}"));
        for x in (0..e16).rev() {
            lp.lb_wr_mask.push(format!("(nv{g} > {})", k(CW, x.into())));
            lp.lb_wr_data.push(format!("win{g}[{}:{}]", 16 * x + 15, 16 * x));
        }
    }
    let kinds: [&[u64]; 3] = [&[KIND_O32], &[KIND_W16, KIND_WROW], &[KIND_WIDX]];
    for (pi, kinds) in kinds.iter().enumerate() {
        lp.en[pi + 1].push(format!("(v{g} & {})", load_of(kinds)));
        lp.addr[pi + 1].push(format!("ea{g}"));
    }
    let lanes = [e32, lw, li];
    for (pi, &l) in lanes.iter().enumerate() {
        for x in (0..l).rev() {
            lp.mask[pi + 1].push(format!("(nv{g} > {})", k(CW, x.into())));
        }
    }
    for x in (0..e32).rev() {
        lp.data[1].push(format!("{{{{{}{{win{g}[{}]}}}}, win{g}[{}:{}]}}", acc - 32, 32 * x + 31, 32 * x + 31, 32 * x));
    }
}

/// Unit `g`'s weight-buffer lanes `lw{g}_x`: a 16-bit value and its index,
/// from an `nm_row` chunk (per index bits) or a plain 16-bit lane.
fn unpack_weight_lanes(m: &mut Module, lp: &mut LoadPieces, dm: &Dims, g: u32) {
    let Dims { e16, lw, erow, .. } = *dm;
    for x in (0..lw).rev() {
        // nm_row lane: chunk q, column j of the chunk.
        let (q, j) = (x / CH, x % CH);
        let mut row = k(WW, 0);
        if x < erow {
            for ib in (1..=IB).rev() {
                let base = 8 * q * chunk_bytes(ib);
                let v = base + 16 * j;
                let i = base + 16 * CH + j * ib;
                let idx = if ib == IB {
                    format!("win{g}[{}:{i}]", i + IB - 1)
                } else {
                    format!("{{{}'d0, win{g}[{}:{i}]}}", IB - ib, i + ib - 1)
                };
                row = format!("((ib == {}) ? {{{idx}, win{g}[{}:{v}]}} : {row})", ib_k(ib), v + 15);
            }
        }
        let plain = if x < e16 { format!("{{{}, win{g}[{}:{}]}}", k(IB, 0), 16 * x + 15, 16 * x) } else { k(WW, 0) };
        m.reg(&format!("lw{g}_{x}"), WW, "");
        lp.unpack.push(bl(format!("lw{g}_{x}"), format!("((kind == 3'd{KIND_WROW}) ? {row} : {plain})")));
        lp.idle.push(bl(format!("lw{g}_{x}"), k(WW, 0)));
        lp.data[2].push(format!("lw{g}_{x}"));
    }
}

/// Unit `g`'s index side-band lanes `li{g}_x`: packed `nm_indices` of
/// 1..=`IB` bits, widened to `IB`.
fn unpack_index_lanes(m: &mut Module, lp: &mut LoadPieces, dm: &Dims, g: u32) {
    for x in (0..dm.li).rev() {
        let mut idx = k(IB, 0);
        for ib in (1..=IB).rev() {
            if x < dm.eidx[ib as usize - 1] {
                let b = x * ib;
                let bits = if ib == IB {
                    format!("win{g}[{}:{b}]", b + IB - 1)
                } else {
                    format!("{{{}'d0, win{g}[{}:{b}]}}", IB - ib, b + ib - 1)
                };
                idx = format!("((ib == {}) ? {bits} : {idx})", ib_k(ib));
            }
        }
        m.reg(&format!("li{g}_{x}"), IB, "");
        lp.unpack.push(bl(format!("li{g}_{x}"), idx));
        lp.idle.push(bl(format!("li{g}_{x}"), k(IB, 0)));
        lp.data[3].push(format!("li{g}_{x}"));
    }
}

/// Stores: the buffers are read in the unit's cycle, and each unit's
/// lanes packed into its DRAM window and written the next cycle (stage 2).
fn stores(m: &mut Module, dm: &Dims, faults: bool) {
    let u = dm.u;
    m.comment("stores: read the buffer in the unit's cycle, pack and write DRAM the next cycle");
    let st = |kinds: &[u64]| {
        let t: Vec<String> = kinds.iter().map(|x| format!("(kind == 3'd{x})")).collect();
        format!("(act & dir & ({}))", t.join(" | "))
    };
    let rkinds: [&[u64]; 4] = [&[KIND_A16], &[KIND_O32, KIND_O16], &[KIND_W16, KIND_WROW], &[KIND_WIDX]];
    let eas: Vec<String> = (0..u).rev().map(|g| format!("ea{g}")).collect();
    for (pi, (n, _, _)) in dm.read_ports().iter().enumerate() {
        m.assign(format!("{n}_en"), st(rkinds[pi]));
        m.assign(format!("{n}_addr"), format!("{{{}}}", eas.join(", ")));
    }
    let mut wr_en = Vec::new();
    let mut wr_addr = Vec::new();
    let mut wr_data = Vec::new();
    let mut wr_mask = Vec::new();
    for g in (0..u).rev() {
        wr_en.push(format!("(s2_v{g} & (s2_kind != 3'd{KIND_NONE}))"));
        wr_addr.push(format!("s2_da{g}"));
        wr_data.push(format!("wd{g}"));
        wr_mask.push(format!("wm{g}"));
        store_unit(m, dm, faults, g);
    }
    m.assign("dram_wr_en", format!("{{{}}}", wr_en.join(", ")));
    m.assign("dram_wr_addr", format!("{{{}}}", wr_addr.join(", ")));
    m.assign("dram_wr_data", format!("{{{}}}", wr_data.join(", ")));
    m.assign("dram_wr_mask", format!("{{{}}}", wr_mask.join(", ")));
}

/// Packs unit `g`'s buffer lanes into its DRAM window `wd{g}` and the
/// window's bit mask `wm{g}`.
struct Packer<'a> {
    dm: &'a Dims,
    g: u32,
    wd: String,
    wm: String,
}

impl Packer<'_> {
    /// `n` mask bits, set when lane `x` holds one of the unit's elements.
    fn on(&self, x: u32, n: u32) -> String {
        format!("{{{n}{{(s2_nv{} > {})}}}}", self.g, k(CW, x.into()))
    }

    /// Writes `n` bits of the window from bit `lo`: `data`, and `mask` into the mask.
    fn set(&self, v: &mut Vec<Stmt>, lo: u32, n: u32, data: String, mask: String) {
        let sl = |s: &str| if n == 1 { format!("{s}[{lo}]") } else { format!("{s}[{}:{lo}]", lo + n - 1) };
        v.push(bl(sl(&self.wd), data));
        v.push(bl(sl(&self.wm), mask));
    }

    /// Lane `x` of the unit's activation read.
    fn a_lane(&self, x: u32) -> String {
        let l = self.g * self.dm.e16 + x;
        format!("a_rd_data[{}:{}]", l * 16 + 15, l * 16)
    }

    /// Lane `x` of the unit's output-buffer read (an accumulator).
    fn o_lane(&self, x: u32) -> String {
        let (l, acc) = (self.g * self.dm.e16 + x, self.dm.acc);
        format!("o_rd_data[{}:{}]", l * acc + acc - 1, l * acc)
    }

    /// Bits `hi:lo` of lane `x` of the unit's weight read (value, then index).
    fn w_lane(&self, x: u32, hi: u32, lo: u32) -> String {
        let l = self.g * self.dm.lw + x;
        format!("w_rd_data[{}:{}]", l * WW + hi, l * WW + lo)
    }

    /// The low `ib` bits of lane `x` of the unit's index read.
    fn i_lane(&self, x: u32, ib: u32) -> String {
        let l = self.g * self.dm.li + x;
        format!("wi_rd_data[{}:{}]", l * IB + ib - 1, l * IB)
    }
}

/// Unit `g`'s stage 2 of a store: its window and mask registers and the
/// block that packs them by the transfer's kind.
fn store_unit(m: &mut Module, dm: &Dims, faults: bool, g: u32) {
    let wb = dm.wb;
    m.reg(&format!("wd{g}"), wb, "unit g: the DRAM window written");
    m.reg(&format!("wm{g}"), wb, "");
    let pk = Packer { dm, g, wd: format!("wd{g}"), wm: format!("wm{g}") };
    let [a16, o16, w16] = pack_16bit(m, &pk, faults);
    let mut o32 = Vec::new();
    for x in 0..dm.e32 {
        pk.set(&mut o32, 32 * x, 32, format!("sat48_32({})", pk.o_lane(x)), pk.on(x, 32));
    }
    let (wrow, widx) = pack_weights(&pk);
    // Only a unit in stage 2 packs (an idle engine skips the lanes: the simulation's cost).
    let body = vec![
        bl(pk.wd.clone(), k(wb, 0)),
        bl(pk.wm.clone(), k(wb, 0)),
        if_(
            format!("s2_v{g}"),
            vec![Stmt::Case(
                raw("s2_kind"),
                vec![
                    (vec![raw(format!("3'd{KIND_A16}"))], a16),
                    (vec![raw(format!("3'd{KIND_O16}"))], o16),
                    (vec![raw(format!("3'd{KIND_O32}"))], o32),
                    (vec![raw(format!("3'd{KIND_W16}"))], w16),
                    (vec![raw(format!("3'd{KIND_WROW}"))], vec![Stmt::Case(raw("s2_ib"), wrow, vec![])]),
                    (vec![raw(format!("3'd{KIND_WIDX}"))], vec![Stmt::Case(raw("s2_ib"), widx, vec![])]),
                ],
                vec![],
            )],
        ),
    ];
    m.push(Item::Always(Always::Comb, body));
}

/// The packings of the 16-bit lanes: `a` in `i16`, `o` requantized to
/// `i16` (through the wires `q{g}_x`, optionally ReLU'd) and `w` in `i16`.
fn pack_16bit(m: &mut Module, pk: &Packer, faults: bool) -> [Vec<Stmt>; 3] {
    let g = pk.g;
    let mut a16 = Vec::new();
    let mut o16 = Vec::new();
    let mut w16 = Vec::new();
    for x in 0..pk.dm.e16 {
        pk.set(&mut a16, 16 * x, 16, pk.a_lane(x), pk.on(x, 16));
        let args = format!("({}, (s2_shift[{}] ? {} : s2_shift))", pk.o_lane(x), SH - 1, k(SH, 0));
        m.wire_assign(
            &format!("q{g}_{x}"),
            16,
            crate::emit::fault_mux(
                faults,
                crate::Fault::DmaStoreTruncates,
                &format!("requant_trunc{args}"),
                &format!("requant{args}"),
            ),
        );
        pk.set(&mut o16, 16 * x, 16, format!("((s2_relu & q{g}_{x}[15]) ? 16'd0 : q{g}_{x})"), pk.on(x, 16));
        pk.set(&mut w16, 16 * x, 16, pk.w_lane(x, 15, 0), pk.on(x, 16));
    }
    [a16, o16, w16]
}

/// Case arms over a store's index bits (`s2_ib`): labels and their packing.
type IbArms = Vec<(Vec<Expr>, Vec<Stmt>)>;

/// The packings of the weight lanes, one case arm per index bits:
/// `nm_row` chunks (values, then their indices) and packed `nm_indices`.
fn pack_weights(pk: &Packer) -> (IbArms, IbArms) {
    let mut wrow = Vec::new();
    let mut widx = Vec::new();
    for ib in 1..=IB {
        let mut r = Vec::new();
        for x in 0..pk.dm.erow {
            let (q, j) = (x / CH, x % CH);
            let base = 8 * q * chunk_bytes(ib);
            pk.set(&mut r, base + 16 * j, 16, pk.w_lane(x, 15, 0), pk.on(x, 16));
            pk.set(&mut r, base + 16 * CH + j * ib, ib, pk.w_lane(x, 15 + ib, 16), pk.on(x, ib));
        }
        wrow.push((vec![raw(ib_k(ib))], r));
        let mut r = Vec::new();
        for x in 0..pk.dm.eidx[ib as usize - 1] {
            pk.set(&mut r, x * ib, ib, pk.i_lane(x, ib), pk.on(x, ib));
        }
        widx.push((vec![raw(ib_k(ib))], r));
    }
    (wrow, widx)
}
