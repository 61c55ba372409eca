//! `nmsat-sim`: the cycle-accurate SAT model and the functional reference.
//! Not built yet (see `docs/status.md`).
