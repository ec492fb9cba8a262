//! Page tokens: opaque keyset cursors.
//!
//! A token names the last item of the page it ends (an order id, or a
//! train-date key) and the next page starts after it, so a listing stays
//! correct while items are added or removed between calls; an offset would
//! repeat or skip items. Tokens are hex so clients treat them as opaque, and
//! a kind byte keeps one listing's token from being read as another's.

use super::fields::{date, train_code};
use crate::status::invalid_argument;
use engine::domain::order::OrderId;
use engine::domain::state::TrainDateKey;
use tonic::Status;
use uuid::Uuid;

/// First byte of a ListOrders token; an order id's 16 bytes follow.
const ORDERS_KIND: u8 = b'o';
/// First byte of a ListTrainDates token; `YYYY-MM-DD` and the train code follow.
const TRAIN_DATES_KIND: u8 = b't';
/// Longest token accepted, in characters: a kind byte, a date and an 8-character
/// train code, hex-encoded.
const TOKEN_CHARS_MAX: usize = 2 * (1 + 10 + 8);

/// The token of a ListOrders page that ends at `last`.
pub fn orders_page_token(last: &OrderId) -> String {
    hex([&[ORDERS_KIND][..], last.0.as_bytes()].concat())
}

/// The order a ListOrders token says to start after; None for the first page.
pub fn orders_after(field: &str, token: &str) -> Result<Option<OrderId>, Status> {
    let Some(payload) = payload(field, token, ORDERS_KIND)? else { return Ok(None) };
    let id = Uuid::from_slice(&payload).map_err(|_| not_a_token(field))?;
    Ok(Some(OrderId(id)))
}

/// The token of a ListTrainDates page that ends at `last`.
pub fn train_dates_page_token(last: &TrainDateKey) -> String {
    hex(format!("{}{}{}", TRAIN_DATES_KIND as char, last.date.format("%Y-%m-%d"), last.train).into_bytes())
}

/// The train-date a ListTrainDates token says to start after; None for the first page.
pub fn train_dates_after(field: &str, token: &str) -> Result<Option<TrainDateKey>, Status> {
    let Some(payload) = payload(field, token, TRAIN_DATES_KIND)? else { return Ok(None) };
    let text = String::from_utf8(payload).map_err(|_| not_a_token(field))?;
    let (date_text, train) = text.split_at_checked(10).ok_or_else(|| not_a_token(field))?;
    let date = date(field, date_text).map_err(|_| not_a_token(field))?;
    let train = train_code(field, train).map_err(|_| not_a_token(field))?;
    Ok(Some(TrainDateKey::new(train, date)))
}

/// The bytes after the kind byte of a token of `kind`; None for an empty token.
fn payload(field: &str, token: &str, kind: u8) -> Result<Option<Vec<u8>>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() > TOKEN_CHARS_MAX {
        return Err(not_a_token(field));
    }
    match unhex(token) {
        Some(bytes) if bytes.first() == Some(&kind) => Ok(Some(bytes[1..].to_vec())),
        _ => Err(not_a_token(field)),
    }
}

fn not_a_token(field: &str) -> Status {
    invalid_argument(field, "is not a next_page_token from a previous page of this listing")
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: Vec<u8>) -> String {
    bytes
        .iter()
        .flat_map(|byte| [HEX_DIGITS[usize::from(byte >> 4)], HEX_DIGITS[usize::from(byte & 0xf)]])
        .map(char::from)
        .collect()
}

/// Lower-case hex back to bytes; None for anything else.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |byte: u8| HEX_DIGITS.iter().position(|digit| *digit == byte).map(|value| value as u8);
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn tokens_round_trip() {
        let order = OrderId::generate();
        assert_eq!(orders_after("t", &orders_page_token(&order)).unwrap(), Some(order));
        let key = TrainDateKey::new("G1234567", NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!(train_dates_after("t", &train_dates_page_token(&key)).unwrap(), Some(key));
        assert_eq!(orders_after("t", "").unwrap(), None);
        assert_eq!(train_dates_after("t", "").unwrap(), None);
    }

    #[test]
    fn foreign_and_forged_tokens_are_refused() {
        let order_token = orders_page_token(&OrderId::generate());
        let key = TrainDateKey::new("G1", NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let train_dates_token = train_dates_page_token(&key);
        assert!(train_dates_after("t", &order_token).is_err());
        assert!(orders_after("t", &train_dates_token).is_err());
        for forged in ["20", "0", "00000000000000000000000000000000000000", "zz", "6f", &order_token.to_uppercase()] {
            assert!(orders_after("t", forged).is_err(), "{forged}");
            assert!(train_dates_after("t", forged).is_err(), "{forged}");
        }
        assert!(orders_after("t", &"6f".repeat(100)).is_err());
        let loose_date = hex(b"t2026-1-1G1".to_vec());
        assert!(train_dates_after("t", &loose_date).is_err());
    }
}
