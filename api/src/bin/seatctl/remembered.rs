//! Which user each order seatctl held for an agent was for, so that the
//! next `confirm`, `cancel` or `order` of it acts for the same user without
//! `--user`, as the README's walkthrough does.
//!
//! Kept beside the demo tokens (`data/seatctl-orders.json`) and only used
//! when seatctl picks a demo token itself: with `--token` the caller chose
//! whom to act as. At most `REMEMBERED_ORDERS_MAX` orders, newest last; an
//! unreadable file is treated as empty, since it is only a convenience.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the order book, in the directory of the demo tokens.
pub const ORDER_BOOK_FILE: &str = "seatctl-orders.json";
/// Orders remembered; older ones are forgotten first.
pub const REMEMBERED_ORDERS_MAX: usize = 1000;

/// One order held with `--user`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RememberedOrder {
    order_id: String,
    /// The user the agent token acted for.
    user: String,
}

/// The order → user file beside the demo tokens.
pub struct OrderBook {
    path: PathBuf,
}

impl OrderBook {
    /// The book in the same directory as `tokens_file`.
    pub fn beside(tokens_file: &Path) -> OrderBook {
        let directory = tokens_file.parent().unwrap_or_else(|| Path::new("."));
        OrderBook { path: directory.join(ORDER_BOOK_FILE) }
    }

    /// The user `order_id` was held for, if this book holds it.
    pub fn user_of(&self, order_id: &str) -> Option<String> {
        let order_id = order_id.trim();
        self.read()
            .into_iter()
            .rev()
            .find(|entry| entry.order_id.eq_ignore_ascii_case(order_id))
            .map(|entry| entry.user)
    }

    /// Notes that `order_id` was held for `user`, forgetting the oldest
    /// entries beyond `REMEMBERED_ORDERS_MAX`. Written to a temporary file
    /// and renamed, so a reader never sees half a file.
    pub fn remember(&self, order_id: &str, user: &str) -> std::io::Result<()> {
        self.remember_within(order_id, user, REMEMBERED_ORDERS_MAX)
    }

    /// `remember`, keeping at most `orders_max` orders.
    fn remember_within(&self, order_id: &str, user: &str, orders_max: usize) -> std::io::Result<()> {
        let mut entries = self.read();
        entries.retain(|entry| entry.order_id != order_id);
        entries.push(RememberedOrder { order_id: order_id.to_owned(), user: user.to_owned() });
        let excess = entries.len().saturating_sub(orders_max);
        entries.drain(..excess);
        let json = serde_json::to_string_pretty(&entries).map_err(std::io::Error::other)?;
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, json)?;
        std::fs::rename(&temporary, &self.path)
    }

    fn read(&self) -> Vec<RememberedOrder> {
        std::fs::read_to_string(&self.path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_newest_orders_within_the_bound() {
        let directory = tempfile::tempdir().expect("temp dir");
        let book = OrderBook::beside(&directory.path().join("demo-tokens.json"));
        assert_eq!(book.user_of("a"), None);
        for serial in 0..15 {
            book.remember_within(&format!("order-{serial}"), &format!("user-{serial}"), 10).expect("writes");
        }
        assert_eq!(book.read().len(), 10);
        assert_eq!(book.user_of("order-4"), None, "the oldest are forgotten");
        assert_eq!(book.user_of("order-5").as_deref(), Some("user-5"));
        assert_eq!(book.user_of(" ORDER-14 ").as_deref(), Some("user-14"));
        book.remember("order-5", "someone-else").expect("writes");
        assert_eq!(book.user_of("order-5").as_deref(), Some("someone-else"), "a repeat replaces the entry");
        assert_eq!(book.read().len(), 10);
    }

    #[test]
    fn an_unreadable_book_is_empty() {
        let directory = tempfile::tempdir().expect("temp dir");
        let book = OrderBook::beside(&directory.path().join("demo-tokens.json"));
        std::fs::write(book.path(), "not json").expect("writes");
        assert_eq!(book.user_of("a"), None);
        book.remember("a", "alice").expect("replaces the unreadable file");
        assert_eq!(book.user_of("a").as_deref(), Some("alice"));
    }
}
