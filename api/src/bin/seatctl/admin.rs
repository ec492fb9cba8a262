//! Operator commands: import a timetable, open train-dates, list them, close
//! sales, engine counters, the presale run, the cluster. One function per subcommand.

use crate::Failure;
use crate::parse::{date_arg, train_date};
use crate::session::Session;
use api::pb;
use chrono::Days;
use engine::domain::timetable_file::parse_timetable;

/// `seatctl import FILE`: the file's stations in one call, then each train.
pub async fn import(session: &mut Session, file: &std::path::Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file).map_err(|error| Failure::Usage(format!("{}: {error}", file.display())))?;
    let timetable = parse_timetable(&text).map_err(|error| Failure::Usage(format!("{}: {error}", file.display())))?;
    let (stations, trains) = api::timetable::timetable_requests(&timetable);
    let stations_upserted = if stations.stations.is_empty() {
        0
    } else {
        session.admin.upsert_stations(stations).await?.into_inner().upserted
    };
    let mut outcomes = Vec::new();
    for train in trains {
        let code = train.train.as_ref().map(|t| t.code.clone()).unwrap_or_default();
        outcomes.push((code, session.admin.upsert_train(train).await?.into_inner()));
    }
    session.output.imported(stations_upserted, &outcomes);
    Ok(())
}

/// `seatctl open [--train T]... --from D --days N`
pub async fn open(session: &mut Session, trains: Vec<String>, from: &str, days: u64) -> Result<(), Failure> {
    let first = date_arg("--from", from)?;
    let last = first + Days::new(days.max(1) - 1);
    let request = pb::OpenTrainDatesRequest { trains, first_date: first.to_string(), last_date: last.to_string() };
    let reply = session.admin.open_train_dates(request).await?.into_inner();
    session.output.opened(&reply);
    Ok(())
}

/// `seatctl train-dates [--date D]`
pub async fn train_dates(
    session: &mut Session,
    date: Option<String>,
    page_size: u32,
    page_token: String,
) -> Result<(), Failure> {
    let date = date.map(|date| date_arg("--date", &date).map(|d| d.to_string())).transpose()?.unwrap_or_default();
    let request = pb::ListTrainDatesRequest { date, page_size, page_token };
    let reply = session.admin.list_train_dates(request).await?.into_inner();
    session.output.train_dates(&reply);
    Ok(())
}

/// `seatctl close-sales TRAIN --date D`
pub async fn close_sales(session: &mut Session, train: String, date: &str) -> Result<(), Failure> {
    let request = pb::CloseSalesRequest { train_date: Some(train_date(train, date)?) };
    session.admin.close_sales(request).await?;
    session.output.done("sales closed");
    Ok(())
}

/// `seatctl stats`
pub async fn stats(session: &mut Session) -> Result<(), Failure> {
    let stats = session.admin.stats(pb::StatsRequest {}).await?.into_inner();
    session.output.stats(&stats);
    Ok(())
}

/// `seatctl presale`
pub async fn presale(session: &mut Session) -> Result<(), Failure> {
    let reply = session.admin.run_presale(pb::RunPresaleRequest {}).await?.into_inner();
    session.output.presale(&reply);
    Ok(())
}

/// `seatctl cluster [--train T --date D]`
pub async fn cluster(session: &mut Session, train: Option<String>, date: &str) -> Result<(), Failure> {
    let train_date = train.map(|train| train_date(train, date)).transpose()?;
    let reply = session.admin.cluster_status(pb::ClusterStatusRequest { train_date: train_date.clone() }).await?;
    session.output.cluster(&reply.into_inner(), train_date.as_ref());
    Ok(())
}
