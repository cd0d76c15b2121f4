//! Who is calling: resolved once per request from the access token and client address,
//! then handed to every service, which refuses what the viewer may not do.

use std::{
    collections::{BTreeSet, HashMap},
    net::IpAddr,
    sync::{Arc, Mutex},
};

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use sea_orm::{ConnectionTrait, DbErr};
use tokio::sync::Notify;
use uuid::Uuid;

use super::AuthState;
use crate::{
    context::AppContext,
    db::grouped,
    error::{ApiError, ApiResult},
};

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub id: Uuid,
    /// The sign-in (refresh series) the access token belongs to.
    pub series: Uuid,
    /// Effective privileges: direct ones plus every role's and its ancestors' (shared with
    /// the cache, so a request does not copy them).
    pub privileges: Arc<BTreeSet<String>>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
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

/// A machine's credential: `Authorization: Server <token>` from a game server, `Host
/// <token>` from a provisioning host. Checked by the services that take one, never as a
/// user's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Machine {
    /// A game server's token.
    Server(String),
    /// A provisioning host's token.
    Host(String),
}

/// Reads a machine's credential from an `Authorization` header value.
pub fn machine(value: &str) -> Option<Machine> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim().to_owned();
    if scheme.eq_ignore_ascii_case("server") {
        Some(Machine::Server(token))
    } else if scheme.eq_ignore_ascii_case("host") {
        Some(Machine::Host(token))
    } else {
        None
    }
}

/// The caller of one request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The client address (from the socket, or from `X-Forwarded-For` behind a trusted proxy).
    pub ip: IpAddr,
    /// A game server's or provisioning host's credential, when one was sent.
    pub machine: Option<Machine>,
    user: Option<SignedIn>,
    token_problem: Option<&'static str>,
    /// Bans on the caller's address, then on the signed-in account.
    bans: Vec<ActiveBan>,
    /// How many of `bans` are on the address.
    address_bans: usize,
}

impl Viewer {
    /// The bans on the caller's address (whoever signs in from it).
    pub fn address_bans(&self) -> &[ActiveBan] {
        &self.bans[..self.address_bans]
    }

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
        let now = Utc::now();
        let hit = self
            .bans
            .iter()
            .filter(|ban| ban.until.is_none_or(|until| until > now))
            .find(|ban| match (&ban.privileges, privilege) {
                (None, _) => true,
                (Some(banned), Some(wanted)) => banned.contains(wanted),
                (Some(_), None) => false,
            });
        hit.map_or(Ok(()), |ban| Err(ban.error()))
    }
}

/// Who holds a websocket: its address and the access token it presented last, so each event
/// of a subscription can check its caller again as a request would. A `ping` carrying a
/// fresh token for the same account replaces the token before the old one expires.
#[derive(Clone)]
pub struct SocketCaller {
    ip: IpAddr,
    token: Arc<Mutex<PresentedToken>>,
    renewed: Arc<Notify>,
}

#[derive(Default)]
struct PresentedToken {
    token: Option<String>,
    user_id: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
}

impl SocketCaller {
    /// A caller at `ip` that has presented no token yet.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            token: Arc::default(),
            renewed: Arc::default(),
        }
    }

    fn presented(&self) -> std::sync::MutexGuard<'_, PresentedToken> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes `token` as the connection's credentials; `user` is who it signed in, if anyone.
    pub fn replace_token(&self, token: Option<String>, user: Option<&SignedIn>) {
        *self.presented() = PresentedToken {
            token,
            user_id: user.map(|u| u.id),
            expires_at: user.and_then(|u| u.expires_at),
        };
        self.renewed.notify_waiters();
    }

    /// Takes a fresh access token of the same account.
    pub fn reauthenticate(&self, ctx: &AppContext, token: String) -> ApiResult<()> {
        let claims = ctx
            .auth
            .keys
            .verify_access(&token)
            .map_err(ApiError::Unauthenticated)?;
        let mut presented = self.presented();
        if presented.user_id.is_some_and(|id| id != claims.sub) {
            return Err(ApiError::Forbidden);
        }
        *presented = PresentedToken {
            token: Some(token),
            user_id: Some(claims.sub),
            expires_at: DateTime::from_timestamp(claims.exp, 0),
        };
        drop(presented);
        self.renewed.notify_waiters();
        Ok(())
    }

    /// Resolves once the presented token has expired and no fresh one replaced it.
    pub async fn expired(&self) {
        loop {
            let renewed = self.renewed.notified();
            let Some(at) = self.presented().expires_at else {
                renewed.await;
                continue;
            };
            let left = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = renewed => {}
                () = tokio::time::sleep(left) => {
                    if self.presented().expires_at.is_some_and(|now_at| now_at <= Utc::now()) {
                        return;
                    }
                }
            }
        }
    }

    /// The caller now, through the same cached path as a request.
    pub async fn viewer(&self, ctx: &AppContext) -> ApiResult<Viewer> {
        let token = self.presented().token.clone();
        resolve(&ctx.db, &ctx.auth, token.as_deref(), self.ip).await
    }
}

/// The client address: the socket's peer, unless that peer is a trusted proxy, in which
/// case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. IPv4
/// clients seen through IPv6 sockets (`::ffff:a.b.c.d`) are their IPv4 address.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
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

/// Resolves the caller: checks the token, then (through the access cache: one statement on
/// a miss) that its sign-in is alive and the account usable, with its privileges and bans;
/// bans on the address come from the in-memory set.
pub async fn resolve(
    db: &impl ConnectionTrait,
    auth: &AuthState,
    token: Option<&str>,
    ip: IpAddr,
) -> ApiResult<Viewer> {
    let mut bans = auth.address_bans.covering(db, ip).await?;
    let address_bans = bans.len();
    let (user, token_problem) = match token.map(|t| auth.keys.verify_access(t)) {
        None => (None, None),
        Some(Err(problem)) => (None, Some(problem)),
        Some(Ok(claims)) => match auth.access.get(db, claims.sub, claims.sid).await? {
            Some(access) => {
                bans.extend(access.bans.iter().cloned());
                let user = SignedIn {
                    id: claims.sub,
                    series: claims.sid,
                    privileges: access.privileges.clone(),
                    expires_at: DateTime::from_timestamp(claims.exp, 0),
                };
                (Some(user), None)
            }
            None => (None, Some("the session has ended; sign in again")),
        },
    };
    Ok(Viewer {
        ip,
        machine: None,
        user,
        token_problem,
        bans,
        address_bans,
    })
}

/// The privileges `user_id` holds: direct grants, plus each assigned role's and all of its
/// ancestors'.
pub async fn effective_privileges(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<BTreeSet<String>, DbErr> {
    Ok(effective_privileges_of(db, &[user_id])
        .await?
        .remove(&user_id)
        .unwrap_or_default())
}

/// [`effective_privileges`] of many users, in one statement.
pub async fn effective_privileges_of(
    db: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, BTreeSet<String>>, DbErr> {
    let sql = |list: &str| {
        format!(
            "WITH RECURSIVE held(user_id, role_id) AS (
                 SELECT ur.user_id, ur.role_id FROM user_roles ur WHERE ur.user_id IN ({list})
                 UNION
                 SELECT h.user_id, r.parent_id FROM roles r JOIN held h ON r.id = h.role_id
                  WHERE r.parent_id IS NOT NULL
             )
             SELECT h.user_id, p.privilege FROM held h
               JOIN role_privileges rp ON rp.role_id = h.role_id
               JOIN privileges p ON p.id = rp.privilege_id
             UNION
             SELECT up.user_id, p.privilege FROM user_privileges up
               JOIN privileges p ON p.id = up.privilege_id
              WHERE up.user_id IN ({list})"
        )
    };
    let held: HashMap<Uuid, Vec<String>> =
        grouped(db, user_ids, sql, ("user_id", "privilege")).await?;
    Ok(held
        .into_iter()
        .map(|(id, names)| (id, names.into_iter().collect()))
        .collect())
}

/// Whether a ban's address (with its prefix length) covers `ip`.
pub fn ban_covers(ban_ip: &str, cidr: Option<i16>, ip: IpAddr) -> bool {
    // A v4 client seen through a v6 socket is compared as v4.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    super::access::network(ban_ip, cidr).is_some_and(|net| net.contains(&ip))
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
        assert_eq!(bearer("Server abc"), None);
        assert_eq!(machine("Server abc"), Some(Machine::Server("abc".into())));
        assert_eq!(machine("host  abc"), Some(Machine::Host("abc".into())));
        assert_eq!(machine("Bearer abc"), None);
    }
}
