//! The schema: merged roots of every domain, limits and extensions.

mod extensions;
pub mod guards;
pub mod pagination;

use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::{audit, auth, auth::viewer::Viewer, battles, context::AppContext, mail, system};

pub use extensions::fault_response;

/// Every domain's queries.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    system::graphql::SystemQuery,
    auth::graphql::AuthQuery,
    auth::graphql::RolesQuery,
    auth::graphql::BansQuery,
    audit::graphql::AuditQuery,
    mail::graphql::MailQuery,
    battles::graphql::BattlesQuery,
);

/// Every domain's mutations.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    auth::graphql::AuthMutation,
    auth::graphql::RolesMutation,
    auth::graphql::BansMutation,
    auth::graphql::LifecycleMutation,
    auth::graphql::TotpMutation,
);

/// Every domain's subscriptions.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(
    system::graphql::SystemSubscription,
    battles::graphql::BattlesSubscription,
);

/// The Arena schema type.
pub type ArenaSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
}

/// The live schema with its data, limits and extensions.
pub fn build_schema(ctx: AppContext) -> ArenaSchema {
    let settings = &ctx.settings;
    builder()
        .limit_depth(settings.graphql_depth_limit)
        .limit_complexity(settings.graphql_complexity_limit)
        .extension(extensions::Boundary::new(ctx.metrics.clone()))
        .data(ctx)
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The shared context, which `build_schema` always installs.
pub(crate) fn app<'a>(ctx: &Context<'a>) -> &'a AppContext {
    // `build_schema` always adds it; `sdl()` builds a schema without data but never runs it.
    ctx.data_unchecked::<AppContext>()
}

/// The caller, which the HTTP and websocket layers attach to every request.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_unchecked::<Viewer>()
}
