//! Progress bars of long runs on stderr (hidden when stderr is not a terminal).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nmsat_sim::reference::Progress;

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress_bar(len: u64, label: String) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label);
    bar
}

/// Advances `bar` by a step and shows the epoch's loss at its end.
pub fn on_step(bar: &ProgressBar) -> impl FnMut(&Progress) + '_ {
    |p: &Progress| {
        bar.inc(1);
        if p.step == p.steps_per_epoch {
            bar.set_message(format!("epoch {} loss {:.4}", p.epoch + 1, p.loss));
        }
    }
}
