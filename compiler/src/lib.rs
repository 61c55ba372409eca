//! `nmsat-compiler`: model front ends, the BDWP training graph and its
//! lowering to GEMMs. Not built yet (see `docs/status.md`).
