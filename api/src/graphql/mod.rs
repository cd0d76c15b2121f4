//! The schema: merged roots of every domain, limits and extensions.

mod extensions;
pub mod guards;
pub mod loaders;
pub mod pagination;
pub mod preflight;
pub mod public_cache;

use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};
use futures_util::{Stream, StreamExt};

use crate::{
    assets, audit, auth,
    auth::viewer::{SocketCaller, Viewer},
    bank, battles, catalog, characters,
    context::AppContext,
    error::ApiResult,
    events, games, leaderboards, mail, play, players, quests, servers, stats, store, system,
};

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
    players::graphql::SocialQuery,
    catalog::graphql::CatalogQuery,
    games::graphql::GamesQuery,
    assets::graphql::AssetsQuery,
    bank::graphql::BankQuery,
    store::graphql::StoreQuery,
    store::trades_graphql::TradesQuery,
    characters::graphql::CharactersQuery,
    servers::graphql::ServersQuery,
    servers::graphql::PlayServersQuery,
    play::graphql::PlayQuery,
    events::graphql::EventsQuery,
    stats::graphql::StatsQuery,
    leaderboards::graphql::LeaderboardsQuery,
    quests::graphql::QuestsQuery,
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
    players::graphql::SocialMutation,
    catalog::graphql::CatalogMutation,
    games::graphql::GamesMutation,
    assets::graphql::AssetsMutation,
    bank::graphql::BankMutation,
    store::graphql::StoreMutation,
    store::trades_graphql::TradesMutation,
    characters::graphql::CharactersMutation,
    servers::graphql::ServersMutation,
    servers::graphql::PlayServersMutation,
    play::graphql::PlayMutation,
    events::graphql::EventsMutation,
    stats::graphql::StatsMutation,
    leaderboards::graphql::LeaderboardsMutation,
    quests::graphql::QuestsMutation,
);

/// Every domain's subscriptions.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(
    system::graphql::SystemSubscription,
    battles::graphql::BattlesSubscription,
    players::graphql::SocialSubscription,
    leaderboards::graphql::LeaderboardsSubscription,
    stats::graphql::StatsSubscription,
    events::graphql::EventsSubscription,
    quests::graphql::QuestsSubscription,
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
        .extension(extensions::Boundary::new(
            ctx.metrics.clone(),
            ctx.preflight.clone(),
        ))
        .data(loaders::loaders(
            ctx.db.clone(),
            std::time::Duration::from_millis(settings.dataloader_delay_ms),
        ))
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

/// The shared DataLoader, which `build_schema` always installs.
pub(crate) fn load<'a>(ctx: &Context<'a>) -> &'a loaders::Loaders {
    ctx.data_unchecked::<loaders::Loaders>()
}

/// The caller, which the HTTP and websocket layers attach to every request.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_unchecked::<Viewer>()
}

/// A subscription's events, each delivered only after its caller passes `check` again through
/// the cached viewer path. A caller who was banned, signed out, lost the privilege or whose
/// token expired gets that refusal (with its code) as the last event.
pub(crate) fn live<T, S>(
    ctx: &Context<'_>,
    check: fn(&Viewer) -> ApiResult<()>,
    events: S,
) -> impl Stream<Item = async_graphql::Result<T>> + use<T, S>
where
    S: Stream<Item = async_graphql::Result<T>> + Send + Unpin + 'static,
    T: Send + 'static,
{
    let app = app(ctx).clone();
    let caller = ctx.data_opt::<SocketCaller>().cloned();
    futures_util::stream::unfold(Some(events), move |events| {
        let (app, caller) = (app.clone(), caller.clone());
        async move {
            let mut events = events?;
            let event = events.next().await?;
            let allowed = match &caller {
                Some(caller) => caller.viewer(&app).await.and_then(|v| check(&v)),
                None => Ok(()),
            };
            match allowed {
                Ok(()) => Some((event, Some(events))),
                Err(refused) => Some((Err(refused.into()), None)),
            }
        }
    })
}
