//! What a sign-in may do, read in one statement and cached per sign-in for a few seconds;
//! and the address bans, held in memory. The change bus keeps both exact: every change that
//! affects them is published after its commit and drops what this instance cached, on every
//! instance. The time limit only bounds how stale a cache can be when a message was lost.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::viewer::ActiveBan;
use crate::{
    bus::{Change, Hook},
    db::raw,
    expiring::Expiring,
};

/// Sign-ins cached at most.
const MAX_ENTRIES: usize = 100_000;

/// What the database says of one live sign-in.
#[derive(Debug, Clone)]
pub struct Access {
    /// Effective privileges: direct ones plus every role's and all of its ancestors'.
    pub privileges: Arc<BTreeSet<String>>,
    /// Bans on the account that were in force when read (their expiry is checked at use).
    pub bans: Vec<ActiveBan>,
}

/// Per-sign-in access, cached: the account, and `None` when the sign-in has ended or the
/// account is unusable.
pub struct AccessCache {
    by_series: Expiring<Uuid, (Uuid, Option<Arc<Access>>)>,
}

impl AccessCache {
    /// A cache whose entries live `ttl` at most.
    pub fn new(ttl: Duration) -> Self {
        Self {
            by_series: Expiring::new(ttl, MAX_ENTRIES),
        }
    }

    /// The access of `series` (a sign-in of `user_id`): cached, or read in one statement.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        user_id: Uuid,
        series: Uuid,
    ) -> Result<Option<Arc<Access>>, DbErr> {
        let ticket = match self.by_series.get(&series) {
            Ok((owner, access)) if owner == user_id => return Ok(access),
            Ok(_) => self.by_series.ticket(),
            Err(ticket) => ticket,
        };
        let access = load(db, user_id, series).await?.map(Arc::new);
        self.by_series
            .put(ticket, series, (user_id, access.clone()));
        Ok(access)
    }

    /// Drops what is cached for `user_id`'s sign-ins.
    pub fn forget_user(&self, user_id: Uuid) {
        self.by_series.forget_where(|(owner, _)| *owner == user_id);
    }

    /// Drops everything cached.
    pub fn forget_all(&self) {
        self.by_series.forget_all();
    }
}

/// An address ban in force: the range and the ban.
type AddressBan = (IpNet, ActiveBan);

struct Loaded {
    bans: Arc<Vec<AddressBan>>,
    at: Instant,
    generation: u64,
}

/// Every address ban in force, in memory; reloaded when one changes or it grows old.
pub struct AddressBans {
    ttl: Duration,
    loaded: RwLock<Option<Loaded>>,
    generation: std::sync::atomic::AtomicU64,
    reload: tokio::sync::Mutex<()>,
}

impl AddressBans {
    /// A set reloaded at least every `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            loaded: RwLock::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// The loaded set unless a change made it stale, and whether it is past its time.
    fn current(&self) -> Option<(Arc<Vec<AddressBan>>, bool)> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let loaded = self
            .loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loaded
            .as_ref()
            .filter(|l| l.generation == generation)
            .map(|l| (l.bans.clone(), l.at.elapsed() >= self.ttl))
    }

    async fn reload(&self, db: &impl ConnectionTrait) -> Result<Arc<Vec<AddressBan>>, DbErr> {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let bans = Arc::new(load_address_bans(db).await?);
        *self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Loaded {
            bans: bans.clone(),
            at: Instant::now(),
            generation,
        });
        Ok(bans)
    }

    /// The bans in force covering `ip`. After a change every caller waits for the reload,
    /// so the change applies at once; when the set is merely old, one caller reloads it and
    /// the others use it as it is meanwhile.
    pub async fn covering(
        &self,
        db: &impl ConnectionTrait,
        ip: IpAddr,
    ) -> Result<Vec<ActiveBan>, DbErr> {
        let bans = match self.current() {
            Some((bans, false)) => bans,
            Some((stale, true)) => match self.reload.try_lock() {
                Ok(_one_reader) => self.reload(db).await?,
                Err(_) => stale,
            },
            None => {
                let _one_reader = self.reload.lock().await;
                match self.current() {
                    Some((bans, false)) => bans,
                    _ => self.reload(db).await?,
                }
            }
        };
        let ip = match ip {
            // A v4 client seen through a v6 socket is compared as v4.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        Ok(bans
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .map(|(_, ban)| ban.clone())
            .collect())
    }

    /// Marks the set stale; the next request reloads it.
    pub fn forget(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The bus hook that keeps both caches exact.
pub fn invalidation(cache: Arc<AccessCache>, addresses: Arc<AddressBans>) -> Hook {
    Arc::new(move |change| match change {
        Change::Access { user_id } => cache.forget_user(*user_id),
        Change::AccessAll => cache.forget_all(),
        Change::AddressBans => addresses.forget(),
        Change::Resync => {
            cache.forget_all();
            addresses.forget();
        }
        Change::CrawlRun { .. }
        | Change::Relationship { .. }
        | Change::Content { .. }
        | Change::Categories
        | Change::AssetJobs
        | Change::Balances { .. }
        | Change::Trade { .. }
        | Change::ServerShutDown { .. }
        | Change::Events { .. }
        | Change::PlayerStats { .. }
        | Change::Leaderboard { .. }
        | Change::QuestProgress { .. } => {}
    })
}

/// Bans in force on the account `$1` at `$2`: one row per ban, and one more per privilege
/// of a privilege ban.
const ACCOUNT_BANS: &str = "
    SELECT CASE WHEN b.privilege_ban THEN 'partial_ban' ELSE 'ban' END AS kind,
           b.id AS ban_id, b.reason AS name, b.expires_at AS until
      FROM bans b
     WHERE b.user_id = $1 AND b.lifted_at IS NULL
       AND (b.expires_at IS NULL OR b.expires_at > $2)
    UNION ALL
    SELECT 'banned_privilege', b.id, p.privilege, CAST(NULL AS TIMESTAMPTZ)
      FROM bans b
      JOIN ban_privileges bp ON bp.ban_id = b.id
      JOIN privileges p ON p.id = bp.privilege_id
     WHERE b.user_id = $1 AND b.privilege_ban AND b.lifted_at IS NULL
       AND (b.expires_at IS NULL OR b.expires_at > $2)";

/// One statement for a sign-in: whether it is alive and the account usable, the account's
/// effective privileges (roles walked up the tree), and the bans on it.
const SIGN_IN: &str = "
    WITH RECURSIVE alive AS (
        SELECT u.id FROM users u
         WHERE u.id = $1 AND u.deleted_at IS NULL AND u.activated
           AND EXISTS (SELECT 1 FROM user_tokens t
                        WHERE t.series = $3 AND t.user_id = u.id
                          AND t.type = 'refresh' AND t.revoked_at IS NULL)
    ),
    held(role_id) AS (
        SELECT ur.role_id FROM user_roles ur JOIN alive a ON ur.user_id = a.id
        UNION
        SELECT r.parent_id FROM roles r JOIN held h ON r.id = h.role_id
         WHERE r.parent_id IS NOT NULL
    ),
    granted(privilege_id) AS (
        SELECT rp.privilege_id FROM role_privileges rp JOIN held h ON rp.role_id = h.role_id
        UNION
        SELECT up.privilege_id FROM user_privileges up JOIN alive a ON up.user_id = a.id
    )
    SELECT 'alive' AS kind, CAST(NULL AS INTEGER) AS ban_id, CAST(NULL AS TEXT) AS name,
           CAST(NULL AS TIMESTAMPTZ) AS until
      FROM alive
    UNION ALL
    SELECT 'privilege', CAST(NULL AS INTEGER), p.privilege, CAST(NULL AS TIMESTAMPTZ)
      FROM granted g JOIN privileges p ON p.id = g.privilege_id
    UNION ALL
    SELECT * FROM (";

/// Reads a sign-in's access; `None` when it ended or the account is deleted or inactive.
async fn load(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    series: Uuid,
) -> Result<Option<Access>, DbErr> {
    let sql = format!("{SIGN_IN}{ACCOUNT_BANS}) bans WHERE EXISTS (SELECT 1 FROM alive)");
    let values = vec![user_id.into(), Utc::now().into(), series.into()];
    let rows = db.query_all_raw(raw(db, &sql, values)).await?;
    let mut alive = false;
    let mut privileges = BTreeSet::new();
    let mut bans = Bans::default();
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        match kind.as_str() {
            "alive" => alive = true,
            "privilege" => {
                privileges.insert(row.try_get("", "name")?);
            }
            _ => bans.add(&kind, &row)?,
        }
    }
    Ok(alive.then(|| Access {
        privileges: Arc::new(privileges),
        bans: bans.finish(),
    }))
}

/// Bans in force on `user_id` now, in one statement.
pub async fn account_bans(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<ActiveBan>, DbErr> {
    let values = vec![user_id.into(), Utc::now().into()];
    let rows = db.query_all_raw(raw(db, ACCOUNT_BANS, values)).await?;
    let mut bans = Bans::default();
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        bans.add(&kind, &row)?;
    }
    Ok(bans.finish())
}

/// Builds bans from the rows of [`ACCOUNT_BANS`].
#[derive(Default)]
struct Bans(BTreeMap<i32, ActiveBan>);

impl Bans {
    fn add(&mut self, kind: &str, row: &sea_orm::QueryResult) -> Result<(), DbErr> {
        let id: i32 = row.try_get("", "ban_id")?;
        match kind {
            "ban" | "partial_ban" => {
                let ban = ActiveBan {
                    id,
                    reason: row.try_get("", "name")?,
                    until: row.try_get::<Option<DateTime<Utc>>>("", "until")?,
                    privileges: (kind == "partial_ban").then(BTreeSet::new),
                };
                // A privilege row may have come first; keep what it gathered.
                let gathered = self.0.remove(&id).and_then(|b| b.privileges);
                let privileges = ban.privileges.map(|mut own| {
                    own.extend(gathered.into_iter().flatten());
                    own
                });
                self.0.insert(id, ActiveBan { privileges, ..ban });
            }
            _ => {
                let name: String = row.try_get("", "name")?;
                self.0
                    .entry(id)
                    .or_insert_with(|| ActiveBan {
                        id,
                        reason: String::new(),
                        until: None,
                        privileges: Some(BTreeSet::new()),
                    })
                    .privileges
                    .get_or_insert_with(BTreeSet::new)
                    .insert(name);
            }
        }
        Ok(())
    }

    fn finish(self) -> Vec<ActiveBan> {
        self.0.into_values().collect()
    }
}

/// Every address ban in force, with its privileges, in one statement.
async fn load_address_bans(db: &impl ConnectionTrait) -> Result<Vec<AddressBan>, DbErr> {
    let sql = "
        SELECT b.id, b.reason, b.ip, b.cidr, b.privilege_ban, b.expires_at, p.privilege
          FROM bans b
          LEFT JOIN ban_privileges bp ON bp.ban_id = b.id
          LEFT JOIN privileges p ON p.id = bp.privilege_id
         WHERE b.ip IS NOT NULL AND b.lifted_at IS NULL
           AND (b.expires_at IS NULL OR b.expires_at > $1)";
    let rows = db
        .query_all_raw(raw(db, sql, vec![Utc::now().into()]))
        .await?;
    let mut by_id: BTreeMap<i32, AddressBan> = BTreeMap::new();
    for row in rows {
        let id: i32 = row.try_get("", "id")?;
        let privilege: Option<String> = row.try_get("", "privilege")?;
        if let Some((_, ban)) = by_id.get_mut(&id) {
            if let (Some(set), Some(privilege)) = (ban.privileges.as_mut(), privilege) {
                set.insert(privilege);
            }
            continue;
        }
        let ip: String = row.try_get("", "ip")?;
        let cidr: Option<i16> = row.try_get("", "cidr")?;
        let Some(net) = network(&ip, cidr) else {
            continue;
        };
        let partial: bool = row.try_get("", "privilege_ban")?;
        let ban = ActiveBan {
            id,
            reason: row.try_get("", "reason")?,
            until: row.try_get("", "expires_at")?,
            privileges: partial.then(|| privilege.into_iter().collect()),
        };
        by_id.insert(id, (net, ban));
    }
    Ok(by_id.into_values().collect())
}

/// The range a ban's address and prefix length name.
pub fn network(ban_ip: &str, cidr: Option<i16>) -> Option<IpNet> {
    let base = ban_ip.parse::<IpAddr>().ok()?;
    let full = if base.is_ipv4() { 32 } else { 128 };
    let prefix = cidr.and_then(|c| u8::try_from(c).ok()).unwrap_or(full);
    IpNet::new(base, prefix).ok().map(canonical_net)
}

/// An IPv4-mapped IPv6 range (`::ffff:a.b.c.d/n`, n ≥ 96) as the IPv4 range it is, so it
/// matches clients, whose addresses are made canonical the same way.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}
