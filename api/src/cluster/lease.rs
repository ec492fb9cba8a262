//! The node's etcd lease: granted by the coordinator, renewed here, and
//! judged by this node's own monotonic clock. A renewal sent at instant t
//! keeps the lease alive until at least t + TTL on etcd's side, so once
//! t + TTL has passed without another the lease must be treated as gone.
//!
//! Renewals run on a thread of their own ([`Renewer`]), with their own
//! runtime and etcd connection: a node recovering tens of thousands of
//! train-dates keeps both worker threads of the main runtime busy for
//! seconds, and at whole-12306 scale that starved the renewals until the
//! lease expired and the slots churned.

use super::etcd::{self, ETCD_CALL_TIMEOUT};
use etcd_client::Client;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::warn;

/// Renewals per lease lifetime: three gives two chances to recover from a
/// lost renewal before the lease runs out.
const RENEWALS_PER_TTL: u32 = 3;
/// Pause before reopening a failed keep-alive stream.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);
/// The message of etcd-client's `LeaseKeepAliveError` when the first renewal
/// of a new keep-alive stream finds the lease gone (etcd-client 0.21).
const LEASE_NOT_FOUND: &str = "lease not found";

pub struct Lease {
    /// The lease id; 0 while there is none (never granted, or lost).
    id: AtomicI64,
    /// When the renewal that last succeeded was sent (or the grant was asked for).
    renewed_at: Mutex<Option<Instant>>,
    pub ttl: Duration,
}

impl Lease {
    pub fn new(ttl: Duration) -> Self {
        Lease { id: AtomicI64::new(0), renewed_at: Mutex::new(None), ttl }
    }

    /// The live lease id, if any.
    pub fn id(&self) -> Option<i64> {
        let id = self.id.load(Ordering::Acquire);
        (id != 0).then_some(id)
    }

    /// The TTL asked of etcd, in whole seconds, never shorter than `ttl`.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl.as_millis().div_ceil(1000).max(1) as i64
    }

    /// Records a grant asked for at `asked_at`.
    pub fn granted(&self, id: i64, asked_at: Instant) {
        *self.renewed_at.lock().expect("lease lock") = Some(asked_at);
        self.id.store(id, Ordering::Release);
    }

    /// Forgets the lease: etcd said it is gone, or it must have expired.
    pub fn lost(&self) {
        self.id.store(0, Ordering::Release);
    }

    /// Whether the lease may have expired by now: no renewal sent within the last TTL.
    pub fn must_have_expired(&self) -> bool {
        self.renewed_at.lock().expect("lease lock").is_none_or(|at| at.elapsed() >= self.ttl)
    }

    fn renewed(&self, sent_at: Instant) {
        let mut renewed_at = self.renewed_at.lock().expect("lease lock");
        if renewed_at.is_none_or(|at| at < sent_at) {
            *renewed_at = Some(sent_at);
        }
    }
}

/// The renewal thread; dropping it stops the renewals.
pub struct Renewer {
    stop: tokio::sync::watch::Sender<bool>,
}

impl Renewer {
    /// Starts renewing `lease` from a new thread that connects to `endpoints` itself.
    pub fn start(endpoints: Vec<String>, lease: Arc<Lease>) -> std::io::Result<Renewer> {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name("seat-lease".into()).spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    () = renew(&endpoints, lease) => {}
                    _ = stopped.wait_for(|stop| *stop) => {}
                }
            });
        })?;
        Ok(Renewer { stop })
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Connects (again after `RECONNECT_PAUSE` while etcd is away) and renews.
async fn renew(endpoints: &[String], lease: Arc<Lease>) {
    loop {
        match etcd::connect(endpoints).await {
            Ok(client) => return keep_alive(client, lease).await,
            Err(error) => {
                warn!(%error, "the lease renewer cannot reach etcd yet");
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }
}

/// Keeps the current lease alive for as long as the task runs.
async fn keep_alive(mut client: Client, lease: Arc<Lease>) {
    let interval = lease.ttl / RENEWALS_PER_TTL;
    loop {
        let Some(id) = lease.id() else {
            tokio::time::sleep(interval).await;
            continue;
        };
        let opened = tokio::time::timeout(ETCD_CALL_TIMEOUT, client.lease_keep_alive(id)).await;
        let (mut keeper, mut stream) = match opened {
            Ok(Ok(opened)) => opened,
            // etcd-client opens the stream with a first renewal and, when
            // etcd answers it with TTL 0 (the lease expired, as after a
            // partition longer than the TTL), returns this error rather than
            // the stream: retrying it would never end, and the node would
            // never register again.
            Ok(Err(etcd_client::Error::LeaseKeepAliveError(message))) if message == LEASE_NOT_FOUND => {
                warn!(lease = id, "etcd says the lease has expired; the node will register anew");
                lease.lost();
                continue;
            }
            _ => {
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue;
            }
        };
        while lease.id() == Some(id) {
            let sent_at = Instant::now();
            let renewal = async {
                keeper.keep_alive().await?;
                stream.message().await
            };
            match tokio::time::timeout(ETCD_CALL_TIMEOUT, renewal).await {
                Ok(Ok(Some(response))) if response.ttl() > 0 => lease.renewed(sent_at),
                Ok(Ok(Some(_))) => {
                    warn!(lease = id, "etcd says the lease has expired; the node will register anew");
                    lease.lost();
                    break;
                }
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    break;
                }
            }
            tokio::time::sleep(interval.saturating_sub(sent_at.elapsed())).await;
        }
    }
}
