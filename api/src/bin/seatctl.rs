//! seatctl: admin tool and simple booking client for seatd, over gRPC.

#[path = "seatctl/render.rs"]
mod render;

use api::auth::Role;
use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::{self};
use chrono::{Days, NaiveDate};
use clap::{Parser, Subcommand};
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use engine::domain::timetable_file::parse_timetable;
use render::Output;
use std::process::ExitCode;
use tonic::transport::Channel;

#[derive(Parser, Debug)]
#[command(name = "seatctl", version, about = "Admin tool and booking client for seatd")]
struct Args {
    /// seatd's gRPC address.
    #[arg(long, global = true, default_value = "http://127.0.0.1:50051", env = "SEATCTL_SERVER")]
    server: String,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Bearer token to call with. Without it, seatctl uses the tokens
    /// `seatd --demo` wrote to --tokens-file: admin for admin commands, agent
    /// when --user names a user, passenger otherwise.
    #[arg(long, global = true, env = "SEATCTL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// PEM CA certificate to trust for an https:// --server (default: the
    /// system's roots).
    #[arg(long, global = true, env = "SEATCTL_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// Where `seatd --demo` wrote its tokens.
    #[arg(long, global = true, default_value = "./data/demo-tokens.json", env = "SEATCTL_TOKENS_FILE")]
    tokens_file: std::path::PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load a timetable file (TOML; api/demo/beijing-shanghai.toml is the example).
    Import { file: std::path::PathBuf },
    /// Open train-dates: every train (or --train ones) from --from for --days days.
    Open {
        #[arg(long = "train")]
        trains: Vec<String>,
        /// First date: YYYY-MM-DD, today, tomorrow or +N.
        #[arg(long, default_value = "today")]
        from: String,
        /// Number of dates to open.
        #[arg(long, default_value_t = 15)]
        days: u64,
    },
    /// Trains from one station to another on a date.
    Search {
        /// Station code, name or pinyin.
        from: String,
        to: String,
        /// Travel date: YYYY-MM-DD, today, tomorrow or +N.
        #[arg(long, default_value = "today")]
        date: String,
    },
    /// Remaining seats and fares on one train-date.
    Availability {
        train: String,
        from: String,
        to: String,
        #[arg(long, default_value = "today")]
        date: String,
    },
    /// Draw one carriage's seats for a journey.
    Seatmap {
        train: String,
        carriage: u32,
        from: String,
        to: String,
        #[arg(long, default_value = "today")]
        date: String,
    },
    /// Hold seats. Passengers as NAME,ID_NUMBER,CLASS[,PICK|CARRIAGE-SEAT],
    /// e.g. "张三,11010519491231002X,second,A1" or "李四,...,first,02-05C".
    Hold {
        train: String,
        from: String,
        to: String,
        #[arg(long, default_value = "today")]
        date: String,
        /// Book for this user (an agent's job); default: the token's own user.
        #[arg(long)]
        user: Option<String>,
        #[arg(long = "passenger", required = true)]
        passengers: Vec<String>,
        /// Idempotency key; repeat it to retry safely. Default: a fresh one.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Pay for a held order.
    Confirm {
        order: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Cancel a hold or refund a paid order.
    Cancel {
        order: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Show one order.
    Order {
        order: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// A user's orders.
    Orders {
        /// Whose orders; default: the token's own user.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 20)]
        page_size: u32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Open train-dates, a page at a time.
    TrainDates {
        #[arg(long)]
        date: Option<String>,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Stop new holds on a train-date.
    CloseSales {
        train: String,
        #[arg(long, default_value = "today")]
        date: String,
    },
    /// Engine-wide counters.
    Stats,
    /// Run the presale scheduler now: open the presale window for every
    /// train, retire finished train-dates.
    Presale,
    /// Mint a development token (HS256) from a secret file; needs no server.
    Token {
        /// File holding the HS256 secret, e.g. data/demo-jwt-secret.
        #[arg(long)]
        secret_file: std::path::PathBuf,
        /// passenger, agent or admin.
        #[arg(long)]
        role: String,
        /// The token's subject: the user id it stands for.
        #[arg(long)]
        sub: String,
        #[arg(long, default_value_t = 24)]
        ttl_hours: u64,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let output = Output { json: args.json };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Status(status)) => {
            output.status_error(&status);
            ExitCode::FAILURE
        }
        Err(Failure::Usage(message)) => {
            output.usage_error(&message);
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Status(tonic::Status),
    Usage(String),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure::Status(status)
    }
}

/// A channel to `server`; TLS for https:// URLs, trusting `ca_file` or the system's roots.
async fn connect(server: &str, ca_file: Option<&std::path::Path>) -> Result<Channel, Failure> {
    let mut endpoint =
        Channel::from_shared(server.to_owned()).map_err(|error| Failure::Usage(format!("--server: {error}")))?;
    if server.starts_with("https://") {
        let tls = match ca_file {
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|error| Failure::Usage(format!("{}: {error}", path.display())))?;
                tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(pem))
            }
            None => tonic::transport::ClientTlsConfig::new().with_native_roots(),
        };
        endpoint = endpoint.tls_config(tls).map_err(|error| Failure::Usage(format!("TLS: {error}")))?;
    }
    endpoint.connect().await.map_err(|error| Failure::Usage(format!("cannot reach seatd at {server}: {error}")))
}

async fn run(args: Args) -> Result<(), Failure> {
    let output = Output { json: args.json };
    if let Command::Token { secret_file, role, sub, ttl_hours } = &args.command {
        return mint(&output, secret_file, role, sub, *ttl_hours);
    }
    let token = resolve_token(&args)?;
    let channel = connect(&args.server, args.ca_file.as_deref()).await?;
    let mut booking = BookingClient::with_interceptor(channel.clone(), bearer(token.clone())?);
    let mut admin = AdminClient::with_interceptor(channel, bearer(token)?);
    match args.command {
        Command::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|error| Failure::Usage(format!("{}: {error}", file.display())))?;
            let timetable =
                parse_timetable(&text).map_err(|error| Failure::Usage(format!("{}: {error}", file.display())))?;
            let (stations, trains) = api::timetable::timetable_requests(&timetable);
            let stations_upserted = if stations.stations.is_empty() {
                0
            } else {
                admin.upsert_stations(stations).await?.into_inner().upserted
            };
            let mut outcomes = Vec::new();
            for train in trains {
                let code = train.train.as_ref().map(|t| t.code.clone()).unwrap_or_default();
                outcomes.push((code, admin.upsert_train(train).await?.into_inner()));
            }
            output.imported(stations_upserted, &outcomes);
        }
        Command::Open { trains, from, days } => {
            let first = date_arg("--from", &from)?;
            let last = first + Days::new(days.max(1) - 1);
            let request =
                pb::OpenTrainDatesRequest { trains, first_date: first.to_string(), last_date: last.to_string() };
            output.opened(&admin.open_train_dates(request).await?.into_inner());
        }
        Command::Search { from, to, date } => {
            let date = date_arg("--date", &date)?.to_string();
            let reply =
                booking.search_trains(pb::SearchTrainsRequest { date, from_station: from, to_station: to }).await?;
            output.offers(&reply.into_inner().trains);
        }
        Command::Availability { train, from, to, date } => {
            let train_date = Some(train_date(train, &date)?);
            let request = pb::GetAvailabilityRequest { train_date, from_station: from, to_station: to };
            output.offers(&[booking.get_availability(request).await?.into_inner()]);
        }
        Command::Seatmap { train, carriage, from, to, date } => {
            let train_date = Some(train_date(train, &date)?);
            let request =
                pb::GetSeatMapRequest { train_date, carriage, from_station: from.clone(), to_station: to.clone() };
            output.seat_map(&booking.get_seat_map(request).await?.into_inner(), &from, &to);
        }
        Command::Hold { train, from, to, date, user, passengers, request_id } => {
            let passengers = passengers.iter().map(|text| passenger_arg(text)).collect::<Result<Vec<_>, _>>()?;
            let request = pb::HoldRequest {
                request_id: request_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                user_id: user.unwrap_or_default(),
                train_date: Some(train_date(train, &date)?),
                from_station: from,
                to_station: to,
                passengers,
            };
            output.order(&booking.hold(request).await?.into_inner());
        }
        Command::Confirm { order, user } => {
            let request = pb::ConfirmRequest { order_id: order, user_id: user.unwrap_or_default() };
            output.order(&booking.confirm(request).await?.into_inner());
        }
        Command::Cancel { order, user } => {
            let request = pb::CancelRequest { order_id: order, user_id: user.unwrap_or_default() };
            output.order(&booking.cancel(request).await?.into_inner());
        }
        Command::Order { order, user } => {
            let request = pb::GetOrderRequest { order_id: order, user_id: user.unwrap_or_default() };
            output.order(&booking.get_order(request).await?.into_inner());
        }
        Command::Orders { user, page_size, page_token } => {
            let request = pb::ListOrdersRequest { user_id: user.unwrap_or_default(), page_size, page_token };
            output.orders(&booking.list_orders(request).await?.into_inner());
        }
        Command::TrainDates { date, page_size, page_token } => {
            let date =
                date.map(|date| date_arg("--date", &date).map(|d| d.to_string())).transpose()?.unwrap_or_default();
            let request = pb::ListTrainDatesRequest { date, page_size, page_token };
            output.train_dates(&admin.list_train_dates(request).await?.into_inner());
        }
        Command::CloseSales { train, date } => {
            let request = pb::CloseSalesRequest { train_date: Some(train_date(train, &date)?) };
            admin.close_sales(request).await?;
            output.done("sales closed");
        }
        Command::Stats => output.stats(&admin.stats(pb::StatsRequest {}).await?.into_inner()),
        Command::Presale => output.presale(&admin.run_presale(pb::RunPresaleRequest {}).await?.into_inner()),
        Command::Token { .. } => unreachable!("handled before connecting"),
    }
    Ok(())
}

/// The token for this command: --token, or the right one of the demo's.
fn resolve_token(args: &Args) -> Result<String, Failure> {
    if let Some(token) = &args.token {
        return Ok(token.clone());
    }
    let text = std::fs::read_to_string(&args.tokens_file).map_err(|error| {
        Failure::Usage(format!(
            "no --token given and {} unreadable ({error}); run seatctl beside `seatd --demo`, or pass --token",
            args.tokens_file.display()
        ))
    })?;
    let tokens: api::demo::DemoTokens = serde_json::from_str(&text)
        .map_err(|error| Failure::Usage(format!("{}: {error}", args.tokens_file.display())))?;
    Ok(match &args.command {
        Command::Import { .. }
        | Command::Open { .. }
        | Command::TrainDates { .. }
        | Command::CloseSales { .. }
        | Command::Stats
        | Command::Presale
        | Command::Token { .. } => tokens.admin,
        Command::Hold { user: Some(_), .. } | Command::Orders { user: Some(_), .. } => tokens.agent,
        Command::Confirm { user: Some(_), .. } | Command::Cancel { user: Some(_), .. } => tokens.agent,
        Command::Order { user: Some(_), .. } => tokens.agent,
        _ => tokens.passenger,
    })
}

/// An interceptor adding `authorization: Bearer <token>` to every call.
fn bearer(
    token: String,
) -> Result<impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone, Failure> {
    let value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> = format!("Bearer {}", token.trim())
        .parse()
        .map_err(|_| Failure::Usage("the token has characters a header cannot carry".into()))?;
    Ok(move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", value.clone());
        Ok(request)
    })
}

fn mint(output: &Output, secret_file: &std::path::Path, role: &str, sub: &str, ttl_hours: u64) -> Result<(), Failure> {
    let role: Role = serde_json::from_value(serde_json::Value::String(role.to_ascii_lowercase()))
        .map_err(|_| Failure::Usage(format!("--role {role:?}: expected passenger, agent or admin")))?;
    let secret = std::fs::read_to_string(secret_file)
        .map_err(|error| Failure::Usage(format!("{}: {error}", secret_file.display())))?;
    let token =
        api::auth::mint_hs256(secret.trim().as_bytes(), sub, role, api::auth::unix_now_secs(), ttl_hours * 3600);
    output.token(&token);
    Ok(())
}

fn train_date(train: String, date: &str) -> Result<pb::TrainDate, Failure> {
    Ok(pb::TrainDate { train: train.to_ascii_uppercase(), date: date_arg("--date", date)?.to_string() })
}

/// YYYY-MM-DD, or today / tomorrow / +N relative to today in service time (UTC+8).
fn date_arg(flag: &str, text: &str) -> Result<NaiveDate, Failure> {
    let today = service_date_of(SystemClock.now_ms());
    let offset = match text {
        "today" => Some(0),
        "tomorrow" => Some(1),
        _ => text.strip_prefix('+').and_then(|days| days.parse::<u64>().ok()),
    };
    if let Some(days) = offset {
        return Ok(today + Days::new(days));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Failure::Usage(format!("{flag}: {text:?} is not YYYY-MM-DD, today, tomorrow or +N")))
}

/// NAME,ID_NUMBER,CLASS[,PICK|CARRIAGE-SEAT]
fn passenger_arg(text: &str) -> Result<pb::PassengerRequest, Failure> {
    let usage = || Failure::Usage(format!("--passenger {text:?}: expected NAME,ID_NUMBER,CLASS[,PICK|CARRIAGE-SEAT]"));
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if !(3..=4).contains(&parts.len()) {
        return Err(usage());
    }
    let class: engine::domain::seat_class::SeatClass =
        parts[2].parse().map_err(|error: String| Failure::Usage(error))?;
    let mut passenger = pb::PassengerRequest {
        name: parts[0].to_owned(),
        id_number: parts[1].to_owned(),
        seat_class: api::convert::seat_class_to_pb(class).into(),
        ..Default::default()
    };
    match parts.get(3) {
        Some(choice) if choice.contains('-') => {
            let (carriage, seat) = choice.split_once('-').ok_or_else(usage)?;
            let carriage = carriage.parse().map_err(|_| usage())?;
            passenger.seat = Some(pb::ExactSeat { carriage, seat: seat.to_owned() });
        }
        Some(pick) => passenger.pick = (*pick).to_owned(),
        None => {}
    }
    Ok(passenger)
}
