//! The connection every server command uses: the channel, the bearer token
//! seatctl picked, and the service clients.

use crate::render::Output;
use crate::{Args, Command, Failure};
use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::feed_client::FeedClient;
use api::pb::ticket_change_client::TicketChangeClient;
use api::pb::waitlist_client::WaitlistClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A booking client that sends the session's bearer token.
pub type Booking = BookingClient<InterceptedService<Channel, Bearer>>;
/// An admin client that sends the session's bearer token.
pub type Admin = AdminClient<InterceptedService<Channel, Bearer>>;
/// A feed client that sends the session's bearer token.
pub type Feed = FeedClient<InterceptedService<Channel, Bearer>>;

/// A waitlist client that sends the session's bearer token.
pub type Waitlist = WaitlistClient<InterceptedService<Channel, Bearer>>;
/// A ticket-change client that sends the session's bearer token.
pub type TicketChange = TicketChangeClient<InterceptedService<Channel, Bearer>>;

/// What a server command works with.
pub struct Session {
    pub output: Output,
    pub booking: Booking,
    pub admin: Admin,
    pub feed: Feed,
    pub waitlist: Waitlist,
    pub change: TicketChange,
}

impl Session {
    /// Picks the token for `args.command` and connects to `args.server`.
    pub async fn open(args: &Args) -> Result<Session, Failure> {
        let bearer = Bearer::new(&resolve_token(args)?)?;
        let channel = connect(&args.server, args.ca_file.as_deref()).await?;
        Ok(Session {
            output: Output { json: args.json },
            booking: BookingClient::with_interceptor(channel.clone(), bearer.clone()),
            waitlist: WaitlistClient::with_interceptor(channel.clone(), bearer.clone()),
            change: TicketChangeClient::with_interceptor(channel.clone(), bearer.clone()),
            admin: AdminClient::with_interceptor(channel.clone(), bearer.clone()),
            feed: FeedClient::with_interceptor(channel, bearer),
        })
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
        | Command::Cluster { .. }
        | Command::Token { .. } => tokens.admin,
        Command::Hold { user: Some(_), .. } | Command::Orders { user: Some(_), .. } => tokens.agent,
        Command::Confirm { user: Some(_), .. } | Command::Cancel { user: Some(_), .. } => tokens.agent,
        Command::Order { user: Some(_), .. } => tokens.agent,
        Command::Waitlist { user: Some(_), .. } | Command::Change { user: Some(_), .. } => tokens.agent,
        // A tokens file from before the feed role has no feed token.
        Command::Feed { .. } if tokens.feed.is_empty() => tokens.admin,
        Command::Feed { .. } => tokens.feed,
        _ => tokens.passenger,
    })
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    fn new(token: &str) -> Result<Bearer, Failure> {
        format!("Bearer {}", token.trim())
            .parse()
            .map(Bearer)
            .map_err(|_| Failure::Usage("the token has characters a header cannot carry".into()))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}
