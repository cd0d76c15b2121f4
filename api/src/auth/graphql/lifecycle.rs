//! GraphQL surface of the account lifecycle: codes by mail, and what they unlock.

use async_graphql::{Context, Json, Object};

use super::User;
use crate::{
    auth::lifecycle,
    graphql::{app, guards::SignedIn, viewer},
};

/// Verification, reactivation, password reset, deactivation, data export and deletion.
#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// Mails a code that verifies the caller's email address. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        lifecycle::request_email_verification(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }

    /// Mails a reactivation code to a deactivated account. Always true, so it reveals no
    /// account. Public; rate limited per address.
    async fn request_reactivation(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        lifecycle::request_reactivation(app(ctx), viewer(ctx), &email).await?;
        Ok(true)
    }

    /// Uses a mailed activation code: verifies the address and reactivates the account.
    /// Public.
    async fn activate_account(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<User> {
        let account = lifecycle::activate(app(ctx), viewer(ctx), &token).await?;
        Ok(User::for_viewer(ctx, account))
    }

    /// Mails a password-reset code. Always true, so it reveals no account. Public; rate
    /// limited per address.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        lifecycle::request_password_reset(app(ctx), viewer(ctx), &email).await?;
        Ok(true)
    }

    /// Uses a mailed reset code to set a new password; every sign-in ends. Public.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        lifecycle::reset_password(app(ctx), viewer(ctx), &token, &new_password).await?;
        Ok(true)
    }

    /// Mails a code that deactivates the caller's account. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn request_deactivation(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        lifecycle::request_deactivation(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }

    /// Uses a mailed deactivation code; the account signs in again only after reactivation.
    /// Public.
    async fn deactivate_account(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<bool> {
        lifecycle::deactivate(app(ctx), viewer(ctx), &token).await?;
        Ok(true)
    }

    /// Mails a code that fetches everything Arena holds about the caller. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn request_data_export(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        lifecycle::request_data_export(app(ctx), viewer(ctx)).await?;
        Ok(true)
    }

    /// Uses a mailed export code: the account, roles, tokens (no secrets), bans and audit
    /// entries about its owner, as JSON. Public.
    async fn export_data(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        Ok(Json(
            lifecycle::export_data(app(ctx), viewer(ctx), &token).await?,
        ))
    }

    /// Deletes the caller's account (kept, marked deleted, for history). Signed in.
    #[graphql(guard = "SignedIn")]
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> async_graphql::Result<bool> {
        lifecycle::delete_account(app(ctx), viewer(ctx), password).await?;
        Ok(true)
    }
}
