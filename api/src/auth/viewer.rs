//! Who is calling: resolved once per request from the access token and client address,
//! then handed to every service, which refuses what the viewer may not do.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    net::IpAddr,
};

use arena_entity::auth::{
    ban, ban_privilege, privilege, role, role_privilege, user, user_privilege, user_role,
    user_token::{self, TokenType},
};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::tokens::TokenKeys;
use crate::error::{ApiError, ApiResult};

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub id: Uuid,
    /// The sign-in (refresh series) the access token belongs to.
    pub series: Uuid,
    /// Effective privileges: direct ones plus every role's and its ancestors'.
    pub privileges: BTreeSet<String>,
}

/// A ban in force on the caller's account or address.
#[derive(Debug, Clone)]
pub struct ActiveBan {
    /// The ban.
    pub id: i32,
    /// Why.
    pub reason: String,
    /// When it ends; `None` is permanent.
    pub until: Option<DateTime<Utc>>,
    /// `None` bans everything; otherwise only these privileges.
    pub privileges: Option<BTreeSet<String>>,
}

impl ActiveBan {
    fn error(&self) -> ApiError {
        ApiError::Banned {
            reason: self.reason.clone(),
            until: self.until,
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The client address (from the socket, or from `X-Forwarded-For` behind a trusted proxy).
    pub ip: IpAddr,
    user: Option<SignedIn>,
    token_problem: Option<&'static str>,
    bans: Vec<ActiveBan>,
}

impl Viewer {
    /// The signed-in user, if any (whatever their bans).
    pub fn user(&self) -> Option<&SignedIn> {
        self.user.as_ref()
    }

    /// Refuses anonymous callers and callers under a full ban.
    pub fn require_user(&self) -> ApiResult<&SignedIn> {
        let user = self.user.as_ref().ok_or(ApiError::Unauthenticated(
            self.token_problem.unwrap_or("sign in to do this"),
        ))?;
        self.refuse_if_banned(None)?;
        Ok(user)
    }

    /// Refuses callers without `privilege`, or banned from it.
    pub fn require_privilege(&self, privilege: &str) -> ApiResult<&SignedIn> {
        let user = self.require_user()?;
        self.refuse_if_banned(Some(privilege))?;
        if !user.privileges.contains(privilege) {
            return Err(ApiError::Forbidden);
        }
        Ok(user)
    }

    /// Whether the caller holds `privilege` now (not banned from it).
    pub fn has_privilege(&self, privilege: &str) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.privileges.contains(privilege))
            && self.refuse_if_banned(Some(privilege)).is_ok()
    }

    /// Whether the caller is `user_id`, or holds `privilege`.
    pub fn is_self_or(&self, user_id: Uuid, privilege: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.id == user_id) || self.has_privilege(privilege)
    }

    /// Refuses when a full ban applies, or a privilege ban covers `privilege`.
    pub fn refuse_if_banned(&self, privilege: Option<&str>) -> ApiResult<()> {
        let hit = self
            .bans
            .iter()
            .find(|ban| match (&ban.privileges, privilege) {
                (None, _) => true,
                (Some(banned), Some(wanted)) => banned.contains(wanted),
                (Some(_), None) => false,
            });
        hit.map_or(Ok(()), |ban| Err(ban.error()))
    }
}

/// The client address: the socket's peer, unless that peer is a trusted proxy, in which
/// case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves the caller: checks the token, that its sign-in is still alive and the account
/// usable, loads effective privileges, and the bans on the account or address.
pub async fn resolve(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    token: Option<&str>,
    ip: IpAddr,
) -> ApiResult<Viewer> {
    let (user, token_problem) = match token.map(|t| keys.verify_access(t)) {
        None => (None, None),
        Some(Err(problem)) => (None, Some(problem)),
        Some(Ok(claims)) => match signed_in(db, claims.sub, claims.sid).await? {
            Some(user) => (Some(user), None),
            None => (None, Some("the session has ended; sign in again")),
        },
    };
    let bans = active_bans(db, user.as_ref().map(|u| u.id), ip).await?;
    Ok(Viewer {
        ip,
        user,
        token_problem,
        bans,
    })
}

async fn signed_in(
    db: &impl ConnectionTrait,
    id: Uuid,
    series: Uuid,
) -> Result<Option<SignedIn>, DbErr> {
    let alive = user_token::Entity::find()
        .filter(user_token::Column::Series.eq(series))
        .filter(user_token::Column::UserId.eq(id))
        .filter(user_token::Column::TokenType.eq(TokenType::Refresh))
        .filter(user_token::Column::RevokedAt.is_null())
        .select_only()
        .column(user_token::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some();
    if !alive {
        return Ok(None);
    }
    let usable = user::Entity::find_by_id(id)
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::Activated.eq(true))
        .one(db)
        .await?
        .is_some();
    if !usable {
        return Ok(None);
    }
    Ok(Some(SignedIn {
        id,
        series,
        privileges: effective_privileges(db, id).await?,
    }))
}

/// The privileges `user_id` holds: direct grants, plus each assigned role's and all of its
/// ancestors'.
pub async fn effective_privileges(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<BTreeSet<String>, DbErr> {
    let parents: HashMap<i32, Option<i32>> = role::Entity::find()
        .select_only()
        .columns([role::Column::Id, role::Column::ParentId])
        .into_tuple::<(i32, Option<i32>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let assigned = assigned_role_ids(db, user_id).await?;
    let mut roles = HashSet::new();
    for start in assigned {
        let mut next = Some(start);
        // `insert` is false on a role already seen, which also ends a (forbidden) cycle.
        while let Some(id) = next.filter(|id| roles.insert(*id)) {
            next = parents.get(&id).copied().flatten();
        }
    }
    let mut ids: Vec<i32> = role_privilege::Entity::find()
        .filter(role_privilege::Column::RoleId.is_in(roles))
        .select_only()
        .column(role_privilege::Column::PrivilegeId)
        .into_tuple()
        .all(db)
        .await?;
    ids.extend(
        user_privilege::Entity::find()
            .filter(user_privilege::Column::UserId.eq(user_id))
            .select_only()
            .column(user_privilege::Column::PrivilegeId)
            .into_tuple::<i32>()
            .all(db)
            .await?,
    );
    privilege_names(db, ids).await
}

/// The roles assigned to `user_id` directly.
pub async fn assigned_role_ids(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<i32>, DbErr> {
    user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .select_only()
        .column(user_role::Column::RoleId)
        .into_tuple()
        .all(db)
        .await
}

async fn privilege_names(
    db: &impl ConnectionTrait,
    ids: Vec<i32>,
) -> Result<BTreeSet<String>, DbErr> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(privilege::Entity::find()
        .filter(privilege::Column::Id.is_in(ids))
        .select_only()
        .column(privilege::Column::Privilege)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Whether a ban's address (with its prefix length) covers `ip`.
pub fn ban_covers(ban_ip: &str, cidr: Option<i16>, ip: IpAddr) -> bool {
    let Ok(base) = ban_ip.parse::<IpAddr>() else {
        return false;
    };
    let full = if base.is_ipv4() { 32 } else { 128 };
    let prefix = cidr.and_then(|c| u8::try_from(c).ok()).unwrap_or(full);
    // A v4 client seen through a v6 socket is compared as v4.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    IpNet::new(base, prefix).is_ok_and(|net| net.contains(&ip))
}

/// Bans in force now on `user_id` or covering `ip`.
pub async fn active_bans(
    db: &impl ConnectionTrait,
    user_id: Option<Uuid>,
    ip: IpAddr,
) -> Result<Vec<ActiveBan>, DbErr> {
    let now = Utc::now();
    let mut whom = Condition::any().add(ban::Column::Ip.is_not_null());
    if let Some(user_id) = user_id {
        whom = whom.add(ban::Column::UserId.eq(user_id));
    }
    let rows = ban::Entity::find()
        .filter(ban::Column::LiftedAt.is_null())
        .filter(
            Condition::any()
                .add(ban::Column::ExpiresAt.is_null())
                .add(ban::Column::ExpiresAt.gt(now)),
        )
        .filter(whom)
        .all(db)
        .await?;
    let applying: Vec<ban::Model> = rows
        .into_iter()
        .filter(|ban| match &ban.ip {
            Some(ban_ip) => ban_covers(ban_ip, ban.cidr, ip),
            None => ban.user_id.is_some() && ban.user_id == user_id,
        })
        .collect();
    let mut bans = Vec::with_capacity(applying.len());
    for ban in applying {
        let privileges = if ban.privilege_ban {
            let ids = ban_privilege::Entity::find()
                .filter(ban_privilege::Column::BanId.eq(ban.id))
                .select_only()
                .column(ban_privilege::Column::PrivilegeId)
                .into_tuple::<i32>()
                .all(db)
                .await?;
            Some(privilege_names(db, ids).await?)
        } else {
            None
        };
        bans.push(ActiveBan {
            id: ban.id,
            reason: ban.reason,
            until: ban.expires_at,
            privileges,
        });
    }
    Ok(bans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_ranges_cover_their_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(ban_covers("203.0.113.7", None, ip("203.0.113.7")));
        assert!(!ban_covers("203.0.113.7", None, ip("203.0.113.8")));
        assert!(ban_covers("203.0.113.0", Some(24), ip("203.0.113.200")));
        assert!(!ban_covers("203.0.113.0", Some(24), ip("203.0.114.1")));
        assert!(ban_covers("2001:db8::", Some(32), ip("2001:db8:ffff::1")));
        assert!(!ban_covers("2001:db8::", Some(32), ip("2001:db9::1")));
        assert!(ban_covers(
            "203.0.113.0",
            Some(24),
            ip("::ffff:203.0.113.9")
        ));
        assert!(!ban_covers("not an ip", None, ip("203.0.113.7")));
    }

    #[test]
    fn forwarded_for_is_read_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.5, 10.0.0.2".parse().expect("v"),
        );
        let peer = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            client_ip(peer("10.0.0.1"), &headers, &trusted),
            peer("203.0.113.5")
        );
        assert_eq!(
            client_ip(peer("192.0.2.1"), &headers, &trusted),
            peer("192.0.2.1")
        );
        assert_eq!(
            client_ip(peer("10.0.0.1"), &HeaderMap::new(), &trusted),
            peer("10.0.0.1")
        );
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }
}
