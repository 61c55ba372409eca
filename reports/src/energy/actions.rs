//! The actions the energy model charges: every energy-relevant event the
//! simulator counts, named component by component as in an energy table,
//! and how each is counted from [`UnitEvents`].
//!
//! Counters of `UnitEvents` that are not actions: instruction counts
//! (`gemms`, `loads`, `ops`, ...), cycle counts of units (`stream_cycles`,
//! `busy_cycles`, `channel_*_cycles`, whose time the static energy per
//! cycle covers), subsets of other counts (port and drain stall cycles are
//! part of `stream_cycles`; `values_out` are weight-buffer writes) and
//! utilization bookkeeping (`mac_slots`, `lane_slots`, `outputs`,
//! `pe_positions`, `subtiles`).

use std::fmt;

use nmsat_dataflow::isa::VecOp;
use nmsat_sim::UnitEvents;
use serde::Serialize;

/// A quantity an action's energy is given per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// One multiply-accumulate.
    Mac,
    /// One activation-mux selection.
    Select,
    /// One byte.
    Byte,
    /// One bit.
    Bit,
    /// One 64-bit word (8 bytes).
    #[serde(rename = "64bit_word")]
    Word64,
    /// One element (16-bit operand or 48-bit accumulator, as the buffer holds).
    Element,
    /// One group of M sorted by the sparsifier.
    Group,
    /// One weight read by the sparsifier.
    Weight,
    /// One clock cycle.
    Cycle,
}

impl Unit {
    /// Every unit, in the order of their names.
    pub const ALL: [Unit; 9] = [
        Unit::Mac,
        Unit::Select,
        Unit::Byte,
        Unit::Bit,
        Unit::Word64,
        Unit::Element,
        Unit::Group,
        Unit::Weight,
        Unit::Cycle,
    ];

    /// The name used in tables (`per = "..."`).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Mac => "mac",
            Unit::Select => "select",
            Unit::Byte => "byte",
            Unit::Bit => "bit",
            Unit::Word64 => "64bit_word",
            Unit::Element => "element",
            Unit::Group => "group",
            Unit::Weight => "weight",
            Unit::Cycle => "cycle",
        }
    }

    /// The unit of a table name.
    pub fn from_name(s: &str) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.name() == s)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an action counts in [`UnitEvents`] (and, for static energy, the
/// cycles attributed to a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    MacsDense,
    MacsSparse,
    MuxSelects,
    BufferRead(&'static str),
    BufferWrite(&'static str),
    DramRead,
    DramWrite,
    /// Burst bytes beyond the payload (rows rounded up to whole bursts).
    DramPadding,
    SparsifierGroups,
    SparsifierWeights,
    /// Elements of one vector op.
    Vector(&'static str),
    /// Elements of every vector op without an entry of its own.
    VectorOther,
    Cycles,
}

/// One action of the catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionSpec {
    pub component: &'static str,
    pub action: &'static str,
    /// A table must give it (the vector unit's per-op entries are optional:
    /// ops without one are charged as `other`).
    pub required: bool,
    pub counter: Counter,
    /// Units a table may give it per.
    pub units: &'static [Unit],
}

const MEMORY_UNITS: &[Unit] = &[Unit::Byte, Unit::Bit, Unit::Word64, Unit::Element];
const DRAM_UNITS: &[Unit] = &[Unit::Byte, Unit::Bit, Unit::Word64];

/// The buffers by table component and simulator name.
pub(crate) const BUFFERS: [(&str, &str); 3] =
    [("activation_buffer", "activation"), ("weight_buffer", "weight"), ("output_buffer", "output")];

/// The component of static energy.
pub(crate) const STATIC: (&str, &str) = ("device", "static");

/// Every action, in report order.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let spec = |component, action, counter, units| ActionSpec { component, action, required: true, counter, units };
    let mut v = vec![
        spec("pe_array", "mac_dense", Counter::MacsDense, &[Unit::Mac][..]),
        spec("pe_array", "mac_sparse", Counter::MacsSparse, &[Unit::Mac]),
        spec("pe_array", "mux_select", Counter::MuxSelects, &[Unit::Select]),
    ];
    for (component, buf) in BUFFERS {
        v.push(spec(component, "read", Counter::BufferRead(buf), MEMORY_UNITS));
        v.push(spec(component, "write", Counter::BufferWrite(buf), MEMORY_UNITS));
    }
    v.push(spec("dram", "read", Counter::DramRead, DRAM_UNITS));
    v.push(spec("dram", "write", Counter::DramWrite, DRAM_UNITS));
    v.push(spec("dram", "burst_padding", Counter::DramPadding, DRAM_UNITS));
    v.push(spec("sparsifier", "group", Counter::SparsifierGroups, &[Unit::Group]));
    v.push(spec("sparsifier", "weight", Counter::SparsifierWeights, &[Unit::Weight]));
    for op in VecOp::ALL {
        let required = matches!(op, VecOp::Sgd | VecOp::LossGrad);
        v.push(ActionSpec { required, ..spec("vector_unit", op.name(), Counter::Vector(op.name()), &[Unit::Element]) });
    }
    v.push(spec("vector_unit", "other", Counter::VectorOther, &[Unit::Element]));
    v.push(spec(STATIC.0, STATIC.1, Counter::Cycles, &[Unit::Cycle]));
    v
}

/// The components of the catalogue, in report order.
pub(crate) fn components() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in catalogue() {
        if !out.contains(&s.component) {
            out.push(s.component);
        }
    }
    out
}

/// How many `unit`s of `counter` the events and cycles hold. Memory
/// actions count elements when given per element and bytes otherwise (the
/// rate converts bytes to bits or words). `own_ops` are the vector ops
/// with an entry of their own (the rest are `other`).
pub(crate) fn count(counter: Counter, unit: Unit, e: &UnitEvents, cycles: u64, own_ops: &[&str]) -> u64 {
    let buffer = |name: &str, read: bool| {
        e.buffers.get(name).map_or(0, |b| match (read, unit == Unit::Element) {
            (true, true) => b.reads,
            (true, false) => b.read_bytes,
            (false, true) => b.writes,
            (false, false) => b.write_bytes,
        })
    };
    match counter {
        Counter::MacsDense => e.pe_array.macs_dense_mode,
        Counter::MacsSparse => e.pe_array.macs_sparse_mode,
        Counter::MuxSelects => e.pe_array.mux_selects,
        Counter::BufferRead(b) => buffer(b, true),
        Counter::BufferWrite(b) => buffer(b, false),
        Counter::DramRead => e.dma.dram_read_bytes,
        Counter::DramWrite => e.dma.dram_write_bytes,
        Counter::DramPadding => e.dma.dram_burst_bytes.saturating_sub(e.dma.dram_read_bytes + e.dma.dram_write_bytes),
        Counter::SparsifierGroups => e.sparsifier.groups,
        Counter::SparsifierWeights => e.sparsifier.weights_in,
        Counter::Vector(op) => e.vector_unit.elements.get(op).copied().unwrap_or(0),
        Counter::VectorOther => {
            e.vector_unit.elements.iter().filter(|(op, _)| !own_ops.contains(&op.as_str())).map(|(_, n)| n).sum()
        }
        Counter::Cycles => cycles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_unique_and_counts_every_vector_op() {
        let c = catalogue();
        for (i, a) in c.iter().enumerate() {
            assert!(!c[..i].iter().any(|b| b.component == a.component && b.action == a.action), "{a:?}");
        }
        for op in VecOp::ALL {
            assert!(c.iter().any(|a| a.counter == Counter::Vector(op.name())), "{op:?}");
        }
        for u in Unit::ALL {
            assert_eq!(Unit::from_name(u.name()), Some(u));
        }
    }

    #[test]
    fn other_takes_the_ops_without_an_entry() {
        let mut e = UnitEvents::default();
        e.vector_unit.elements.insert("sgd".into(), 5);
        e.vector_unit.elements.insert("requant".into(), 7);
        e.vector_unit.elements.insert("clear".into(), 11);
        assert_eq!(count(Counter::VectorOther, Unit::Element, &e, 0, &["sgd", "clear"]), 7);
        assert_eq!(count(Counter::Vector("clear"), Unit::Element, &e, 0, &[]), 11);
        e.dma.dram_read_bytes = 10;
        e.dma.dram_write_bytes = 4;
        e.dma.dram_burst_bytes = 32;
        assert_eq!(count(Counter::DramPadding, Unit::Byte, &e, 0, &[]), 18);
    }
}
