//! The two writes a hold and a cancel share: the seats' sold masks, and the
//! remaining counts by the overlap rule.

use crate::model::BaselineError;
use crate::overlap::FlipRegion;
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder};

/// Sets `sold_mask = sold_mask <op> value` on the given seats, in one statement.
pub(super) async fn set_masks(
    conn: &mut MySqlConnection,
    operation: &'static str,
    value: u64,
    train_date: &str,
    class: u8,
    seats: &[u32],
) -> Result<(), BaselineError> {
    let mut update = QueryBuilder::<MySql>::new("UPDATE seats SET sold_mask = ");
    update.push(operation).push_bind(value);
    update.push(" WHERE train_date = ").push_bind(train_date).push(" AND class = ").push_bind(class);
    update.push(" AND seat_id IN (");
    let mut list = update.separated(", ");
    for seat in seats {
        list.push_bind(*seat);
    }
    update.push(")");
    let changed = update.build().execute(&mut *conn).await?.rows_affected();
    if changed != seats.len() as u64 {
        return Err(BaselineError::Drift(format!("{train_date}: {changed} of {} seat masks changed", seats.len())));
    }
    Ok(())
}

/// Applies the overlap rule: every pair in each region moves by the number
/// of seats sharing it, one range statement per region.
pub(super) async fn adjust_counts(
    conn: &mut MySqlConnection,
    statement: &'static str,
    train_date: &str,
    class: u8,
    regions: &[(FlipRegion, u32)],
) -> Result<(), BaselineError> {
    for (region, seats) in regions {
        let changed = sqlx::query(statement)
            .bind(*seats)
            .bind(train_date)
            .bind(class)
            .bind(region.from_stops.0 as u8)
            .bind(region.from_stops.1 as u8)
            .bind(region.to_stops.0 as u8)
            .bind(region.to_stops.1 as u8)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if changed != region.pair_count() {
            return Err(BaselineError::Drift(format!(
                "{train_date} class {class}: {changed} of {} counts in {region:?} changed",
                region.pair_count()
            )));
        }
    }
    Ok(())
}
