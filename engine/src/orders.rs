//! The global order indexes: an order is found by id alone, and a user's
//! orders are listed without asking every actor. Actors write them as they
//! apply holds; the facade reads them to route a request to its train-date.

use crate::domain::order::OrderId;
use crate::domain::state::TrainDateKey;
use dashmap::DashMap;

/// Global indexes so an order is found by id alone, and a user's orders are
/// listed without asking every actor.
#[derive(Default)]
pub struct OrderIndex {
    by_id: DashMap<OrderId, TrainDateKey>,
    /// A user's orders sorted by id. Ids are UUID v7, so this is creation
    /// order and new orders land at the end; a page starts after the last id
    /// of the one before, which stays right however orders come and go.
    by_user: DashMap<String, Vec<OrderId>>,
}

impl OrderIndex {
    pub fn record(&self, order_id: OrderId, key: &TrainDateKey, user_id: &str) {
        if self.by_id.insert(order_id, key.clone()).is_none() {
            let mut orders = self.by_user.entry(user_id.to_owned()).or_default();
            let position = orders.partition_point(|existing| *existing < order_id);
            orders.insert(position, order_id);
        }
    }

    /// Drops an order that was never made durable (its train-date rolled back).
    pub fn forget(&self, order_id: &OrderId, user_id: &str) {
        if self.by_id.remove(order_id).is_some()
            && let Some(mut orders) = self.by_user.get_mut(user_id)
        {
            orders.retain(|existing| existing != order_id);
        }
    }

    pub fn train_date_of(&self, order_id: &OrderId) -> Option<TrainDateKey> {
        self.by_id.get(order_id).map(|key| key.clone())
    }

    /// Up to `limit` of a user's order ids after `after` (from the first
    /// when None), whether more follow them, and the user's total.
    pub fn user_orders(&self, user_id: &str, after: Option<OrderId>, limit: usize) -> (Vec<OrderId>, bool, usize) {
        let Some(orders) = self.by_user.get(user_id) else { return (Vec::new(), false, 0) };
        let start = after.map_or(0, |after| orders.partition_point(|existing| *existing <= after));
        let page: Vec<OrderId> = orders[start..].iter().take(limit).copied().collect();
        let more = start + page.len() < orders.len();
        (page, more, orders.len())
    }

    /// Whether `user_id` has an order (in any status) on train-date `key`.
    pub fn user_has_order_on(&self, user_id: &str, key: &TrainDateKey) -> bool {
        let Some(orders) = self.by_user.get(user_id) else { return false };
        orders.iter().any(|order_id| self.by_id.get(order_id).is_some_and(|home| *home == *key))
    }

    pub fn order_count(&self) -> usize {
        self.by_id.len()
    }
}
