//! The unit's write gate: ordinary reads and writes hold it shared, the
//! commands that must be atomic against them (COMPARE AND WRITE, ORWRITE,
//! WRITE ATOMIC) exclusively. Its guards own a reference to the gate, so a
//! shared guard can travel with an I/O that completes later on another
//! thread (the asynchronous path of [`LogicalUnit::begin`]).
//!
//! [`LogicalUnit::begin`]: super::LogicalUnit::begin

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
struct State {
    shared: usize,
    exclusive: bool,
    /// Exclusive holders waiting: new shared holders wait behind them, so
    /// a stream of reads cannot starve a COMPARE AND WRITE.
    waiting: usize,
    /// Shared holders waiting (behind an exclusive one).
    waiting_shared: usize,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    changed: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A shared/exclusive gate with owned guards.
#[derive(Debug, Default, Clone)]
pub(super) struct WriteGate(Arc<Inner>);

/// A held gate; released when dropped.
pub(crate) struct GateGuard {
    inner: Arc<Inner>,
    exclusive: bool,
}

impl fmt::Debug for GateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateGuard")
            .field("exclusive", &self.exclusive)
            .finish()
    }
}

impl WriteGate {
    /// Held shared; waits while an exclusive holder holds or waits.
    pub(super) fn shared(&self) -> GateGuard {
        let mut s = self.0.lock();
        while s.exclusive || s.waiting > 0 {
            s.waiting_shared += 1;
            s = self
                .0
                .changed
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
            s.waiting_shared -= 1;
        }
        s.shared += 1;
        self.guard(false)
    }

    /// Held shared if that needs no wait.
    pub(super) fn try_shared(&self) -> Option<GateGuard> {
        let mut s = self.0.lock();
        if s.exclusive || s.waiting > 0 {
            return None;
        }
        s.shared += 1;
        Some(self.guard(false))
    }

    /// Held exclusively; waits for every holder to go.
    pub(super) fn exclusive(&self) -> GateGuard {
        let mut s = self.0.lock();
        s.waiting += 1;
        while s.exclusive || s.shared > 0 {
            s = self
                .0
                .changed
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        s.waiting -= 1;
        s.exclusive = true;
        self.guard(true)
    }

    fn guard(&self, exclusive: bool) -> GateGuard {
        GateGuard {
            inner: Arc::clone(&self.0),
            exclusive,
        }
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        let mut s = self.inner.lock();
        if self.exclusive {
            s.exclusive = false;
        } else {
            s.shared = s.shared.saturating_sub(1);
        }
        // Waking is a system call: only when somebody waits.
        let wake = s.waiting > 0 || s.waiting_shared > 0;
        drop(s);
        if wake {
            self.inner.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WriteGate;

    #[test]
    fn shared_holders_share_and_exclusive_excludes() {
        let gate = WriteGate::default();
        let a = gate.shared();
        let b = gate.try_shared().expect("shared twice");
        drop((a, b));
        let x = gate.exclusive();
        assert!(gate.try_shared().is_none());
        drop(x);
        assert!(gate.try_shared().is_some());
    }
}
