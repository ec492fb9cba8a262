//! Waitlist (候补) and ticket change (改签) commands, and how their replies print.

use crate::Failure;
use crate::parse::{date_arg, train_date};
use crate::render::Output;
use crate::session::Session;
use api::pb;
use serde_json::Value;

/// What `seatctl waitlist submit` asks for.
pub struct SubmitArgs {
    pub from: String,
    pub to: String,
    pub date: String,
    pub choices: Vec<String>,
    pub passengers: Vec<String>,
    pub user: Option<String>,
    pub cutoff_ms: u64,
    /// The client's idempotency key (`client_request_id`).
    pub request_id: Option<String>,
}

/// `seatctl waitlist submit FROM TO --choice TRAIN:CLASS[@DATE]... --passenger NAME,ID_NUMBER...`
pub async fn submit(session: &mut Session, args: SubmitArgs) -> Result<(), Failure> {
    let choices = args.choices.iter().map(|text| choice_arg(text, &args.date)).collect::<Result<Vec<_>, _>>()?;
    let passengers = args.passengers.iter().map(|text| passenger_arg(text)).collect::<Result<Vec<_>, _>>()?;
    let request = pb::SubmitWaitlistRequest {
        user_id: args.user.unwrap_or_default(),
        passengers,
        from_station: args.from,
        to_station: args.to,
        choices,
        cutoff_ms: args.cutoff_ms,
        client_request_id: args.request_id.unwrap_or_default(),
    };
    let reply = session.waitlist.submit_waitlist(request).await?.into_inner();
    print_request(&session.output, &reply);
    Ok(())
}

/// `seatctl waitlist activate|cancel|get REQUEST`
pub async fn request_step(
    session: &mut Session,
    step: &str,
    request_id: String,
    user: Option<String>,
) -> Result<(), Failure> {
    let request = pb::WaitlistRequestRef { request_id, user_id: user.unwrap_or_default() };
    let reply = match step {
        "activate" => session.waitlist.activate_waitlist(request).await?,
        "cancel" => session.waitlist.cancel_waitlist(request).await?,
        _ => session.waitlist.get_waitlist(request).await?,
    };
    print_request(&session.output, &reply.into_inner());
    Ok(())
}

/// `seatctl waitlist list [--user U]`
pub async fn list(session: &mut Session, user: Option<String>) -> Result<(), Failure> {
    let request = pb::ListWaitlistRequest { user_id: user.unwrap_or_default() };
    let reply = session.waitlist.list_waitlist(request).await?.into_inner();
    if session.output.json {
        let requests: Vec<Value> = reply.requests.iter().map(request_json).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "requests": requests })).expect("json"));
        return Ok(());
    }
    println!("{} waitlist requests", reply.requests.len());
    for request in &reply.requests {
        print_request(&session.output, request);
    }
    Ok(())
}

/// What `seatctl change` asks for.
pub struct ChangeArgs {
    pub order: String,
    pub train: String,
    pub date: String,
    pub class: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
}

/// `seatctl change ORDER TRAIN [--date D] [--class C] [--from S --to S]`
pub async fn change(session: &mut Session, args: ChangeArgs) -> Result<(), Failure> {
    let seat_class = match &args.class {
        Some(text) => {
            let class: engine::domain::seat_class::SeatClass = text.parse().map_err(Failure::Usage)?;
            api::convert::seat_class_to_pb(class).into()
        }
        None => 0,
    };
    let request = pb::ChangeOrderRequest {
        order_id: args.order,
        user_id: args.user.unwrap_or_default(),
        train_date: Some(train_date(args.train, &args.date)?),
        seat_class,
        from_station: args.from.unwrap_or_default(),
        to_station: args.to.unwrap_or_default(),
    };
    let reply = session.change.change_order(request).await?.into_inner();
    let outcome = pb::ChangeOutcome::try_from(reply.outcome).map(|o| o.as_str_name()).unwrap_or("?");
    let outcome = outcome.trim_start_matches("CHANGE_OUTCOME_").to_ascii_lowercase();
    if session.output.json {
        let mut value = serde_json::to_value(&reply).expect("replies serialise");
        value["outcome"] = Value::String(outcome);
        for key in ["old_order", "new_order"] {
            if let Some(order) = value.get_mut(key) {
                crate::render::name_enums(order);
            }
        }
        println!("{}", serde_json::to_string_pretty(&value).expect("json"));
        return Ok(());
    }
    println!("change {}  {outcome}", reply.change_id);
    if let Some(order) = &reply.old_order {
        session.output.order(order);
    }
    match &reply.new_order {
        Some(order) => session.output.order(order),
        None => println!("new order {} not confirmed yet", reply.new_order_id),
    }
    Ok(())
}

/// TRAIN:CLASS[@DATE], the date defaulting to `date`.
fn choice_arg(text: &str, date: &str) -> Result<pb::RequestedChoice, Failure> {
    let usage = || Failure::Usage(format!("--choice {text:?}: expected TRAIN:CLASS[@DATE], e.g. G1:business"));
    let (head, date) = match text.split_once('@') {
        Some((head, own_date)) => (head, own_date),
        None => (text, date),
    };
    let (train, class) = head.split_once(':').ok_or_else(usage)?;
    let class: engine::domain::seat_class::SeatClass = class.trim().parse().map_err(Failure::Usage)?;
    Ok(pb::RequestedChoice {
        train_date: Some(train_date(train.trim().to_owned(), &date_arg("--choice", date)?.to_string())?),
        seat_class: api::convert::seat_class_to_pb(class).into(),
    })
}

/// NAME,ID_NUMBER
fn passenger_arg(text: &str) -> Result<pb::WaitlistPassenger, Failure> {
    let (name, id_number) =
        text.split_once(',').ok_or_else(|| Failure::Usage(format!("--passenger {text:?}: expected NAME,ID_NUMBER")))?;
    Ok(pb::WaitlistPassenger { name: name.trim().to_owned(), id_number: id_number.trim().to_owned() })
}

fn status_name(status: i32) -> String {
    let name = pb::WaitlistStatus::try_from(status).map(|s| s.as_str_name()).unwrap_or("?");
    name.trim_start_matches("WAITLIST_STATUS_").to_ascii_lowercase()
}

fn state_name(state: i32) -> String {
    let name = pb::ChoiceState::try_from(state).map(|s| s.as_str_name()).unwrap_or("?");
    name.trim_start_matches("CHOICE_STATE_").to_ascii_lowercase()
}

/// The request as JSON, enums by name.
fn request_json(request: &pb::WaitlistRequest) -> Value {
    let mut value = serde_json::to_value(request).expect("replies serialise");
    value["status"] = Value::String(status_name(request.status));
    if let Some(choices) = value.get_mut("choices").and_then(Value::as_array_mut) {
        for (choice, shown) in request.choices.iter().zip(choices) {
            shown["state"] = Value::String(state_name(choice.state));
            crate::render::name_enums(shown);
        }
    }
    value
}

fn print_request(output: &Output, request: &pb::WaitlistRequest) {
    if output.json {
        println!("{}", serde_json::to_string_pretty(&request_json(request)).expect("json"));
        return;
    }
    println!(
        "waitlist {}  {}  prepaid ¥{}  refund ¥{}",
        request.request_id,
        status_name(request.status),
        yuan(request.prepaid_fen),
        yuan(request.refund_fen)
    );
    let cutoff_date = engine::domain::state::service_date_of(request.cutoff_ms);
    let cutoff_time = api::convert::local_time(request.cutoff_ms);
    println!("  {}  cut-off {cutoff_date} {cutoff_time} (UTC+8)", request.passenger_names.join(", "));
    for (index, choice) in request.choices.iter().enumerate() {
        let train_date = choice.train_date.clone().unwrap_or_default();
        let class = pb::SeatClass::try_from(choice.seat_class).map(|c| c.as_str_name()).unwrap_or("?");
        let state = state_name(choice.state);
        let place = if state == "waiting" { format!(" ({} ahead)", choice.ahead) } else { String::new() };
        println!(
            "  choice {index}: {} {} {} {} → {}  ¥{}  {state}{place}",
            train_date.train,
            train_date.date,
            class.trim_start_matches("SEAT_CLASS_").to_ascii_lowercase(),
            choice.from_station,
            choice.to_station,
            yuan(choice.fare_fen)
        );
    }
    if !request.order_id.is_empty() {
        println!("  order {}", request.order_id);
    }
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}
