//! `seatctl feed`: the event feed, printed one line per event as it arrives.

use crate::Failure;
use crate::parse::{date_arg, train_date};
use crate::session::Session;
use api::pb;

/// What `seatctl feed` asks for.
pub struct FeedArgs {
    pub after: u64,
    pub follow: bool,
    pub trains: Vec<String>,
    pub date: Option<String>,
}

/// `seatctl feed [--after POSITION] [--follow] [--train T]... [--date D]`:
/// with --train, those trains on --date (default today); with --date
/// alone, every train of that date. Prints until caught up, or with
/// --follow until interrupted.
pub async fn feed(session: &mut Session, args: FeedArgs) -> Result<(), Failure> {
    let (train_dates, date) = if args.trains.is_empty() {
        let date = args.date.map(|text| date_arg("--date", &text).map(|date| date.to_string())).transpose()?;
        (Vec::new(), date.unwrap_or_default())
    } else {
        let date = args.date.as_deref().unwrap_or("today");
        let train_dates = args.trains.into_iter().map(|train| train_date(train, date)).collect::<Result<_, _>>()?;
        (train_dates, String::new())
    };
    let request =
        pb::StreamEventsRequest { after_position: args.after, train_dates, date, follow: args.follow, after_seq: 0 };
    let mut events = session.feed.stream_events(request).await?.into_inner();
    while let Some(event) = events.message().await? {
        session.output.feed_event(&event);
    }
    Ok(())
}
