//! `nmsat explore SPEC -o DIR`: design-space exploration over configs and
//! workloads ([`nmsat_flow::explore`] evaluates, resumes and merges);
//! `nmsat explore merge DIR... -o OUT` joins shards; `nmsat explore pareto
//! DIR --x OBJ --y OBJ` prints the Pareto front.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nmsat_flow::explore::{Progress, RunOptions, Shard, merge, pareto, run as run_explore};

use crate::cli_error::CliResult;

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
    /// Join the results of shards of one spec (deduplicated, in point order).
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
            Ok(())
        }
        Some(ExploreCmd::Pareto(a)) => {
            print!("{}", pareto::pareto_table(&a.dir, &a.x, &a.y)?);
            Ok(())
        }
        None => run_spec(args.run),
    }
}

fn run_spec(a: RunArgs) -> CliResult {
    let (Some(spec), Some(out)) = (a.spec, a.out) else { unreachable!("clap requires SPEC and -o") };
    let opts = RunOptions { spec, out, jobs: a.jobs, shard: a.shard, dry_run: a.dry_run };
    let t0 = Instant::now();
    let (mut last, mut first_done, mut bar) = (Instant::now(), None, None);
    let mut on_progress = |p: Progress| {
        if std::io::stderr().is_terminal() {
            let b = bar.get_or_insert_with(|| points_bar(p.total as u64));
            b.set_position(p.done as u64);
            return;
        }
        let start = *first_done.get_or_insert(p.done);
        if last.elapsed() < Duration::from_secs(5) && p.done < p.total {
            return;
        }
        last = Instant::now();
        let rate = (p.done - start) as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        let eta = if rate > 0.0 { format!("{:.0} s", (p.total - p.done) as f64 / rate) } else { "-".into() };
        eprintln!("explore: {}/{} points, ETA {eta}", p.done, p.total);
    };
    let s = run_explore(&opts, &mut on_progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if opts.dry_run {
        println!(
            "{} configs x {} workloads = {} points; {} in this shard",
            s.configs,
            s.points / s.configs.max(1),
            s.points,
            s.in_shard
        );
        return Ok(());
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

/// A progress bar of points with their ETA, on stderr (a terminal).
fn points_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("explore [{bar:30}] {pos}/{len} points, ETA {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
