//! The bank over GraphQL: currencies, balances, the ledger, transfers, mints and burns.

use arena_entity::bank::{
    conversion,
    currency::{self, CurrencyType},
    transaction::{self, TransactionKind, TransferState},
};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    Applied, Balance, Issue, LedgerFilter, NewConversion, NewConversionRequest, NewHold, NewLinked,
    NewTransfer, Totals,
};
use crate::{
    auth::{
        graphql::{User, parse_int_id, parse_uuid},
        privileges,
    },
    graphql::{
        app,
        guards::{Privilege, SignedIn},
        load,
        loaders::CurrencyById,
        pagination::{IdConnection, Window},
        viewer,
    },
};

/// The seed's two kinds of currency.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "CurrencyType")]
pub enum CurrencyKind {
    /// Whole units.
    Whole,
    /// The denominated currency.
    Denom,
}

/// Why money moved.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "TransactionKind")]
pub enum TransactionType {
    /// From one player to another.
    Transfer,
    /// Created by the platform.
    Mint,
    /// Taken out of circulation by the platform.
    Burn,
    /// A buyer paid a creator for an item.
    Purchase,
    /// Undoes an earlier transaction.
    Refund,
    /// One side of a trade paid the other.
    Trade,
}

/// A currency.
pub struct Currency(pub currency::Model);

#[Object]
impl Currency {
    /// Its id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Whole or denominated.
    #[graphql(name = "type")]
    async fn kind(&self) -> CurrencyKind {
        self.0.currency_type.into()
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// What a player holds of one currency.
pub struct BalanceOf(Balance);

#[Object(name = "Balance")]
impl BalanceOf {
    /// The currency.
    async fn currency(&self) -> Currency {
        Currency(self.0.currency.clone())
    }
    /// How much may be spent.
    async fn amount(&self) -> i64 {
        self.0.amount
    }
    /// How much pending transfers hold: still the player's, spendable nowhere else.
    async fn held(&self) -> i64 {
        self.0.held
    }
}

/// Where a transfer stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "TransferState")]
pub enum TransferStatus {
    /// Moved.
    Posted,
    /// Held for the recipient until posted, voided or timed out.
    Pending,
    /// Returned to the payer.
    Voided,
    /// Returned to the payer when its timeout passed.
    Expired,
}

/// One ledger row: `amount` moved from `payer` to `recipient` (null: the platform).
pub struct Transaction(pub transaction::Model);

#[Object]
impl Transaction {
    /// Its id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Why money moved.
    async fn kind(&self) -> TransactionType {
        self.0.kind.into()
    }
    /// The currency.
    async fn currency(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Currency>> {
        Ok(load(ctx)
            .load_one(CurrencyById(self.0.currency_id))
            .await?
            .map(Currency))
    }
    /// Who paid; null is the platform.
    async fn payer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// Who received; null is the platform.
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.recipient_id).await
    }
    /// How much.
    async fn amount(&self) -> i64 {
        self.0.amount
    }
    /// What the payer (or the platform) wrote.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Applied; false for a pending transfer, which holds its amount.
    async fn confirmed(&self) -> bool {
        self.0.confirmed
    }
    /// Posted, or for a pending transfer where it stands.
    async fn state(&self) -> TransferStatus {
        self.0.state.into()
    }
    /// The pending transfer this row posts.
    async fn pending_id(&self) -> Option<ID> {
        self.0.pending_id.map(Into::into)
    }
    /// When a pending transfer returns to its payer by itself.
    async fn timeout_at(&self) -> Option<DateTime<Utc>> {
        self.0.timeout_at
    }
    /// Made by the platform, not a player.
    async fn automated(&self) -> bool {
        self.0.automated
    }
    /// The transaction this one undoes.
    async fn previous_transaction_id(&self) -> Option<ID> {
        self.0.previous_transaction_id.map(Into::into)
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A transaction a request asked for.
#[derive(SimpleObject)]
pub struct TransactionResult {
    /// The transaction.
    transaction: Transaction,
    /// An earlier request with the same idempotency key made it; nothing moved this time.
    already_applied: bool,
}

impl From<Applied> for TransactionResult {
    fn from(applied: Applied) -> Self {
        Self {
            transaction: Transaction(applied.row),
            already_applied: applied.already_applied,
        }
    }
}

/// A rate from one currency to another, for a time.
pub struct Conversion(conversion::Model);

#[Object]
impl Conversion {
    /// Its id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What is converted.
    async fn source(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Currency>> {
        Ok(load(ctx)
            .load_one(CurrencyById(self.0.currency_source_id))
            .await?
            .map(Currency))
    }
    /// What it becomes.
    async fn destination(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Currency>> {
        Ok(load(ctx)
            .load_one(CurrencyById(self.0.currency_destination_id))
            .await?
            .map(Currency))
    }
    /// Destination units per source unit.
    async fn ratio(&self) -> i32 {
        self.0.ratio
    }
    /// Most source units converted under it; null is unlimited.
    async fn volume(&self) -> Option<i64> {
        self.0.volume
    }
    /// When it begins.
    async fn valid_from(&self) -> DateTime<Utc> {
        self.0.valid_from
    }
    /// When it ends; null never.
    async fn valid_to(&self) -> Option<DateTime<Utc>> {
        self.0.valid_to
    }
}

/// A conversion rule to make.
#[derive(InputObject)]
pub struct ConversionInput {
    /// What is converted.
    source_id: ID,
    /// What it becomes.
    destination_id: ID,
    /// Destination units per source unit, 1 or more.
    ratio: i32,
    /// Most source units converted under it; unlimited when left out.
    volume: Option<i64>,
    /// When it begins; now when left out.
    valid_from: Option<DateTime<Utc>>,
    /// When it ends; never when left out.
    valid_to: Option<DateTime<Utc>>,
}

/// Money to convert.
#[derive(InputObject)]
pub struct ConvertInput {
    /// The currency paid.
    from_currency_id: ID,
    /// The currency received.
    to_currency_id: ID,
    /// Units of the currency paid, 1 or more.
    amount: i64,
    /// Unique per player, as a transfer's.
    idempotency_key: String,
}

/// Both legs of a conversion.
#[derive(SimpleObject)]
pub struct ConversionResult {
    /// The source units taken out of circulation.
    paid: Transaction,
    /// The destination units received.
    received: Transaction,
    /// An earlier request with the same key made them; nothing moved this time.
    already_applied: bool,
}

/// One currency's books.
pub struct CurrencyTotals(Totals);

#[Object]
impl CurrencyTotals {
    /// The currency.
    async fn currency(&self) -> Currency {
        Currency(self.0.currency.clone())
    }
    /// What players hold together, spendable and held.
    async fn circulating(&self) -> i64 {
        self.0.circulating + self.0.held
    }
    /// The part of it pending transfers hold.
    async fn held(&self) -> i64 {
        self.0.held
    }
    /// The platform's system account: minus what circulates.
    async fn system_balance(&self) -> i64 {
        self.0.system
    }
    /// Everything ever minted.
    async fn minted(&self) -> i64 {
        self.0.minted
    }
    /// Everything ever burned.
    async fn burned(&self) -> i64 {
        self.0.burned
    }
    /// Circulating equals minted minus burned, and the system account holds its opposite.
    async fn balanced(&self) -> bool {
        let circulating = self.0.circulating + self.0.held;
        circulating == self.0.minted - self.0.burned && self.0.system == -circulating
    }
}

/// Which ledger rows.
#[derive(InputObject, Default)]
pub struct LedgerFilterInput {
    /// In this currency.
    currency_id: Option<ID>,
    /// From this time on.
    since: Option<DateTime<Utc>>,
    /// Before this time.
    until: Option<DateTime<Utc>>,
}

/// Money to send.
#[derive(InputObject)]
pub struct TransferInput {
    /// The player who receives it.
    recipient_id: ID,
    /// The currency.
    currency_id: ID,
    /// How much, 1 or more.
    amount: i64,
    /// Up to 128 characters, unique per payer: a retried request with the same key and
    /// content returns the first result; with other content it is `CONFLICT`.
    idempotency_key: String,
    /// Up to 500 characters.
    description: Option<String>,
}

/// One leg of a linked transfer.
#[derive(InputObject)]
pub struct LinkedLegInput {
    /// The player who receives it.
    recipient_id: ID,
    /// How much, 1 or more.
    amount: i64,
}

/// Payments to several players that apply together or not at all.
#[derive(InputObject)]
pub struct LinkedTransferInput {
    /// The currency of every leg.
    currency_id: ID,
    /// 1 to 16 legs.
    legs: Vec<LinkedLegInput>,
    /// Up to 128 characters, unique per payer: a retried request with the same key and
    /// legs returns the first result; with other content it is `CONFLICT`.
    idempotency_key: String,
    /// Up to 500 characters, on every leg.
    description: Option<String>,
}

impl LinkedTransferInput {
    fn parse(self) -> async_graphql::Result<NewLinked> {
        let mut legs = Vec::with_capacity(self.legs.len());
        for leg in self.legs {
            legs.push((parse_uuid(&leg.recipient_id, "recipientId")?, leg.amount));
        }
        Ok(NewLinked {
            currency_id: parse_int_id(&self.currency_id, "currencyId")?,
            key: self.idempotency_key,
            description: self.description,
            legs,
        })
    }
}

/// The transactions of a linked transfer.
#[derive(SimpleObject)]
pub struct LinkedTransferResult {
    /// One per leg, in the order of the legs.
    transactions: Vec<Transaction>,
    /// An earlier request with the same idempotency key made them; nothing moved this time.
    already_applied: bool,
}

/// Money to hold for another player.
#[derive(InputObject)]
pub struct HoldInput {
    /// The transfer it may become.
    transfer: TransferInput,
    /// Seconds until it returns to the caller by itself, 1 to 2,592,000 (30 days).
    timeout_seconds: u32,
}

impl TransferInput {
    fn parse(self) -> async_graphql::Result<NewTransfer> {
        Ok(NewTransfer {
            to: parse_uuid(&self.recipient_id, "recipientId")?,
            currency_id: parse_int_id(&self.currency_id, "currencyId")?,
            amount: self.amount,
            key: self.idempotency_key,
            description: self.description,
        })
    }
}

/// Money the platform creates for a player, or takes back.
#[derive(InputObject)]
pub struct IssueInput {
    /// The player.
    user_id: ID,
    /// The currency.
    currency_id: ID,
    /// How much, 1 or more.
    amount: i64,
    /// Why, 1 to 500 characters; kept in the audit log.
    reason: String,
    /// Unique among the platform's mints (or burns).
    idempotency_key: String,
}

impl IssueInput {
    fn parse(self) -> async_graphql::Result<Issue> {
        Ok(Issue {
            user_id: parse_uuid(&self.user_id, "userId")?,
            currency_id: parse_int_id(&self.currency_id, "currencyId")?,
            amount: self.amount,
            reason: self.reason,
            key: self.idempotency_key,
        })
    }
}

/// The player `userId` names, or when it is left out the caller.
pub(crate) fn self_or(ctx: &Context<'_>, user_id: Option<ID>) -> async_graphql::Result<uuid::Uuid> {
    let me = viewer(ctx).require_user()?.id;
    Ok(user_id
        .map(|id| parse_uuid(&id, "userId"))
        .transpose()?
        .unwrap_or(me))
}

/// Bank queries.
#[derive(Default)]
pub struct BankQuery;

#[Object]
impl BankQuery {
    /// Every currency.
    async fn currencies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Currency>> {
        Ok(super::currencies(&app(ctx).db)
            .await?
            .into_iter()
            .map(Currency)
            .collect())
    }
    /// The caller's balances, or another player's with `bank.mint`. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn balances(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> async_graphql::Result<Vec<BalanceOf>> {
        let who = self_or(ctx, user_id)?;
        Ok(super::balances(&app(ctx).db, viewer(ctx), who)
            .await?
            .into_iter()
            .map(BalanceOf)
            .collect())
    }
    /// The caller's ledger (or another player's with `bank.mint`), newest first. Signed in.
    #[graphql(guard = "SignedIn")]
    #[allow(clippy::too_many_arguments)] // the Relay arguments
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        filter: Option<LedgerFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<IdConnection<Transaction>> {
        let who = self_or(ctx, user_id)?;
        let window = Window::parse(after, before, first, last)?;
        let filter = filter.unwrap_or_default();
        let filter = LedgerFilter {
            currency_id: filter
                .currency_id
                .map(|id| parse_int_id(&id, "currencyId"))
                .transpose()?,
            since: filter.since,
            until: filter.until,
        };
        let (rows, total) = super::ledger(&app(ctx).db, viewer(ctx), who, filter, window).await?;
        Ok(window.page(rows, total, |row| i64::from(row.id), Transaction))
    }
    /// Every conversion rule, newest first.
    async fn conversions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Conversion>> {
        Ok(super::conversions(&app(ctx).db)
            .await?
            .into_iter()
            .map(Conversion)
            .collect())
    }
    /// Each currency's books: what circulates, minted and burned. Needs `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn currency_totals(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<CurrencyTotals>> {
        Ok(super::totals(&app(ctx).db, viewer(ctx))
            .await?
            .into_iter()
            .map(CurrencyTotals)
            .collect())
    }
}

/// Bank mutations.
#[derive(Default)]
pub struct BankMutation;

#[Object]
impl BankMutation {
    /// Sends money to another player: `INSUFFICIENT_FUNDS` when the caller holds too little,
    /// `FORBIDDEN` across a block. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn transfer(
        &self,
        ctx: &Context<'_>,
        input: TransferInput,
    ) -> async_graphql::Result<TransactionResult> {
        Ok(super::transfer(app(ctx), viewer(ctx), input.parse()?)
            .await?
            .into())
    }
    /// Sends money to several players at once, all of it or none: one leg refused refuses
    /// them all. Errors as `transfer`'s. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn transfer_linked(
        &self,
        ctx: &Context<'_>,
        input: LinkedTransferInput,
    ) -> async_graphql::Result<LinkedTransferResult> {
        let applied = super::transfer_linked(app(ctx), viewer(ctx), input.parse()?).await?;
        Ok(LinkedTransferResult {
            already_applied: applied.iter().all(|a| a.already_applied),
            transactions: applied.into_iter().map(|a| Transaction(a.row)).collect(),
        })
    }
    /// Holds the caller's money for another player (a pending transfer): it leaves what the
    /// caller may spend at once, and the recipient posts it (all or part) or voids it before
    /// the timeout, after which it returns by itself. The payer cannot take it back early.
    /// Errors as `transfer`'s. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn hold_transfer(
        &self,
        ctx: &Context<'_>,
        input: HoldInput,
    ) -> async_graphql::Result<TransactionResult> {
        let new = NewHold {
            transfer: input.transfer.parse()?,
            timeout_seconds: input.timeout_seconds,
        };
        Ok(super::hold(app(ctx), viewer(ctx), new).await?.into())
    }
    /// Takes a pending transfer made to the caller: `amount` of it (all when left out) as a
    /// new posted transfer pointing to it, the rest back to the payer. Posting again with
    /// the same amount returns the first posting; a voided or timed-out one is `CONFLICT`.
    /// The recipient, or `bank.mint`.
    #[graphql(guard = "SignedIn")]
    async fn post_transfer(
        &self,
        ctx: &Context<'_>,
        transaction_id: ID,
        amount: Option<i64>,
    ) -> async_graphql::Result<TransactionResult> {
        let id = parse_int_id(&transaction_id, "transactionId")?;
        Ok(super::post(app(ctx), viewer(ctx), id, amount).await?.into())
    }
    /// Returns a pending transfer made to the caller to its payer. The recipient, or
    /// `bank.mint`.
    #[graphql(guard = "SignedIn")]
    async fn void_transfer(
        &self,
        ctx: &Context<'_>,
        transaction_id: ID,
    ) -> async_graphql::Result<TransactionResult> {
        let id = parse_int_id(&transaction_id, "transactionId")?;
        Ok(super::void(app(ctx), viewer(ctx), id).await?.into())
    }
    /// Converts the caller's money by the rule valid now: `BAD_USER_INPUT` outside every
    /// rule, `CONFLICT` past its volume, `INSUFFICIENT_FUNDS` when the caller holds too
    /// little. Both legs apply or neither. Signed in.
    #[graphql(guard = "SignedIn")]
    async fn convert(
        &self,
        ctx: &Context<'_>,
        input: ConvertInput,
    ) -> async_graphql::Result<ConversionResult> {
        let request = NewConversionRequest {
            source_id: parse_int_id(&input.from_currency_id, "fromCurrencyId")?,
            destination_id: parse_int_id(&input.to_currency_id, "toCurrencyId")?,
            amount: input.amount,
            key: input.idempotency_key,
        };
        let (paid, received) = super::convert(app(ctx), viewer(ctx), request).await?;
        Ok(ConversionResult {
            already_applied: paid.already_applied,
            paid: Transaction(paid.row),
            received: Transaction(received.row),
        })
    }
    /// Renames a currency, audited: `CONFLICT` when another has the name. Needs
    /// `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn rename_currency(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
    ) -> async_graphql::Result<Currency> {
        let id = parse_int_id(&id, "id")?;
        Ok(Currency(
            super::rename_currency(app(ctx), viewer(ctx), id, &name).await?,
        ))
    }
    /// Ends a conversion rule now, audited; one that has ended stays as it is. Needs
    /// `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn end_conversion(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Conversion> {
        let id = parse_int_id(&id, "id")?;
        Ok(Conversion(
            super::end_conversion(app(ctx), viewer(ctx), id).await?,
        ))
    }
    /// Makes a conversion rule, audited. Needs `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn create_conversion(
        &self,
        ctx: &Context<'_>,
        input: ConversionInput,
    ) -> async_graphql::Result<Conversion> {
        let new = NewConversion {
            source_id: parse_int_id(&input.source_id, "sourceId")?,
            destination_id: parse_int_id(&input.destination_id, "destinationId")?,
            ratio: input.ratio,
            volume: input.volume,
            valid_from: input.valid_from.unwrap_or_else(Utc::now),
            valid_to: input.valid_to,
        };
        Ok(Conversion(
            super::create_conversion(app(ctx), viewer(ctx), new).await?,
        ))
    }
    /// Creates money for a player, audited with the reason. Needs `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn mint(
        &self,
        ctx: &Context<'_>,
        input: IssueInput,
    ) -> async_graphql::Result<TransactionResult> {
        Ok(
            super::issue(app(ctx), viewer(ctx), TransactionKind::Mint, input.parse()?)
                .await?
                .into(),
        )
    }
    /// Undoes a transaction: the same amount back from its recipient to its payer, pointing
    /// to it (`previousTransactionId`), audited with the reason. Once per transaction. Needs
    /// `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn refund(
        &self,
        ctx: &Context<'_>,
        transaction_id: ID,
        reason: String,
    ) -> async_graphql::Result<TransactionResult> {
        let id = parse_int_id(&transaction_id, "transactionId")?;
        Ok(super::refund(app(ctx), viewer(ctx), id, &reason)
            .await?
            .into())
    }
    /// Takes money from a player out of circulation, audited with the reason. Needs
    /// `bank.mint`.
    #[graphql(guard = "Privilege(privileges::BANK_MINT)")]
    async fn burn(
        &self,
        ctx: &Context<'_>,
        input: IssueInput,
    ) -> async_graphql::Result<TransactionResult> {
        Ok(
            super::issue(app(ctx), viewer(ctx), TransactionKind::Burn, input.parse()?)
                .await?
                .into(),
        )
    }
}
