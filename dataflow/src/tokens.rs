//! Turning dependencies into dependency tokens.
//!
//! The scheduler states, for every instruction, which earlier instructions
//! it must wait for. SAT only has tokens between neighbouring queues
//! (load ↔ compute ↔ store), and each instruction can pop at most one token
//! from, and push at most one token to, each neighbour. This pass keeps
//! only the dependencies that are not already implied, and sets the flags.
//!
//! Why it is exact: each queue retires its instructions in order (DMA
//! transfers are granted the channel in order, GEMMs of the pipelined
//! array finish in order, other compute instructions wait for the
//! pipeline), so waiting for producer `p` also waits for every earlier
//! instruction of `p`'s queue, and a consumer later in its queue than one
//! that already waited for `p` (or a later producer) need not wait again.
//! The surviving (producer, consumer) pairs are strictly increasing in both
//! queues, so the k-th push of a token FIFO is matched by its k-th pop.
//! Dependencies within a queue are implied by in-order issue; dependencies
//! between load and store must go through a compute `sync`, which the
//! scheduler inserts before calling this.

use crate::isa::{Instr, Queue};

/// Sets the token flags of `instrs` from `deps` (for each instruction, the
/// indices of earlier instructions it must wait for). Returns the number of
/// (producer, consumer) pairs that became tokens.
///
/// # Panics
/// When a dependency points forward or links the load and store queues
/// directly (a scheduler bug, not a user error).
pub fn assign_tokens(instrs: &mut [Instr], deps: &[Vec<usize>]) -> usize {
    assert_eq!(instrs.len(), deps.len());
    let queues: Vec<Queue> = instrs.iter().map(Instr::queue).collect();
    // Position of each instruction within its queue.
    let mut pos = vec![0usize; instrs.len()];
    let mut counts = [0usize; 3];
    for (i, q) in queues.iter().enumerate() {
        pos[i] = counts[q.index()];
        counts[q.index()] += 1;
    }
    for d in instrs.iter_mut() {
        *d.deps_mut() = Default::default();
    }
    // For each ordered pair of neighbouring queues (producer queue, consumer queue):
    // the latest producer (by queue position) already waited for.
    let mut last_waited = [[None::<usize>; 3]; 3];
    let mut pairs = 0;
    for c in 0..instrs.len() {
        let qc = queues[c];
        let mut latest = [None::<usize>; 3];
        for &p in &deps[c] {
            assert!(p < c, "dependency {p} of {c} points forward");
            let qp = queues[p];
            if qp == qc {
                continue;
            }
            assert!(
                !matches!((qp, qc), (Queue::Load, Queue::Store) | (Queue::Store, Queue::Load)),
                "dependency {p} -> {c} links load and store directly"
            );
            let slot = &mut latest[qp.index()];
            if slot.is_none_or(|s| pos[s] < pos[p]) {
                *slot = Some(p);
            }
        }
        for qp in Queue::ALL {
            let Some(p) = latest[qp.index()] else { continue };
            let lw = &mut last_waited[qp.index()][qc.index()];
            if lw.is_some_and(|w| pos[w] >= pos[p]) {
                continue;
            }
            *lw = Some(p);
            pairs += 1;
            // Producer `p` in queue qp pushes towards qc; consumer pops from qp.
            let p_is_prev_of_c = qp.index() < qc.index();
            {
                let dp = instrs[p].deps_mut();
                if p_is_prev_of_c {
                    dp.push_next = true;
                } else {
                    dp.push_prev = true;
                }
            }
            let dc = instrs[c].deps_mut();
            if p_is_prev_of_c {
                dc.pop_prev = true;
            } else {
                dc.pop_next = true;
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Deps;

    fn sync() -> Instr {
        Instr::Sync { deps: Deps::default() }
    }

    fn load() -> Instr {
        Instr::Load {
            deps: Deps::default(),
            buf: crate::isa::Buf::A,
            fmt: crate::isa::DmaFormat::I16,
            index_bits: 0,
            dram: 0,
            sram: 0,
            rows: 1,
            cols: 1,
            stride: 2,
        }
    }

    #[test]
    fn implied_dependencies_are_dropped() {
        // l0, l1, c2(dep l0), c3(dep l0, l1), c4(dep l0)
        let mut v = vec![load(), load(), sync(), sync(), sync()];
        let deps = vec![vec![], vec![], vec![0], vec![0, 1], vec![0]];
        assert_eq!(assign_tokens(&mut v, &deps), 2);
        assert!(v[0].deps().push_next && v[1].deps().push_next);
        assert!(v[2].deps().pop_prev && v[3].deps().pop_prev && !v[4].deps().pop_prev);
    }

    #[test]
    fn war_goes_backwards() {
        // c0, l1 (must wait for c0: it overwrites what c0 read)
        let mut v = vec![sync(), load()];
        assign_tokens(&mut v, &[vec![], vec![0]]);
        assert!(v[0].deps().push_prev && v[1].deps().pop_next);
    }
}
