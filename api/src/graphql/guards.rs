//! Field guards: how each GraphQL field is marked. A field without a guard is public; a
//! test walks the schema and checks the marks against an explicit public list. Services
//! check the same rules again, so no caller outside GraphQL escapes them.

use async_graphql::{Context, Guard};

use super::viewer;

/// Any signed-in caller not under a full ban.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        viewer(ctx).require_user()?;
        Ok(())
    }
}

/// A signed-in caller holding the privilege (and not banned from it).
pub struct Privilege(pub &'static str);

impl Guard for Privilege {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        viewer(ctx).require_privilege(self.0)?;
        Ok(())
    }
}
