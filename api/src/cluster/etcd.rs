//! What the cluster keeps in etcd, and the few transactions it runs there.
//!
//! Keys, under the cluster's prefix `P`:
//! - `P/members/<node id>` = the node's advertised `host:port`, under its lease;
//! - `P/slots/<slot>` = the owning node's id, under its lease. The key's
//!   create revision is the slot's fencing token;
//! - `P/presale`: the election whose leader runs the presale scheduler.
//!
//! Every key a node writes lives under its lease, so a dead node's keys
//! vanish when the lease expires and the others can claim its slots.

use engine::slots::{SLOT_COUNT, SlotId};
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bound on every etcd call: a call that takes longer counts as etcd being
/// unreachable, well inside one lease.
pub const ETCD_CALL_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Who owns a slot according to etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotOwner {
    pub node: String,
    /// The create revision of the slot key: the fencing token.
    pub token: u64,
    /// The lease the key lives under, which tells a restarted node's keys
    /// from those of its previous life.
    pub lease: i64,
}

/// The cluster as etcd shows it at one revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Live members: node id → advertised address.
    pub members: BTreeMap<String, String>,
    /// Owner of each slot, by slot number; `None` while unclaimed.
    pub owners: Vec<Option<SlotOwner>>,
    /// Mod revision of the changes key: it moves whenever a node made an
    /// admin change (timetable, opened or archived train-dates) that the
    /// others must load from the database.
    pub changes_revision: i64,
}

impl ClusterView {
    pub fn owner(&self, slot: SlotId) -> Option<&SlotOwner> {
        self.owners.get(usize::from(slot)).and_then(Option::as_ref)
    }
}

/// Connects with short timeouts, and insists on a leader: during a quorum
/// loss a member without one must answer an error, not stale data.
pub async fn connect(endpoints: &[String]) -> Result<Client, etcd_client::Error> {
    let options = ConnectOptions::new()
        .with_connect_timeout(ETCD_CALL_TIMEOUT)
        .with_timeout(ETCD_CALL_TIMEOUT)
        .with_keep_alive(Duration::from_secs(1), ETCD_CALL_TIMEOUT)
        .with_require_leader(true);
    Client::connect(endpoints, Some(options)).await
}

/// A client whose calls may wait indefinitely (an election campaign), with
/// connection keep-alives so a dead etcd is still noticed.
pub async fn connect_for_waiting(endpoints: &[String]) -> Result<Client, etcd_client::Error> {
    let options = ConnectOptions::new()
        .with_connect_timeout(ETCD_CALL_TIMEOUT)
        .with_keep_alive(Duration::from_secs(1), ETCD_CALL_TIMEOUT)
        .with_keep_alive_while_idle(true)
        .with_require_leader(true);
    Client::connect(endpoints, Some(options)).await
}

/// Key names under one prefix.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys { prefix: prefix.to_owned() }
    }

    pub fn member(&self, node_id: &str) -> String {
        format!("{}/members/{node_id}", self.prefix)
    }

    /// Zero-padded, so keys sort by slot.
    pub fn slot(&self, slot: SlotId) -> String {
        format!("{}/slots/{slot:04}", self.prefix)
    }

    pub fn changes(&self) -> String {
        format!("{}/changes", self.prefix)
    }

    pub fn presale_election(&self) -> String {
        format!("{}/presale", self.prefix)
    }

    pub fn relay_election(&self) -> String {
        format!("{}/relay", self.prefix)
    }

    fn members_prefix(&self) -> String {
        format!("{}/members/", self.prefix)
    }

    fn slots_prefix(&self) -> String {
        format!("{}/slots/", self.prefix)
    }
}

/// Registers `node_id` at `advertise` under `lease`, unless a live node
/// already holds the id: then its address is returned and nothing is written.
pub async fn register(
    client: &mut Client,
    keys: &Keys,
    node_id: &str,
    advertise: &str,
    lease: i64,
) -> Result<Result<(), String>, etcd_client::Error> {
    let key = keys.member(node_id);
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key.clone(), advertise, Some(PutOptions::new().with_lease(lease)))])
        .or_else([TxnOp::get(key, None)]);
    let response = client.txn(txn).await?;
    if response.succeeded() {
        return Ok(Ok(()));
    }
    let holder = response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => get.kvs().first().map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
        _ => None,
    });
    Ok(Err(holder.unwrap_or_default()))
}

/// Reads the members and slot owners in one consistent read.
pub async fn read_view(client: &mut Client, keys: &Keys) -> Result<ClusterView, etcd_client::Error> {
    let mut members_read = client.get(keys.members_prefix(), Some(GetOptions::new().with_prefix())).await?;
    let revision = members_read.header().map_or(0, |header| header.revision());
    let options = GetOptions::new().with_prefix().with_revision(revision);
    let mut slots_read = client.get(keys.slots_prefix(), Some(options)).await?;
    let changes = client.get(keys.changes(), Some(GetOptions::new().with_revision(revision))).await?;
    let mut view = ClusterView {
        owners: vec![None; usize::from(SLOT_COUNT)],
        changes_revision: changes.kvs().first().map_or(0, |kv| kv.mod_revision()),
        ..ClusterView::default()
    };
    let members_prefix = keys.members_prefix();
    for kv in members_read.take_kvs() {
        let key = String::from_utf8_lossy(kv.key());
        if let Some(node) = key.strip_prefix(&members_prefix) {
            view.members.insert(node.to_owned(), String::from_utf8_lossy(kv.value()).into_owned());
        }
    }
    let slots_prefix = keys.slots_prefix();
    for kv in slots_read.take_kvs() {
        let key = String::from_utf8_lossy(kv.key());
        let Some(slot) = key.strip_prefix(&slots_prefix).and_then(|slot| slot.parse::<SlotId>().ok()) else {
            continue;
        };
        if slot < SLOT_COUNT {
            view.owners[usize::from(slot)] = Some(SlotOwner {
                node: String::from_utf8_lossy(kv.value()).into_owned(),
                token: kv.create_revision() as u64,
                lease: kv.lease(),
            });
        }
    }
    Ok(view)
}

/// Claims an unowned slot under `lease`; the fencing token (the key's create
/// revision) if this node got it, `None` if another node holds it.
pub async fn claim(
    client: &mut Client,
    keys: &Keys,
    slot: SlotId,
    node_id: &str,
    lease: i64,
) -> Result<Option<u64>, etcd_client::Error> {
    let key = keys.slot(slot);
    let txn = Txn::new().when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)]).and_then([TxnOp::put(
        key,
        node_id,
        Some(PutOptions::new().with_lease(lease)),
    )]);
    let response = client.txn(txn).await?;
    // The put's revision is the one the new key was created at.
    Ok(response.succeeded().then(|| response.header().map_or(0, |header| header.revision()) as u64))
}

/// Gives a slot up, if this node's claim `token` still holds it.
pub async fn release(client: &mut Client, keys: &Keys, slot: SlotId, token: u64) -> Result<bool, etcd_client::Error> {
    let key = keys.slot(slot);
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, token as i64)])
        .and_then([TxnOp::delete(key, None)]);
    Ok(client.txn(txn).await?.succeeded())
}

/// Tells the other nodes to reload what this node just changed.
pub async fn announce_change(client: &mut Client, keys: &Keys, node_id: &str) -> Result<(), etcd_client::Error> {
    client.put(keys.changes(), node_id, None).await.map(drop)
}
