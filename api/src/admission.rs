//! Admission control before any work is done: token-bucket rate limits per
//! acting user and per peer address, by RPC class, and client deadlines.

use crate::auth::{Caller, Role};
use crate::status::invalid_argument;
use engine::domain::echo::echo;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::{Request, Status};
use tonic_types::ErrorDetails;

/// What an RPC costs the engine, for choosing its quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcClass {
    /// Searches, availability, seat maps, order reads, admin reads.
    Read,
    /// Hold, Confirm, Cancel and admin changes: they go through an actor and the journal.
    Write,
}

/// Token-bucket quotas. Per-user buckets are keyed by the acting user (the
/// passenger, or the user an agent books for), so one flooding user cannot
/// starve the rest; per-peer buckets apply to passenger tokens, which come
/// straight from end users, not to agents, which are trusted frontends that
/// carry many users' traffic from few addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub user_reads_per_sec: u32,
    pub user_read_burst: u32,
    pub user_writes_per_sec: u32,
    pub user_write_burst: u32,
    pub peer_requests_per_sec: u32,
    pub peer_burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        // A person books a few times a minute and polls a few times a second;
        // these leave room for retries while cutting off scripts.
        RateLimits {
            user_reads_per_sec: 20,
            user_read_burst: 40,
            user_writes_per_sec: 5,
            user_write_burst: 10,
            peer_requests_per_sec: 100,
            peer_burst: 200,
        }
    }
}

/// The rate limiters, shared by both services.
#[derive(Clone)]
pub struct Admission {
    user_reads: Arc<DefaultKeyedRateLimiter<String>>,
    user_writes: Arc<DefaultKeyedRateLimiter<String>>,
    peers: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn quota(per_sec: u32, burst: u32) -> Quota {
    let per_sec = NonZeroU32::new(per_sec.max(1)).expect("at least 1");
    Quota::per_second(per_sec).allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"))
}

impl Admission {
    pub fn new(limits: RateLimits) -> Self {
        Admission {
            user_reads: Arc::new(RateLimiter::keyed(quota(limits.user_reads_per_sec, limits.user_read_burst))),
            user_writes: Arc::new(RateLimiter::keyed(quota(limits.user_writes_per_sec, limits.user_write_burst))),
            peers: Arc::new(RateLimiter::keyed(quota(limits.peer_requests_per_sec, limits.peer_burst))),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one call of `class` by `caller` acting for `user` from `peer`,
    /// or RESOURCE_EXHAUSTED with the wait in RetryInfo.
    /// Admin tokens are operators' (timetable imports make thousands of
    /// calls) and are not limited.
    pub fn admit(&self, caller: &Caller, user: &str, peer: Option<IpAddr>, class: RpcClass) -> Result<(), Status> {
        if caller.role == Role::Admin {
            return Ok(());
        }
        if caller.role == Role::Passenger
            && let Some(peer) = peer
        {
            self.peers
                .check_key(&peer)
                .map_err(|wait| self.throttled("address", wait.wait_time_from(self.clock.now())))?;
        }
        let users = match class {
            RpcClass::Read => &self.user_reads,
            RpcClass::Write => &self.user_writes,
        };
        users.check_key(&user.to_owned()).map_err(|wait| self.throttled("user", wait.wait_time_from(self.clock.now())))
    }

    fn throttled(&self, who: &str, wait: Duration) -> Status {
        let details = ErrorDetails::with_retry_info(Some(wait));
        let message = format!("too many requests for this {who}; retry in {} ms", wait.as_millis().max(1));
        crate::status::bounded(&crate::reasons::RATE_LIMITED, message, details)
    }

    /// Forgets idle buckets so memory stays bounded however many users and
    /// addresses have called; run periodically.
    pub fn forget_idle(&self) {
        self.user_reads.retain_recent();
        self.user_writes.retain_recent();
        self.peers.retain_recent();
    }
}

/// The caller's deadline from `grpc-timeout`, if it sent one.
pub fn deadline<T>(request: &Request<T>) -> Result<Option<Instant>, Status> {
    let Some(value) = request.metadata().get("grpc-timeout") else { return Ok(None) };
    let text = value.to_str().map_err(|_| invalid_argument("grpc-timeout", "is not ASCII"))?;
    let timeout = parse_grpc_timeout(text)
        .ok_or_else(|| invalid_argument("grpc-timeout", &format!("{} is malformed", echo(text))))?;
    Ok(Some(Instant::now() + timeout))
}

/// `grpc-timeout` is up to 8 digits and a unit: H, M, S, m (ms), u (µs), n (ns).
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("5"), None);
        assert_eq!(parse_grpc_timeout("123456789m"), None);
        assert_eq!(parse_grpc_timeout("m"), None);
    }

    #[test]
    fn a_flooding_user_is_throttled_while_another_is_not() {
        let admission =
            Admission::new(RateLimits { user_write_burst: 3, user_writes_per_sec: 1, ..RateLimits::default() });
        let agent = Caller { user: "frontend".into(), role: Role::Agent };
        for _ in 0..3 {
            admission.admit(&agent, "flood", None, RpcClass::Write).unwrap();
        }
        let refused = admission.admit(&agent, "flood", None, RpcClass::Write).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.get_details_retry_info().and_then(|info| info.retry_delay).is_some());
        admission.admit(&agent, "calm", None, RpcClass::Write).unwrap();
    }
}
