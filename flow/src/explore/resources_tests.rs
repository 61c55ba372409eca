//! Tests of the resource model against the committed synthesis data.

use super::*;

/// Largest LUT and FF error on a fitted whole design.
const FIT_TOLERANCE: f64 = 0.05;
/// Largest LUT error on a held-back config (the acceptance bound).
const HOLDOUT_LUT_TOLERANCE: f64 = 0.10;
/// Largest DSP48E2 difference on a held-back config.
const HOLDOUT_DSP_TOLERANCE: u64 = 1;

fn data() -> SynthData {
    parse(DATA).unwrap()
}

fn percent(x: f64) -> String {
    format!("{:+.1} %", 100.0 * x)
}

#[test]
fn least_squares_recovers_an_exact_plane_and_refuses_a_degenerate_one() {
    let x: Vec<Vec<f64>> =
        [(1.0, 2.0), (3.0, 1.0), (5.0, 7.0), (2.0, 2.0)].iter().map(|&(a, b)| vec![1.0, a, b]).collect();
    let y: Vec<f64> = x.iter().map(|r| 10.0 + 3.0 * r[1] - 2.0 * r[2]).collect();
    let c = least_squares(&x, &y).unwrap();
    for (got, want) in c.iter().zip([10.0, 3.0, -2.0]) {
        assert!((got - want).abs() < 1e-9, "{c:?}");
    }
    // The second column a multiple of the first: not determined.
    let x: Vec<Vec<f64>> = (0..4).map(|i| vec![1.0, 2.0, f64::from(i)]).collect();
    assert!(least_squares(&x, &[1.0, 2.0, 3.0, 4.0]).is_none());
    // Fewer rows than terms.
    assert!(least_squares(&[vec![1.0, 2.0]], &[1.0]).is_none());
}

/// Every whole design's modules add up to the totals `nmsat synth`
/// reported: instances × own counts, plus the buffers' block RAMs from
/// their geometry; a PE has one DSP48E2 per lane and `rows × cols` instances.
#[test]
fn the_committed_data_parses_and_adds_up() {
    let d = data();
    assert!(d.yosys.starts_with("Yosys "), "{}", d.yosys);
    assert!(d.configs.iter().any(|c| c.role == Role::Holdout && c.is_whole()));
    for c in &d.configs {
        let arch = c.arch().unwrap();
        assert!(c.name.starts_with(&arch.name), "{} is {}", c.name, arch.name);
        assert_eq!(c.design_hash.len(), 16, "{}", c.name);
        let pe = c.modules.iter().find(|m| m.module == "sat_pe");
        if let Some(pe) = pe {
            assert_eq!(pe.dsp, u64::from(arch.pe_array.lanes), "{}", c.name);
            assert_eq!(pe.instances, u64::from(arch.pe_array.rows * arch.pe_array.cols), "{}", c.name);
        }
        let sum = |f: &dyn Fn(&ModuleCount) -> u64| c.modules.iter().map(|m| m.instances * f(m)).sum::<u64>();
        assert_eq!(sum(&|m| m.lut), c.total.lut, "{}", c.name);
        assert_eq!(sum(&|m| m.ff), c.total.ff, "{}", c.name);
        assert_eq!(sum(&|m| m.dsp), c.total.dsp, "{}", c.name);
        let own: f64 = c.modules.iter().map(|m| m.instances as f64 * m.bram36).sum();
        let p = Params::new(&arch, DEFAULT_IMEM_BITS);
        // The data predate the line buffer (ADR 003): its block RAMs are not in their totals.
        let buffers: u64 =
            nmsat_rtl::synth::params_buffer_bram36(&p).iter().filter(|(b, _)| b != "LB").map(|(_, n)| n).sum();
        let want = if c.is_whole() { own + buffers as f64 } else { own };
        assert_eq!(c.total.bram36, want, "{}", c.name);
    }
}

/// The model is the fit of the committed data: every module is fitted to
/// as many distinct runs as the fit configs have of it, more than its terms.
#[test]
fn the_model_is_the_fit_of_the_data() {
    let d = data();
    let m = model().unwrap();
    for mm in &m.modules {
        let mut keys: Vec<&str> = d
            .configs
            .iter()
            .filter(|c| c.role == Role::Fit)
            .flat_map(|c| c.modules.iter().filter(|x| x.module == mm.spec.module).map(|x| x.run_key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let n = keys.len();
        assert_eq!(mm.points, n, "{}", mm.spec.module);
        let terms = mm.lut.terms.len().max(mm.ff.terms.len());
        assert!(n >= terms, "{}: {n} runs for {terms} terms", mm.spec.module);
    }
    let again = fit(&d).unwrap();
    for (a, b) in m.modules.iter().zip(&again.modules) {
        assert_eq!((&a.lut, &a.ff, a.dsp_runs.len()), (&b.lut, &b.ff, b.dsp_runs.len()), "{}", a.spec.module);
    }
}

/// BRAM36 is exact on every synthesised whole design, DSP48E2s are exact
/// on the fitted ones and within [`HOLDOUT_DSP_TOLERANCE`] on the held-back
/// ones (the PEs' share exact: one per lane; the fixed part is the nearest
/// runs' and `sat_compute_decode`'s multipliers step with the config:
/// `hold-vu9p-8x16x8` has 39 there, its nearest fitted run 38).
#[test]
fn dsps_and_brams_are_exact() {
    let d = data();
    let m = model().unwrap();
    let checks = checks(m, &d).unwrap();
    assert!(checks.len() >= 4);
    for (c, config) in checks.iter().zip(d.configs.iter().filter(|c| c.is_whole())) {
        match c.role {
            Role::Fit => assert_eq!(c.estimate.dsp, c.synth.dsp, "{}", c.name),
            Role::Holdout => assert!(c.estimate.dsp.abs_diff(c.synth.dsp) <= HOLDOUT_DSP_TOLERANCE, "{}", c.name),
        }
        // The estimate counts the line buffer (ADR 003) the synthesised data predate.
        let p = Params::new(&config.arch().unwrap(), DEFAULT_IMEM_BITS);
        let lb: u64 =
            nmsat_rtl::synth::params_buffer_bram36(&p).iter().filter(|(b, _)| b == "LB").map(|(_, n)| n).sum();
        assert_eq!(c.estimate.bram36 - lb, c.synth.bram36, "{}", c.name);
        let (r, k, l) = c.array;
        // PEs × lanes + the fixed part, every DSP48E2 outside the PE array.
        let fixed = m.fixed_dsps(&config.arch().unwrap());
        assert_eq!(c.estimate.dsp, u64::from(r * k * l) + fixed, "{}", c.name);
        println!("{}: DSP48E2 {} = {} × {} + {fixed} (synthesis {})", c.name, c.estimate.dsp, r * k, l, c.synth.dsp);
    }
}

/// The fitted configs' totals within [`FIT_TOLERANCE`], the held-back
/// configs' LUTs within [`HOLDOUT_LUT_TOLERANCE`]; prints the table of
/// `docs/resources.md` (`--nocapture`).
#[test]
fn the_model_reproduces_the_fit_and_predicts_the_held_back_configs() {
    let checks = checks(model().unwrap(), &data()).unwrap();
    println!(
        "| config | role | PEs × lanes | LUT synth | LUT model | LUT error | FF synth | FF model | FF error | DSP synth | DSP model |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for c in &checks {
        let (r, k, l) = c.array;
        println!(
            "| {} | {} | {r}×{k}×{l} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.name,
            if c.role == Role::Fit { "fit" } else { "held back" },
            c.synth.lut,
            c.estimate.lut,
            percent(c.lut_error()),
            c.synth.ff,
            c.estimate.ff,
            percent(c.ff_error()),
            c.synth.dsp,
            c.estimate.dsp
        );
    }
    for c in &checks {
        match c.role {
            Role::Fit => {
                assert!(c.lut_error().abs() <= FIT_TOLERANCE, "{}: LUT {}", c.name, percent(c.lut_error()));
                assert!(c.ff_error().abs() <= FIT_TOLERANCE, "{}: FF {}", c.name, percent(c.ff_error()));
            }
            Role::Holdout => {
                assert!(c.lut_error().abs() <= HOLDOUT_LUT_TOLERANCE, "{}: LUT {}", c.name, percent(c.lut_error()))
            }
        }
    }
}

/// The formulas, for `docs/resources.md` (`--nocapture`).
#[test]
fn prints_the_formulas() {
    for m in &model().unwrap().modules {
        println!(
            "| `{}` | {} | {} | {} | {} | {} |",
            m.spec.module,
            if m.spec.instances == Instances::PerPe { "rows·cols".to_string() } else { m.fixed_instances.to_string() },
            m.lut.words(),
            m.ff.words(),
            if m.spec.instances == Instances::PerPe {
                "lanes".to_string()
            } else {
                let mut n: Vec<u64> = m.dsp_runs.iter().map(|r| r.1).collect();
                n.sort_unstable();
                n.dedup();
                n.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            },
            m.points
        );
    }
}

#[test]
fn the_explorer_gets_an_estimate_of_every_preset() {
    for name in ["tiny", "sat-mid", "sat-vu9p"] {
        let r = estimate(&ArchConfig::preset(name).unwrap()).unwrap();
        assert!(r.lut > 0 && r.ff > 0 && r.bram36 > 0, "{name}: {r:?}");
    }
}
