//! The dataflow optimizations as named passes, and which of them are on.
//!
//! Each optimization is an [`Optimization`] that describes itself (its
//! name, what it does, what switching it off does); [`optimizations`] lists
//! them all, and [`DataflowOptions`] switches them on and off by value or
//! by name. The scheduler asks [`DataflowOptions::is_on`], never a raw
//! flag, so a new optimization plugs in as one more variant with its
//! [`PassInfo`] and its switch.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::arch::{ArchConfig, Stationarity};
use crate::timing::TimingModel;

/// A dataflow optimization of the scheduler; each can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Optimization {
    /// The interleave mapping of a layer's sparse BP and dense WG.
    Interleave,
    /// Pre-generation of the next step's N:M weights by the weight update.
    Pregen,
    /// Offline scheduling: double buffering and DMA/compute overlap.
    OfflineSchedule,
}

/// What an optimization says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassInfo {
    /// Canonical name: the one program headers list and `--disable` takes.
    pub name: &'static str,
    /// Other names `--disable` accepts.
    pub aliases: &'static [&'static str],
    /// What it does, in one line.
    pub description: &'static str,
    /// What the schedule does instead when it is off, in one line.
    pub when_off: &'static str,
}

impl Optimization {
    /// Every optimization, in the order program headers list them.
    pub const ALL: [Optimization; 3] = [Optimization::Interleave, Optimization::Pregen, Optimization::OfflineSchedule];

    /// Its self-description.
    pub const fn info(self) -> &'static PassInfo {
        match self {
            Optimization::Interleave => &PassInfo {
                name: "interleave",
                aliases: &[],
                description: "the tiles of BP(l) (sparse) and WG(l) (dense, fused weight update) alternate on the \
                              array where that pays, mode switches do not drain it, and compressed weights keep \
                              values and indices interleaved so one DMA feeds both",
                when_off: "the GEMMs run one after the other, every dense/N:M mode switch drains the array, and \
                           values and indices are separate arrays fetched by two DMAs",
            },
            Optimization::Pregen => &PassInfo {
                name: "pregen",
                aliases: &[],
                description: "the weight update of step t runs the sparsifier and writes the compressed W_ff and \
                              transposed W_bp that step t+1 loads",
                when_off: "FF and BP load the dense master weights and run the sparsifier on the critical path",
            },
            Optimization::OfflineSchedule => &PassInfo {
                name: "offline-schedule",
                aliases: &["offline"],
                description: "double-buffered slots and dependency tokens let DMA overlap compute",
                when_off: "one slot per buffer, so every tile's load, compute and store run one after another \
                           (a naive in-order schedule)",
            },
        }
    }

    /// Canonical name.
    pub const fn name(self) -> &'static str {
        self.info().name
    }

    /// The optimization called `name` (canonical name or alias).
    pub fn from_name(name: &str) -> Result<Self, UnknownPass> {
        Optimization::ALL
            .into_iter()
            .find(|o| o.info().name == name || o.info().aliases.contains(&name))
            .ok_or_else(|| UnknownPass { name: name.to_string() })
    }
}

impl fmt::Display for Optimization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Optimization {
    type Err = UnknownPass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Optimization::from_name(s)
    }
}

/// The registry of dataflow optimizations (`nmsat compile --list-passes`).
pub fn optimizations() -> &'static [Optimization] {
    &Optimization::ALL
}

/// A name that is no dataflow optimization's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dataflow optimization `{name}` (known: {})", known_names())]
pub struct UnknownPass {
    /// The name given.
    pub name: String,
}

/// The canonical names with their aliases, for error messages.
fn known_names() -> String {
    let names = optimizations().iter().map(|o| {
        let i = o.info();
        match i.aliases {
            [] => i.name.to_string(),
            a => format!("{} (alias {})", i.name, a.join(", ")),
        }
    });
    names.collect::<Vec<_>>().join(", ")
}

/// Which dataflow optimizations are on (all, by default).
///
/// The fields are the switches' storage, public so that existing code can
/// still write `DataflowOptions { pregen: false, ..Default::default() }`;
/// the scheduler reads them only through [`DataflowOptions::is_on`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataflowOptions {
    /// Interleave mapping ([`Optimization::Interleave`]).
    pub interleave: bool,
    /// Pre-generation of N:M sparse weights ([`Optimization::Pregen`]).
    pub pregen: bool,
    /// Offline scheduling (double buffering, overlap); off gives a naive
    /// in-order schedule ([`Optimization::OfflineSchedule`]).
    pub offline_schedule: bool,
    /// The timing rules the tiling is costed with and the step simulated
    /// under: the SAT's (default, not serialized) or SCALE-Sim's OS compute
    /// model (`nmsat sim --scalesim-compat`). Not an optimization: the
    /// program header does not list it.
    #[serde(default, skip_serializing_if = "TimingModel::is_sat")]
    pub timing: TimingModel,
    /// Which array mappings the tiler may give a GEMM (`--dataflow`), among
    /// the config's `pe_array.dataflows`.
    #[serde(default, skip_serializing_if = "DataflowChoice::is_default")]
    pub dataflow: DataflowChoice,
}

/// How the compiler picks each GEMM's array mapping (`--dataflow`, ADR 004).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataflowChoice {
    /// Output-stationary for every GEMM.
    Os,
    /// Weight-stationary for every GEMM that can run so; the WG GEMMs that
    /// read a transposed activation operand stay output-stationary.
    Ws,
    /// Per GEMM and pass, the mapping with the fewest estimated cycles
    /// (the tiler costs both, with each its own tiling); the default.
    #[default]
    Auto,
}

impl DataflowChoice {
    /// Whether this is the default.
    pub fn is_default(&self) -> bool {
        *self == DataflowChoice::default()
    }

    /// The mappings the tiler may cost for a GEMM on `arch` (`a_trans`: its
    /// activation operand is read transposed, which WS cannot stream), or
    /// why there is none.
    pub(crate) fn mappings(self, arch: &ArchConfig, a_trans: bool) -> Result<Vec<Stationarity>, String> {
        let listed = &arch.pe_array.dataflows;
        let os = listed.contains(&Stationarity::Os);
        let ws = listed.contains(&Stationarity::Ws) && !a_trans;
        let v: Vec<Stationarity> = match self {
            DataflowChoice::Os if !os => {
                return Err(format!("--dataflow os, but `{}` lists no \"os\" in pe_array.dataflows", arch.name));
            }
            DataflowChoice::Os => vec![Stationarity::Os],
            DataflowChoice::Ws if !listed.contains(&Stationarity::Ws) => {
                return Err(format!("--dataflow ws, but `{}` lists no \"ws\" in pe_array.dataflows", arch.name));
            }
            DataflowChoice::Ws if ws => vec![Stationarity::Ws],
            DataflowChoice::Ws | DataflowChoice::Auto => [(os, Stationarity::Os), (ws, Stationarity::Ws)]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| f)
                .collect(),
        };
        if v.is_empty() {
            return Err(format!(
                "`{}` lists only \"ws\" in pe_array.dataflows, and a GEMM reading a transposed activation (WG) needs \"os\"",
                arch.name
            ));
        }
        Ok(v)
    }
}

impl Default for DataflowOptions {
    fn default() -> Self {
        Self {
            interleave: true,
            pregen: true,
            offline_schedule: true,
            timing: TimingModel::Sat,
            dataflow: DataflowChoice::Auto,
        }
    }
}

impl DataflowOptions {
    /// The switch of `o`: the one place an optimization meets its storage.
    fn switch(&mut self, o: Optimization) -> &mut bool {
        match o {
            Optimization::Interleave => &mut self.interleave,
            Optimization::Pregen => &mut self.pregen,
            Optimization::OfflineSchedule => &mut self.offline_schedule,
        }
    }

    /// Whether `o` is on.
    pub fn is_on(&self, o: Optimization) -> bool {
        let mut copy = *self;
        *copy.switch(o)
    }

    /// Switches `o` on or off.
    pub fn set(&mut self, o: Optimization, on: bool) {
        *self.switch(o) = on;
    }

    /// These options with `o` switched off.
    #[must_use]
    pub fn without(mut self, o: Optimization) -> Self {
        self.set(o, false);
        self
    }

    /// Switches off the optimization called `name` (canonical name or alias).
    pub fn disable(&mut self, name: &str) -> Result<(), UnknownPass> {
        self.set(Optimization::from_name(name)?, false);
        Ok(())
    }

    /// Names of the enabled passes, for the program header.
    pub fn names(&self) -> Vec<String> {
        Optimization::ALL.into_iter().filter(|&o| self.is_on(o)).map(|o| o.name().to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_every_optimization_once_with_its_header_name() {
        let names: Vec<&str> = optimizations().iter().map(|o| o.name()).collect();
        assert_eq!(names, ["interleave", "pregen", "offline-schedule"]);
        for o in optimizations() {
            let i = o.info();
            assert!(!i.description.is_empty() && !i.when_off.is_empty(), "{o}");
            assert!(!i.description.contains('\n') && !i.when_off.contains('\n'), "{o}: not one line");
            assert_eq!(Optimization::from_name(i.name), Ok(*o));
            assert_eq!(o.to_string().parse::<Optimization>(), Ok(*o));
        }
    }

    #[test]
    fn header_names_are_those_of_the_enabled_optimizations() {
        let all = DataflowOptions::default();
        assert_eq!(all.names(), ["interleave", "pregen", "offline-schedule"]);
        assert_eq!(all.without(Optimization::Pregen).names(), ["interleave", "offline-schedule"]);
        let none = DataflowOptions { interleave: false, pregen: false, offline_schedule: false, ..Default::default() };
        assert!(none.names().is_empty());
    }

    #[test]
    fn disable_by_name_or_alias_switches_off_exactly_that_one() {
        for (name, o) in [
            ("interleave", Optimization::Interleave),
            ("pregen", Optimization::Pregen),
            ("offline-schedule", Optimization::OfflineSchedule),
            ("offline", Optimization::OfflineSchedule),
        ] {
            let mut opts = DataflowOptions::default();
            opts.disable(name).unwrap();
            assert_eq!(opts, DataflowOptions::default().without(o), "{name}");
            for other in Optimization::ALL {
                assert_eq!(opts.is_on(other), other != o, "{name}: {other}");
            }
        }
        // The switches and the named API agree.
        let mut opts = DataflowOptions::default();
        opts.disable("pregen").unwrap();
        assert_eq!(opts, DataflowOptions { pregen: false, ..DataflowOptions::default() });
        opts.set(Optimization::Pregen, true);
        assert_eq!(opts, DataflowOptions::default());
    }

    #[test]
    fn unknown_name_is_an_error_listing_the_known_ones() {
        let mut opts = DataflowOptions::default();
        let e = opts.disable("pregeneration").unwrap_err();
        assert_eq!(e, UnknownPass { name: "pregeneration".into() });
        assert_eq!(opts, DataflowOptions::default(), "an unknown name changes nothing");
        let msg = e.to_string();
        assert!(msg.contains("`pregeneration`"), "{msg}");
        for known in ["interleave", "pregen", "offline-schedule", "offline"] {
            assert!(msg.contains(known), "{msg} lacks {known}");
        }
        assert!("Pregen".parse::<Optimization>().is_err(), "names are case-sensitive");
        assert!("".parse::<Optimization>().is_err());
    }

    #[test]
    fn serialisation_keeps_the_three_switches() {
        let json = serde_json::to_string(&DataflowOptions::default().without(Optimization::OfflineSchedule)).unwrap();
        assert_eq!(json, r#"{"interleave":true,"pregen":true,"offline_schedule":false}"#);
    }
}
