//! One relay session: from the broker's tail, publish events in feed order,
//! several in flight, each chained to the one before it.
//!
//! Every publish carries the stream sequence it expects to follow
//! (`Nats-Expected-Last-Sequence`) and the subject's
//! (`Nats-Expected-Last-Subject-Sequence`). So if one publish is lost (a
//! dropped connection), every later one is refused rather than stored past
//! the gap, and a second publisher's first write makes the other's next
//! write fail. Acks are checked in the order sent; the first that is not
//! the expected sequence ends the session, and the next one starts again
//! from what the broker holds.

use super::RelayError;
use super::broker::{Broker, Mark, Outgoing};
use super::subjects::SubjectSequences;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use std::collections::VecDeque;

/// Publishes in flight at once. Enough to keep a broker that fsyncs every
/// message busy over a LAN round trip; a failure costs nothing but this
/// many publishes, which the next session sends again.
pub const PUBLISH_IN_FLIGHT_MAX: usize = 256;

/// The last event the broker acknowledged in this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirmed {
    pub position: u64,
    pub seq: u64,
    pub committed_at_ms: u64,
}

struct InFlight {
    ack: PublishAckFuture,
    subject: String,
    /// The stream sequence the broker must give it.
    sequence: u64,
    confirmed: Confirmed,
}

pub struct Session<'a> {
    broker: &'a Broker,
    /// The stream's last sequence once everything sent so far is stored.
    last_sequence: u64,
    subjects: SubjectSequences,
    in_flight: VecDeque<InFlight>,
    /// Acknowledged in this session, for the counters.
    pub acknowledged: u64,
    pub confirmed: Option<Confirmed>,
}

impl<'a> Session<'a> {
    /// Starts from the broker's tail; returns the last event it holds.
    pub async fn begin(broker: &'a Broker) -> Result<(Session<'a>, Option<Mark>), RelayError> {
        let tail = broker.tail().await?;
        let session = Session {
            broker,
            last_sequence: tail.last_sequence,
            subjects: SubjectSequences::default(),
            in_flight: VecDeque::new(),
            acknowledged: 0,
            confirmed: None,
        };
        Ok((session, tail.mark))
    }

    /// Sends `event` after the ones sent before; waits for the oldest ack
    /// when the window is full.
    pub async fn publish(&mut self, event: Outgoing) -> Result<(), RelayError> {
        let subject_last = match self.subjects.get(&event.subject) {
            Some(sequence) => sequence,
            None => {
                // The broker's answer is exact once nothing is in flight on
                // the subject (possible only if the cache forgot it meanwhile).
                if self.in_flight.iter().any(|sent| sent.subject == event.subject) {
                    self.drain().await?;
                }
                self.broker.subject_last_sequence(&event.subject).await?
            }
        };
        if self.in_flight.len() >= PUBLISH_IN_FLIGHT_MAX {
            self.confirm_oldest().await?;
        }
        let ack = self.broker.publish(&event, self.last_sequence, subject_last).await?;
        self.last_sequence += 1;
        self.subjects.set(&event.subject, self.last_sequence);
        let confirmed = Confirmed { position: event.position, seq: event.seq, committed_at_ms: event.committed_at_ms };
        self.in_flight.push_back(InFlight { ack, subject: event.subject, sequence: self.last_sequence, confirmed });
        Ok(())
    }

    /// Waits until every event sent is acknowledged.
    pub async fn drain(&mut self) -> Result<(), RelayError> {
        while !self.in_flight.is_empty() {
            self.confirm_oldest().await?;
        }
        Ok(())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    async fn confirm_oldest(&mut self) -> Result<(), RelayError> {
        let Some(sent) = self.in_flight.pop_front() else { return Ok(()) };
        match sent.ack.await {
            Ok(ack) if ack.sequence == sent.sequence && !ack.duplicate => {
                self.acknowledged += 1;
                metrics::counter!("seat_relay_published_total").increment(1);
                self.confirmed = Some(sent.confirmed);
                Ok(())
            }
            Ok(ack) => {
                Err(RelayError::OutOfStep { expected: sent.sequence, stored: ack.sequence, duplicate: ack.duplicate })
            }
            Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                Err(RelayError::Refused { detail: error.to_string() })
            }
            Err(error) => Err(RelayError::Broker(format!("publish ack: {error}"))),
        }
    }
}
