//! `docs/isa.md` is generated from the opcode table; this golden test keeps
//! them in step (run with `NMSAT_BLESS=1` to rewrite the file).

#[test]
fn isa_doc_matches_the_opcode_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/isa.md");
    let want = format!(
        "# SAT instruction encoding\n\nGenerated from `dataflow/src/isa/opcodes.rs` (`OPCODES`); do not edit by hand.\nEvery instruction is 256 bits, little-endian bit order; unused high bits are zero.\n\n{}",
        nmsat_dataflow::isa::isa_markdown()
    );
    if std::env::var_os("NMSAT_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(have, want, "docs/isa.md is stale: run `NMSAT_BLESS=1 cargo test -p nmsat-dataflow --test isa_doc`");
}
