//! GraphQL surface of bans.

use arena_entity::auth::ban;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::{User, parse_int_id, parse_uuid};
use crate::{
    auth::bans::{self, BanFilter, BanTarget, NewBan},
    auth::privileges,
    error::ApiError,
    graphql::{
        app,
        guards::Privilege,
        load,
        loaders::BannedPrivileges,
        pagination::{IdConnection, Window},
        viewer,
    },
};

/// A ban on an account or on an address range.
pub struct Ban(ban::Model);

#[Object]
impl Ban {
    /// Ban id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The banned account, for a user ban.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// The banned address or range in CIDR form, for an address ban.
    async fn address(&self) -> Option<String> {
        let ip = self.0.ip.as_ref()?;
        Some(match self.0.cidr {
            Some(prefix) => format!("{ip}/{prefix}"),
            None => ip.clone(),
        })
    }
    /// Why; shown to whoever is banned.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// The privileges taken away; null for a full ban.
    async fn privileges(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<String>>> {
        if !self.0.privilege_ban {
            return Ok(None);
        }
        let taken = load(ctx).load_one(BannedPrivileges(self.0.id)).await?;
        Ok(Some(taken.unwrap_or_default()))
    }
    /// Who placed it.
    async fn admin(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.admin_id)).await
    }
    /// When it was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it ends; null is permanent.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// When it was lifted.
    async fn lifted_at(&self) -> Option<DateTime<Utc>> {
        self.0.lifted_at
    }
    /// Why it was lifted.
    async fn lift_reason(&self) -> Option<&str> {
        self.0.lift_reason.as_deref()
    }
    /// Whether it is in force now.
    async fn active(&self) -> bool {
        self.0.lifted_at.is_none() && self.0.expires_at.is_none_or(|at| at > Utc::now())
    }
}

/// A ban on an account.
#[derive(InputObject)]
pub struct BanUserInput {
    /// The account.
    user_id: ID,
    /// Why; shown to the banned user.
    reason: String,
    /// When it ends; permanent when absent.
    expires_at: Option<DateTime<Utc>>,
    /// Take away only these privileges; a full ban when absent.
    privileges: Option<Vec<String>>,
}

/// A ban on an IP address or CIDR range.
#[derive(InputObject)]
pub struct BanAddressInput {
    /// `203.0.113.7`, `203.0.113.0/24`, `2001:db8::/48`.
    address: String,
    /// Why; shown to whoever is banned.
    reason: String,
    /// When it ends; permanent when absent.
    expires_at: Option<DateTime<Utc>>,
    /// Take away only these privileges; a full ban when absent.
    privileges: Option<Vec<String>>,
}

/// Narrows the ban list.
#[derive(InputObject, Default)]
pub struct BanFilterInput {
    /// In force now (true) or lifted or expired (false).
    active: Option<bool>,
    /// On this account.
    user_id: Option<ID>,
    /// Address bans covering this IP.
    address: Option<String>,
}

/// Ban queries.
#[derive(Default)]
pub struct BansQuery;

#[Object]
impl BansQuery {
    /// Bans, newest first. Privilege `user.ban`.
    #[graphql(guard = "Privilege(privileges::USER_BAN)")]
    async fn bans(
        &self,
        ctx: &Context<'_>,
        filter: Option<BanFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<Ban>> {
        let window = Window::parse(after, before, first, last)?;
        let filter = filter.unwrap_or_default();
        let address = filter
            .address
            .as_deref()
            .map(|a| {
                a.trim()
                    .parse()
                    .map_err(|_| ApiError::bad_input("address", "that is not an IP address"))
            })
            .transpose()?;
        let filter = BanFilter {
            active: filter.active,
            user_id: filter
                .user_id
                .as_ref()
                .map(|id| parse_uuid(id, "userId"))
                .transpose()?,
            address,
        };
        let (rows, total) = bans::list_bans(&app(ctx).db, viewer(ctx), filter, window).await?;
        Ok(window.page(rows, total, |row| i64::from(row.id), Ban))
    }
}

/// Placing and lifting bans; each is audited.
#[derive(Default)]
pub struct BansMutation;

#[Object]
impl BansMutation {
    /// Bans an account. Privilege `user.ban`.
    #[graphql(guard = "Privilege(privileges::USER_BAN)")]
    async fn ban_user(&self, ctx: &Context<'_>, input: BanUserInput) -> async_graphql::Result<Ban> {
        let new = NewBan {
            target: BanTarget::User(parse_uuid(&input.user_id, "userId")?),
            reason: input.reason,
            expires_at: input.expires_at,
            privileges: input.privileges,
        };
        Ok(Ban(bans::place_ban(app(ctx), viewer(ctx), new).await?))
    }

    /// Bans an IP address or CIDR range (IPv4 or IPv6). Privilege `user.ban`.
    #[graphql(guard = "Privilege(privileges::USER_BAN)")]
    async fn ban_address(
        &self,
        ctx: &Context<'_>,
        input: BanAddressInput,
    ) -> async_graphql::Result<Ban> {
        let new = NewBan {
            target: BanTarget::Address(bans::parse_address(&input.address)?),
            reason: input.reason,
            expires_at: input.expires_at,
            privileges: input.privileges,
        };
        Ok(Ban(bans::place_ban(app(ctx), viewer(ctx), new).await?))
    }

    /// Lifts a ban in force. Privilege `user.ban`.
    #[graphql(guard = "Privilege(privileges::USER_BAN)")]
    async fn lift_ban(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<Ban> {
        let id = parse_int_id(&id, "id")?;
        Ok(Ban(
            bans::lift_ban(app(ctx), viewer(ctx), id, &reason).await?
        ))
    }
}
