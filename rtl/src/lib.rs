//! `nmsat-rtl`: Verilog of SAT, Verilator co-simulation, Yosys estimates.
//! Not built yet (see `docs/status.md`).
