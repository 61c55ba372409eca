//! `nmsat explore SPEC -o DIR`: design-space exploration over configs and
//! workloads ([`nmsat_flow::explore`] evaluates, resumes and merges);
//! `nmsat explore merge DIR... -o OUT` joins shards; `nmsat explore pareto
//! DIR --x OBJ --y OBJ` prints the Pareto front.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
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
    /// Print the non-dominated feasible points of two objectives.
    Pareto(ParetoArgs),
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
            if !c.missing.is_empty() {
                let shown: Vec<String> = c.missing.iter().take(10).map(u64::to_string).collect();
                let more = if c.missing.len() > shown.len() { ", ..." } else { "" };
                eprintln!(
                    "explore: warning: {} of the spec's {} points are in no directory (index {}{more}); \
                     rerun their shards (a rerun reuses what a shard holds), then merge again",
                    c.missing.len(),
                    c.points,
                    shown.join(", ")
                );
            }
            Ok(())
        }
        Some(ExploreCmd::Pareto(a)) => {
            print!("{}", pareto::pareto_table(&a.dir, &a.x, &a.y, a.against.as_deref())?);
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
        match s.search {
            Some(q) => println!(
                "nsga2: population {} x ({} generations + 1): at most {} of the grid's {} configs x {} workloads = {} points evaluated",
                q.settings.population,
                q.settings.generations,
                q.budget,
                s.configs,
                s.points / q.budget.max(1),
                s.points
            ),
            None => println!(
                "{} configs x {} workloads = {} points; {} in this shard",
                s.configs,
                s.points / s.configs.max(1),
                s.points,
                s.in_shard
            ),
        }
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
