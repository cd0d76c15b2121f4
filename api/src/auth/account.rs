//! The account itself: moderator search, profile changes, password changes.

use arena_entity::auth::user;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use uuid::Uuid;

use super::{
    inputs::{DisplayName, Password, Username, parse_country, parse_language, parse_phone},
    viewer::Viewer,
};
use crate::{
    auth::privileges,
    bus::Change,
    context::AppContext,
    error::{ApiError, ApiResult},
    graphql::pagination::{KeyCursor, KeyOrder, Keyset, SortKey, TotalCount, fetch_keyset},
};

/// Live accounts matching `search` (an id, or part of a username or email), by username,
/// one keyset page. Needs `user.search`.
pub async fn search_users(
    db: &DatabaseConnection,
    viewer: &Viewer,
    search: Option<&str>,
    keyset: &Keyset,
) -> ApiResult<(Vec<user::Model>, TotalCount)> {
    viewer.require_privilege(privileges::USER_SEARCH)?;
    let mut matching = Condition::all().add(user::Column::DeletedAt.is_null());
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        if search.chars().count() > 254 {
            return Err(ApiError::bad_input(
                "search",
                "a search is at most 254 characters",
            ));
        }
        matching = matching.add(match Uuid::parse_str(search) {
            Ok(id) => Condition::all().add(user::Column::Id.eq(id)),
            Err(_) => {
                let escaped: String = search
                    .to_lowercase()
                    .chars()
                    .flat_map(|c| match c {
                        '%' | '_' | '\\' => vec!['\\', c],
                        c => vec![c],
                    })
                    .collect();
                let pattern = || LikeExpr::new(format!("%{escaped}%")).escape('\\');
                let lower = |col: user::Column| Expr::expr(Func::lower(Expr::col(col)));
                Condition::any()
                    .add(lower(user::Column::Username).like(pattern()))
                    .add(lower(user::Column::Email).like(pattern()))
            }
        });
    }
    let query = user::Entity::find().filter(matching);
    let order = KeyOrder {
        key: Some((
            Expr::expr(Func::lower(Expr::col(user::Column::Username))),
            |k: &SortKey| matches!(k, SortKey::Text(_)),
        )),
        id: Expr::col((user::Entity, user::Column::Id)),
        descending: false,
    };
    let rows = fetch_keyset(db, keyset, query.clone(), &order).await?;
    Ok((rows, TotalCount::of(db, query)))
}

/// Where `user` stands in the search order, as a cursor.
pub fn search_cursor(user: &user::Model) -> KeyCursor {
    KeyCursor {
        key: Some(SortKey::Text(user.username.to_lowercase())),
        id: user.id.to_string().into(),
    }
}

/// Profile fields to change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct ProfileChange {
    /// New display name.
    pub display_name: Option<String>,
    /// New phone number, or cleared.
    pub phone: Option<Option<String>>,
    /// New country, or cleared.
    pub country: Option<Option<String>>,
    /// New language.
    pub language: Option<String>,
}

/// Changes the caller's own profile.
pub async fn update_profile(
    ctx: &AppContext,
    viewer: &Viewer,
    change: ProfileChange,
) -> ApiResult<user::Model> {
    let me = super::find_me(ctx, viewer).await?;
    let mut updated: user::ActiveModel = me.into();
    if let Some(name) = change.display_name {
        updated.display_name = Set(DisplayName::parse(&name)?.into_inner());
    }
    if let Some(phone) = change.phone {
        updated.phone = Set(phone.as_deref().map(parse_phone).transpose()?);
    }
    if let Some(country) = change.country {
        updated.country = Set(country.as_deref().map(parse_country).transpose()?);
    }
    if let Some(language) = change.language {
        updated.language = Set(parse_language(&language)?);
    }
    updated.updated_at = Set(Utc::now());
    Ok(updated.update(&ctx.db).await?)
}

/// Changes the caller's password after checking the current one; every other sign-in ends.
pub async fn change_password(
    ctx: &AppContext,
    viewer: &Viewer,
    current: String,
    new: &str,
) -> ApiResult<()> {
    let signed_in = viewer.require_user()?;
    let me = super::find_me(ctx, viewer).await?;
    let username = Username::parse(&me.username)?;
    let new = Password::parse(new, &username)?;
    if !ctx.auth.check_password(&me, current).await? {
        return Err(ApiError::bad_input(
            "currentPassword",
            "the current password is wrong",
        ));
    }
    // Hashed before the transaction: bcrypt never holds a write lock.
    let hash = ctx.auth.passwords.hash(new.expose().to_owned()).await?;
    ctx.write(async |db, changes| {
        store_password(db, me, hash).await?;
        revoke_other_series(db, signed_in.id, signed_in.series).await?;
        changes.push(Change::Access {
            user_id: signed_in.id,
        });
        Ok(())
    })
    .await
}

/// Stores a new password hash (made with [`super::password::Passwords::hash`] before the transaction).
pub async fn store_password(
    db: &impl ConnectionTrait,
    account: user::Model,
    hash: String,
) -> ApiResult<user::Model> {
    let mut updated: user::ActiveModel = account.into();
    updated.password = Set(hash);
    updated.updated_at = Set(Utc::now());
    Ok(updated.update(db).await?)
}

async fn revoke_other_series(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Uuid,
) -> ApiResult<()> {
    use arena_entity::auth::user_token;
    // One statement for every other sign-in, whatever their number.
    user_token::Entity::update_many()
        .col_expr(
            user_token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Some(chrono::Utc::now())),
        )
        .filter(user_token::Column::UserId.eq(user_id))
        .filter(user_token::Column::RevokedAt.is_null())
        .filter(user_token::Column::Series.ne(keep))
        .exec(db)
        .await?;
    Ok(())
}

/// Figures for the dashboard's home page.
pub struct DashboardStats {
    /// Live accounts.
    pub users: u64,
    /// Bans in force now.
    pub active_bans: u64,
    /// New accounts per UTC day, oldest first, the last `days` days including today.
    pub signups_per_day: Vec<(chrono::NaiveDate, u64)>,
}

/// Counts for the dashboard. Needs `dashboard.access`.
pub async fn dashboard_stats(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    days: i32,
) -> ApiResult<DashboardStats> {
    viewer.require_privilege(privileges::DASHBOARD_ACCESS)?;
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_input("days", "days is 1 to 366"));
    }
    let users = user::Entity::find()
        .filter(user::Column::DeletedAt.is_null())
        .count(db)
        .await?;
    let now = Utc::now();
    let active_bans = arena_entity::auth::ban::Entity::find()
        .filter(arena_entity::auth::ban::Column::LiftedAt.is_null())
        .filter(
            Condition::any()
                .add(arena_entity::auth::ban::Column::ExpiresAt.is_null())
                .add(arena_entity::auth::ban::Column::ExpiresAt.gt(now)),
        )
        .count(db)
        .await?;
    let today = now.date_naive();
    let first = today - chrono::Duration::days(i64::from(days - 1));
    let since = first.and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
    // Bucketed here: the two databases share no date-truncation function.
    let created: Vec<chrono::DateTime<Utc>> = user::Entity::find()
        .filter(user::Column::CreatedAt.gte(since))
        .select_only()
        .column(user::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await?;
    let mut signups_per_day: Vec<(chrono::NaiveDate, u64)> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| (d, 0))
        .collect();
    for at in created {
        if let Some(bucket) = signups_per_day
            .iter_mut()
            .find(|(d, _)| *d == at.date_naive())
        {
            bucket.1 += 1;
        }
    }
    Ok(DashboardStats {
        users,
        active_bans,
        signups_per_day,
    })
}
