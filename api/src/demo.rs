//! The bundled demo: the Beijing–Shanghai high-speed line.

use chrono::{Days, NaiveDate};
use engine::domain::timetable_file::{Timetable, parse_timetable};
use engine::facade::{Engine, EngineError};

/// The demo timetable file; also the worked example of the file format.
pub const DEMO_TIMETABLE: &str = include_str!("../demo/beijing-shanghai.toml");
/// The demo opens today and this many following days, like a 15-day presale.
pub const DEMO_PRESALE_DAYS: u64 = 14;

pub fn demo_timetable() -> Timetable {
    parse_timetable(DEMO_TIMETABLE).expect("the bundled demo timetable parses")
}

/// What loading the demo did.
#[derive(Debug, Clone, Copy)]
pub struct DemoSummary {
    pub stations: usize,
    pub trains: usize,
    pub train_dates_opened: usize,
}

/// Loads the demo timetable and opens its trains from `today` for the presale
/// window. Loading it again changes nothing: upserts are unchanged and open
/// train-dates stay as they are.
pub async fn load_demo(engine: &Engine, today: NaiveDate) -> Result<DemoSummary, EngineError> {
    let timetable = demo_timetable();
    engine.upsert_stations(&timetable.stations).await?;
    for train in &timetable.trains {
        engine.upsert_train(train.clone()).await?;
    }
    let last = today + Days::new(DEMO_PRESALE_DAYS);
    let codes: Vec<String> = timetable.trains.iter().map(|train| train.code.clone()).collect();
    let opened = engine.open_train_dates(&codes, today, last).await?;
    Ok(DemoSummary {
        stations: timetable.stations.len(),
        trains: timetable.trains.len(),
        train_dates_opened: opened.opened,
    })
}

/// File in the data directory holding the demo's signing secret (created
/// once, mode 0600, so tokens stay valid across restarts).
pub const DEMO_SECRET_FILE: &str = "demo-jwt-secret";
/// File in the data directory where the demo writes ready-made tokens;
/// seatctl run from the same directory reads it.
pub const DEMO_TOKENS_FILE: &str = "demo-tokens.json";
/// Demo tokens last this long.
pub const DEMO_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;

/// Ready-made tokens for trying the demo.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DemoTokens {
    /// Role admin, subject "admin": the Admin service and any booking call.
    pub admin: String,
    /// Role agent, subject "demo-agent": books for whichever user it names.
    pub agent: String,
    /// Role passenger, subject "demo-passenger": books only as itself.
    pub passenger: String,
    /// Role feed, subject "demo-feed": reads the event feed only. Empty in
    /// a tokens file written before the feed existed.
    #[serde(default)]
    pub feed: String,
}

/// The demo's HS256 secret: read from the data directory, or generated and
/// saved there on first use.
pub fn demo_secret(data_dir: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(DEMO_SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(data_dir)?;
    let secret: String = (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect();
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(secret.as_bytes())?;
    Ok(secret.into_bytes())
}

/// Mints the demo tokens and writes them next to the secret.
pub fn write_demo_tokens(data_dir: &std::path::Path, secret: &[u8]) -> std::io::Result<DemoTokens> {
    use crate::auth::{Role, mint_hs256, unix_now_secs};
    let now = unix_now_secs();
    let tokens = DemoTokens {
        admin: mint_hs256(secret, "admin", Role::Admin, now, DEMO_TOKEN_TTL_SECS),
        agent: mint_hs256(secret, "demo-agent", Role::Agent, now, DEMO_TOKEN_TTL_SECS),
        passenger: mint_hs256(secret, "demo-passenger", Role::Passenger, now, DEMO_TOKEN_TTL_SECS),
        feed: mint_hs256(secret, "demo-feed", Role::Feed, now, DEMO_TOKEN_TTL_SECS),
    };
    let json = serde_json::to_string_pretty(&tokens).expect("tokens serialise");
    std::fs::write(data_dir.join(DEMO_TOKENS_FILE), json)?;
    Ok(tokens)
}
