//! Host bans over GraphQL.

use arena_entity::servers::host_ban;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::NewHostBan;
use crate::{
    auth::{
        graphql::{User, parse_int_id, parse_uuid},
        privileges,
    },
    graphql::{app, guards::Privilege, viewer},
};

/// An address or network banned from hosting game servers.
pub struct HostBan(host_ban::Model);

#[Object]
impl HostBan {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The network, as `address/prefix`.
    async fn network(&self) -> String {
        format!("{}/{}", self.0.ip, self.0.cidr)
    }
    /// Why.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Who placed it.
    async fn admin(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.admin_id)).await
    }
    /// The user behind the hosting, when known.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// When it was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it ends by itself; null never.
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
}

/// A host ban to place.
#[derive(InputObject)]
pub struct HostBanInput {
    /// An address such as `203.0.113.7`, or a network such as `203.0.113.0/24` (no wider
    /// than /8 for IPv4, /16 for IPv6).
    address: String,
    /// The user behind the hosting, when known.
    user_id: Option<ID>,
    /// Why, 1 to 500 characters; kept in the audit log.
    reason: String,
    /// When it ends; never when left out.
    expires_at: Option<DateTime<Utc>>,
}

/// Server queries.
#[derive(Default)]
pub struct ServersQuery;

#[Object]
impl ServersQuery {
    /// Host bans, newest first: in force (`active: true`), lifted or expired
    /// (`active: false`), or all. Needs `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn host_bans(
        &self,
        ctx: &Context<'_>,
        active: Option<bool>,
    ) -> async_graphql::Result<Vec<HostBan>> {
        Ok(super::host_bans(&app(ctx).db, active)
            .await?
            .into_iter()
            .map(HostBan)
            .collect())
    }
}

/// Server mutations.
#[derive(Default)]
pub struct ServersMutation;

#[Object]
impl ServersMutation {
    /// Bans an address or network from hosting game servers, audited. Needs
    /// `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn ban_host(
        &self,
        ctx: &Context<'_>,
        input: HostBanInput,
    ) -> async_graphql::Result<HostBan> {
        let new = NewHostBan {
            address: input.address,
            user_id: input
                .user_id
                .map(|id| parse_uuid(&id, "userId"))
                .transpose()?,
            reason: input.reason,
            expires_at: input.expires_at,
        };
        Ok(HostBan(super::ban_host(app(ctx), viewer(ctx), new).await?))
    }
    /// Lifts a host ban with a reason, audited; a lifted one stays as it was. Needs
    /// `server.manage`.
    #[graphql(guard = "Privilege(privileges::SERVER_MANAGE)")]
    async fn lift_host_ban(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<HostBan> {
        let id = parse_int_id(&id, "id")?;
        Ok(HostBan(
            super::lift_host_ban(app(ctx), viewer(ctx), id, &reason).await?,
        ))
    }
}
