//! Quests over GraphQL: the list, the signed-in player's progress and claims, and the
//! admins' creation and deactivation.

use arena_entity::events::{quest, quest_completion};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{Stream, StreamExt};

use crate::{
    auth::{graphql::parse_int_id, privileges},
    bus::Change,
    catalog::graphql::maybe,
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        live, viewer,
    },
};

/// A quest.
pub struct Quest(pub quest::Model);

/// How often a quest was completed.
#[derive(SimpleObject)]
pub struct QuestFigures {
    /// Players who made any progress.
    pub started: i64,
    /// Players who completed it at least once.
    pub players: i64,
    pub completions: i64,
    /// Completions whose reward was paid.
    pub claimed: i64,
}

#[Object]
impl Quest {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The event type that advances it (`sign_in`, `game_over` — its winner —, …).
    async fn trigger_type(&self) -> &str {
        &self.0.trigger_kind
    }
    /// Only events of this game.
    async fn trigger_game_id(&self) -> Option<ID> {
        self.0.trigger_game_id.map(|g| ID(g.to_string()))
    }
    /// Only events with this name.
    async fn trigger_name(&self) -> Option<&str> {
        self.0.trigger_name.as_deref()
    }
    /// Matching events that complete it.
    async fn streak(&self) -> i32 {
        self.0.streak
    }
    /// How many times a player can complete it.
    async fn duplication(&self) -> i32 {
        self.0.duplication
    }
    async fn auto_claim(&self) -> bool {
        self.0.auto_claim
    }
    /// One matching event per UTC day on consecutive days; a missed day starts again.
    async fn daily(&self) -> bool {
        self.0.daily
    }
    async fn reward_currency_id(&self) -> ID {
        ID(self.0.reward_currency_id.to_string())
    }
    async fn reward_amount(&self) -> i64 {
        self.0.reward_amount
    }
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at
    }
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// How often it was completed. Needs `quest.manage`.
    #[graphql(guard = "Privilege(privileges::QUEST_MANAGE)")]
    async fn figures(&self, ctx: &Context<'_>) -> async_graphql::Result<QuestFigures> {
        let f = super::figures(&app(ctx).db, &[self.0.id])
            .await?
            .remove(&self.0.id)
            .unwrap_or_default();
        Ok(QuestFigures {
            started: f.started,
            players: f.players,
            completions: f.completions,
            claimed: f.claimed,
        })
    }
}

/// The signed-in player's place on a quest.
#[derive(SimpleObject)]
pub struct MyQuest {
    pub quest: Quest,
    /// Matching events towards the next completion.
    pub streak: i32,
    pub completions: i32,
    /// Completions whose reward waits for `claimQuestReward`.
    pub unclaimed: i32,
    /// A daily quest's last UTC day counted.
    pub last_day: Option<NaiveDate>,
}

impl From<super::Mine> for MyQuest {
    fn from(mine: super::Mine) -> Self {
        Self {
            quest: Quest(mine.quest),
            streak: mine.streak,
            completions: mine.completions,
            unclaimed: mine.unclaimed,
            last_day: mine.last_day,
        }
    }
}

/// A completion whose reward was paid.
#[derive(SimpleObject)]
pub struct QuestCompletion {
    pub quest_id: ID,
    /// 1 for the first completion.
    pub number: i32,
    pub completed_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    /// The ledger row that paid it.
    pub transaction_id: Option<ID>,
}

impl From<quest_completion::Model> for QuestCompletion {
    fn from(row: quest_completion::Model) -> Self {
        Self {
            quest_id: ID(row.quest_id.to_string()),
            number: row.number,
            completed_at: row.completed_at,
            claimed_at: row.claimed_at,
            transaction_id: row.transaction_id.map(|t| ID(t.to_string())),
        }
    }
}

/// Input of `updateQuest`: the fields given change; `startsAt` or `endsAt` set to null
/// removes it.
#[derive(InputObject)]
pub struct QuestUpdateInput {
    /// Unique, 1 to 64 characters.
    name: Option<String>,
    description: Option<String>,
    /// For completions from now on.
    reward_amount: Option<i64>,
    starts_at: MaybeUndefined<DateTime<Utc>>,
    ends_at: MaybeUndefined<DateTime<Utc>>,
}

/// Input of `createQuest`.
#[derive(InputObject)]
pub struct QuestInput {
    /// Unique, 1 to 64 characters.
    pub name: String,
    #[graphql(default)]
    pub description: String,
    /// `game_over` (advances its winner), `gameplay`, `state_change`, `sign_in`,
    /// `purchase`, `trade.confirmed`, `session.started`, `session.ended`, `quest.completed`.
    pub trigger_type: String,
    pub trigger_game_id: Option<ID>,
    pub trigger_name: Option<String>,
    /// 1 to 10,000 matching events.
    pub streak: i32,
    /// 1 to 10,000 completions per player.
    #[graphql(default = 1)]
    pub duplication: i32,
    #[graphql(default = true)]
    pub auto_claim: bool,
    #[graphql(default)]
    pub daily: bool,
    pub reward_currency_id: ID,
    pub reward_amount: i64,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Quest queries.
#[derive(Default)]
pub struct QuestsQuery;

#[Object]
impl QuestsQuery {
    /// The active quests, newest first; with `includeInactive` (needs `quest.manage`) all.
    async fn quests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_inactive: bool,
    ) -> async_graphql::Result<Vec<Quest>> {
        Ok(super::list(&app(ctx).db, viewer(ctx), include_inactive)
            .await?
            .into_iter()
            .map(Quest)
            .collect())
    }

    /// The active quests with the signed-in player's progress on each. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn my_quests(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MyQuest>> {
        let me = viewer(ctx).require_user()?.id;
        Ok(super::mine(&app(ctx).db, me)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// Quest mutations.
#[derive(Default)]
pub struct QuestsMutation;

#[Object]
impl QuestsMutation {
    /// Creates a quest, active; it counts events that happen from now on. Needs
    /// `quest.manage`.
    #[graphql(guard = "Privilege(privileges::QUEST_MANAGE)")]
    async fn create_quest(
        &self,
        ctx: &Context<'_>,
        input: QuestInput,
    ) -> async_graphql::Result<Quest> {
        let new = super::NewQuest {
            name: input.name,
            description: input.description,
            trigger_kind: input.trigger_type,
            trigger_game_id: input
                .trigger_game_id
                .map(|g| parse_int_id(&g, "triggerGameId"))
                .transpose()?,
            trigger_name: input.trigger_name,
            streak: input.streak,
            duplication: input.duplication,
            auto_claim: input.auto_claim,
            daily: input.daily,
            reward_currency_id: parse_int_id(&input.reward_currency_id, "rewardCurrencyId")?,
            reward_amount: input.reward_amount,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
        };
        let viewer = viewer(ctx);
        Ok(Quest(
            app(ctx)
                .write(async |db, _changes| super::create_in(db, viewer, new).await)
                .await?,
        ))
    }

    /// Turns a quest on or off. Needs `quest.manage`.
    #[graphql(guard = "Privilege(privileges::QUEST_MANAGE)")]
    async fn set_quest_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> async_graphql::Result<Quest> {
        let id = parse_int_id(&id, "id")?;
        let viewer = viewer(ctx);
        Ok(Quest(
            app(ctx)
                .write(async |db, _changes| super::set_active_in(db, viewer, id, active).await)
                .await?,
        ))
    }

    /// Changes a quest's name, description, reward or window; what decides progress
    /// (trigger, streak, duplication, daily, currency) stays. Needs `quest.manage`.
    #[graphql(guard = "Privilege(privileges::QUEST_MANAGE)")]
    async fn update_quest(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: QuestUpdateInput,
    ) -> async_graphql::Result<Quest> {
        let id = parse_int_id(&id, "id")?;
        let changes = super::QuestChanges {
            name: input.name,
            description: input.description,
            reward_amount: input.reward_amount,
            starts_at: maybe(input.starts_at),
            ends_at: maybe(input.ends_at),
        };
        let viewer = viewer(ctx);
        Ok(Quest(
            app(ctx)
                .write(async |db, _changes| super::update_in(db, viewer, id, changes).await)
                .await?,
        ))
    }

    /// Pays the signed-in player's unclaimed completions of a quest, each exactly once
    /// however often this is called; the completions paid now (none when nothing waits).
    #[graphql(guard = "SignedIn")]
    async fn claim_quest_reward(
        &self,
        ctx: &Context<'_>,
        quest_id: ID,
    ) -> async_graphql::Result<Vec<QuestCompletion>> {
        let id = parse_int_id(&quest_id, "questId")?;
        let viewer = viewer(ctx);
        Ok(app(ctx)
            .write(async |db, changes| super::claim_in(db, viewer, id, changes).await)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// Live quest progress.
#[derive(Default)]
pub struct QuestsSubscription;

#[Subscription]
impl QuestsSubscription {
    /// The signed-in player's quests (as `myQuests`) now, then each time their progress,
    /// completions or claims change. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn quest_progress(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Vec<MyQuest>>>> {
        let me = viewer(ctx).require_user()?.id;
        let progress = crate::leaderboards::live::watch(
            app(ctx),
            move |change| matches!(change, Change::QuestProgress { user_id } if *user_id == me),
            move |ctx| async move { super::mine(&ctx.db, me).await },
        )
        .map(|read| {
            read.map(|mine| mine.into_iter().map(Into::into).collect())
                .map_err(Into::into)
        });
        Ok(live(ctx, |v| v.require_user().map(drop), progress))
    }
}
