//! Raw gRPC calls: any bytes as the request message of any method, as a
//! client in another language or a fuzzer would send them, and the checks
//! every refusal must pass.

use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::Bytes;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

/// Limit the trailers of any refusal must stay under: standard clients
/// refuse metadata over 8 or 16 KiB and then report their own error.
pub const TRAILER_BYTES_MAX: usize = 8 * 1024;

/// Sends and receives messages as bytes, unparsed.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use bytes::BufMut;
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        use bytes::Buf;
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// Methods that answer with a stream of messages.
pub const SERVER_STREAMING: [&str; 1] = ["/seat.v1.Booking/WatchAvailability"];

/// Calls `method` (such as "/seat.v1.Booking/Hold") with `message` as the
/// request's bytes and `bearer` as its token; the reply's bytes or the status.
/// A server-streaming method gives its first message (the stream is then
/// dropped, which cancels it), or the status it ends with before one.
pub async fn call(channel: &Channel, bearer: &str, method: &str, message: Vec<u8>) -> Result<Bytes, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.map_err(|error| Status::unavailable(format!("not ready: {error}")))?;
    let path = PathAndQuery::try_from(method.to_owned()).expect("a method path");
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {bearer}").parse().expect("token is header-safe");
    request.metadata_mut().insert("authorization", value);
    if !SERVER_STREAMING.contains(&method) {
        return grpc.unary(request, path, RawCodec).await.map(tonic::Response::into_inner);
    }
    let mut stream = grpc.server_streaming(request, path, RawCodec).await?.into_inner();
    match stream.message().await? {
        Some(first) => Ok(first),
        None => Err(Status::internal("a watch ended without a message or a status")),
    }
}

/// Bytes `status` takes in the trailers: `grpc-status`, `grpc-message`
/// percent-encoded, `grpc-status-details-bin` in base64, and any metadata.
pub fn trailer_bytes(status: &Status) -> usize {
    let percent_encoded: usize =
        status.message().bytes().map(|byte| if (0x20..0x7f).contains(&byte) && byte != b'%' { 1 } else { 3 }).sum();
    let details_base64 = status.details().len().div_ceil(3) * 4;
    let metadata: usize =
        status.metadata().clone().into_headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    "grpc-status".len()
        + 2
        + "grpc-message".len()
        + percent_encoded
        + "grpc-status-details-bin".len()
        + details_base64
        + metadata
}

/// Panics unless `status` is a refusal a client can act on: not INTERNAL or
/// UNKNOWN, trailers under `TRAILER_BYTES_MAX`, and an ErrorInfo reason from
/// the documented table with the status the table gives it. `what` says
/// which call made it.
pub fn assert_documented_refusal(status: &Status, what: &str) {
    assert!(
        ![tonic::Code::Internal, tonic::Code::Unknown].contains(&status.code()),
        "{what}: {:?} {}",
        status.code(),
        status.message()
    );
    let trailers = trailer_bytes(status);
    assert!(trailers < TRAILER_BYTES_MAX, "{what}: {trailers} bytes of trailers");
    let reason = api::status::reason_of(status).unwrap_or_else(|| panic!("{what}: no ErrorInfo on {status:?}"));
    let documented = api::reasons::named(&reason).unwrap_or_else(|| panic!("{what}: undocumented reason {reason}"));
    assert_eq!(documented.code, status.code(), "{what}: {reason} with the wrong status: {}", status.message());
}
