//! Yosys synthesis (filled in below).
