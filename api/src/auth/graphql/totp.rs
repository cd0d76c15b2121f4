//! GraphQL surface of two-factor sign-in.

use async_graphql::{Context, Object, SimpleObject};

use crate::{
    auth::totp,
    graphql::{app, guards::SignedIn, viewer},
};

/// A started TOTP enrolment.
#[derive(SimpleObject)]
pub struct TotpEnrolment {
    /// The secret, base32, for typing into an authenticator app.
    secret: String,
    /// The same as an `otpauth://` URI, for a QR code.
    otpauth_uri: String,
}

/// Turning two-factor sign-in on and off.
#[derive(Default)]
pub struct TotpMutation;

#[Object]
impl TotpMutation {
    /// Starts TOTP enrolment; confirm it with a code within 15 minutes. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn begin_totp_enrolment(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<TotpEnrolment> {
        let started = totp::begin_enrolment(app(ctx), viewer(ctx)).await?;
        Ok(TotpEnrolment {
            secret: started.secret,
            otpauth_uri: started.otpauth_uri,
        })
    }

    /// Confirms enrolment with a current code; from now on sign-in needs one. Returns ten
    /// single-use recovery codes, shown only this once. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn confirm_totp_enrolment(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Vec<String>> {
        Ok(totp::confirm_enrolment(app(ctx), viewer(ctx), &code).await?)
    }

    /// Turns two-factor sign-in off. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn disable_totp(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> async_graphql::Result<bool> {
        totp::disable(app(ctx), viewer(ctx), password).await?;
        Ok(true)
    }
}
