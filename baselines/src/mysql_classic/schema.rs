//! The tables, the stored procedure, and opening a train-date.

use super::MysqlClassic;
use super::procedure::HOLD_PROCEDURE;
use crate::layout::{Layout, class_code};
use crate::model::BaselineError;
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder};

/// Rows per multi-row INSERT when opening a train-date: well under the
/// 65,535 placeholders of one statement (6 per seat row) and the packet limit.
const OPEN_ROWS_PER_INSERT: usize = 1_000;

const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS train_classes (
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        stop_count TINYINT UNSIGNED NOT NULL,
        seat_count SMALLINT UNSIGNED NOT NULL,
        PRIMARY KEY (train_date, class)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS seats (
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        seat_id INT UNSIGNED NOT NULL,
        carriage TINYINT UNSIGNED NOT NULL,
        seat_code CHAR(4) CHARACTER SET ascii NOT NULL,
        sold_mask BIGINT UNSIGNED NOT NULL DEFAULT 0,
        PRIMARY KEY (train_date, class, seat_id),
        UNIQUE KEY seat (train_date, seat_id)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS remaining (
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        from_stop TINYINT UNSIGNED NOT NULL,
        to_stop TINYINT UNSIGNED NOT NULL,
        count INT UNSIGNED NOT NULL,
        PRIMARY KEY (train_date, class, from_stop, to_stop)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS orders (
        order_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        from_stop TINYINT UNSIGNED NOT NULL,
        to_stop TINYINT UNSIGNED NOT NULL,
        user_id VARCHAR(64) NOT NULL,
        request_id VARCHAR(64) NOT NULL,
        status TINYINT UNSIGNED NOT NULL,
        PRIMARY KEY (order_id),
        UNIQUE KEY request (train_date, user_id, request_id)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS tickets (
        order_id BIGINT UNSIGNED NOT NULL,
        seat_id INT UNSIGNED NOT NULL,
        passenger_name VARCHAR(64) NOT NULL,
        id_number CHAR(18) CHARACTER SET ascii NOT NULL,
        PRIMARY KEY (order_id, seat_id)
    ) ENGINE=InnoDB",
];

impl MysqlClassic {
    /// Creates the tables if they are missing, and (re)creates the hold procedure.
    pub async fn create_schema(&self) -> Result<(), BaselineError> {
        for statement in SCHEMA {
            sqlx::query(statement).execute(&self.pool).await?;
        }
        // CREATE PROCEDURE cannot be prepared; it goes as plain text.
        sqlx::raw_sql("DROP PROCEDURE IF EXISTS hold_seats").execute(&self.pool).await?;
        sqlx::raw_sql(HOLD_PROCEDURE).execute(&self.pool).await?;
        Ok(())
    }

    /// Opens a train-date: one row per seat, every seat free, and one count
    /// row per (class, from, to) at the class's seat count, in one transaction.
    pub async fn open_train_date(&self, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
        let mut tx = self.pool.begin().await?;
        insert_classes(&mut tx, train_date, layout).await?;
        insert_seats(&mut tx, train_date, layout).await?;
        insert_counts(&mut tx, train_date, layout).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One `train_classes` row per class: the class mutex, with its stop and seat counts.
async fn insert_classes(conn: &mut MySqlConnection, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
    let mut classes =
        QueryBuilder::<MySql>::new("INSERT INTO train_classes (train_date, class, stop_count, seat_count) ");
    classes.push_values(layout.classes(), |mut row, class| {
        row.push_bind(train_date)
            .push_bind(class_code(*class))
            .push_bind(layout.stop_count() as u8)
            .push_bind(layout.class_seats(*class).len() as u16);
    });
    classes.build().execute(&mut *conn).await?;
    Ok(())
}

/// One `seats` row per seat, every segment free, [`OPEN_ROWS_PER_INSERT`] rows a statement.
async fn insert_seats(conn: &mut MySqlConnection, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
    let seats: Vec<_> = layout.seats().iter().enumerate().collect();
    for chunk in seats.chunks(OPEN_ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<MySql>::new(
            "INSERT INTO seats (train_date, class, seat_id, carriage, seat_code, sold_mask) ",
        );
        insert.push_values(chunk, |mut row, (seat_id, seat)| {
            row.push_bind(train_date)
                .push_bind(class_code(seat.class))
                .push_bind(*seat_id as u32)
                .push_bind(seat.carriage)
                .push_bind(seat.code.as_str())
                .push_bind(0u64);
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// One `remaining` row per (class, from, to), at the class's seat count.
async fn insert_counts(conn: &mut MySqlConnection, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
    let mut counts = Vec::new();
    for class in layout.classes() {
        let seat_count = layout.class_seats(*class).len() as u32;
        for from in 0..layout.stop_count() {
            for to in from + 1..layout.stop_count() {
                counts.push((class_code(*class), from as u8, to as u8, seat_count));
            }
        }
    }
    for chunk in counts.chunks(OPEN_ROWS_PER_INSERT) {
        let mut insert =
            QueryBuilder::<MySql>::new("INSERT INTO remaining (train_date, class, from_stop, to_stop, count) ");
        insert.push_values(chunk, |mut row, (class, from, to, count)| {
            row.push_bind(train_date).push_bind(*class).push_bind(*from).push_bind(*to).push_bind(*count);
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}
