//! The dataflow optimizations (`nmsat compile --list-passes`).

use nmsat_dataflow::schedule::optimizations;

/// One line per optimization: its name, what it does, what switching it off does.
pub fn text() -> String {
    let mut s = String::new();
    for o in optimizations() {
        let i = o.info();
        s.push_str(&format!("{:<16}  {}. Off: {}.\n", i.name, i.description, i.when_off));
    }
    s
}
