//! Authentication and authorisation: every Booking and Admin call carries a
//! JWT bearer token (HS256 or RS256), checked here before any handler runs.
//!
//! Roles: `passenger` books and reads only as the token's subject; `agent`
//! is a booking frontend acting for the user it names; `admin` may also use
//! the Admin service; `feed` is a downstream system reading the event feed
//! (the Feed service) and nothing else. Health and reflection need no token.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tonic::{Request, Status};

mod verified;
use verified::{Lookup, VerifiedTokens};

/// Leeway for exp and nbf, in seconds: tolerates small clock skew between
/// the token issuer and this server.
pub const CLOCK_SKEW_LEEWAY_SECS: u64 = 30;
/// Longest subject accepted, matching the user ids the API takes.
pub const SUBJECT_BYTES_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Passenger,
    Agent,
    Admin,
    /// A downstream system (payment, notification, a relay): reads the event
    /// feed only.
    Feed,
}

/// The claims seat tokens carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id; for a passenger, the only user it may act as.
    pub sub: String,
    pub role: Role,
    /// Expiry, Unix seconds. Required.
    pub exp: u64,
    /// Not before, Unix seconds. Optional; checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, Unix seconds.
    #[serde(default)]
    pub iat: u64,
}

/// Who is calling, as established from the token; stored in request extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub role: Role,
}

/// Verification keys. At least one must be configured: there is no way to
/// run the services without authentication.
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<Vec<(Algorithm, DecodingKey)>>,
    /// Tokens that verified, so a repeated token skips the signature check.
    verified: Arc<VerifiedTokens>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("no JWT verification key configured: give an HS256 secret or an RS256 public key")]
    NoKeys,
    #[error("the HS256 secret must be at least 32 bytes")]
    ShortSecret,
    #[error("RS256 public key: {0}")]
    BadPublicKey(String),
}

/// Shortest HS256 secret accepted: 256 bits, the hash's own size.
pub const HS256_SECRET_BYTES_MIN: usize = 32;

impl Authenticator {
    pub fn new(hs256_secret: Option<&[u8]>, rs256_public_pem: Option<&[u8]>) -> Result<Self, AuthConfigError> {
        let mut keys = Vec::new();
        if let Some(secret) = hs256_secret {
            if secret.len() < HS256_SECRET_BYTES_MIN {
                return Err(AuthConfigError::ShortSecret);
            }
            keys.push((Algorithm::HS256, DecodingKey::from_secret(secret)));
        }
        if let Some(pem) = rs256_public_pem {
            let key =
                DecodingKey::from_rsa_pem(pem).map_err(|error| AuthConfigError::BadPublicKey(error.to_string()))?;
            keys.push((Algorithm::RS256, key));
        }
        if keys.is_empty() {
            return Err(AuthConfigError::NoKeys);
        }
        Ok(Authenticator { keys: Arc::new(keys), verified: Arc::default() })
    }

    /// The caller named by `authorization: Bearer <jwt>`, or UNAUTHENTICATED.
    pub fn authenticate(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Caller, Status> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| unauthenticated("missing authorization metadata: send `authorization: Bearer <token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .ok_or_else(|| unauthenticated("authorization must be `Bearer <token>`"))?;
        self.authenticate_token(token, unix_now_secs())
    }

    /// `authenticate` for the token itself, at `now_secs`: a token verified
    /// before answers from the cache until it expires.
    fn authenticate_token(&self, token: &str, now_secs: u64) -> Result<Caller, Status> {
        match self.verified.lookup(token, now_secs) {
            Lookup::Valid(caller) => return Ok(caller),
            Lookup::Expired => return Err(unauthenticated(token_error(&ErrorKind::ExpiredSignature))),
            Lookup::Unknown => {}
        }
        let algorithm =
            jsonwebtoken::decode_header(token).map_err(|_| unauthenticated("the bearer token is not a JWT"))?.alg;
        let (_, key) = self
            .keys
            .iter()
            .find(|(configured, _)| *configured == algorithm)
            .ok_or_else(|| unauthenticated(format!("tokens signed with {algorithm:?} are not accepted")))?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = CLOCK_SKEW_LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|error| unauthenticated(token_error(error.kind())))?
            .claims;
        if claims.sub.is_empty()
            || claims.sub.len() > SUBJECT_BYTES_MAX
            || !claims.sub.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(unauthenticated("token subject must be 1 to 64 printable ASCII characters"));
        }
        let caller = Caller { user: claims.sub, role: claims.role };
        self.verified.remember(token, &caller, claims.exp);
        Ok(caller)
    }

    /// A tonic interceptor admitting callers whose role is in `roles`.
    pub fn interceptor(
        &self,
        roles: &'static [Role],
    ) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone + use<> {
        let authenticator = self.clone();
        move |mut request: Request<()>| {
            let caller = authenticator.authenticate(request.metadata())?;
            if !roles.contains(&caller.role) {
                return Err(permission_denied(format!("role {:?} may not call this service", caller.role)));
            }
            request.extensions_mut().insert(caller);
            Ok(request)
        }
    }
}

fn unauthenticated(message: impl Into<String>) -> Status {
    crate::status::refusal(&crate::reasons::UNAUTHENTICATED, message)
}

fn permission_denied(message: impl Into<String>) -> Status {
    crate::status::refusal(&crate::reasons::PERMISSION_DENIED, message)
}

fn token_error(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the {claim} claim"),
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted".into(),
        other => format!("the token is invalid: {other:?}"),
    }
}

/// The caller the interceptor stored; its absence is a wiring bug.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request.extensions().get::<Caller>().cloned().ok_or_else(|| Status::internal("request was not authenticated"))
}

/// The user a booking call acts for. A passenger acts only as itself: a
/// request naming another user is refused. Agents and admins name the user.
pub fn acting_user(caller: &Caller, requested: &str) -> Result<String, Status> {
    match caller.role {
        Role::Passenger if requested.is_empty() || requested == caller.user => Ok(caller.user.clone()),
        Role::Passenger => Err(permission_denied("user_id: a passenger token acts only for its own user")),
        Role::Agent | Role::Admin => crate::convert::client_id("user_id", requested),
        Role::Feed => Err(permission_denied("a feed token reads the event feed only")),
    }
}

/// The user an order lookup is limited to: the passenger itself, or the
/// user an agent or admin optionally names.
pub fn order_scope(caller: &Caller, requested: &str) -> Result<Option<String>, Status> {
    match caller.role {
        Role::Passenger | Role::Feed => acting_user(caller, requested).map(Some),
        Role::Agent | Role::Admin => crate::convert::optional_user("user_id", requested),
    }
}

/// Signs a token: for seatctl's development tokens, the demo's printed
/// tokens, and tests.
pub fn mint_hs256(secret: &[u8], sub: &str, role: Role, now_secs: u64, ttl_secs: u64) -> String {
    let claims = Claims { sub: sub.to_owned(), role, exp: now_secs + ttl_secs, nbf: None, iat: now_secs };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing cannot fail")
}

pub fn unix_now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataMap;

    /// A test-only key pair; see api/tests/fixtures/README.
    const PRIVATE_PEM: &[u8] = include_bytes!("../tests/fixtures/rs256-test-private.pem");
    const PUBLIC_PEM: &[u8] = include_bytes!("../tests/fixtures/rs256-test-public.pem");
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn metadata(token: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
        metadata
    }

    fn rs256_token(role: Role) -> String {
        let now = unix_now_secs();
        let claims = Claims { sub: "rsa-user".into(), role, exp: now + 600, nbf: None, iat: now };
        let key = EncodingKey::from_rsa_pem(PRIVATE_PEM).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
    }

    #[test]
    fn rs256_tokens_verify_with_the_public_key() {
        let authenticator = Authenticator::new(None, Some(PUBLIC_PEM)).unwrap();
        let caller = authenticator.authenticate(&metadata(&rs256_token(Role::Agent))).unwrap();
        assert_eq!(caller, Caller { user: "rsa-user".into(), role: Role::Agent });
        let hs256 = mint_hs256(SECRET, "x", Role::Admin, unix_now_secs(), 60);
        assert_eq!(authenticator.authenticate(&metadata(&hs256)).unwrap_err().code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn a_verified_token_is_answered_from_the_cache_until_it_expires() {
        let authenticator = Authenticator::new(Some(SECRET), None).unwrap();
        let now = unix_now_secs();
        let token = mint_hs256(SECRET, "pat", Role::Passenger, now, 60);
        let pat = Caller { user: "pat".into(), role: Role::Passenger };
        assert_eq!(authenticator.authenticate(&metadata(&token)).unwrap(), pat);
        assert_eq!(authenticator.authenticate_token(&token, now + 60 + CLOCK_SKEW_LEEWAY_SECS).unwrap(), pat);
        let expired = authenticator.authenticate_token(&token, now + 61 + CLOCK_SKEW_LEEWAY_SECS).unwrap_err();
        assert_eq!(expired.code(), tonic::Code::Unauthenticated);
        assert!(expired.message().contains("expired"), "{}", expired.message());
        // A token that fails verification is never remembered: it fails again.
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{first}{}", &signature[1..]);
        for _ in 0..2 {
            assert_eq!(
                authenticator.authenticate(&metadata(&forged)).unwrap_err().code(),
                tonic::Code::Unauthenticated
            );
        }
    }

    #[test]
    fn both_algorithms_can_be_configured_together() {
        let authenticator = Authenticator::new(Some(SECRET), Some(PUBLIC_PEM)).unwrap();
        assert!(authenticator.authenticate(&metadata(&rs256_token(Role::Admin))).is_ok());
        assert!(
            authenticator.authenticate(&metadata(&mint_hs256(SECRET, "x", Role::Admin, unix_now_secs(), 60))).is_ok()
        );
    }

    #[test]
    fn configuration_refuses_no_keys_and_short_secrets() {
        assert!(matches!(Authenticator::new(None, None), Err(AuthConfigError::NoKeys)));
        assert!(matches!(Authenticator::new(Some(b"short"), None), Err(AuthConfigError::ShortSecret)));
        assert!(matches!(Authenticator::new(None, Some(b"not a pem")), Err(AuthConfigError::BadPublicKey(_))));
    }

    #[test]
    fn passengers_act_only_as_themselves() {
        let passenger = Caller { user: "pat".into(), role: Role::Passenger };
        assert_eq!(acting_user(&passenger, "").unwrap(), "pat");
        assert_eq!(acting_user(&passenger, "pat").unwrap(), "pat");
        assert_eq!(acting_user(&passenger, "other").unwrap_err().code(), tonic::Code::PermissionDenied);
        let agent = Caller { user: "frontend".into(), role: Role::Agent };
        assert_eq!(acting_user(&agent, "pat").unwrap(), "pat");
        assert_eq!(acting_user(&agent, "").unwrap_err().code(), tonic::Code::InvalidArgument);
    }
}
