//! [`HoldPath::Procedure`](super::HoldPath::Procedure): the hold as one
//! stored-procedure call.

use super::MysqlClassic;
use crate::layout::class_code;
use crate::model::{BaselineError, HoldOutcome, HoldRequest};

/// The same hold as one stored procedure, for `HoldPath::Procedure`: the
/// transaction shape and lock order of [`MysqlClassic::hold`]'s statements,
/// in one round trip. The free run comes from bit arithmetic: the boarding
/// end is the bit count of the taken segments below `from` smeared down
/// (highest taken segment + 1), the alighting end is `to` plus the trailing
/// zeros of the mask above `to`.
pub(super) const HOLD_PROCEDURE: &str = "
CREATE PROCEDURE hold_seats(
    IN p_train_date VARCHAR(32) CHARACTER SET ascii,
    IN p_class TINYINT UNSIGNED,
    IN p_from TINYINT UNSIGNED,
    IN p_to TINYINT UNSIGNED,
    IN p_user VARCHAR(64),
    IN p_request VARCHAR(64),
    IN p_passengers LONGTEXT)
proc: BEGIN
    DECLARE v_wanted, v_found, v_stops, v_start, v_end, v_run_start, v_run_end, v_run_seats INT DEFAULT 0;
    DECLARE v_left INT;
    DECLARE v_done BOOL DEFAULT FALSE;
    DECLARE v_bits, v_mask, v_below, v_above BIGINT UNSIGNED DEFAULT 0;
    DECLARE v_seat INT UNSIGNED;
    DECLARE v_order BIGINT UNSIGNED;
    DECLARE v_seats VARCHAR(255) DEFAULT '';
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
    DECLARE EXIT HANDLER FOR 1062
    BEGIN
        ROLLBACK;
        SELECT 2 AS outcome, (SELECT order_id FROM orders
            WHERE train_date = p_train_date AND user_id = p_user AND request_id = p_request) AS order_id, '' AS seats;
    END;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;

    SET v_wanted = JSON_LENGTH(p_passengers);
    SET v_bits = ((1 << (p_to - p_from)) - 1) << p_from;
    SET v_order = (SELECT order_id FROM orders
        WHERE train_date = p_train_date AND user_id = p_user AND request_id = p_request);
    IF v_order IS NOT NULL THEN
        SELECT 2 AS outcome, v_order AS order_id, '' AS seats;
        LEAVE proc;
    END IF;
    SET v_left = (SELECT count FROM remaining
        WHERE train_date = p_train_date AND class = p_class AND from_stop = p_from AND to_stop = p_to);
    IF v_left IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown train-date, class or journey';
    END IF;
    IF v_left < v_wanted THEN
        SELECT 0 AS outcome, NULL AS order_id, '' AS seats;
        LEAVE proc;
    END IF;

    START TRANSACTION;
    SELECT stop_count INTO v_stops FROM train_classes
        WHERE train_date = p_train_date AND class = p_class FOR UPDATE;
    INSERT INTO orders (train_date, class, from_stop, to_stop, user_id, request_id, status)
        VALUES (p_train_date, p_class, p_from, p_to, p_user, p_request, 1);
    SET v_order = LAST_INSERT_ID();
    SET v_run_start = -1;
    SET v_seat = 0;
    seat_loop: WHILE v_found < v_wanted DO
        -- One seat a statement, resuming after the last: a cursor would
        -- materialize its rows in a temporary table on every call.
        SELECT seat_id, sold_mask INTO v_seat, v_mask FROM seats
            WHERE train_date = p_train_date AND class = p_class AND seat_id >= v_seat
            AND (sold_mask & v_bits) = 0 ORDER BY seat_id LIMIT 1 FOR UPDATE;
        IF v_done THEN
            LEAVE seat_loop;
        END IF;
        UPDATE seats SET sold_mask = sold_mask | v_bits
            WHERE train_date = p_train_date AND class = p_class AND seat_id = v_seat;
        INSERT INTO tickets (order_id, seat_id, passenger_name, id_number) VALUES (v_order, v_seat,
            JSON_VALUE(p_passengers, CONCAT('$[', v_found, '].name')),
            JSON_VALUE(p_passengers, CONCAT('$[', v_found, '].id_number')));
        SET v_found = v_found + 1;
        SET v_seats = IF(v_seats = '', CAST(v_seat AS CHAR), CONCAT(v_seats, ',', v_seat));
        SET v_below = v_mask & ((1 << p_from) - 1);
        SET v_below = v_below | (v_below >> 1);
        SET v_below = v_below | (v_below >> 2);
        SET v_below = v_below | (v_below >> 4);
        SET v_below = v_below | (v_below >> 8);
        SET v_below = v_below | (v_below >> 16);
        SET v_below = v_below | (v_below >> 32);
        SET v_start = BIT_COUNT(v_below);
        SET v_above = v_mask >> p_to;
        SET v_end = IF(v_above = 0, v_stops - 1, p_to + BIT_COUNT(v_above ^ (v_above - 1)) - 1);
        IF v_start = v_run_start AND v_end = v_run_end THEN
            SET v_run_seats = v_run_seats + 1;
        ELSE
            IF v_run_seats > 0 THEN
                UPDATE remaining SET count = count - v_run_seats
                    WHERE train_date = p_train_date AND class = p_class
                    AND from_stop BETWEEN v_run_start AND p_to - 1 AND to_stop BETWEEN p_from + 1 AND v_run_end;
            END IF;
            SET v_run_start = v_start, v_run_end = v_end, v_run_seats = 1;
        END IF;
        SET v_seat = v_seat + 1;
    END WHILE;
    IF v_found < v_wanted THEN
        ROLLBACK;
        SELECT 0 AS outcome, NULL AS order_id, '' AS seats;
        LEAVE proc;
    END IF;
    UPDATE remaining SET count = count - v_run_seats
        WHERE train_date = p_train_date AND class = p_class
        AND from_stop BETWEEN v_run_start AND p_to - 1 AND to_stop BETWEEN p_from + 1 AND v_run_end;
    COMMIT;
    SELECT 1 AS outcome, v_order AS order_id, v_seats AS seats;
END";

impl MysqlClassic {
    pub(super) async fn try_hold_procedure(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        let passengers = serde_json::to_string(&request.passengers).expect("passengers serialize");
        let rows: Vec<(i64, Option<u64>, String)> = sqlx::query_as("CALL hold_seats(?, ?, ?, ?, ?, ?, ?)")
            .bind(&request.train_date)
            .bind(class_code(request.class))
            .bind(request.from as u8)
            .bind(request.to as u8)
            .bind(&request.user_id)
            .bind(&request.request_id)
            .bind(passengers)
            .fetch_all(&self.pool)
            .await?;
        match rows.as_slice() {
            [(0, _, _)] => Ok(HoldOutcome::SoldOut),
            [(2, Some(order_id), _)] => Ok(HoldOutcome::Duplicate { order_id: *order_id }),
            [(1, Some(order_id), seats)] => {
                let seats = seats.split(',').map(|seat| seat.parse().ok()).collect::<Option<Vec<u32>>>();
                match seats {
                    Some(seats) if seats.len() == request.passengers.len() => {
                        Ok(HoldOutcome::Held { order_id: *order_id, seats })
                    }
                    _ => Err(BaselineError::Drift(format!("hold_seats returned seats {seats:?}"))),
                }
            }
            other => Err(BaselineError::Drift(format!("hold_seats returned {other:?}"))),
        }
    }
}
