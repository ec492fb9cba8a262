//! Tokens already verified, so a caller's next call costs a lookup, not a
//! signature check and two JSON decodes.
//!
//! A booking frontend sends the same token with every call until it expires.
//! Verifying it each time was 7% of seatd's CPU under load with HS256
//! (BENCHMARKS.md, "Durable write path, third step"), and an RS256 check
//! costs far more. The key is the whole token, signature included, so only
//! the exact string that verified is trusted again; a hit still answers
//! "expired" once the token's `exp` (plus the clock-skew leeway) has passed.

use super::{CLOCK_SKEW_LEEWAY_SECS, Caller};
use dashmap::DashMap;

/// Verified tokens kept at most. Bounds memory (about 300 bytes a token:
/// ~20 MB) while covering the callers one node serves at once; when full,
/// the cache is emptied and refills from the calls that follow, which is
/// cheaper than tracking recency on every hit.
pub const VERIFIED_TOKENS_MAX: usize = 65_536;

/// What a verified token established, and until when it holds.
#[derive(Clone, Debug)]
struct Verified {
    caller: Caller,
    /// `exp` plus the leeway: after this second the token is refused.
    valid_until_secs: u64,
}

/// What the cache says of a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Verified before and still within its expiry.
    Valid(Caller),
    /// Verified before, but its expiry has passed since.
    Expired,
    /// Not verified here yet (or forgotten): verify it in full.
    Unknown,
}

#[derive(Default)]
pub struct VerifiedTokens {
    tokens: DashMap<Box<str>, Verified>,
}

impl VerifiedTokens {
    pub fn lookup(&self, token: &str, now_secs: u64) -> Lookup {
        let Some(verified) = self.tokens.get(token) else { return Lookup::Unknown };
        if now_secs <= verified.valid_until_secs {
            return Lookup::Valid(verified.caller.clone());
        }
        drop(verified);
        self.tokens.remove(token);
        Lookup::Expired
    }

    /// Remembers a token that just passed full verification.
    pub fn remember(&self, token: &str, caller: &Caller, exp_secs: u64) {
        if self.tokens.len() >= VERIFIED_TOKENS_MAX {
            self.tokens.clear();
        }
        let verified =
            Verified { caller: caller.clone(), valid_until_secs: exp_secs.saturating_add(CLOCK_SKEW_LEEWAY_SECS) };
        self.tokens.insert(token.into(), verified);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn caller() -> Caller {
        Caller { user: "pat".into(), role: Role::Passenger }
    }

    #[test]
    fn a_remembered_token_is_valid_until_its_expiry_and_leeway_then_expired() {
        let tokens = VerifiedTokens::default();
        assert_eq!(tokens.lookup("t", 100), Lookup::Unknown);
        tokens.remember("t", &caller(), 1_000);
        assert_eq!(tokens.lookup("t", 1_000 + CLOCK_SKEW_LEEWAY_SECS), Lookup::Valid(caller()));
        assert_eq!(tokens.lookup("t", 1_001 + CLOCK_SKEW_LEEWAY_SECS), Lookup::Expired);
        assert_eq!(tokens.lookup("t", 500), Lookup::Unknown, "an expired token is forgotten");
    }

    #[test]
    fn only_the_exact_token_string_is_trusted() {
        let tokens = VerifiedTokens::default();
        tokens.remember("header.payload.signature", &caller(), 1_000);
        assert_eq!(tokens.lookup("header.payload.signaturf", 10), Lookup::Unknown);
        assert_eq!(tokens.lookup("header.payload.signatur", 10), Lookup::Unknown);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let tokens = VerifiedTokens::default();
        for index in 0..VERIFIED_TOKENS_MAX + 10 {
            tokens.remember(&index.to_string(), &caller(), 1_000);
            assert!(tokens.len() <= VERIFIED_TOKENS_MAX);
        }
        assert_eq!(tokens.lookup(&(VERIFIED_TOKENS_MAX + 9).to_string(), 10), Lookup::Valid(caller()));
    }
}
