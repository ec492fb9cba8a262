//! The protobuf codec of every generated service and client (set in
//! build.rs): prost's, except that a message that does not decode is
//! INVALID_ARGUMENT with reason MALFORMED_REQUEST.
//!
//! tonic-prost answers INTERNAL for bytes that are not a valid message, such
//! as a bad varint or a string field that is not UTF-8. Clients and load
//! balancers take INTERNAL for a server bug and retry it; the bytes are the
//! sender's fault, and sending them again cannot help.

use crate::reasons::MALFORMED_REQUEST;
use crate::status::refusal;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// `ProstCodec` with decode errors mapped by `malformed`.
#[derive(Debug, Clone, Default)]
pub struct StrictCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Codec for StrictCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder { inner: self.inner.decoder() }
    }
}

/// Decodes as prost does; a failure is MALFORMED_REQUEST.
#[derive(Debug, Clone)]
pub struct StrictDecoder<U> {
    inner: ProstDecoder<U>,
}

impl<U: prost::Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(|decode_error| malformed(&decode_error))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// INVALID_ARGUMENT for bytes that are not a message of the expected type;
/// prost's description (which names the field path) says where it broke.
fn malformed(decode_error: &Status) -> Status {
    refusal(&MALFORMED_REQUEST, format!("the message does not decode: {}", decode_error.message()))
}
