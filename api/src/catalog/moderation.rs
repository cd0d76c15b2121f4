//! Reports and the moderation queue. An item of the queue is a pending `moderator_actions`
//! row for one revision: a revision waiting for review, or a revision players reported
//! (their reports gather on it). Moderators claim the next item (overdue first, then by
//! report count, then oldest): a claim is an update of the row picked with `FOR UPDATE SKIP
//! LOCKED`, so two moderators never get the same item, and it lapses after the claim time.
//! A decision (approve, reject with a reason, forward to the admins) is written with its
//! audit row, its reports' resolution and any penalty's ban in one transaction.

use std::collections::HashMap;

use arena_entity::catalog::{
    content,
    moderator_action::{self, ModAction, RejectionReason},
    moderator_action_ban,
    report::{self, ReportReason, ReportStatus},
    revision::{self, RevisionStatus},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, SimpleExpr},
};
use serde_json::json;
use uuid::Uuid;

use super::{Rules, changed, lock_visible, save, text_field};
use crate::{
    audit::{self, Entry},
    auth::{
        bans::{self, BanTarget, NewBan},
        privileges,
        viewer::Viewer,
    },
    bus::Changes,
    context::AppContext,
    db::lock_rows,
    error::{ApiError, ApiResult, OnViolation},
    graphql::pagination::{OffsetWindow, TotalCount},
};

/// Longest report description or moderator note, in characters.
pub const MAX_NOTE: usize = 2_000;

/// The open queue item of a revision, made when there is none; the caller holds the item's
/// content row lock.
pub(crate) async fn enqueue_in(
    db: &impl ConnectionTrait,
    content_id: i32,
    revision_id: i32,
    rules: Rules,
    forwarded: bool,
) -> ApiResult<moderator_action::Model> {
    if let Some(open) = moderator_action::Entity::find()
        .filter(moderator_action::Column::RevisionId.eq(revision_id))
        .filter(moderator_action::Column::Action.eq(ModAction::Pending))
        .one(db)
        .await?
    {
        return Ok(open);
    }
    let now = Utc::now();
    Ok(moderator_action::ActiveModel {
        content_id: Set(content_id),
        revision_id: Set(revision_id),
        action: Set(ModAction::Pending),
        forwarded: Set(forwarded),
        report_count: Set(0),
        due_at: Set(now + Duration::hours(i64::from(rules.due_hours))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// A report to file.
pub struct NewReport {
    /// The item.
    pub content_id: i32,
    /// The revision reported; its live one when not given.
    pub revision_id: Option<i32>,
    /// Why.
    pub reason: ReportReason,
    /// What the reporter says.
    pub description: String,
}

/// Reports an item; see [`report_in`].
pub async fn report_content(
    ctx: &AppContext,
    viewer: &Viewer,
    new: NewReport,
) -> ApiResult<report::Model> {
    let rules = Rules::of(&ctx.settings);
    ctx.write(async |db, changes| report_in(db, viewer, new, rules, changes).await)
        .await
}

/// Reports an item the caller may see and did not make. The report joins the open queue
/// item of its revision (made if there is none); one open report per player per item.
pub async fn report_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    new: NewReport,
    rules: Rules,
    changes: &mut Changes,
) -> ApiResult<report::Model> {
    let me = viewer.require_user()?.id;
    let description = text_field(&new.description, "description", 0, MAX_NOTE)?;
    let row = lock_visible(db, viewer, new.content_id).await?;
    if row.user_id == Some(me) {
        return Err(ApiError::bad_input(
            "contentId",
            "you cannot report your own item",
        ));
    }
    let revision_id = match new.revision_id {
        Some(id) => {
            let found = revision::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|r| r.content_id == row.id)
                .filter(|r| {
                    r.status == RevisionStatus::Approved
                        || viewer.has_privilege(privileges::CONTENT_MODERATE)
                })
                .ok_or(ApiError::NotFound("revision"))?;
            found.id
        }
        None => row.live_revision_id.ok_or(ApiError::NotFound("revision"))?,
    };
    let item = enqueue_in(db, row.id, revision_id, rules, false).await?;
    let now = Utc::now();
    let filed = report::ActiveModel {
        content_id: Set(row.id),
        user_id: Set(me),
        reason: Set(new.reason),
        description: Set(description),
        status: Set(ReportStatus::Open),
        revision_id: Set(Some(revision_id)),
        action_id: Set(Some(item.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .on_unique("you have reported this item already; a moderator will look at it")?;
    moderator_action::Entity::update_many()
        .col_expr(
            moderator_action::Column::ReportCount,
            Expr::col(moderator_action::Column::ReportCount).add(1),
        )
        .col_expr(moderator_action::Column::UpdatedAt, Expr::value(now))
        .filter(moderator_action::Column::Id.eq(item.id))
        .exec(db)
        .await?;
    changed(changes, row.id);
    Ok(filed)
}

/// The queue items `viewer` may take: pending, and forwarded ones only for holders of
/// `content.review_forwarded`.
fn takeable(viewer: &Viewer) -> Condition {
    let mut open = Condition::all().add(moderator_action::Column::Action.eq(ModAction::Pending));
    if !viewer.has_privilege(privileges::CONTENT_REVIEW_FORWARDED) {
        open = open.add(moderator_action::Column::Forwarded.eq(false));
    }
    open
}

/// Queue order: overdue first, then by report count, then oldest.
fn queue_order(
    query: Select<moderator_action::Entity>,
    now: DateTime<Utc>,
) -> Select<moderator_action::Entity> {
    let overdue: SimpleExpr = Expr::case(Expr::col(moderator_action::Column::DueAt).lte(now), 0)
        .finally(1)
        .into();
    query
        .order_by(overdue, Order::Asc)
        .order_by(moderator_action::Column::ReportCount, Order::Desc)
        .order_by(moderator_action::Column::CreatedAt, Order::Asc)
        .order_by(moderator_action::Column::Id, Order::Asc)
}

/// One page of the queue in queue order, the page picked by `window` from the queue's
/// length. Needs `content.moderate`.
pub async fn queue(
    db: &DatabaseConnection,
    viewer: &Viewer,
    window: impl FnOnce(u64) -> ApiResult<OffsetWindow>,
) -> ApiResult<(Vec<moderator_action::Model>, OffsetWindow)> {
    viewer.require_privilege(privileges::CONTENT_MODERATE)?;
    let matching = moderator_action::Entity::find().filter(takeable(viewer));
    let window = window(matching.clone().count(db).await?)?;
    let rows = queue_order(matching, Utc::now())
        .offset(window.offset)
        .limit(window.limit)
        .all(db)
        .await?;
    Ok((rows, window))
}

/// Claims the next item for the caller; see [`claim_in`].
pub async fn claim(
    ctx: &AppContext,
    viewer: &Viewer,
) -> ApiResult<Option<moderator_action::Model>> {
    let rules = Rules::of(&ctx.settings);
    ctx.write(async |db, _| claim_in(db, viewer, rules).await)
        .await
}

/// Gives the caller the item they hold, or claims the next free one for them; `None` when
/// the queue has nothing for them.
pub async fn claim_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    rules: Rules,
) -> ApiResult<Option<moderator_action::Model>> {
    let me = viewer.require_privilege(privileges::CONTENT_MODERATE)?.id;
    let now = Utc::now();
    let held = moderator_action::Entity::find()
        .filter(takeable(viewer))
        .filter(moderator_action::Column::UserId.eq(me))
        .filter(moderator_action::Column::ClaimedUntil.gt(now))
        .one(db)
        .await?;
    if held.is_some() {
        return Ok(held);
    }
    let free = Condition::any()
        .add(moderator_action::Column::ClaimedUntil.is_null())
        .add(moderator_action::Column::ClaimedUntil.lte(now));
    let next = queue_order(
        moderator_action::Entity::find()
            .filter(takeable(viewer))
            .filter(free),
        now,
    )
    .limit(1)
    .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    .one(db)
    .await?;
    let Some(next) = next else { return Ok(None) };
    let mut claimed = next.into_active_model();
    claimed.user_id = Set(Some(me));
    claimed.claimed_until = Set(Some(
        now + Duration::seconds(i64::from(rules.claim_seconds)),
    ));
    claimed.updated_at = Set(now);
    Ok(Some(claimed.update(db).await?))
}

/// Gives a claimed item back to the queue; see [`release_in`].
pub async fn release(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<moderator_action::Model> {
    ctx.write(async |db, _| release_in(db, viewer, id).await)
        .await
}

/// Gives an item the caller holds back to the queue.
pub async fn release_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<moderator_action::Model> {
    let (_, item) = lock_held(db, viewer, id).await?;
    let mut released = item.into_active_model();
    released.claimed_until = Set(None);
    released.user_id = Set(None);
    released.updated_at = Set(Utc::now());
    Ok(released.update(db).await?)
}

/// Locks a pending item the caller holds.
async fn lock_held(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<(Uuid, moderator_action::Model)> {
    let me = viewer.require_privilege(privileges::CONTENT_MODERATE)?.id;
    let item = lock_rows::<moderator_action::Entity, _>(db, moderator_action::Column::Id, [id])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("moderation item"))?;
    if item.forwarded {
        viewer.require_privilege(privileges::CONTENT_REVIEW_FORWARDED)?;
    }
    if item.action != ModAction::Pending {
        return Err(ApiError::Conflict("this item is decided already".into()));
    }
    if item.user_id != Some(me) {
        return Err(ApiError::Conflict(
            "claim this item before deciding it; another moderator may hold it".into(),
        ));
    }
    Ok((me, item))
}

/// What a moderator decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The revision is fine: it goes live (or stays).
    Approve,
    /// The revision is refused; a live one is taken down (`restricted`).
    Reject(RejectionReason),
    /// The admins decide: a forwarded item takes its place.
    Forward,
}

/// A ban on the creator that goes with a rejection.
#[derive(Debug, Clone)]
pub struct Penalty {
    /// Shown to the creator.
    pub reason: String,
    /// When it ends; `None` is permanent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A decision on an item.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The queue item.
    pub item_id: i32,
    /// What is decided.
    pub verdict: Verdict,
    /// What the moderator adds.
    pub description: Option<String>,
    /// A ban on the creator (rejections only).
    pub penalty: Option<Penalty>,
    /// Delete the revision's files and purge their bytes (rejections only).
    pub delete_assets: bool,
}

/// Decides an item the caller holds; see [`decide_in`].
pub async fn decide(
    ctx: &AppContext,
    viewer: &Viewer,
    decision: Decision,
) -> ApiResult<moderator_action::Model> {
    let rules = Rules::of(&ctx.settings);
    ctx.write(async |db, changes| decide_in(db, viewer, decision, rules, changes).await)
        .await
}

/// Decides an item the caller holds, with its audit row, its reports' resolution, the
/// content's change and any penalty's ban, all in the caller's transaction.
pub async fn decide_in(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    decision: Decision,
    rules: Rules,
    changes: &mut Changes,
) -> ApiResult<moderator_action::Model> {
    let description = decision
        .description
        .as_deref()
        .map(|d| text_field(d, "description", 1, MAX_NOTE))
        .transpose()?;
    if decision.penalty.is_some() && !matches!(decision.verdict, Verdict::Reject(_)) {
        return Err(ApiError::bad_input(
            "penalty",
            "a penalty goes with a rejection",
        ));
    }
    if decision.delete_assets && !matches!(decision.verdict, Verdict::Reject(_)) {
        return Err(ApiError::bad_input(
            "deleteAssets",
            "files are deleted with a rejection",
        ));
    }
    // The item's content row first, then the item, in the order reports and edits take
    // them, so a decision racing a report waits instead of deadlocking.
    let content_id: i32 = moderator_action::Entity::find_by_id(decision.item_id)
        .select_only()
        .column(moderator_action::Column::ContentId)
        .into_tuple()
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("moderation item"))?;
    let mut row = lock_rows::<content::Entity, _>(db, content::Column::Id, [content_id])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("content"))?;
    let (me, item) = lock_held(db, viewer, decision.item_id).await?;
    let revision = revision::Entity::find_by_id(item.revision_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("revision"))?;
    let now = Utc::now();
    let (action, resolution, audit_action) = match decision.verdict {
        Verdict::Approve => {
            if revision.status == RevisionStatus::Pending {
                super::mark_revisions(db, [revision.id], RevisionStatus::Approved).await?;
                if row.live_revision_id.is_none_or(|live| live < revision.id) {
                    row.name = revision.name.clone();
                    row.description = revision.description.clone();
                    row.license = revision.license.clone();
                    row.live_revision_id = Some(revision.id);
                }
            }
            (
                ModAction::Approve,
                Some(ReportStatus::Invalid),
                "content.approve",
            )
        }
        Verdict::Reject(_) => {
            super::mark_revisions(db, [revision.id], RevisionStatus::Rejected).await?;
            if row.live_revision_id == Some(revision.id) {
                row.restricted = true;
            }
            (
                ModAction::Reject,
                Some(ReportStatus::Resolved),
                "content.reject",
            )
        }
        Verdict::Forward => (ModAction::Forward, None, "content.forward"),
    };
    let reason = match decision.verdict {
        Verdict::Reject(reason) => Some(reason),
        _ => None,
    };
    let mut decided = item.clone().into_active_model();
    decided.action = Set(action);
    decided.user_id = Set(Some(me));
    decided.rejection_reason = Set(reason);
    decided.description = Set(description.clone());
    decided.penalty = Set(decision.penalty.is_some());
    decided.asset_delete = Set(decision.delete_assets);
    decided.claimed_until = Set(None);
    decided.decided_at = Set(Some(now));
    decided.updated_at = Set(now);
    let decided = decided.update(db).await?;
    let mut details = json!({
        "itemId": item.id,
        "revisionId": item.revision_id,
        "reports": item.report_count,
    });
    match resolution {
        Some(status) => {
            report::Entity::update_many()
                .col_expr(report::Column::Status, Expr::value(status))
                .col_expr(report::Column::ModeratorId, Expr::value(me))
                .col_expr(report::Column::Notes, Expr::value(description.clone()))
                .col_expr(report::Column::ResolvedAt, Expr::value(now))
                .col_expr(report::Column::UpdatedAt, Expr::value(now))
                .filter(report::Column::ActionId.eq(item.id))
                .filter(report::Column::Status.eq(ReportStatus::Open))
                .exec(db)
                .await?;
        }
        None => {
            let successor = moderator_action::ActiveModel {
                content_id: Set(item.content_id),
                revision_id: Set(item.revision_id),
                action: Set(ModAction::Pending),
                forwarded: Set(true),
                report_count: Set(item.report_count),
                due_at: Set(now + Duration::hours(i64::from(rules.due_hours))),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .on_unique("this revision is in the queue already")?;
            report::Entity::update_many()
                .col_expr(report::Column::ActionId, Expr::value(successor.id))
                .filter(report::Column::ActionId.eq(item.id))
                .filter(report::Column::Status.eq(ReportStatus::Open))
                .exec(db)
                .await?;
            details["forwardedTo"] = json!(successor.id);
        }
    }
    if decision.delete_assets {
        details["deletedAssets"] =
            json!(crate::assets::purge_revision_in(db, revision.id, changes).await?);
    }
    if let Some(penalty) = decision.penalty {
        let creator = row.user_id.ok_or_else(|| {
            ApiError::bad_input("penalty", "the creator's account no longer exists")
        })?;
        let ban = bans::place_ban_in(
            db,
            viewer,
            NewBan {
                target: BanTarget::User(creator),
                reason: penalty.reason,
                expires_at: penalty.expires_at,
                privileges: None,
            },
            changes,
        )
        .await?;
        moderator_action_ban::ActiveModel {
            action_id: Set(decided.id),
            ban_id: Set(ban.id),
        }
        .insert(db)
        .await?;
        details["banId"] = json!(ban.id);
    }
    audit::record(
        db,
        Some(me),
        Entry {
            action: audit_action,
            target_type: "content",
            target_id: Some(item.content_id.to_string()),
            reason: reason
                .map(|r| sea_orm::ActiveEnum::to_value(&r))
                .or(description),
            details: Some(details),
        },
    )
    .await?;
    row.updated_at = now;
    let saved = save(db, row).await?;
    super::thumbnails::link_in(db, &saved, changes).await?;
    changed(changes, item.content_id);
    Ok(decided)
}

/// The reports gathered on each item, newest first, in one statement.
pub async fn reports_of(
    db: &impl ConnectionTrait,
    items: &[i32],
) -> ApiResult<HashMap<i32, Vec<report::Model>>> {
    let mut found: HashMap<i32, Vec<report::Model>> = HashMap::new();
    for row in report::Entity::find()
        .filter(report::Column::ActionId.is_in(items.iter().copied()))
        .order_by_desc(report::Column::Id)
        .all(db)
        .await?
    {
        if let Some(item) = row.action_id {
            found.entry(item).or_default().push(row);
        }
    }
    Ok(found)
}

/// The bans a decision placed, by item, in one statement.
pub async fn bans_of(
    db: &impl ConnectionTrait,
    items: &[i32],
) -> ApiResult<HashMap<i32, Vec<i32>>> {
    let mut found: HashMap<i32, Vec<i32>> = HashMap::new();
    for row in moderator_action_ban::Entity::find()
        .filter(moderator_action_ban::Column::ActionId.is_in(items.iter().copied()))
        .all(db)
        .await?
    {
        found.entry(row.action_id).or_default().push(row.ban_id);
    }
    Ok(found)
}

/// Reports by status, newest first. Needs `content.moderate`.
pub async fn list_reports(
    db: &DatabaseConnection,
    viewer: &Viewer,
    status: Option<ReportStatus>,
    window: crate::graphql::pagination::Window,
) -> ApiResult<(Vec<report::Model>, TotalCount)> {
    viewer.require_privilege(privileges::CONTENT_MODERATE)?;
    let mut query = report::Entity::find();
    if let Some(status) = status {
        query = query.filter(report::Column::Status.eq(status));
    }
    let total = TotalCount::of(db, query.clone());
    let rows = window.select(query, report::Column::Id).all(db).await?;
    Ok((rows, total))
}

/// The decisions on an item, newest first. Needs `content.moderate`.
pub async fn history_of(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    content_id: i32,
) -> ApiResult<Vec<moderator_action::Model>> {
    viewer.require_privilege(privileges::CONTENT_MODERATE)?;
    Ok(moderator_action::Entity::find()
        .filter(moderator_action::Column::ContentId.eq(content_id))
        .order_by_desc(moderator_action::Column::Id)
        .limit(super::NESTED_LIMIT)
        .all(db)
        .await?)
}
