//! seatctl: admin tool and simple booking client for seatd, over gRPC.
//!
//! Modules:
//! - `session`: the channel, the token seatctl picks, and the service clients.
//! - `parse`: command-line values → request fields (dates, train-dates, passengers).
//! - `booking`, `catalogue`, `admin`: one function per booking, catalogue or
//!   operator subcommand.
//! - `feed`: the event feed subcommand.
//! - `waitlist`: waitlist (候补) and ticket change (改签) subcommands and their output.
//! - `offline`: subcommands that need no server (token).
//! - `remembered`: which user each order held with `--user` was for.
//! - `render`: tables for people, JSON with --json.

mod admin;
mod booking;
mod catalogue;
mod feed;
mod offline;
mod parse;
mod remembered;
mod render;
mod session;
mod waitlist;

use clap::{Parser, Subcommand};
use render::Output;
use session::Session;
use std::process::ExitCode;

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
    /// Stations whose code, name or pinyin starts with PREFIX (every station without one).
    Stations {
        prefix: Option<String>,
        /// 1 to 100.
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// One train-date's stops (times, km) and carriages, as it opened.
    Train {
        train: String,
        /// Departure date from the origin: YYYY-MM-DD, today, tomorrow or +N.
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
    /// Waitlist (候补) requests: submit one for sold-out trains, activate it
    /// once paid, cancel it, show one or list yours.
    Waitlist {
        #[command(subcommand)]
        action: WaitlistAction,
        /// Act for this user (an agent's job); default: the token's own user.
        #[arg(long, global = true)]
        user: Option<String>,
    },
    /// Change (改签) a confirmed order's tickets to another train, date,
    /// class or journey between the same stations.
    Change {
        order: String,
        /// The new train.
        train: String,
        /// The new date: YYYY-MM-DD, today, tomorrow or +N.
        #[arg(long, default_value = "today")]
        date: String,
        /// The new class; default: the old tickets'.
        #[arg(long)]
        class: Option<String>,
        /// The new journey's stations; default: the old journey's.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        user: Option<String>,
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
    /// The cluster: its nodes and the slots each owns; with --train (and
    /// --date), which node serves that train-date.
    Cluster {
        #[arg(long)]
        train: Option<String>,
        #[arg(long, default_value = "today")]
        date: String,
    },
    /// Committed events in commit order, one line each: every event after
    /// --after, then (with --follow) new ones as they commit. Resume with
    /// --after set to the last position printed.
    Feed {
        /// Print events after this feed position (0: from the start).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep printing events as they commit, until interrupted.
        #[arg(long)]
        follow: bool,
        /// Only this train's events (repeatable), on --date.
        #[arg(long = "train")]
        trains: Vec<String>,
        /// Only events of train-dates of this date; with --train, that
        /// train's run on this date [default: today].
        #[arg(long)]
        date: Option<String>,
    },
    /// Mint a development token (HS256) from a secret file; needs no server.
    Token {
        /// File holding the HS256 secret, e.g. data/demo-jwt-secret.
        #[arg(long)]
        secret_file: std::path::PathBuf,
        /// passenger, agent, admin or feed.
        #[arg(long)]
        role: String,
        /// The token's subject: the user id it stands for.
        #[arg(long)]
        sub: String,
        #[arg(long, default_value_t = 24)]
        ttl_hours: u64,
    },
}

#[derive(Subcommand, Debug)]
enum WaitlistAction {
    /// Waitlist sold-out choices, e.g.
    /// `waitlist submit beijingnan shanghaihongqiao --choice G1:business --choice G3:business --passenger 张三,11010519491231002X`.
    Submit {
        from: String,
        to: String,
        /// TRAIN:CLASS[@DATE], in order of preference; DATE defaults to --date.
        #[arg(long = "choice", required = true)]
        choices: Vec<String>,
        #[arg(long, default_value = "today")]
        date: String,
        /// NAME,ID_NUMBER; 1 to 3.
        #[arg(long = "passenger", required = true)]
        passengers: Vec<String>,
        /// Unix ms cut-off; default: the latest the departures allow.
        #[arg(long, default_value_t = 0)]
        cutoff_ms: u64,
        /// Idempotency key; repeat it to retry safely. Default: none (each
        /// submit records a new request).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Report the prepayment made: the choices join their queues.
    Activate { request: String },
    /// Cancel a request; everything paid is refunded.
    Cancel { request: String },
    /// One request, each choice's state and place in its queue.
    Get { request: String },
    /// Your requests.
    List,
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

/// Why a command failed: the server said no, or the command line (or a
/// local file) was wrong.
enum Failure {
    Status(tonic::Status),
    Usage(String),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure::Status(status)
    }
}

/// Runs one subcommand: those that need no server directly, the rest over
/// a session with the token picked for them.
async fn run(args: Args) -> Result<(), Failure> {
    let output = Output { json: args.json };
    if let Command::Token { secret_file, role, sub, ttl_hours } = &args.command {
        return offline::mint(&output, secret_file, role, sub, *ttl_hours);
    }
    // Only when seatctl picks a demo token itself: --token says whom to act as.
    let order_book = args.token.is_none().then(|| remembered::OrderBook::beside(&args.tokens_file));
    let args = match &order_book {
        Some(book) => recall_order_user(args, book),
        None => args,
    };
    let mut session = Session::open(&args).await?;
    let session = &mut session;
    match args.command {
        Command::Import { file } => admin::import(session, &file).await,
        Command::Open { trains, from, days } => admin::open(session, trains, &from, days).await,
        Command::Search { from, to, date } => booking::search(session, from, to, &date).await,
        Command::Stations { prefix, page_size, page_token } => {
            catalogue::stations(session, prefix, page_size, page_token).await
        }
        Command::Train { train, date } => catalogue::train(session, train, &date).await,
        Command::Availability { train, from, to, date } => booking::availability(session, train, from, to, &date).await,
        Command::Seatmap { train, carriage, from, to, date } => {
            booking::seat_map(session, train, carriage, from, to, &date).await
        }
        Command::Hold { train, from, to, date, user, passengers, request_id } => {
            let hold = booking::HoldArgs { train, from, to, date, user, passengers, request_id };
            booking::hold(session, hold, order_book.as_ref()).await
        }
        Command::Confirm { order, user } => booking::confirm(session, order, user).await,
        Command::Cancel { order, user } => booking::cancel(session, order, user).await,
        Command::Order { order, user } => booking::order(session, order, user).await,
        Command::Orders { user, page_size, page_token } => booking::orders(session, user, page_size, page_token).await,
        Command::Waitlist { action, user } => match action {
            WaitlistAction::Submit { from, to, choices, date, passengers, cutoff_ms, request_id } => {
                let submit = waitlist::SubmitArgs { from, to, date, choices, passengers, user, cutoff_ms, request_id };
                waitlist::submit(session, submit).await
            }
            WaitlistAction::Activate { request } => waitlist::request_step(session, "activate", request, user).await,
            WaitlistAction::Cancel { request } => waitlist::request_step(session, "cancel", request, user).await,
            WaitlistAction::Get { request } => waitlist::request_step(session, "get", request, user).await,
            WaitlistAction::List => waitlist::list(session, user).await,
        },
        Command::Change { order, train, date, class, from, to, user } => {
            let change = waitlist::ChangeArgs { order, train, date, class, from, to, user };
            waitlist::change(session, change).await
        }
        Command::TrainDates { date, page_size, page_token } => {
            admin::train_dates(session, date, page_size, page_token).await
        }
        Command::CloseSales { train, date } => admin::close_sales(session, train, &date).await,
        Command::Stats => admin::stats(session).await,
        Command::Presale => admin::presale(session).await,
        Command::Cluster { train, date } => admin::cluster(session, train, &date).await,
        Command::Feed { after, follow, trains, date } => {
            feed::feed(session, feed::FeedArgs { after, follow, trains, date }).await
        }
        Command::Token { .. } => unreachable!("handled before connecting"),
    }
}

/// `confirm`, `cancel` or `order` of an order this book says was held for a
/// user, without `--user`: acts for that user (with the agent token), as
/// the hold did.
fn recall_order_user(mut args: Args, book: &remembered::OrderBook) -> Args {
    if let Command::Confirm { order, user }
    | Command::Cancel { order, user }
    | Command::Order { order, user }
    | Command::Change { order, user, .. } = &mut args.command
        && user.is_none()
    {
        *user = book.user_of(order);
    }
    args
}
