//! The Redis + Lua design: all of a train-date's inventory in Redis, and one
//! Lua script per hold deciding atomically (Redis runs one script at a time).
//!
//! Keys of one train-date share the hash tag `{prefix:train_date}`, so they
//! live on one slot and one script may touch them all in a cluster too:
//! - `meta` (hash): `stop_count`, `classes`.
//! - `rem:C` (string, one per class code C): the class's remaining count for
//!   every (from, to) as big-endian u16s in row-major pair order (pair (0,1),
//!   (0,2), ..., (1,2), ...), so one count is `BITFIELD_RO rem:C GET u16 #i`
//!   and a search reads the whole table with one `GET`. Kept exact by the
//!   overlap rule.
//! - `masks:C` (string, one per class): each seat's taken segments as a
//!   big-endian u32, class-local index i at bytes 4i..4i+4 (`BITFIELD u32 #i`).
//!   The seat with local index i is `Layout::class_seats(C)[i]`.
//! - `orders` (hash): order id → `status|class|from|to|i,j,..|user|request|passengers`.
//! - `requests` (hash): `user|request` → order id, the idempotency record.
//! - `seq` (string): the last order id.
//!
//! The hold script: return the existing order if `requests` has the request;
//! refuse if the journey's count is below n; scan `masks:C` first-fit for n
//! seats free on the journey; apply the overlap rule to a copy of the counts
//! (every pair in each seat's free run that overlaps the journey loses one),
//! failing if any would go negative; only then write: the counts with one
//! `SET`, the masks with one `BITFIELD`, the order, the request record. All
//! checks come before the first write, because Redis does not roll a script
//! back. The script makes a fixed 9 Redis calls whatever the journey; an
//! earlier version with a hash field per pair (`HMGET`/`HSET` of ~150–300
//! fields) spent 520 µs a hold in the server against about 80 µs for this.
//!
//! Masks are u32s and the Lua `bit` library is 32-bit, so a train may have at
//! most [`REDIS_STOPS_MAX`] stops (the benchmark train has 24).
//!
//! Durability is the server's: with the Debian defaults here (`save ""`,
//! `appendonly no`) an acknowledged hold is only in memory. [`set_durability`]
//! turns on the append-only file with `appendfsync always` (fsync before the
//! reply, batched per event-loop turn) for durable runs and
//! [`restore_durability`] puts the old settings back.

use crate::audit::{AuditReport, StoredSeat, StoredTicket};
use crate::layout::{Layout, class_code};
use crate::model::{AckedOrder, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest, OrderStatus};
use engine::domain::segments::{pair_count, pair_index};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Most stops a train may have here: 31 segments fit the Lua `bit` library's
/// 32-bit integers without touching the sign bit.
pub const REDIS_STOPS_MAX: usize = 32;

/// How long to wait for a reply before calling the request failed. A script
/// that timed out may still have run, so this is far above any sane latency
/// (the client's default, 500 ms, would turn a slow fsync into false errors).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys deleted per `UNLINK` when cleaning up, to keep each command small.
const UNLINK_KEYS_PER_CALL: usize = 500;

/// `SCAN COUNT` hint when listing a prefix's keys for cleanup.
const SCAN_COUNT: usize = 1_000;

/// How long enabling the append-only file may take to finish its initial
/// rewrite before a durable run gives up.
const AOF_REWRITE_WAIT_MAX: Duration = Duration::from_secs(300);

/// How often to poll `INFO persistence` while waiting for that rewrite: it
/// takes well under a second on a small dataset, so finer polling buys nothing.
const AOF_POLL_EVERY: Duration = Duration::from_millis(100);

/// The overlap rule in Lua, shared by the hold and cancel scripts.
/// `pair_at` is the 1-based byte position of pair (s, e)'s big-endian u16
/// count in row-major order; `adjust_pairs` adds `delta` to every pair
/// inside the free run around [from, to) of `mask` (the seat's mask without
/// the journey), and answers false if a count would go negative.
macro_rules! overlap_rule_lua {
    () => {
        r#"
local function pair_at(stops, s, e) return 2 * (s * (2 * stops - s - 1) / 2 + e - s - 1) + 1 end
local function adjust_pairs(bytes, stops, mask, from, to, delta)
  local first = from
  while first > 0 and bit.band(mask, bit.lshift(1, first - 1)) == 0 do first = first - 1 end
  local stop = to
  while stop < stops - 1 and bit.band(mask, bit.lshift(1, stop)) == 0 do stop = stop + 1 end
  for s = first, to - 1 do
    for e = math.max(s + 1, from + 1), stop do
      local j = pair_at(stops, s, e)
      local count = bytes[j] * 256 + bytes[j + 1] + delta
      if count < 0 then return false end
      bytes[j] = math.floor(count / 256)
      bytes[j + 1] = count % 256
    end
  end
  return true
end
"#
    };
}

const HOLD_SCRIPT: &str = concat!(
    overlap_rule_lua!(),
    r#"
-- KEYS: meta, rem:C, masks:C, orders, requests, seq
-- ARGV: from, to, passengers, class, request key, user, request id, passengers text
local from, to, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local existing = redis.call('HGET', KEYS[5], ARGV[5])
if existing then return {2, tonumber(existing)} end
local stops = tonumber(redis.call('HGET', KEYS[1], 'stop_count'))
if not stops then return redis.error_reply('ERR unknown train-date') end
local last = stops - 1
if from < 0 or to <= from or to > last then return redis.error_reply('ERR journey out of range') end
local counts = redis.call('GET', KEYS[2])
if not counts then return redis.error_reply('ERR class not on this train-date') end
local function at(s, e) return pair_at(stops, s, e) end
local hi, lo = string.byte(counts, at(from, to), at(from, to) + 1)
local left = hi * 256 + lo
if left < wanted then return {0} end
local want = bit.lshift(bit.lshift(1, to - from) - 1, from)
local masks = redis.call('GET', KEYS[3])
local chosen, old = {}, {}
for i = 0, #masks / 4 - 1 do
  local b1, b2, b3, b4 = string.byte(masks, 4 * i + 1, 4 * i + 4)
  local mask = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  if bit.band(mask, want) == 0 then
    chosen[#chosen + 1] = i
    old[#old + 1] = mask
    if #chosen == wanted then break end
  end
end
if #chosen < wanted then return redis.error_reply('ERR drift: count ' .. left .. ' but fewer free seats') end
local bytes = {string.byte(counts, 1, -1)}
local set = {}
for k = 1, wanted do
  local mask = old[k]
  if not adjust_pairs(bytes, stops, mask, from, to, -1) then
    return redis.error_reply('ERR drift: a count would go negative')
  end
  set[#set + 1] = 'SET'; set[#set + 1] = 'u32'; set[#set + 1] = '#' .. chosen[k]
  set[#set + 1] = bit.bor(mask, want)
end
redis.call('SET', KEYS[2], string.char(unpack(bytes)))
redis.call('BITFIELD', KEYS[3], unpack(set))
local id = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[4], id, '1|' .. ARGV[4] .. '|' .. from .. '|' .. to .. '|' .. table.concat(chosen, ',')
  .. '|' .. ARGV[6] .. '|' .. ARGV[7] .. '|' .. ARGV[8])
redis.call('HSETNX', KEYS[5], ARGV[5], id)
local reply = {1, id}
for k = 1, wanted do reply[#reply + 1] = chosen[k] end
return reply
"#
);

const CANCEL_SCRIPT: &str = concat!(
    overlap_rule_lua!(),
    r#"
-- KEYS: meta, orders, then rem:C, masks:C for each class C in ARGV[2..]
-- ARGV: order id, class codes
local record = redis.call('HGET', KEYS[2], ARGV[1])
if not record then return -1 end
local status, class, from, to, seats = string.match(record, '^(%d)|(%d+)|(%d+)|(%d+)|([%d,]*)|')
if status == '3' then return 0 end
local slot
for i = 2, #ARGV do if ARGV[i] == class then slot = i - 1 end end
if not slot then return redis.error_reply('ERR order class not among the keys') end
local rem, masks = KEYS[1 + 2 * slot], KEYS[2 + 2 * slot]
from, to = tonumber(from), tonumber(to)
local stops = tonumber(redis.call('HGET', KEYS[1], 'stop_count'))
local want = bit.lshift(bit.lshift(1, to - from) - 1, from)
local bytes = {string.byte(redis.call('GET', rem), 1, -1)}
local set = {}
for index in string.gmatch(seats, '%d+') do
  local mask = redis.call('BITFIELD', masks, 'GET', 'u32', '#' .. index)[1]
  if bit.band(mask, want) ~= want then return redis.error_reply('ERR drift: seat lacks the order segments') end
  local freed = bit.band(mask, bit.bnot(want))
  adjust_pairs(bytes, stops, freed, from, to, 1)
  set[#set + 1] = 'SET'; set[#set + 1] = 'u32'; set[#set + 1] = '#' .. index; set[#set + 1] = freed
end
redis.call('SET', rem, string.char(unpack(bytes)))
redis.call('BITFIELD', masks, unpack(set))
redis.call('HSET', KEYS[2], ARGV[1], '3' .. string.sub(record, 2))
return 1
"#
);

const CONFIRM_SCRIPT: &str = r#"
-- KEYS: orders; ARGV: order id
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return -1 end
if string.sub(record, 1, 1) ~= '1' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '2' .. string.sub(record, 2))
return 1
"#;

/// The Redis + Lua baseline: a few multiplexed connections, the scripts, and
/// the layouts of opened train-dates (to turn class-local seat indexes into
/// seat ids, as an application server knowing its timetable would).
#[derive(Clone)]
pub struct RedisLua {
    connections: Arc<Vec<ConnectionManager>>,
    next: Arc<AtomicUsize>,
    prefix: String,
    layouts: Arc<RwLock<HashMap<String, Arc<Layout>>>>,
    hold_script: Arc<Script>,
    cancel_script: Arc<Script>,
    confirm_script: Arc<Script>,
}

impl RedisLua {
    /// Connects `connections` multiplexed connections to `url`; every key this
    /// baseline writes starts with `{prefix:`, so [`RedisLua::delete_all`] can
    /// remove exactly them.
    pub async fn connect(url: &str, prefix: &str, connections: usize) -> Result<Self, BaselineError> {
        if prefix.is_empty() || prefix.contains(['{', '}', '*', '?', '[', ']', '\\', ':']) {
            return Err(BaselineError::Invalid(format!("key prefix {prefix:?} must be plain")));
        }
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut managers = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            managers.push(ConnectionManager::new_with_config(client.clone(), config.clone()).await?);
        }
        Ok(RedisLua {
            connections: Arc::new(managers),
            next: Arc::new(AtomicUsize::new(0)),
            prefix: prefix.to_owned(),
            layouts: Arc::default(),
            hold_script: Arc::new(Script::new(HOLD_SCRIPT)),
            cancel_script: Arc::new(Script::new(CANCEL_SCRIPT)),
            confirm_script: Arc::new(Script::new(CONFIRM_SCRIPT)),
        })
    }

    /// One of the connections, round robin.
    pub fn connection(&self) -> ConnectionManager {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[index].clone()
    }

    fn key(&self, train_date: &str, name: &str) -> String {
        format!("{{{}:{train_date}}}:{name}", self.prefix)
    }

    fn registry_key(&self) -> String {
        format!("{{{}:registry}}:train-dates", self.prefix)
    }

    fn layout(&self, train_date: &str) -> Result<Arc<Layout>, BaselineError> {
        let layouts = self.layouts.read().expect("layouts lock");
        layouts.get(train_date).cloned().ok_or_else(|| BaselineError::UnknownTrainDate(train_date.to_owned()))
    }

    /// Opens a train-date: every seat free and every count full, written in
    /// one atomic pipeline.
    pub async fn open_train_date(&self, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
        if layout.stop_count() > REDIS_STOPS_MAX {
            return Err(BaselineError::Invalid(format!("{} stops; at most {REDIS_STOPS_MAX}", layout.stop_count())));
        }
        if layout.classes().iter().any(|class| layout.class_seats(*class).len() > usize::from(u16::MAX)) {
            return Err(BaselineError::Invalid("a class has more seats than a u16 count holds".into()));
        }
        if train_date.contains(['{', '}', '|']) {
            return Err(BaselineError::Invalid(format!("train-date {train_date:?}")));
        }
        let classes: Vec<String> = layout.classes().iter().map(|class| class_code(*class).to_string()).collect();
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.hset_multiple(
            self.key(train_date, "meta"),
            &[("stop_count", layout.stop_count().to_string()), ("classes", classes.join(","))],
        );
        for class in layout.classes() {
            let code = class_code(*class);
            let seats = layout.class_seats(*class).len();
            pipe.set(self.key(train_date, &format!("masks:{code}")), vec![0u8; seats * 4]);
            let pairs = pair_count(layout.stop_count());
            let counts: Vec<u8> = (0..pairs).flat_map(|_| (seats as u16).to_be_bytes()).collect();
            pipe.set(self.key(train_date, &format!("rem:{code}")), counts);
        }
        pipe.sadd(self.registry_key(), train_date);
        let () = pipe.query_async(&mut self.connection()).await?;
        self.layouts.write().expect("layouts lock").insert(train_date.to_owned(), Arc::new(layout.clone()));
        Ok(())
    }

    /// Holds one seat per passenger, or nothing, in one script call.
    pub async fn hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        let layout = self.layout(&request.train_date)?;
        request.validate(layout.stop_count())?;
        let code = class_code(request.class);
        let passengers = serde_json::to_string(&request.passengers).expect("passengers serialize");
        let reply: Vec<i64> = self
            .hold_script
            .key(self.key(&request.train_date, "meta"))
            .key(self.key(&request.train_date, &format!("rem:{code}")))
            .key(self.key(&request.train_date, &format!("masks:{code}")))
            .key(self.key(&request.train_date, "orders"))
            .key(self.key(&request.train_date, "requests"))
            .key(self.key(&request.train_date, "seq"))
            .arg(request.from)
            .arg(request.to)
            .arg(request.passengers.len())
            .arg(code)
            .arg(format!("{}|{}", request.user_id, request.request_id))
            .arg(&request.user_id)
            .arg(&request.request_id)
            .arg(passengers)
            .invoke_async(&mut self.connection())
            .await?;
        match reply.as_slice() {
            [0] => Ok(HoldOutcome::SoldOut),
            [2, order_id] => Ok(HoldOutcome::Duplicate { order_id: *order_id as u64 }),
            [1, order_id, indexes @ ..] => {
                let class_seats = layout.class_seats(request.class);
                let seats = indexes.iter().map(|index| class_seats[*index as usize]).collect();
                Ok(HoldOutcome::Held { order_id: *order_id as u64, seats })
            }
            other => Err(BaselineError::Drift(format!("hold script replied {other:?}"))),
        }
    }

    /// Releases exactly this order's segments and gives the counts back, in
    /// one script call.
    pub async fn cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        let layout = self.layout(train_date)?;
        let mut invocation = self.cancel_script.prepare_invoke();
        invocation.key(self.key(train_date, "meta")).key(self.key(train_date, "orders")).arg(order_id);
        for class in layout.classes() {
            let code = class_code(*class);
            invocation.key(self.key(train_date, &format!("rem:{code}")));
            invocation.key(self.key(train_date, &format!("masks:{code}")));
            invocation.arg(code);
        }
        let reply: i64 = invocation.invoke_async(&mut self.connection()).await?;
        Ok(match reply {
            1 => CancelOutcome::Cancelled,
            0 => CancelOutcome::AlreadyCancelled,
            _ => CancelOutcome::NotFound,
        })
    }

    /// Marks a held order paid, in one script call.
    pub async fn confirm(&self, train_date: &str, order_id: u64) -> Result<ConfirmOutcome, BaselineError> {
        let reply: i64 = self
            .confirm_script
            .key(self.key(train_date, "orders"))
            .arg(order_id)
            .invoke_async(&mut self.connection())
            .await?;
        Ok(match reply {
            1 => ConfirmOutcome::Confirmed,
            0 => ConfirmOutcome::NotHeld,
            _ => ConfirmOutcome::NotFound,
        })
    }

    /// Audits every train-date this prefix opened (see `audit`), and that
    /// every order in `acked` is stored with its acknowledged state.
    pub async fn audit(&self, acked: &[AckedOrder]) -> Result<AuditReport, BaselineError> {
        let mut conn = self.connection();
        let mut train_dates: Vec<String> = conn.smembers(self.registry_key()).await?;
        train_dates.sort();
        let mut report = AuditReport::default();
        let mut stored = HashMap::new();
        for train_date in train_dates {
            let meta: HashMap<String, String> = conn.hgetall(self.key(&train_date, "meta")).await?;
            let stop_count: usize = meta.get("stop_count").and_then(|text| text.parse().ok()).unwrap_or(0);
            let classes: Vec<u8> = meta
                .get("classes")
                .map(|text| text.split(',').filter_map(|c| c.parse().ok()).collect())
                .unwrap_or_default();
            let mut pipe = redis::pipe();
            pipe.atomic();
            for code in &classes {
                pipe.get(self.key(&train_date, &format!("masks:{code}")));
                pipe.get(self.key(&train_date, &format!("rem:{code}")));
            }
            pipe.hgetall(self.key(&train_date, "orders"));
            let mut replies: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
            let orders: HashMap<u64, String> =
                redis::from_redis_value(replies.pop().unwrap_or(redis::Value::Nil)).map_err(redis::RedisError::from)?;
            let mut seats = Vec::new();
            let mut counts = Vec::new();
            for (code, pair) in classes.iter().zip(replies.chunks(2)) {
                let masks: Vec<u8> = redis::from_redis_value_ref(&pair[0]).map_err(redis::RedisError::from)?;
                let rem: Vec<u8> = redis::from_redis_value_ref(&pair[1]).map_err(redis::RedisError::from)?;
                for (index, seat) in masks.chunks_exact(4).enumerate() {
                    let mask = u32::from_be_bytes(seat.try_into().expect("4 bytes"));
                    seats.push(StoredSeat { seat: audit_seat_id(*code, index), class: *code, mask: u64::from(mask) });
                }
                if rem.len() != 2 * pair_count(stop_count) {
                    report.problem(format!("{train_date} class {code}: {} bytes of counts", rem.len()));
                    continue;
                }
                for from in 0..stop_count {
                    for to in from + 1..stop_count {
                        let at = 2 * pair_index(stop_count, from, to);
                        counts.push((*code, from, to, i64::from(u16::from_be_bytes([rem[at], rem[at + 1]]))));
                    }
                }
            }
            let mut tickets = Vec::new();
            for (order_id, record) in orders {
                let Some(order) = parse_order(&record) else {
                    report.problem(format!("{train_date} order {order_id}: record {record:?}"));
                    continue;
                };
                stored.insert((train_date.clone(), order_id), order.status);
                if order.status.holds_seats() {
                    tickets.extend(order.seats.iter().map(|index| StoredTicket {
                        order_id,
                        seat: audit_seat_id(order.class, *index),
                        from: order.from,
                        to: order.to,
                    }));
                }
            }
            report.check_train_date(&train_date, stop_count, &seats, &counts, &tickets);
        }
        crate::audit::check_acked(&mut report, &stored, acked);
        Ok(report)
    }

    /// Deletes every key under this prefix, leaving the server as it was found.
    pub async fn delete_all(&self) -> Result<u64, BaselineError> {
        let mut conn = self.connection();
        let pattern = format!("{{{}:*", self.prefix);
        let mut cursor: u64 = 0;
        let mut keys: Vec<String> = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut conn)
                .await?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        for chunk in keys.chunks(UNLINK_KEYS_PER_CALL) {
            let _: u64 = redis::cmd("UNLINK").arg(chunk).query_async(&mut conn).await?;
        }
        self.layouts.write().expect("layouts lock").clear();
        Ok(keys.len() as u64)
    }
}

/// A seat id unique within a train-date for the audit: the class code in the
/// high half, the class-local index in the low half.
fn audit_seat_id(class: u8, index: usize) -> u32 {
    (u32::from(class) << 16) | index as u32
}

struct StoredOrder {
    status: OrderStatus,
    class: u8,
    from: usize,
    to: usize,
    seats: Vec<usize>,
}

fn parse_order(record: &str) -> Option<StoredOrder> {
    let mut fields = record.splitn(6, '|');
    let status = OrderStatus::from_code(fields.next()?.parse().ok()?)?;
    let class = fields.next()?.parse().ok()?;
    let from = fields.next()?.parse().ok()?;
    let to = fields.next()?.parse().ok()?;
    let seats = fields.next()?.split(',').map(|index| index.parse().ok()).collect::<Option<Vec<usize>>>()?;
    Some(StoredOrder { status, class, from, to, seats })
}

/// The server's persistence settings, to report with a run and to restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersistenceSettings {
    /// `appendonly`: `yes` or `no`.
    pub appendonly: String,
    /// `appendfsync`: `always`, `everysec` or `no`.
    pub appendfsync: String,
    /// `save`: RDB snapshot schedule; empty means none.
    pub save: String,
}

/// How durable to make the server for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisDurability {
    /// Leave the server as configured (here: no persistence at all).
    AsConfigured,
    /// Append-only file, fsync once a second: up to a second of acknowledged
    /// holds can be lost.
    AofEverysec,
    /// Append-only file, fsync before replying: durable like the engine's
    /// `--ack durable` and InnoDB with `innodb_flush_log_at_trx_commit=1`.
    AofAlways,
}

/// Reads the persistence settings.
pub async fn persistence_settings(conn: &mut ConnectionManager) -> Result<PersistenceSettings, BaselineError> {
    Ok(PersistenceSettings {
        appendonly: config_get(conn, "appendonly").await?,
        appendfsync: config_get(conn, "appendfsync").await?,
        save: config_get(conn, "save").await?,
    })
}

async fn config_get(conn: &mut ConnectionManager, name: &str) -> Result<String, BaselineError> {
    let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(conn).await?;
    Ok(pair.get(1).cloned().unwrap_or_default())
}

/// Applies `mode` and returns the settings to restore afterwards; waits for
/// the initial append-only rewrite, so the run measures steady state.
pub async fn set_durability(
    conn: &mut ConnectionManager,
    mode: RedisDurability,
) -> Result<PersistenceSettings, BaselineError> {
    let previous = persistence_settings(conn).await?;
    let fsync = match mode {
        RedisDurability::AsConfigured => return Ok(previous),
        RedisDurability::AofEverysec => "everysec",
        RedisDurability::AofAlways => "always",
    };
    let () = redis::cmd("CONFIG").arg("SET").arg("appendfsync").arg(fsync).query_async(conn).await?;
    let () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query_async(conn).await?;
    wait_for_aof(conn).await?;
    Ok(previous)
}

/// Puts back settings returned by [`set_durability`]. If the run turned the
/// append-only file on, it is first rewritten from the (cleaned-up) dataset,
/// so the run's writes do not stay on the server's disk.
pub async fn restore_durability(
    conn: &mut ConnectionManager,
    previous: &PersistenceSettings,
) -> Result<(), BaselineError> {
    let current = persistence_settings(conn).await?;
    if current.appendonly == "yes" && previous.appendonly != "yes" {
        let _: redis::Value = redis::cmd("BGREWRITEAOF").query_async(conn).await?;
        wait_for_aof(conn).await?;
    }
    let () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg(&previous.appendonly).query_async(conn).await?;
    let () = redis::cmd("CONFIG").arg("SET").arg("appendfsync").arg(&previous.appendfsync).query_async(conn).await?;
    Ok(())
}

async fn wait_for_aof(conn: &mut ConnectionManager) -> Result<(), BaselineError> {
    let started = std::time::Instant::now();
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query_async(conn).await?;
        let field = |name: &str| {
            info.lines().find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(':'))).map(str::trim)
        };
        let enabled = field("aof_enabled") == Some("1");
        let rewriting = field("aof_rewrite_in_progress") != Some("0") || field("aof_rewrite_scheduled") != Some("0");
        if enabled && !rewriting {
            return Ok(());
        }
        if started.elapsed() > AOF_REWRITE_WAIT_MAX {
            return Err(BaselineError::Invalid("the append-only file did not finish its first rewrite".into()));
        }
        tokio::time::sleep(AOF_POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_records_parse() {
        let order = parse_order("3|2|0|5|4,17|bench-1|r9|[{\"name\":\"a|b\"}]").expect("parses");
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!((order.class, order.from, order.to), (2, 0, 5));
        assert_eq!(order.seats, vec![4, 17]);
        assert!(parse_order("9|2|0|5|4||").is_none());
    }
}
