//! `nmsat-sim`: the cycle-accurate SAT model and the functional reference.
//!
//! - [`reference`](mod@reference): N:M sparse training (dense, SR-STE, BDWP) on the CPU in
//!   `f32` or the SAT's int16 arithmetic, the golden model the simulator
//!   must match.
//!
//! The cycle simulator is not built yet (see `docs/status.md`).

pub mod reference;
