//! Catalogue commands: stations for a picker, and one train-date's route
//! and composition. One function per subcommand.

use crate::Failure;
use crate::parse::train_date;
use crate::session::Session;
use api::pb;

/// `seatctl stations [PREFIX]`
pub async fn stations(
    session: &mut Session,
    prefix: Option<String>,
    page_size: u32,
    page_token: String,
) -> Result<(), Failure> {
    let request = pb::ListStationsRequest { prefix: prefix.unwrap_or_default(), page_size, page_token };
    let reply = session.booking.list_stations(request).await?.into_inner();
    session.output.stations(&reply);
    Ok(())
}

/// `seatctl train TRAIN --date D`
pub async fn train(session: &mut Session, train: String, date: &str) -> Result<(), Failure> {
    let request = pb::GetTrainRequest { train_date: Some(train_date(train, date)?) };
    let detail = session.booking.get_train(request).await?.into_inner();
    session.output.train(&detail);
    Ok(())
}
