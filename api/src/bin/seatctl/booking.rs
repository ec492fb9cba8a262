//! Booking commands: search, availability, seat map, hold, confirm, cancel,
//! one order and a user's orders. One function per subcommand.

use crate::Failure;
use crate::parse::{date_arg, passenger_arg, train_date};
use crate::remembered::OrderBook;
use crate::session::Session;
use api::pb;

/// `seatctl search FROM TO --date D`
pub async fn search(session: &mut Session, from: String, to: String, date: &str) -> Result<(), Failure> {
    let date = date_arg("--date", date)?.to_string();
    let request = pb::SearchTrainsRequest { date, from_station: from, to_station: to };
    let reply = session.booking.search_trains(request).await?.into_inner();
    session.output.offers(&reply.trains);
    Ok(())
}

/// `seatctl availability TRAIN FROM TO --date D`
pub async fn availability(
    session: &mut Session,
    train: String,
    from: String,
    to: String,
    date: &str,
) -> Result<(), Failure> {
    let train_date = Some(train_date(train, date)?);
    let request = pb::GetAvailabilityRequest { train_date, from_station: from, to_station: to };
    let offer = session.booking.get_availability(request).await?.into_inner();
    session.output.offers(&[offer]);
    Ok(())
}

/// `seatctl seatmap TRAIN CARRIAGE FROM TO --date D`
pub async fn seat_map(
    session: &mut Session,
    train: String,
    carriage: u32,
    from: String,
    to: String,
    date: &str,
) -> Result<(), Failure> {
    let train_date = Some(train_date(train, date)?);
    let request = pb::GetSeatMapRequest { train_date, carriage, from_station: from.clone(), to_station: to.clone() };
    let map = session.booking.get_seat_map(request).await?.into_inner();
    session.output.seat_map(&map, &from, &to);
    Ok(())
}

/// What `seatctl hold` asks for.
pub struct HoldArgs {
    pub train: String,
    pub from: String,
    pub to: String,
    pub date: String,
    pub user: Option<String>,
    pub passengers: Vec<String>,
    pub request_id: Option<String>,
}

/// `seatctl hold TRAIN FROM TO --passenger P...`. An order held for a
/// `--user` goes into `order_book`, if given, so that later commands on it
/// act for the same user.
pub async fn hold(session: &mut Session, hold: HoldArgs, order_book: Option<&OrderBook>) -> Result<(), Failure> {
    let user = hold.user.clone();
    let passengers = hold.passengers.iter().map(|text| passenger_arg(text)).collect::<Result<Vec<_>, _>>()?;
    let request = pb::HoldRequest {
        request_id: hold.request_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        user_id: hold.user.unwrap_or_default(),
        train_date: Some(train_date(hold.train, &hold.date)?),
        from_station: hold.from,
        to_station: hold.to,
        passengers,
    };
    let order = session.booking.hold(request).await?.into_inner();
    session.output.order(&order);
    if let (Some(book), Some(user)) = (order_book, user)
        && let Err(error) = book.remember(&order.order_id, &user)
    {
        // The hold stands; only the shortcut for later commands is lost.
        eprintln!("warning: {}: {error}; pass --user {user} to confirm or cancel it", book.path().display());
    }
    Ok(())
}

/// `seatctl confirm ORDER`
pub async fn confirm(session: &mut Session, order: String, user: Option<String>) -> Result<(), Failure> {
    let request = pb::ConfirmRequest { order_id: order, user_id: user.unwrap_or_default() };
    let order = session.booking.confirm(request).await?.into_inner();
    session.output.order(&order);
    Ok(())
}

/// `seatctl cancel ORDER`
pub async fn cancel(session: &mut Session, order: String, user: Option<String>) -> Result<(), Failure> {
    let request = pb::CancelRequest { order_id: order, user_id: user.unwrap_or_default() };
    let order = session.booking.cancel(request).await?.into_inner();
    session.output.order(&order);
    Ok(())
}

/// `seatctl order ORDER`
pub async fn order(session: &mut Session, order: String, user: Option<String>) -> Result<(), Failure> {
    let request = pb::GetOrderRequest { order_id: order, user_id: user.unwrap_or_default() };
    let order = session.booking.get_order(request).await?.into_inner();
    session.output.order(&order);
    Ok(())
}

/// `seatctl orders [--user U]`
pub async fn orders(
    session: &mut Session,
    user: Option<String>,
    page_size: u32,
    page_token: String,
) -> Result<(), Failure> {
    let request = pb::ListOrdersRequest { user_id: user.unwrap_or_default(), page_size, page_token };
    let reply = session.booking.list_orders(request).await?.into_inner();
    session.output.orders(&reply);
    Ok(())
}
