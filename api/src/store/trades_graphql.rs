//! Trades over GraphQL: offering, opening, confirming, rejecting and cancelling, the inbox
//! and outbox, and a trade's history.

use arena_entity::store::{trade, trade_event};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    graphql::Ownership,
    trades::{self, Money, NewTrade, TradeBox, Traded},
};
use crate::{
    auth::{
        graphql::{User, parse_int_id, parse_uuid},
        privileges,
    },
    bank::graphql::{Currency, Transaction},
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        load,
        loaders::{CurrencyById, OfferedOf, RequestedOf, TradeHistoryOf, TransactionById},
        pagination::{IdConnection, Window},
        viewer,
    },
};

/// Seed 001's trade statuses.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "trade::TradeStatus")]
pub enum TradeStatus {
    /// Waiting for the recipient, who has not opened it.
    Sent,
    /// Waiting for the recipient, who has seen it.
    Opened,
    /// The recipient said no.
    Rejected,
    /// Closed without a swap: something offered stopped being valid, or it expired.
    ReturnToSender,
    /// Swapped.
    Confirmed,
    /// The sender took it back.
    Cancelled,
}

/// Money one side of a trade gives.
pub struct TradeMoney(Money);

#[Object]
impl TradeMoney {
    /// The currency.
    async fn currency(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Currency>> {
        Ok(load(ctx)
            .load_one(CurrencyById(self.0.currency_id))
            .await?
            .map(Currency))
    }
    /// How much.
    async fn amount(&self) -> i64 {
        self.0.amount
    }
}

fn money(currency_id: Option<i32>, amount: Option<i64>) -> Option<TradeMoney> {
    Some(TradeMoney(Money {
        currency_id: currency_id?,
        amount: amount?,
    }))
}

/// One step of a trade.
pub struct TradeStep(trade_event::Model);

#[Object]
impl TradeStep {
    /// The status it reached.
    async fn status(&self) -> TradeStatus {
        self.0.status.into()
    }
    /// Who took it; null is the platform (an expiry, or a return).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.actor_id).await
    }
    /// Why, when given.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A trade between two players.
pub struct Trade(trade::Model);

#[Object]
impl Trade {
    /// Its id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Who offered it.
    async fn sender(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// To whom.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.recipient_id)).await
    }
    /// Where it stands.
    async fn status(&self) -> TradeStatus {
        self.0.status.into()
    }
    /// What the sender wrote.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The sender's copies offered (in escrow while the trade is open).
    async fn offered_items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ownership>> {
        let rows = load(ctx).load_one(OfferedOf(self.0.id)).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Ownership)
            .collect())
    }
    /// The recipient's copies asked for.
    async fn requested_items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ownership>> {
        let rows = load(ctx).load_one(RequestedOf(self.0.id)).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Ownership)
            .collect())
    }
    /// The sender's money offered (held while the trade is open).
    async fn offered_money(&self) -> Option<TradeMoney> {
        money(self.0.offered_currency_id, self.0.offered_amount)
    }
    /// The money asked for.
    async fn requested_money(&self) -> Option<TradeMoney> {
        money(self.0.requested_currency_id, self.0.requested_amount)
    }
    /// The pending transfer holding the offered money.
    async fn hold(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Transaction>> {
        let Some(id) = self.0.hold_transaction_id else {
            return Ok(None);
        };
        Ok(load(ctx)
            .load_one(TransactionById(id))
            .await?
            .map(Transaction))
    }
    /// Why it closed without a swap.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it returns to its sender unless confirmed.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// When it was sent.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it closed.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Every step, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TradeStep>> {
        let rows = load(ctx).load_one(TradeHistoryOf(self.0.id)).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(TradeStep)
            .collect())
    }
}

/// Money in a trade's input.
#[derive(InputObject)]
pub struct MoneyInput {
    /// The currency.
    currency_id: ID,
    /// How much, 1 or more.
    amount: i64,
}

impl MoneyInput {
    fn parse(self, field: &'static str) -> async_graphql::Result<Money> {
        Ok(Money {
            currency_id: parse_int_id(&self.currency_id, field)?,
            amount: self.amount,
        })
    }
}

/// A trade to offer.
#[derive(InputObject)]
pub struct OfferTradeInput {
    /// The player it goes to.
    recipient_id: ID,
    /// Items the caller gives (their copy of each, up to 50): in escrow from now on.
    #[graphql(default)]
    offered_items: Vec<ID>,
    /// Items the caller asks for (the recipient's copy of each, up to 50).
    #[graphql(default)]
    requested_items: Vec<ID>,
    /// Money the caller gives: held from now on.
    offered_money: Option<MoneyInput>,
    /// Money the caller asks for.
    requested_money: Option<MoneyInput>,
    /// Up to 500 characters.
    description: Option<String>,
    /// Up to 128 characters, unique per sender: the same request again returns the first
    /// trade.
    idempotency_key: String,
}

/// A trade a request made.
#[derive(SimpleObject)]
pub struct TradeResult {
    /// The trade.
    trade: Trade,
    /// An earlier request with the same key made it; nothing moved this time.
    already_applied: bool,
}

impl From<Traded> for TradeResult {
    fn from(done: Traded) -> Self {
        Self {
            trade: Trade(done.trade),
            already_applied: done.already_applied,
        }
    }
}

/// Which trades.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "TradeBox")]
pub enum TradeBoxKind {
    /// Sent to the player.
    Inbox,
    /// Sent by the player.
    Outbox,
}

fn ids(list: &[ID], field: &'static str) -> async_graphql::Result<Vec<i32>> {
    list.iter().map(|id| Ok(parse_int_id(id, field)?)).collect()
}

/// One page of trades; see [`trades::list`].
async fn trade_page(
    ctx: &Context<'_>,
    who: Option<uuid::Uuid>,
    which: Option<TradeBoxKind>,
    status: Option<TradeStatus>,
    window: Window,
) -> async_graphql::Result<IdConnection<Trade>> {
    let (rows, total) = trades::list(
        &app(ctx).db,
        viewer(ctx),
        who,
        which.map(Into::into),
        status.map(Into::into),
        window,
    )
    .await?;
    Ok(window.page(rows, total, |row| i64::from(row.id), Trade))
}

/// Trade queries.
#[derive(Default)]
pub struct TradesQuery;

#[Object]
impl TradesQuery {
    /// The caller's trades (or another player's with `bank.mint`), newest first: the inbox,
    /// the outbox, or both, optionally of one status. Signed in.
    #[graphql(guard = "SignedIn")]
    #[allow(clippy::too_many_arguments)] // the Relay arguments
    async fn trades(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        #[graphql(name = "box")] which: Option<TradeBoxKind>,
        status: Option<TradeStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<Trade>> {
        let who = crate::bank::graphql::self_or(ctx, user_id)?;
        let window = Window::parse(after, before, first, last)?;
        trade_page(ctx, Some(who), which, status, window).await
    }
    /// Every player's trades, newest first, optionally of one player (both boxes) or one
    /// status: the dashboard's search. Needs `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    #[allow(clippy::too_many_arguments)] // the Relay arguments
    async fn all_trades(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        status: Option<TradeStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<Trade>> {
        let who = user_id.map(|id| parse_uuid(&id, "userId")).transpose()?;
        let window = Window::parse(after, before, first, last)?;
        trade_page(ctx, who, None, status, window).await
    }
    /// One trade with its history: its parties, or `bank.mint`. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn trade(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Trade> {
        let id = parse_int_id(&id, "id")?;
        Ok(Trade(trades::get(&app(ctx).db, viewer(ctx), id).await?))
    }
}

/// Trade mutations.
#[derive(Default)]
pub struct TradesMutation;

#[Object]
impl TradesMutation {
    /// Offers a trade: the offered copies and money go into escrow until it closes.
    /// `BAD_USER_INPUT` for a copy the caller (or the recipient, for a requested one) does
    /// not hold or that cannot be traded, `CONFLICT` for a copy in another open trade or
    /// listed for resale, `INSUFFICIENT_FUNDS`, `FORBIDDEN` across a block. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn offer_trade(
        &self,
        ctx: &Context<'_>,
        input: OfferTradeInput,
    ) -> async_graphql::Result<TradeResult> {
        let new = NewTrade {
            recipient_id: parse_uuid(&input.recipient_id, "recipientId")?,
            offered_items: ids(&input.offered_items, "offeredItems")?,
            requested_items: ids(&input.requested_items, "requestedItems")?,
            offered_money: input
                .offered_money
                .map(|m| m.parse("offeredMoney"))
                .transpose()?,
            requested_money: input
                .requested_money
                .map(|m| m.parse("requestedMoney"))
                .transpose()?,
            description: input.description,
            key: input.idempotency_key,
        };
        Ok(trades::offer(app(ctx), viewer(ctx), new).await?.into())
    }
    /// Marks a trade sent to the caller as seen. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn open_trade(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Trade> {
        let id = parse_int_id(&id, "id")?;
        Ok(Trade(trades::open(app(ctx), viewer(ctx), id).await?))
    }
    /// Accepts a trade sent to the caller: everything swaps in one transaction. When an
    /// offered copy is no longer valid the trade returns to its sender instead (status
    /// `RETURN_TO_SENDER`). A requested copy the caller no longer holds is `CONFLICT`, too
    /// little money `INSUFFICIENT_FUNDS`; both change nothing. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn confirm_trade(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Trade> {
        let id = parse_int_id(&id, "id")?;
        Ok(Trade(trades::confirm(app(ctx), viewer(ctx), id).await?))
    }
    /// Declines a trade sent to the caller: its escrow returns to the sender. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn reject_trade(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Trade> {
        let id = parse_int_id(&id, "id")?;
        Ok(Trade(
            trades::reject(app(ctx), viewer(ctx), id, reason).await?,
        ))
    }
    /// Takes back a trade the caller sent: its escrow returns to them. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn cancel_trade(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Trade> {
        let id = parse_int_id(&id, "id")?;
        Ok(Trade(
            trades::cancel(app(ctx), viewer(ctx), id, reason).await?,
        ))
    }
}
