//! Progress of long runs on stderr: a bar on a terminal, otherwise a plain
//! line every [`LOG_EVERY`] (a batch job's log shows the run is alive and
//! when it will end; runs shorter than that print nothing).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use nmsat_sim::reference::Progress;

/// How often a non-terminal stderr gets a progress line.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Progress of `len` units of work.
pub struct Reporter {
    label: String,
    unit: &'static str,
    len: u64,
    pos: u64,
    /// Units already done when the run started (reused results): not in the rate.
    base: u64,
    msg: String,
    bar: Option<ProgressBar>,
    t0: Instant,
    last: Instant,
}

impl Reporter {
    /// Progress of `len` `unit`s (e.g. "steps", "points") under `label`.
    pub fn new(label: String, len: u64, unit: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(len);
            let template = format!("{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}, ETA {{eta}} {{msg}}");
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.clone());
            bar
        });
        let now = Instant::now();
        Self { label, unit, len, pos: 0, base: 0, msg: String::new(), bar, t0: now, last: now }
    }

    /// Starts at `pos` units already done (they do not count in the rate).
    pub fn skip_to(&mut self, pos: u64) {
        self.base = pos;
        self.set_position(pos);
    }

    /// Moves to `pos` units done.
    pub fn set_position(&mut self, pos: u64) {
        self.pos = pos;
        match &self.bar {
            Some(b) => b.set_position(pos),
            None if self.last.elapsed() >= LOG_EVERY => {
                self.last = Instant::now();
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    /// Shows `msg` after the counts (e.g. the last epoch's loss).
    pub fn set_message(&mut self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg.clone());
        }
        self.msg = msg;
    }

    /// Removes the bar (a log gets no final line: the command's own summary follows).
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }

    /// `label: pos/len unit (pct %), elapsed, ETA, msg`.
    fn line(&self) -> String {
        let secs = self.t0.elapsed().as_secs_f64();
        let done = self.pos.saturating_sub(self.base);
        let eta = if done > 0 {
            format!("{:.0} s", secs * (self.len.saturating_sub(self.pos)) as f64 / done as f64)
        } else {
            "-".to_string()
        };
        let pct = 100.0 * self.pos as f64 / self.len.max(1) as f64;
        let msg = if self.msg.is_empty() { String::new() } else { format!(", {}", self.msg) };
        format!("{}: {}/{} {} ({pct:.1} %), {secs:.0} s, ETA {eta}{msg}", self.label, self.pos, self.len, self.unit)
    }
}

/// Runs `work`, printing `what` and the seconds so far every [`LOG_EVERY`]
/// while it lasts (e.g. a Verilator build of minutes; nothing when it ends sooner).
pub fn heartbeat<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(LOG_EVERY) {
                eprintln!("{what}: {:.0} s", t0.elapsed().as_secs_f64());
            }
        });
        let out = work();
        drop(stop);
        out
    })
}

/// Advances `rep` by a training step and shows the epoch's loss at its end.
pub fn on_step(rep: &mut Reporter) -> impl FnMut(&Progress) + '_ {
    |p: &Progress| {
        if p.step == p.steps_per_epoch {
            rep.set_message(format!("epoch {} loss {:.4}", p.epoch + 1, p.loss));
        }
        rep.set_position(rep.pos + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_returns_the_work_and_ends_with_it() {
        assert_eq!(heartbeat("quick", || 7), 7);
    }

    #[test]
    fn a_log_line_has_counts_share_and_message() {
        let mut r = Reporter::new("train".into(), 200, "steps");
        r.pos = 50;
        r.set_message("epoch 1 loss 0.5000".into());
        let l = r.line();
        assert!(l.starts_with("train: 50/200 steps (25.0 %), ") && l.ends_with(", epoch 1 loss 0.5000"), "{l}");
    }
}
