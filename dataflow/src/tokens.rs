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

use crate::isa::{Deps, Instr, Queue};

/// An instruction as a dependency: its index in the program, its queue and
/// its position within that queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Producer {
    /// Index in the program.
    pub index: usize,
    /// Its queue.
    pub queue: Queue,
    /// Position within its queue.
    pub pos: u64,
}

/// The token rule applied one instruction at a time, in program order: the
/// forward scan [`assign_tokens`] runs, usable while a program is still
/// being emitted (the scheduler streams instructions through it).
#[derive(Debug, Clone, Default)]
pub struct TokenAssigner {
    /// Instructions seen per queue.
    counts: [u64; 3],
    /// Per (producer queue, consumer queue): the position of the latest
    /// producer a consumer already waited for.
    last_waited: [[Option<u64>; 3]; 3],
    /// (producer, consumer) pairs that became tokens.
    pairs: usize,
}

impl TokenAssigner {
    /// Adds the next instruction, of queue `qc`, which must wait for `deps`
    /// (earlier instructions). Returns it as a producer and its pop flags;
    /// calls `push(producer, push_next)` for each earlier instruction that
    /// must push a token towards it (`push_next`: towards the next queue).
    ///
    /// # Panics
    /// When a dependency links the load and store queues directly (a
    /// scheduler bug, not a user error).
    pub fn add(
        &mut self,
        index: usize,
        qc: Queue,
        deps: &[Producer],
        mut push: impl FnMut(Producer, bool),
    ) -> (Producer, Deps) {
        let me = Producer { index, queue: qc, pos: self.counts[qc.index()] };
        self.counts[qc.index()] += 1;
        let mut latest = [None::<Producer>; 3];
        for &p in deps {
            assert!(p.index < index, "dependency {} of {index} points forward", p.index);
            if p.queue == qc {
                continue;
            }
            assert!(
                !matches!((p.queue, qc), (Queue::Load, Queue::Store) | (Queue::Store, Queue::Load)),
                "dependency {} -> {index} links load and store directly",
                p.index
            );
            let slot = &mut latest[p.queue.index()];
            if slot.is_none_or(|s| s.pos < p.pos) {
                *slot = Some(p);
            }
        }
        let mut flags = Deps::default();
        for p in latest.into_iter().flatten() {
            let lw = &mut self.last_waited[p.queue.index()][qc.index()];
            if lw.is_some_and(|w| w >= p.pos) {
                continue;
            }
            *lw = Some(p.pos);
            self.pairs += 1;
            // Producer `p` pushes towards qc; the consumer pops from p's queue.
            let p_is_prev_of_c = p.queue.index() < qc.index();
            push(p, p_is_prev_of_c);
            if p_is_prev_of_c {
                flags.pop_prev = true;
            } else {
                flags.pop_next = true;
            }
        }
        (me, flags)
    }

    /// Whether no later instruction can make `p` push a token: every
    /// neighbouring queue already waited for `p` or a later instruction of
    /// its queue (so a dependency on `p` is implied from now on).
    pub fn settled(&self, p: Producer) -> bool {
        let neighbours: &[Queue] = match p.queue {
            Queue::Load | Queue::Store => &[Queue::Compute],
            Queue::Compute => &[Queue::Load, Queue::Store],
        };
        neighbours.iter().all(|qc| self.last_waited[p.queue.index()][qc.index()].is_some_and(|w| w >= p.pos))
    }

    /// (producer, consumer) pairs that became tokens so far.
    pub fn pairs(&self) -> usize {
        self.pairs
    }
}

/// Sets the token flags of `instrs` from `deps` (for each instruction, the
/// indices of earlier instructions it must wait for). Returns the number of
/// (producer, consumer) pairs that became tokens.
///
/// # Panics
/// When a dependency points forward or links the load and store queues
/// directly (a scheduler bug, not a user error).
pub fn assign_tokens(instrs: &mut [Instr], deps: &[Vec<usize>]) -> usize {
    assert_eq!(instrs.len(), deps.len());
    let mut producers: Vec<Producer> = Vec::with_capacity(instrs.len());
    let mut tokens = TokenAssigner::default();
    for c in 0..instrs.len() {
        let ds: Vec<Producer> = deps[c]
            .iter()
            .map(|&p| {
                assert!(p < c, "dependency {p} of {c} points forward");
                producers[p]
            })
            .collect();
        let (me, flags) = tokens.add(c, instrs[c].queue(), &ds, |p, next| {
            let dp = instrs[p.index].deps_mut();
            if next {
                dp.push_next = true;
            } else {
                dp.push_prev = true;
            }
        });
        *instrs[c].deps_mut() = flags;
        producers.push(me);
    }
    tokens.pairs()
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
