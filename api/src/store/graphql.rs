//! The store over GraphQL: prices, purchases, the caller's inventory and a copy's chain of
//! owners.

use arena_entity::{
    bank::currency::CurrencyType,
    store::{
        object_price,
        ownership::{self, OwnershipSource},
    },
};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{PurchaseRequest, Purchased};
use crate::{
    auth::graphql::{User, parse_int_id, parse_uuid},
    bank::graphql::CurrencyKind,
    catalog::graphql::Content,
    graphql::{app, guards::SignedIn, load, loaders::ContentById, viewer},
};

/// How an owner got an item.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "OwnershipSource")]
pub enum OwnershipKind {
    /// Made it.
    Author,
    /// Bought it.
    Purchase,
    /// Traded for it.
    Trade,
    /// Was given it.
    Gift,
}

/// An item's price in one currency.
pub struct Price(pub object_price::Model);

#[Object]
impl Price {
    /// Which currency.
    async fn currency(&self) -> CurrencyKind {
        self.0.currency.into()
    }
    /// How much.
    async fn price(&self) -> i64 {
        self.0.price
    }
}

/// One hand an item is, or was, in.
pub struct Ownership(pub ownership::Model);

#[Object]
impl Ownership {
    /// Its id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The item, when the caller may see it.
    async fn content(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Content>> {
        let row = load(ctx).load_one(ContentById(self.0.content_id)).await?;
        Ok(match row {
            Some(row) if crate::catalog::may_see(&app(ctx).db, viewer(ctx), &row).await? => {
                Some(Content(row))
            }
            _ => None,
        })
    }
    /// The owner.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, Some(self.0.user_id)).await
    }
    /// How they got it.
    async fn source(&self) -> OwnershipKind {
        self.0.source.into()
    }
    /// What they paid.
    async fn purchase_price(&self) -> Option<i64> {
        self.0.purchase_price
    }
    /// In which currency.
    async fn purchase_currency(&self) -> Option<CurrencyKind> {
        self.0.purchase_currency.map(Into::into)
    }
    /// The copy's number, for a limited item.
    async fn serial(&self) -> Option<i32> {
        self.0.serial
    }
    /// The ownership before this one.
    async fn previous_ownership_id(&self) -> Option<ID> {
        self.0.previous_ownership_id.map(Into::into)
    }
    /// When it began.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it left this owner.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// When a time-limited purchase stops counting.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// The open trade holding this copy in escrow.
    async fn trade_id(&self) -> Option<ID> {
        self.0.trade_id.map(Into::into)
    }
    /// Its resale price, while listed.
    async fn list_price(&self) -> Option<i64> {
        self.0.list_price
    }
    /// Its resale currency, while listed.
    async fn list_currency(&self) -> Option<CurrencyKind> {
        self.0.list_currency.map(Into::into)
    }
}

/// A purchase to make.
#[derive(InputObject)]
pub struct PurchaseInput {
    /// The item.
    content_id: ID,
    /// Which currency to pay in.
    currency: CurrencyKind,
    /// Up to 128 characters, unique per buyer: the same request again returns the first
    /// ownership.
    idempotency_key: String,
    /// A time-limited purchase lasts this many days (1 to 3650).
    days: Option<u32>,
    /// Buys this copy listed for resale (an ownership id from `listings`) instead of a new
    /// one: its owner gets the price less the fee, and the copy's chain goes on.
    listing_id: Option<ID>,
    /// The copy goes to this player as a gift (source `gift`); the caller pays.
    gift_to: Option<ID>,
}

/// What a purchase made.
#[derive(SimpleObject)]
pub struct PurchaseResult {
    /// The new ownership.
    ownership: Ownership,
    /// An earlier request with the same key made it; nothing moved this time.
    already_applied: bool,
}

impl From<Purchased> for PurchaseResult {
    fn from(done: Purchased) -> Self {
        Self {
            ownership: Ownership(done.ownership),
            already_applied: done.already_applied,
        }
    }
}

/// Store queries.
#[derive(Default)]
pub struct StoreQuery;

#[Object]
impl StoreQuery {
    /// The caller's items: live copies, not ended nor expired, newest first (at most 500).
    /// Signed in.
    #[graphql(guard = "SignedIn")]
    async fn inventory(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Ownership>> {
        let me = viewer(ctx).require_user()?.id;
        Ok(super::inventory(&app(ctx).db, me)
            .await?
            .into_iter()
            .map(Ownership)
            .collect())
    }
    /// Every hand copy `serial` of an item passed through, first sale first. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn ownership_chain(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        serial: i32,
    ) -> async_graphql::Result<Vec<Ownership>> {
        let id = parse_int_id(&content_id, "contentId")?;
        Ok(super::chain(&app(ctx).db, viewer(ctx), id, serial)
            .await?
            .into_iter()
            .map(Ownership)
            .collect())
    }
    /// Copies of an item listed for resale, cheapest first (at most 100).
    async fn listings(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
    ) -> async_graphql::Result<Vec<Ownership>> {
        let id = parse_int_id(&content_id, "contentId")?;
        Ok(super::listings(&app(ctx).db, viewer(ctx), id)
            .await?
            .into_iter()
            .map(Ownership)
            .collect())
    }
}

/// Store mutations.
#[derive(Default)]
pub struct StoreMutation;

#[Object]
impl StoreMutation {
    /// Sets the price of an item of the caller's in one currency; `price: null` removes
    /// it. An item on sale with no prices is free. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn set_price(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        currency: CurrencyKind,
        price: Option<i64>,
    ) -> async_graphql::Result<Vec<Price>> {
        let id = parse_int_id(&content_id, "contentId")?;
        let currency: CurrencyType = currency.into();
        Ok(super::set_price(app(ctx), viewer(ctx), id, currency, price)
            .await?
            .into_iter()
            .map(Price)
            .collect())
    }
    /// Buys an item: `BAD_USER_INPUT` when it is not for sale (or not in that currency),
    /// `CONFLICT` when it is sold out or already the caller's, `INSUFFICIENT_FUNDS` when the
    /// caller holds too little. The creator gets the price less `ARENA_STORE_FEE_PERCENT`.
    /// Signed in.
    #[graphql(guard = "SignedIn")]
    async fn purchase(
        &self,
        ctx: &Context<'_>,
        input: PurchaseInput,
    ) -> async_graphql::Result<PurchaseResult> {
        let request = PurchaseRequest {
            content_id: parse_int_id(&input.content_id, "contentId")?,
            currency: input.currency.into(),
            key: input.idempotency_key,
            days: input.days,
            listing: input
                .listing_id
                .map(|id| parse_int_id(&id, "listingId"))
                .transpose()?,
            gift_to: input
                .gift_to
                .map(|id| parse_uuid(&id, "giftTo"))
                .transpose()?,
        };
        Ok(super::purchase(app(ctx), viewer(ctx), request)
            .await?
            .into())
    }
    /// Lists the caller's copy of a marketable item for resale at `price`; `price: null`
    /// takes it off sale. A copy in an open trade is `CONFLICT`. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn list_for_resale(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        currency: CurrencyKind,
        price: Option<i64>,
    ) -> async_graphql::Result<Ownership> {
        let id = parse_int_id(&content_id, "contentId")?;
        Ok(Ownership(
            super::list_for_resale(app(ctx), viewer(ctx), id, currency.into(), price).await?,
        ))
    }
}
