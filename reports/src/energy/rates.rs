//! A table resolved for one config: each action's energy per counted unit
//! as an exact ratio of attojoules, so that charging stays in integers.

use nmsat_dataflow::ArchConfig;
use serde::Serialize;

use super::actions::{BUFFERS, Counter, Unit, catalogue};
use super::table::{EnergyTable, EntryValue, SizeBasis, SramPoint};

/// One action's energy for a config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRate {
    /// Component.
    pub component: String,
    /// Action.
    pub action: String,
    /// What the energy is per.
    pub per: Unit,
    /// Energy per `per` for this config, in pJ.
    pub energy_pj_per_unit: f64,
    /// How a config-dependent value was resolved (SRAM capacity, clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    #[serde(skip)]
    pub(crate) counter: Counter,
    /// Attojoules per counted quantity (bytes for bit and word units) are
    /// `num_aj / den`.
    #[serde(skip)]
    pub(crate) num_aj: u128,
    #[serde(skip)]
    pub(crate) den: u128,
}

impl ActionRate {
    /// The quantity counts are in: bytes for energies per bit or word.
    pub fn counted(&self) -> Unit {
        match self.per {
            Unit::Bit | Unit::Word64 => Unit::Byte,
            u => u,
        }
    }

    /// Energy of `count` counted quantities in femtojoules, rounded half up.
    pub(crate) fn charge_fj(&self, count: u64) -> u128 {
        let den = self.den * 1000;
        let num = u128::from(count).checked_mul(self.num_aj).expect("validated rates cannot overflow u128");
        (num + den / 2) / den
    }
}

/// Every entry of `table` for `arch`, in catalogue order.
pub(crate) fn resolve(table: &EnergyTable, arch: &ArchConfig) -> Vec<ActionRate> {
    let mut out = Vec::new();
    for spec in catalogue() {
        let Some(e) = table.entry(spec.component, spec.action) else { continue };
        let (pj, resolved, num_aj, den) = match &e.value {
            EntryValue::PowerW(w) => {
                // aJ per cycle = W · 1e18 / (MHz · 1e6) = µW · 1e6 / MHz.
                let micro_w = (w * 1e6).round() as u128;
                let mhz = u128::from(arch.clock_mhz.max(1));
                let pj = w * 1e6 / f64::from(arch.clock_mhz.max(1));
                let note = format!("{w} W at {} MHz", arch.clock_mhz);
                (pj, Some(note), micro_w * 1_000_000, mhz)
            }
            v => {
                let (pj, resolved) = match v {
                    EntryValue::EnergyPj(x) => (*x, None),
                    EntryValue::Uses(u) => (
                        u.iter().map(|(name, n)| n * table.primitives.get(name).map_or(0.0, |p| p.energy_pj)).sum(),
                        None,
                    ),
                    EntryValue::Sram { size, points } => {
                        let cap = capacity(arch, &e.component, *size);
                        let (pj, how) = interpolate(points, cap);
                        (pj, Some(how))
                    }
                    EntryValue::PowerW(_) => unreachable!("handled above"),
                };
                let aj = (pj * 1e6).round() as u128;
                let (num, den) = match e.per {
                    Unit::Bit => (aj * 8, 1),
                    Unit::Word64 => (aj, 8),
                    _ => (aj, 1),
                };
                (pj, resolved, num, den)
            }
        };
        out.push(ActionRate {
            component: e.component.clone(),
            action: e.action.clone(),
            per: e.per,
            energy_pj_per_unit: pj,
            resolved,
            counter: spec.counter,
            num_aj,
            den,
        });
    }
    out
}

/// The capacity that picks a buffer's SRAM point.
fn capacity(arch: &ArchConfig, component: &str, basis: SizeBasis) -> u64 {
    let b = &arch.buffers;
    let buf = match BUFFERS.iter().find(|(c, _)| *c == component).map(|(_, n)| *n) {
        Some("activation") => &b.activation,
        Some("weight") => &b.weight,
        _ => &b.output,
    };
    match basis {
        SizeBasis::Buffer => buf.bytes,
        SizeBasis::Bank => buf.bytes / u64::from(buf.banks.max(1)),
    }
}

/// The energy at `cap` bytes: linear in log2(capacity) between the two
/// points around it, the end point's energy outside them; with a sentence
/// saying which.
pub(crate) fn interpolate(points: &[SramPoint], cap: u64) -> (f64, String) {
    let kib = |b: u64| format!("{} KiB", b as f64 / 1024.0);
    let (first, last) = (points[0], points[points.len() - 1]);
    if cap <= first.size_bytes || points.len() == 1 {
        let how = if cap == first.size_bytes { "the table's point" } else { "clamped to the table's smallest point" };
        return (first.energy_pj, format!("{}: {} pJ, {how} ({})", kib(cap), first.energy_pj, kib(first.size_bytes)));
    }
    if cap >= last.size_bytes {
        let how = if cap == last.size_bytes { "the table's point" } else { "clamped to the table's largest point" };
        return (last.energy_pj, format!("{}: {} pJ, {how} ({})", kib(cap), last.energy_pj, kib(last.size_bytes)));
    }
    let i = points.windows(2).position(|w| w[0].size_bytes <= cap && cap <= w[1].size_bytes).unwrap_or(0);
    let (a, b) = (points[i], points[i + 1]);
    let t = ((cap as f64).log2() - (a.size_bytes as f64).log2())
        / ((b.size_bytes as f64).log2() - (a.size_bytes as f64).log2());
    let pj = a.energy_pj + t * (b.energy_pj - a.energy_pj);
    let how = format!(
        "{}: {pj:.3} pJ, interpolated linearly in log2(size) between {} ({} pJ) and {} ({} pJ)",
        kib(cap),
        kib(a.size_bytes),
        a.energy_pj,
        kib(b.size_bytes),
        b.energy_pj
    );
    (pj, how)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts() -> Vec<SramPoint> {
        vec![
            SramPoint { size_bytes: 8192, energy_pj: 10.0 },
            SramPoint { size_bytes: 32768, energy_pj: 20.0 },
            SramPoint { size_bytes: 1 << 20, energy_pj: 100.0 },
        ]
    }

    #[test]
    fn sram_interpolates_in_log_size_and_clamps() {
        assert_eq!(interpolate(&pts(), 8192).0, 10.0);
        assert_eq!(interpolate(&pts(), 16384).0, 15.0);
        assert_eq!(interpolate(&pts(), 1 << 19).0, 84.0); // 32 KiB · 2^4: 4/5 of the way to 1 MiB
        assert_eq!(interpolate(&pts(), 1024).0, 10.0);
        assert!(interpolate(&pts(), 1024).1.contains("clamped"));
        assert_eq!(interpolate(&pts(), 1 << 24).0, 100.0);
    }

    #[test]
    fn a_bank_or_the_whole_buffer_picks_the_point() {
        let arch = ArchConfig::default_preset(); // 512 KiB buffers of 16 banks
        assert_eq!(capacity(&arch, "weight_buffer", SizeBasis::Buffer), 512 * 1024);
        assert_eq!(capacity(&arch, "weight_buffer", SizeBasis::Bank), 32 * 1024);
        assert_eq!(interpolate(&pts(), 32 * 1024).0, 20.0);
    }

    #[test]
    fn charges_round_half_up_in_femtojoules() {
        let r = |num_aj, den| ActionRate {
            component: "x".into(),
            action: "y".into(),
            per: Unit::Byte,
            energy_pj_per_unit: 0.0,
            resolved: None,
            counter: Counter::Cycles,
            num_aj,
            den,
        };
        assert_eq!(r(1500, 1).charge_fj(1), 2); // 1.5 fJ
        assert_eq!(r(1499, 1).charge_fj(1), 1);
        assert_eq!(r(10_000_000, 8).charge_fj(8), 10_000); // 10 pJ per 64-bit word, 8 bytes
        assert_eq!(r(u128::from(u64::MAX), 1).charge_fj(u64::MAX), (u128::from(u64::MAX).pow(2) + 500) / 1000);
    }
}
