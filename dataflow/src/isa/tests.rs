//! Round trips of the encoding and the text form over every valid
//! instruction, the table's invariants, and that the field docs name the
//! codes of `codes.rs`.

use super::*;
use crate::nm::NmPattern;
use proptest::prelude::*;

#[test]
fn table_fits_256_bits() {
    for s in OPCODES {
        let bits: u32 = 8 + s.fields.iter().map(|f| f.bits).sum::<u32>();
        assert!(bits <= 256, "{} uses {bits} bits", s.mnemonic);
        assert_eq!(bits, s.used_bits());
    }
}

#[test]
fn field_positions_follow_the_isa_doc() {
    // docs/isa.md: gemm `m` is bits 41:22, load `cols` 119:100, vec `aux` 131:108.
    assert_eq!(field_pos("gemm", "m"), FieldPos { lo: 22, bits: 20 });
    assert_eq!(field_pos("load", "cols").hi(), 119);
    assert_eq!(field_pos("vec", "aux"), FieldPos { lo: 108, bits: 24 });
    assert_eq!(opcode("halt"), 15);
    assert_eq!(OpcodeSpec::of("frob").map(|s| s.code), None);
    assert_eq!(OPCODES[0].field_pos("frob"), None);
}

/// The RTL's DMA decoders read a `store` through `load`'s layout.
#[test]
fn load_and_store_share_their_first_eight_fields() {
    let (l, s) = (OpcodeSpec::of("load").unwrap(), OpcodeSpec::of("store").unwrap());
    assert_eq!(l.fields.len(), 8);
    for (a, b) in l.fields.iter().zip(s.fields) {
        assert_eq!((a.name, a.bits, a.doc, a.form), (b.name, b.bits, b.doc, b.form));
    }
}

/// The field docs in `docs/isa.md` list the codes of `codes.rs`, and every
/// code fits its field.
#[test]
fn field_docs_list_the_codes() {
    fn listing(codes: impl Iterator<Item = (u8, &'static str)>) -> String {
        codes.map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
    }
    let doc = |mn: &str, f: &str| OpcodeSpec::of(mn).unwrap().fields.iter().find(|x| x.name == f).unwrap().doc;
    let fits = |mn: &str, f: &str, max: u8| assert!(u64::from(max) >> field_pos(mn, f).bits == 0, "{mn} {f}");
    for mn in ["load", "store"] {
        assert_eq!(doc(mn, "buf"), format!("buffer: {}", listing(Buf::ALL.iter().map(|b| (b.code(), b.name())))));
        assert_eq!(
            doc(mn, "fmt"),
            format!("DRAM row format: {}", listing(DmaFormat::ALL.iter().map(|f| (f.code(), f.name()))))
        );
        fits(mn, "buf", Buf::O.code());
        fits(mn, "fmt", DmaFormat::NmIndices.code());
        fits(mn, "ibits", MAX_INDEX_BITS as u8);
    }
    assert_eq!(doc("vec", "op"), listing(VecOp::ALL.iter().map(|o| (o.code(), o.name()))));
    fits("vec", "op", VecOp::Clear.code());
    assert!(doc("vec", "p5").contains(&format!("{NO_SHIFT} off")));
    for mn in ["gemm", "sparsify"] {
        fits(mn, "n_of", crate::nm::MAX_M as u8);
        fits(mn, "m_of", crate::nm::MAX_M as u8);
    }
    assert_eq!(Deps::NAMES.len() as u32, DEPS_BITS);
    for (i, q) in Queue::ALL.into_iter().enumerate() {
        assert_eq!(q.index(), i);
    }
}

/// The geometry's encoded fields are its struct fields in order.
#[test]
fn load2col_geometry_fields_by_name() {
    let geom = crate::im2col::ConvGeom {
        ih: 1,
        iw: 2,
        ic: 3,
        kh: 4,
        kw: 5,
        cs: 6,
        pad_h: 7,
        pad_w: 8,
        dil: 1,
        opad_h: 2,
        opad_w: 3,
    };
    let i =
        Instr::Load2col { deps: Deps::default(), dram: 0, sram: 0, rows: 0, cols: 0, p0: 0, k0: 0, geom, bursts: 9 };
    assert!(
        i.to_text().ends_with("ih=1 iw=2 ic=3 kh=4 kw=5 cs=6 padh=7 padw=8 dil=1 opadh=2 opadw=3 bursts=9"),
        "{}",
        i.to_text()
    );
}

#[test]
fn index_widths() {
    assert_eq!([1, 2, 4, 8, 16].map(index_bits), [0, 1, 2, 3, 4]);
    assert_eq!(MAX_INDEX_BITS, 4);
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
    let buf = proptest::sample::select(Buf::ALL.to_vec());
    let fmt = proptest::sample::select(DmaFormat::ALL.to_vec());
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
            any::<(bool, bool, bool, bool, bool)>(),
            (d20.clone(), d20.clone(), d20.clone()),
            (a24.clone(), d20.clone(), a24.clone(), a24.clone())
        )
            .prop_map(|(deps, p, (acc, il, at, wt, ws), (m, n, k), (a, a_stride, w, o))| Instr::Gemm {
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
                o,
                ws
            }),
        (
            deps(),
            proptest::sample::select(VecOp::ALL.to_vec()),
            a24.clone(),
            (a24.clone(), a24.clone(), a24.clone(), a24.clone()),
            any::<(i8, u8, u8, u8, u8)>(),
            (a24.clone(), any::<u8>())
        )
            .prop_map(|(deps, op, len, (src, src2, dst, aux), (shift, p1, p2, p3, p4), (mask, p5))| {
                Instr::Vec { deps, op, len, src, src2, dst, aux, shift, p1, p2, p3, p4, mask, p5 }
            }),
        (deps(), pattern(), (0u8..2, any::<bool>(), any::<bool>()), d20.clone(), d20.clone(), a24.clone(), a24.clone())
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
