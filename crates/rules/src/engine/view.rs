//! Building the per-event [`View`]: the event's fields are resolved to slots in one pass over
//! the event (one hash probe per field), into buffers on the stack when the ruleset is small
//! enough, so evaluating an event allocates nothing.

use std::cell::{Cell, OnceCell};

use mamori_core::event::Value;
use mamori_core::Event;

use super::Ruleset;
use crate::program::{EvtType, Node, View};
use crate::specialize::Program;

impl Ruleset {
    /// Runs `f` over a view of `ev` in which `macros` are memoized (the reference evaluation).
    #[cfg(test)]
    pub(crate) fn with_view<R>(
        &self,
        ev: &Event,
        hostname: &str,
        evt_type: EvtType,
        macros: &[Node],
        f: impl FnOnce(&View<'_>) -> R,
    ) -> R {
        let (n, m, d) = (self.slots.len(), macros.len(), self.derived.len());
        // Buffers are cleared for every event, so the smallest that fits is used.
        if n <= 64 && m <= 64 && d <= 16 {
            self.on_stack::<64, 64, 16, R>(ev, hostname, evt_type, macros, f)
        } else if n <= 128 && m <= 64 && d <= 16 {
            self.on_stack::<128, 64, 16, R>(ev, hostname, evt_type, macros, f)
        } else if n <= 256 && m <= 512 && d <= 32 {
            self.on_stack::<256, 512, 32, R>(ev, hostname, evt_type, macros, f)
        } else {
            let mut vals = vec![None; n];
            let mut ranks = vec![u8::MAX; n];
            self.resolve(ev, &mut vals, &mut ranks);
            let memo = vec![Cell::new(0); m];
            let lazy: Vec<OnceCell<Option<Value>>> = (0..d).map(|_| OnceCell::new()).collect();
            f(&self.view(ev, hostname, evt_type, macros, &vals, &memo, &lazy))
        }
    }

    /// Resolves `ev`, picks the program of its `evt.type` (read from the resolved fields, which
    /// saves a second search of the event) and runs `f` over both; `None` when that program
    /// has no rule.
    #[inline]
    pub(crate) fn with_program<R>(
        &self,
        ev: &Event,
        hostname: &str,
        f: impl FnOnce(&Program, &View<'_>) -> R,
    ) -> Option<R> {
        let (n, m, d) = (self.slots.len(), self.max_macros, self.derived.len());
        if n <= 64 && m <= 64 && d <= 16 {
            self.program_on_stack::<64, 64, 16, R>(ev, hostname, f)
        } else if n <= 128 && m <= 64 && d <= 16 {
            self.program_on_stack::<128, 64, 16, R>(ev, hostname, f)
        } else if n <= 256 && m <= 512 && d <= 32 {
            self.program_on_stack::<256, 512, 32, R>(ev, hostname, f)
        } else {
            let mut vals = vec![None; n];
            let mut ranks = vec![u8::MAX; n];
            self.resolve(ev, &mut vals, &mut ranks);
            let memo = vec![Cell::new(0); m];
            let lazy: Vec<OnceCell<Option<Value>>> = (0..d).map(|_| OnceCell::new()).collect();
            self.run_program(ev, hostname, &vals, &memo, &lazy, f)
        }
    }

    fn program_on_stack<const S: usize, const M: usize, const D: usize, R>(
        &self,
        ev: &Event,
        hostname: &str,
        f: impl FnOnce(&Program, &View<'_>) -> R,
    ) -> Option<R> {
        let (n, d) = (self.slots.len(), self.derived.len());
        let mut vals: [Option<&Value>; S] = [None; S];
        let mut ranks = [u8::MAX; S];
        self.resolve(ev, &mut vals[..n], &mut ranks[..n]);
        let memo: [Cell<u8>; M] = [const { Cell::new(0) }; M];
        let lazy: [OnceCell<Option<Value>>; D] = [const { OnceCell::new() }; D];
        self.run_program(ev, hostname, &vals[..n], &memo, &lazy[..d], f)
    }

    #[inline]
    fn run_program<'e, R>(
        &'e self,
        ev: &'e Event,
        hostname: &'e str,
        vals: &'e [Option<&'e Value>],
        memo: &'e [Cell<u8>],
        lazy: &'e [OnceCell<Option<Value>>],
        f: impl FnOnce(&Program, &View<'_>) -> R,
    ) -> Option<R> {
        let t = vals.get(self.type_slot as usize).copied().flatten();
        let (prog, ctx) = self.program_of(t);
        if prog.rules.is_empty() {
            return None;
        }
        let memo = memo.get(..prog.macros.len())?;
        Some(f(
            prog,
            &self.view(ev, hostname, ctx, &prog.macros, vals, memo, lazy),
        ))
    }

    #[cfg(test)]
    fn on_stack<const S: usize, const M: usize, const D: usize, R>(
        &self,
        ev: &Event,
        hostname: &str,
        evt_type: EvtType,
        macros: &[Node],
        f: impl FnOnce(&View<'_>) -> R,
    ) -> R {
        let (n, m, d) = (self.slots.len(), macros.len(), self.derived.len());
        let mut vals: [Option<&Value>; S] = [None; S];
        let mut ranks = [u8::MAX; S];
        self.resolve(ev, &mut vals[..n], &mut ranks[..n]);
        let memo: [Cell<u8>; M] = [const { Cell::new(0) }; M];
        let lazy: [OnceCell<Option<Value>>; D] = [const { OnceCell::new() }; D];
        f(&self.view(
            ev,
            hostname,
            evt_type,
            macros,
            &vals[..n],
            &memo[..m],
            &lazy[..d],
        ))
    }

    /// Puts each event field the ruleset reads into its slot; when an event carries several
    /// spellings of one field, the canonical key wins, then the aliases in order.
    #[inline]
    fn resolve<'e>(&self, ev: &'e Event, vals: &mut [Option<&'e Value>], ranks: &mut [u8]) {
        for (k, v) in &ev.fields {
            if let Some((slot, rank)) = self.keys.get(k.as_str()) {
                let s = slot as usize;
                if let (Some(val), Some(r)) = (vals.get_mut(s), ranks.get_mut(s)) {
                    // The canonical key (nearly every key) always wins: no need to read the
                    // rank stored before.
                    if rank == 0 || rank < *r {
                        *val = Some(v);
                        *r = rank;
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn view<'e>(
        &'e self,
        ev: &'e Event,
        hostname: &'e str,
        evt_type: EvtType,
        macros: &'e [Node],
        vals: &'e [Option<&'e Value>],
        memo: &'e [Cell<u8>],
        lazy: &'e [OnceCell<Option<Value>>],
    ) -> View<'e> {
        View {
            vals,
            lazy_of: &self.lazy_of,
            lazy,
            derives: &self.derived,
            ev,
            hostname,
            evt_type,
            macros,
            memo,
            #[cfg(test)]
            plain: Cell::new(false),
        }
    }
}
