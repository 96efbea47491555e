//! Pause, resume and cancel for a running migration, shared between the caller and the pipeline.

use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Paused,
    Cancelled,
}

/// A handle the app (or the CLI's Ctrl-C handler) uses to steer a run. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RunControl {
    tx: std::sync::Arc<watch::Sender<State>>,
    /// A live sync was asked to finish (last pass, validation, cut over).
    finish: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Default for RunControl {
    fn default() -> Self {
        Self::new()
    }
}

impl RunControl {
    pub fn new() -> Self {
        let (tx, _) = watch::channel(State::Running);
        Self {
            tx: std::sync::Arc::new(tx),
            finish: Default::default(),
        }
    }
    /// Asks a live sync to finish: the pass under way ends, one last pass copies up to now, the
    /// whole window is validated and the run is cut over. A plain run ignores it.
    pub fn finish(&self) {
        self.finish.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn is_finishing(&self) -> bool {
        self.finish.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Stops starting new requests; requests in flight finish and are journaled.
    pub fn pause(&self) {
        self.tx.send_if_modified(|s| {
            if *s == State::Running {
                *s = State::Paused;
                true
            } else {
                false
            }
        });
    }
    pub fn resume(&self) {
        self.tx.send_if_modified(|s| {
            if *s == State::Paused {
                *s = State::Running;
                true
            } else {
                false
            }
        });
    }
    /// Ends the run after in-flight requests are journaled; it can be resumed later.
    pub fn cancel(&self) {
        self.tx.send_replace(State::Cancelled);
    }
    pub fn is_cancelled(&self) -> bool {
        *self.tx.borrow() == State::Cancelled
    }
    pub fn is_paused(&self) -> bool {
        *self.tx.borrow() == State::Paused
    }
    /// A control that pauses and resumes with this one but is not cancelled by it, for work
    /// that must finish once started (a sync's follow pass): when this one is cancelled, the
    /// other runs on. Needs a Tokio runtime (a task forwards the changes while this one lives).
    pub fn shielded(&self) -> RunControl {
        let follower = RunControl::new();
        let mut rx = self.tx.subscribe();
        let out = follower.clone();
        tokio::spawn(async move {
            loop {
                match *rx.borrow_and_update() {
                    State::Paused => out.pause(),
                    State::Running | State::Cancelled => out.resume(),
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
        follower
    }

    /// Waits while paused. Returns `false` when the run was cancelled.
    pub async fn proceed(&self) -> bool {
        let mut rx = self.tx.subscribe();
        loop {
            match *rx.borrow_and_update() {
                State::Running => return true,
                State::Cancelled => return false,
                State::Paused => {}
            }
            if rx.changed().await.is_err() {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pause_blocks_until_resume_and_cancel_wins() {
        let c = RunControl::new();
        c.pause();
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.proceed().await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        c.resume();
        assert!(waiter.await.unwrap());
        c.cancel();
        c.resume();
        assert!(!c.proceed().await);
    }

    #[tokio::test]
    async fn a_shielded_control_pauses_along_but_outlives_a_cancel() {
        let c = RunControl::new();
        let s = c.shielded();
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(20));
        c.pause();
        settle().await;
        assert!(s.is_paused());
        c.resume();
        settle().await;
        assert!(!s.is_paused());
        c.pause();
        settle().await;
        c.cancel();
        settle().await;
        assert!(
            !s.is_cancelled() && !s.is_paused(),
            "a cancel lets it finish"
        );
        assert!(s.proceed().await);
    }
}
