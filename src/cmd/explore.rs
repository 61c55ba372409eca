//! `nmsat explore SPEC -o DIR`: design-space exploration over configs and
//! workloads ([`nmsat_flow::explore`] evaluates, resumes and merges);
//! `nmsat explore merge DIR... -o OUT` joins shards; `nmsat explore pareto
//! DIR --x OBJ --y OBJ [--z OBJ] [--chart]` prints (and draws) the Pareto
//! front; `nmsat explore report DIR` writes the run's HTML page.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use nmsat_flow::explore::report::{ReportOptions, pareto_chart, report};
use nmsat_flow::explore::{Progress, RunOptions, Shard, merge, pareto, run as run_explore};

use crate::cli_error::CliResult;
use crate::progress::Reporter;

/// Arguments of `nmsat explore`: a run unless a subcommand is given.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ExploreArgs {
    /// Subcommands other than a run.
    #[command(subcommand)]
    pub command: Option<ExploreCmd>,
    /// The run's arguments.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `nmsat explore merge` and `nmsat explore pareto`.
#[derive(Debug, Subcommand)]
pub enum ExploreCmd {
    /// Join the results of shards of one spec (deduplicated, in point order;
    /// warns of points no shard holds).
    Merge(MergeArgs),
    /// Print the non-dominated feasible points of two or three objectives.
    Pareto(ParetoArgs),
    /// Write the run's HTML page: fronts, sensitivity, best configs.
    Report(ReportArgs),
}

/// Arguments of `nmsat explore report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory.
    pub dir: PathBuf,
    /// Where to write the page (default: RUN_DIR/report), replaced whole.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// Threads for simulating the presets (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
}

/// Arguments of a run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The exploration spec (TOML).
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    /// The run directory (results.jsonl, spec.toml, spec.hash); a run resumes in it.
    #[arg(short = 'o', long = "out", required = true)]
    pub out: Option<PathBuf>,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Evaluate only the points whose index % N == I.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Count the points without evaluating them.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `nmsat explore merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Run directories of the shards.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The merged run directory.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

/// Arguments of `nmsat explore pareto`.
#[derive(Debug, Args)]
pub struct ParetoArgs {
    /// The run directory.
    pub dir: PathBuf,
    /// Objective on the x axis.
    #[arg(long)]
    pub x: String,
    /// Objective on the y axis.
    #[arg(long)]
    pub y: String,
    /// A third objective: the front is then the three-objective one.
    #[arg(long)]
    pub z: Option<String>,
    /// Also draw the front (SVG, PNG and an HTML page, the presets marked)
    /// into DIR (default: RUN_DIR/pareto).
    #[arg(long, value_name = "DIR")]
    #[allow(clippy::option_option)]
    pub chart: Option<Option<PathBuf>>,
    /// Another run of the same space (e.g. the grid of a search): its
    /// feasible points normalise the hypervolumes, its front's is printed
    /// too, with the ratio.
    #[arg(long, value_name = "DIR")]
    pub against: Option<PathBuf>,
}

/// Runs `nmsat explore`.
pub fn run(args: ExploreArgs) -> CliResult {
    match args.command {
        Some(ExploreCmd::Merge(a)) => {
            let c = merge(&a.dirs, &a.out)?;
            eprintln!(
                "explore: merged {} lines into {} ({} duplicates dropped)",
                c.lines,
                a.out.display(),
                c.duplicates
            );
            if let Some(w) = c.missing_warning() {
                eprintln!("explore: warning: {w}");
            }
            Ok(())
        }
        Some(ExploreCmd::Pareto(a)) => {
            let objs: Vec<&str> =
                [Some(a.x.as_str()), Some(a.y.as_str()), a.z.as_deref()].into_iter().flatten().collect();
            print!("{}", pareto::pareto_table(&a.dir, &objs, a.against.as_deref())?);
            if let Some(out) = a.chart {
                let written = pareto_chart(&ReportOptions { dir: a.dir, out, jobs: 0 }, &objs)?;
                eprintln!("explore: wrote {}", written.join("index.html").display());
            }
            Ok(())
        }
        Some(ExploreCmd::Report(a)) => {
            let s = report(&ReportOptions { dir: a.dir, out: a.out, jobs: a.jobs })?;
            for (w, f) in &s.best_files {
                eprintln!("explore: best config for {w}: {}", f.display());
            }
            eprintln!(
                "explore: report of {} points ({} preset steps simulated) in {}",
                s.lines,
                s.presets_simulated,
                s.out.join("index.html").display()
            );
            Ok(())
        }
        None => run_spec(args.run),
    }
}

fn run_spec(a: RunArgs) -> CliResult {
    let (Some(spec), Some(out)) = (a.spec, a.out) else { unreachable!("clap requires SPEC and -o") };
    let opts = RunOptions { spec, out, jobs: a.jobs, shard: a.shard, dry_run: a.dry_run };
    let t0 = Instant::now();
    let mut rep: Option<Reporter> = None;
    let mut on_progress = |p: Progress| match &mut rep {
        Some(r) => r.set_position(p.done as u64),
        None => rep.insert(Reporter::new("explore".into(), p.total as u64, "points")).skip_to(p.done as u64),
    };
    let s = run_explore(&opts, &mut on_progress)?;
    if let Some(r) = rep {
        r.finish();
    }
    if opts.dry_run {
        println!("{}", s.plan());
        return Ok(());
    }
    if let Some(q) = s.search {
        eprintln!(
            "explore: nsga2 evaluated {} of {} configs ({} feasible); front of {} configs, hypervolume {:.4}",
            q.evaluated, s.configs, q.feasible, q.front, q.hypervolume
        );
    }
    eprintln!(
        "explore: {} points: {} computed, {} reused, {} infeasible; wrote {} in {:.1} s",
        s.in_shard,
        s.computed,
        s.reused,
        s.infeasible,
        opts.out.join("results.jsonl").display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
