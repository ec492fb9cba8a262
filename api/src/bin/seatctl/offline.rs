//! Commands that need no server: minting a development token. (The scale
//! test's synthetic timetable is `seatsynth timetable`, in seat-tools.)

use crate::Failure;
use crate::render::Output;
use api::auth::Role;

/// `seatctl token`: an HS256 token signed with the secret in `secret_file`.
pub fn mint(
    output: &Output,
    secret_file: &std::path::Path,
    role: &str,
    sub: &str,
    ttl_hours: u64,
) -> Result<(), Failure> {
    let role: Role = serde_json::from_value(serde_json::Value::String(role.to_ascii_lowercase()))
        .map_err(|_| Failure::Usage(format!("--role {role:?}: expected passenger, agent, admin or feed")))?;
    let secret = std::fs::read_to_string(secret_file)
        .map_err(|error| Failure::Usage(format!("{}: {error}", secret_file.display())))?;
    let token =
        api::auth::mint_hs256(secret.trim().as_bytes(), sub, role, api::auth::unix_now_secs(), ttl_hours * 3600);
    output.token(&token);
    Ok(())
}
