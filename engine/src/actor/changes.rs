//! Telling live watchers that a train-date published a new view, without
//! letting them cost its actor anything.
//!
//! The actor's side is a fence, one atomic load and, only while somebody
//! watches, one `Notify::notify_one` (a stored permit, so pokes conflate).
//! A relay task per watched train-date, on the tokio runtime, turns the poke
//! into a `watch` send that wakes every watcher: the fan-out to thousands of
//! subscribers happens on the runtime's threads, never on the actor's, and
//! at most once per `FAN_OUT_INTERVAL_MIN`.

use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Least time between two fan-outs of one train-date. In a flash sale its
/// actor publishes thousands of views a second, and every fan-out wakes
/// every watcher; at most 200 a second bounds that work per train-date
/// (pokes meanwhile conflate into the next) for at most 5 ms more latency.
pub const FAN_OUT_INTERVAL_MIN: Duration = Duration::from_millis(5);

/// One train-date's change signal, shared by its actor and its watchers.
pub struct ChangeSignal {
    /// Open watches of this train-date; the actor pokes only while there are some.
    watchers: AtomicUsize,
    /// The actor's poke; a permit left by `notify_one` conflates many pokes into one.
    poke: Notify,
    /// The relay's fan-out: how many times it relayed (the value is only a
    /// version; watchers read the view itself).
    fan_out: watch::Sender<u64>,
    /// Whether a relay task runs; decided under this lock so exactly one
    /// runs while there are watchers.
    relay_running: Mutex<bool>,
}

impl ChangeSignal {
    pub fn new() -> Self {
        ChangeSignal {
            watchers: AtomicUsize::new(0),
            poke: Notify::new(),
            fan_out: watch::Sender::new(0),
            relay_running: Mutex::new(false),
        }
    }

    /// Called by the actor after it stored a new view. The fence pairs with
    /// the one in `watch`: either this load sees the new watcher, or that
    /// watcher's first read of the view sees the view stored before it.
    pub fn published(&self) {
        fence(Ordering::SeqCst);
        if self.watchers.load(Ordering::Relaxed) > 0 {
            self.poke.notify_one();
        }
    }

    /// Registers a watcher, starting the relay if none runs. Must be called
    /// inside a tokio runtime. The watcher must read the view only after
    /// this returns.
    pub fn watch(signal: &Arc<ChangeSignal>) -> ChangeWatcher {
        let mut relay_running = signal.relay_running.lock().expect("relay flag lock");
        signal.watchers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !*relay_running {
            *relay_running = true;
            tokio::spawn(relay(Arc::clone(signal)));
        }
        drop(relay_running);
        ChangeWatcher { changes: signal.fan_out.subscribe(), signal: Arc::clone(signal) }
    }

    pub fn watcher_count(&self) -> usize {
        self.watchers.load(Ordering::Relaxed)
    }
}

impl Default for ChangeSignal {
    fn default() -> Self {
        Self::new()
    }
}

/// Forwards pokes to every watcher until the last one leaves.
async fn relay(signal: Arc<ChangeSignal>) {
    loop {
        signal.poke.notified().await;
        {
            let mut relay_running = signal.relay_running.lock().expect("relay flag lock");
            if signal.watchers.load(Ordering::SeqCst) == 0 {
                *relay_running = false;
                return;
            }
        }
        signal.fan_out.send_modify(|relayed| *relayed = relayed.wrapping_add(1));
        tokio::time::sleep(FAN_OUT_INTERVAL_MIN).await;
    }
}

/// One watcher's registration; leaving drops it.
pub struct ChangeWatcher {
    /// Marked changed whenever the relay saw a new view.
    pub changes: watch::Receiver<u64>,
    signal: Arc<ChangeSignal>,
}

impl Drop for ChangeWatcher {
    fn drop(&mut self) {
        if self.signal.watchers.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Wakes the relay so it sees there is nobody left and ends.
            self.signal.poke.notify_one();
        }
    }
}
