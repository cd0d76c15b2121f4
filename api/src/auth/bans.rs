//! Bans by user, by IP address or by CIDR range; full, or only for listed privileges.
//! Placing and lifting need `user.ban`, and each is audited in its transaction.

use std::{
    collections::{BTreeSet, HashMap},
    net::IpAddr,
};

use arena_entity::auth::{
    ban, ban_privilege, privilege,
    user_token::{self, TokenType},
};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::viewer::Viewer;
use crate::{
    audit::{self, Entry},
    auth::privileges,
    bus::{Change, Changes},
    context::AppContext,
    db::grouped,
    error::{ApiError, ApiResult},
    graphql::pagination::{TotalCount, Window},
};

/// Whom a ban is on.
#[derive(Debug, Clone, Copy)]
pub enum BanTarget {
    /// One account.
    User(Uuid),
    /// An address or range.
    Address(IpNet),
}

/// A ban to place.
pub struct NewBan {
    /// Whom.
    pub target: BanTarget,
    /// Why; shown to the banned.
    pub reason: String,
    /// When it ends; `None` is permanent.
    pub expires_at: Option<DateTime<Utc>>,
    /// When given, only these privileges are taken away.
    pub privileges: Option<Vec<String>>,
}

/// An address or CIDR range; ranges wider than /8 (IPv4) or /16 (IPv6) are refused.
pub fn parse_address(raw: &str) -> ApiResult<IpNet> {
    let raw = raw.trim();
    let net = raw
        .parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map(super::access::canonical_net)
        .map_err(|_| {
            ApiError::bad_input(
                "address",
                "an address is an IP such as 203.0.113.7 or a range such as 203.0.113.0/24",
            )
        })?;
    let narrowest_allowed = if net.addr().is_ipv4() { 8 } else { 16 };
    if net.prefix_len() < narrowest_allowed {
        return Err(ApiError::bad_input(
            "address",
            format!("a range may be no wider than /{narrowest_allowed}"),
        ));
    }
    Ok(net.trunc())
}

fn parse_reason(raw: &str) -> ApiResult<String> {
    let reason = raw.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::bad_input(
            "reason",
            "a reason is 1 to 1000 characters",
        ));
    }
    Ok(reason.to_owned())
}

/// Places a ban. Sign-ins stay: every request checks bans, so the banned hear the reason
/// and end at once, and a lifted ban needs no new sign-in.
pub async fn place_ban(ctx: &AppContext, viewer: &Viewer, new: NewBan) -> ApiResult<ban::Model> {
    ctx.write(async |db, changes| place_ban_in(db, viewer, new, changes).await)
        .await
}

/// The body of [`place_ban`], for a caller's transaction.
pub async fn place_ban_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewBan,
    changes: &mut Changes,
) -> ApiResult<ban::Model> {
    let actor = viewer.require_privilege(privileges::USER_BAN)?;
    let reason = parse_reason(&new.reason)?;
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::bad_input("expiresAt", "a ban ends in the future"));
    }
    let privileges: Option<BTreeSet<String>> = new.privileges.map(|p| p.into_iter().collect());
    if privileges.as_ref().is_some_and(BTreeSet::is_empty) {
        return Err(ApiError::bad_input(
            "privileges",
            "a privilege ban lists at least one privilege",
        ));
    }
    let (user_id, ip, cidr) = match new.target {
        BanTarget::User(user_id) => {
            if user_id == actor.id {
                return Err(ApiError::bad_input("userId", "you cannot ban yourself"));
            }
            let target = super::find_user(db, user_id)
                .await?
                .ok_or(ApiError::NotFound("user"))?;
            refuse_acting_above(db, viewer, &[target.id]).await?;
            (Some(user_id), None, None)
        }
        BanTarget::Address(net) => {
            if net.contains(&viewer.ip) {
                return Err(ApiError::bad_input(
                    "address",
                    "this ban would cover your own address",
                ));
            }
            // Nor locks out, by their address, someone above them who is signed in there.
            refuse_acting_above(db, viewer, &signed_in_within(db, net).await?).await?;
            (
                None,
                Some(net.addr().to_string()),
                Some(i16::from(net.prefix_len())),
            )
        }
    };
    let mut privilege_ids = Vec::new();
    for name in privileges.iter().flatten() {
        let id = privilege::Entity::find()
            .filter(privilege::Column::Privilege.eq(name.as_str()))
            .select_only()
            .column(privilege::Column::Id)
            .into_tuple::<i32>()
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("privilege"))?;
        privilege_ids.push(id);
    }
    let placed = ban::ActiveModel {
        reason: Set(reason.clone()),
        ip: Set(ip.clone()),
        cidr: Set(cidr),
        user_id: Set(user_id),
        admin_id: Set(actor.id),
        privilege_ban: Set(privileges.is_some()),
        expires_at: Set(new.expires_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    for privilege_id in privilege_ids {
        ban_privilege::ActiveModel {
            ban_id: Set(placed.id),
            privilege_id: Set(privilege_id),
        }
        .insert(db)
        .await?;
    }
    audit::record(
        db,
        Some(actor.id),
        Entry {
            action: "ban.create",
            target_type: if user_id.is_some() { "user" } else { "address" },
            target_id: Some(user_id.map_or_else(
                || format!("{}/{}", ip.unwrap_or_default(), cidr.unwrap_or_default()),
                |u| u.to_string(),
            )),
            reason: Some(reason),
            details: Some(json!({
                "banId": placed.id,
                "expiresAt": new.expires_at,
                "privileges": privileges,
            })),
        },
    )
    .await?;
    changes.push(ban_change(&placed));
    Ok(placed)
}

/// Refuses when any of `targets` holds a privilege the viewer lacks: nobody acts on an
/// account above their own.
pub async fn refuse_acting_above(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    targets: &[Uuid],
) -> ApiResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let held = super::viewer::effective_privileges_of(db, targets).await?;
    if held.values().flatten().any(|p| !viewer.has_privilege(p)) {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// Accounts with a live sign-in issued to an address in `net`. Reads every live sign-in's
/// address: bans on addresses are rare, and SQLite has no address type to index.
async fn signed_in_within(db: &impl ConnectionTrait, net: IpNet) -> ApiResult<Vec<Uuid>> {
    let live: Vec<(Uuid, Option<String>)> = user_token::Entity::find()
        .select_only()
        .column(user_token::Column::UserId)
        .column(user_token::Column::Ip)
        .filter(user_token::Column::TokenType.eq(TokenType::Refresh))
        .filter(user_token::Column::RevokedAt.is_null())
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::ExpiresAt.gt(Utc::now()))
        .filter(user_token::Column::Ip.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut within: Vec<Uuid> = live
        .into_iter()
        .filter(|(_, ip)| {
            ip.as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip))
        })
        .map(|(user_id, _)| user_id)
        .collect();
    within.sort_unstable();
    within.dedup();
    Ok(within)
}

/// Whom a ban placed or lifted affects.
fn ban_change(ban: &ban::Model) -> Change {
    match ban.user_id {
        Some(user_id) => Change::Access { user_id },
        None => Change::AddressBans,
    }
}

/// Lifts a ban in force.
pub async fn lift_ban(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
    reason: &str,
) -> ApiResult<ban::Model> {
    ctx.write(async |db, changes| lift_ban_in(db, viewer, id, reason, changes).await)
        .await
}

/// The body of [`lift_ban`], for a caller's transaction.
pub async fn lift_ban_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
    reason: &str,
    changes: &mut Changes,
) -> ApiResult<ban::Model> {
    let actor = viewer.require_privilege(privileges::USER_BAN)?.id;
    let reason = parse_reason(reason)?;
    let current = ban::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("ban"))?;
    if current.lifted_at.is_some() {
        return Err(ApiError::Conflict("that ban is already lifted".into()));
    }
    // Nobody lifts a ban on themselves, on their account or on their address.
    let on_own_address = current
        .ip
        .as_deref()
        .and_then(|ip| super::access::network(ip, current.cidr))
        .is_some_and(|net| net.contains(&viewer.ip));
    if current.user_id == Some(actor) || on_own_address {
        return Err(ApiError::Forbidden);
    }
    let mut lifted: ban::ActiveModel = current.into();
    lifted.lifted_at = Set(Some(Utc::now()));
    lifted.lifted_by = Set(Some(actor));
    lifted.lift_reason = Set(Some(reason.clone()));
    let lifted = lifted.update(db).await?;
    audit::record(
        db,
        Some(actor),
        Entry {
            action: "ban.lift",
            target_type: "ban",
            target_id: Some(id.to_string()),
            reason: Some(reason),
            details: None,
        },
    )
    .await?;
    changes.push(ban_change(&lifted));
    Ok(lifted)
}

/// Which bans to list.
#[derive(Default)]
pub struct BanFilter {
    /// In force now (true), or lifted or expired (false).
    pub active: Option<bool>,
    /// On this user.
    pub user_id: Option<Uuid>,
    /// Covering this address (address bans only).
    pub address: Option<IpAddr>,
}

/// A page of bans, newest first, and how many match. Needs `user.ban`.
pub async fn list_bans(
    db: &DatabaseConnection,
    viewer: &Viewer,
    filter: BanFilter,
    window: Window,
) -> ApiResult<(Vec<ban::Model>, TotalCount)> {
    viewer.require_privilege(privileges::USER_BAN)?;
    let now = Utc::now();
    let in_force = Condition::all().add(ban::Column::LiftedAt.is_null()).add(
        Condition::any()
            .add(ban::Column::ExpiresAt.is_null())
            .add(ban::Column::ExpiresAt.gt(now)),
    );
    let mut matching = Condition::all();
    match filter.active {
        Some(true) => matching = matching.add(in_force),
        Some(false) => matching = matching.add(in_force.not()),
        None => {}
    }
    if let Some(user_id) = filter.user_id {
        matching = matching.add(ban::Column::UserId.eq(user_id));
    }
    if let Some(address) = filter.address {
        // Ranges are matched in Rust (the two databases share no address type); address
        // bans are few, so their ids are collected first.
        let covering: Vec<i32> = ban::Entity::find()
            .filter(ban::Column::Ip.is_not_null())
            .all(db)
            .await?
            .into_iter()
            .filter(|b| {
                b.ip.as_deref()
                    .is_some_and(|ip| super::viewer::ban_covers(ip, b.cidr, address))
            })
            .map(|b| b.id)
            .collect();
        matching = matching.add(ban::Column::Id.is_in(covering));
    }
    let total = TotalCount::of(db, ban::Entity::find().filter(matching.clone()));
    let rows = window
        .select(ban::Entity::find().filter(matching), ban::Column::Id)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The privileges each of `ban_ids` takes away (empty for a full ban), in one statement.
pub async fn banned_privileges_of(
    db: &impl ConnectionTrait,
    ban_ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<String>>> {
    let sql = |list: &str| {
        format!(
            "SELECT bp.ban_id, p.privilege FROM ban_privileges bp
               JOIN privileges p ON p.id = bp.privilege_id
              WHERE bp.ban_id IN ({list}) ORDER BY p.privilege"
        )
    };
    Ok(grouped(db, ban_ids, sql, ("ban_id", "privilege")).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges() {
        for (given, range) in [
            ("203.0.113.7", "203.0.113.7/32"),
            ("203.0.113.99/24", "203.0.113.0/24"),
            ("2001:db8::1/48", "2001:db8::/48"),
            ("::ffff:203.0.113.7", "203.0.113.7/32"),
            ("::ffff:203.0.113.0/120", "203.0.113.0/24"),
        ] {
            let parsed = parse_address(given).ok().map(|net| net.to_string());
            assert_eq!(parsed.as_deref(), Some(range), "{given}");
        }
        assert!(parse_address("10.0.0.0/7").is_err());
        assert!(parse_address("::/8").is_err());
        assert!(parse_address("203.0.113.300").is_err());
        assert!(parse_address("'; DROP TABLE bans; --").is_err());
    }
}
