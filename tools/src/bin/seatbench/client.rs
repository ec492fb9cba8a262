//! Connections and tokens.

use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::feed_client::FeedClient;
use api::pb::waitlist_client::WaitlistClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

impl Bearer {
    pub fn new(token: &str) -> Result<Self, String> {
        Ok(Bearer(format!("Bearer {}", token.trim()).parse().map_err(|_| "token is not header-safe".to_owned())?))
    }
}

pub type Booking = BookingClient<InterceptedService<Channel, Bearer>>;
pub type Admin = AdminClient<InterceptedService<Channel, Bearer>>;
pub type Waitlist = WaitlistClient<InterceptedService<Channel, Bearer>>;
pub type Feed = FeedClient<InterceptedService<Channel, Bearer>>;

/// (booking token, admin token): --token for both, or the demo's agent and admin tokens.
pub fn tokens(token: Option<&str>, tokens_file: &std::path::Path) -> Result<(String, String), String> {
    if let Some(token) = token {
        return Ok((token.to_owned(), token.to_owned()));
    }
    let text = std::fs::read_to_string(tokens_file)
        .map_err(|error| format!("{}: {error} (pass --token, or run beside seatd --demo)", tokens_file.display()))?;
    let tokens: api::demo::DemoTokens = serde_json::from_str(&text).map_err(|error| error.to_string())?;
    Ok((tokens.agent, tokens.admin))
}

/// Separate HTTP/2 connections, so load is not funnelled through one.
/// `connections` clients, spread in turn over the comma-separated `servers`.
pub async fn connect(servers: &str, connections: usize, token: &str) -> Result<Vec<Booking>, String> {
    let bearer = Bearer::new(token)?;
    let channels = channels(servers, connections).await?;
    Ok(channels.into_iter().map(|channel| BookingClient::with_interceptor(channel, bearer.clone())).collect())
}

/// `connections` HTTP/2 connections, spread in turn over the comma-separated `servers`.
pub async fn channels(servers: &str, connections: usize) -> Result<Vec<Channel>, String> {
    let servers: Vec<&str> = servers.split(',').map(str::trim).filter(|server| !server.is_empty()).collect();
    let mut channels = Vec::new();
    for index in 0..connections.max(servers.len()).max(1) {
        let server = servers.get(index % servers.len().max(1)).copied().unwrap_or_default();
        let channel = Channel::from_shared(server.to_owned()).map_err(|error| error.to_string())?;
        channels.push(channel.connect().await.map_err(|error| format!("{server}: {error}"))?);
    }
    Ok(channels)
}

pub async fn admin(server: &str, token: &str) -> Result<Admin, String> {
    let channel = Channel::from_shared(server.to_owned()).map_err(|error| error.to_string())?;
    let channel = channel.connect().await.map_err(|error| format!("{server}: {error}"))?;
    Ok(AdminClient::with_interceptor(channel, Bearer::new(token)?))
}
