//! The `play` domain (seed 001, Session service, and the Game service's game play): a player
//! presses Play, Arena picks a game server and issues a session token; the server validates
//! it once, keeps the session alive with pings and ends it, which records the play.
//!
//! A server's `live` is counted here, in the transaction that starts or ends a session, so
//! nobody is placed on a full server however many press Play at once: a seat is taken by one
//! conditional `UPDATE … SET live = live + 1 WHERE live < slots`.

pub mod graphql;
pub mod provision;

use std::collections::{BTreeMap, HashSet};

use arena_entity::{
    characters::{character, property, worn_item},
    events::platform_event,
    games::{
        game, game_play,
        game_support::{self, SupportFlag},
    },
    servers::{game_server, play_session},
};
use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{
        privileges,
        tokens::{hash_opaque, new_opaque},
        viewer::Viewer,
    },
    bus::Changes,
    context::AppContext,
    db::raw,
    error::{ApiError, ApiResult},
    servers::registry::{Issued, silence},
};

/// Candidates read per ordering when picking a server: enough to spread players pressing
/// Play together over many tied servers.
const CANDIDATES: u64 = 32;
/// Reads of candidates before Play asks a provisioning host.
const ROUNDS: usize = 4;
/// Seats tried per read.
const TRIES: usize = 8;
/// Of those, the most on friends' servers: the selection does not read whether those are
/// open, so a player whose friends all sit on full servers still reaches the others.
const FRIEND_TRIES: usize = 4;

/// Where a player was placed.
pub struct Placed {
    /// The session, with its token in [`Issued::token`].
    pub session: Issued<play_session::Model>,
    /// The server it is on.
    pub server: game_server::Model,
}

/// Presses Play: checks the game and character, then places the player on a server (see
/// [`place_in`]); when no server has room, asks a provisioning host and waits, within
/// `ARENA_PROVISION_WAIT_MS`. A live session of the player in this game ends (`replaced`).
pub async fn play(
    ctx: &AppContext,
    viewer: &Viewer,
    game_id: i32,
    character_id: Option<i32>,
) -> ApiResult<Placed> {
    let me = viewer.require_user()?.id;
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(ctx.settings.provision_wait_ms);
    let played = check_play(&ctx.db, me, game_id, character_id).await?;
    loop {
        // Plays beyond the gate wait for it rather than for a pooled connection, whose
        // wait is bounded: a burst of players is served in turn, not refused.
        let placed = {
            let _turn = ctx
                .play_gate
                .acquire()
                .await
                .map_err(|_| ApiError::Internal(anyhow::anyhow!("play is shutting down")))?;
            place(ctx, me, &played).await
        };
        match placed {
            Ok(Some(placed)) => return Ok(placed),
            Ok(None) => {}
            Err(ApiError::Db(err))
                if crate::error::Violation::of(&err) == Some(crate::error::Violation::Unique) =>
            {
                return Err(ApiError::Conflict(
                    "another Play for this game is under way".into(),
                ));
            }
            Err(err) => return Err(err),
        }
        if played.game.hosted {
            return Err(ApiError::Unavailable(
                "no server of this game has room; its players host its servers".into(),
            ));
        }
        // Room may show that this caller could not take (seats held by other Plays): the
        // host is not asked then, and the bound still holds.
        if tokio::time::Instant::now() >= deadline {
            return Err(provision::timed_out());
        }
        // One caller per game asks a host and waits for its servers; the rest wait for it,
        // then try again.
        ctx.provisioner.provide(ctx, &played.game, deadline).await?;
    }
}

/// [`place_in`] in a transaction of its own, committed only when it found a seat: a Play
/// that finds none leaves the player's live session as it was.
async fn place(ctx: &AppContext, me: Uuid, played: &Played) -> ApiResult<Option<Placed>> {
    let txn = crate::db::begin_write(&ctx.db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        // Play's statements are planned once per connection, not at each run.
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
    }
    let mut changes = Changes::default();
    match place_in(&txn, &mut changes, &ctx.settings, me, played).await? {
        Some(placed) => {
            ctx.bus.commit(txn, changes).await?;
            Ok(Some(placed))
        }
        None => {
            txn.rollback().await?;
            Ok(None)
        }
    }
}

/// A checked Play request.
pub struct Played {
    pub game: game::Model,
    pub character: Option<character::Model>,
}

/// Checks that the game exists and that the character is the player's and of a kind the
/// game supports.
async fn check_play(
    db: &impl ConnectionTrait,
    me: Uuid,
    game_id: i32,
    character_id: Option<i32>,
) -> ApiResult<Played> {
    let game = game::Entity::find_by_id(game_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("game"))?;
    let Some(character_id) = character_id else {
        return Ok(Played {
            game,
            character: None,
        });
    };
    let found = character::Entity::find_by_id(character_id)
        .one(db)
        .await?
        .filter(|c| c.user_id == me)
        .ok_or(ApiError::NotFound("character"))?;
    let fits = crate::games::supports_of(db, &[game_id])
        .await?
        .remove(&game_id)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.flag == SupportFlag::Character && s.enabled)
        .any(|s| s.content_id.is_none_or(|kind| kind == found.content_id));
    if !fits {
        return Err(ApiError::bad_input(
            "characterId",
            "this game does not support this kind of character",
        ));
    }
    Ok(Played {
        game,
        character: Some(found),
    })
}

/// A server with an open seat, as SQL on `game_servers` (its columns prefixed with
/// `table`): on, not quarantined, pinging since `$1`, room left, and, for a game its players
/// host, one of theirs. The first three match the selection indexes' condition. Every
/// statement that picks or seats uses it, with the time at `$1` and the game at `$2`.
pub(crate) fn open(table: &str, hosted: bool) -> String {
    let theirs = if hosted {
        format!(" AND NOT {table}official AND NOT {table}provisioned")
    } else {
        String::new()
    };
    format!(
        "{table}active AND NOT {table}quarantine AND {table}health = 'ready' \
         AND {table}live < {table}slots AND {table}pinged_at > $1{theirs}"
    )
}

/// Picks a server and takes a seat on it, in one transaction: servers with the player's
/// friends first, then official ones, then the player's country, then the fewest players
/// (ties at random, so players pressing Play together spread out). A server where someone
/// in a block with the player plays comes last. A provisioned server with nobody on it may
/// switch to this game. `None` when no server has room.
pub async fn place_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    settings: &crate::settings::Settings,
    me: Uuid,
    played: &Played,
) -> ApiResult<Option<Placed>> {
    let game = &played.game;
    replace_previous_in(db, changes, me, game.id).await?;
    let cut = Utc::now() - silence(settings.server_ping_seconds);
    // Seats taken by others since a read are skipped; the next read sees them.
    let mut tried = HashSet::new();
    for _ in 0..ROUNDS {
        let (friends, rest) = candidates(db, game, cut, me).await?;
        let mut fresh: Vec<i32> = friends
            .into_iter()
            .filter(|id| tried.insert(*id))
            .take(FRIEND_TRIES)
            .collect();
        let room = TRIES - fresh.len();
        fresh.extend(rest.into_iter().filter(|id| tried.insert(*id)).take(room));
        if fresh.is_empty() {
            break;
        }
        for id in fresh {
            if let Some(placed) = seat_in(db, settings, me, played, id, &cut, false).await? {
                return Ok(Some(placed));
            }
        }
    }
    if game.hosted {
        return Ok(None);
    }
    // A provisioned server with nobody on it that may run this game switches to it.
    let idle = format!(
        "SELECT s.id FROM game_servers s JOIN server_games g ON g.server_id = s.id \
         WHERE g.game_id = $2 AND s.provisioned AND s.live = 0 AND {open} \
         AND (s.game_id IS NULL OR s.game_id <> $2) ORDER BY s.official DESC, s.id LIMIT {CANDIDATES}",
        open = open("s.", false)
    );
    let idle: Vec<i32> = db
        .query_all_raw(raw(db, &idle, vec![cut.into(), game.id.into()]))
        .await?
        .iter()
        .map(|row| row.try_get::<i32>("", "id"))
        .collect::<Result<_, _>>()?;
    for id in idle {
        if let Some(placed) = seat_in(db, settings, me, played, id, &cut, true).await? {
            return Ok(Some(placed));
        }
    }
    Ok(None)
}

/// Pressing Play again replaces the player's live session in this game (there is at most
/// one, so no order of locks to keep) and settles it as [`ended_in`] does; on PostgreSQL in
/// one statement.
async fn replace_previous_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    me: Uuid,
    game: i32,
) -> ApiResult<()> {
    let now = Utc::now();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let sql = format!(
            "WITH ended AS ( \
               UPDATE play_sessions SET ended_at = $1, end_reason = 'replaced' \
               WHERE user_id = $2 AND game_id = $3 AND ended_at IS NULL RETURNING *), \
             freed AS ( \
               UPDATE game_servers s SET live = s.live - e.n \
               FROM (SELECT server_id, CAST(COUNT(*) AS INTEGER) AS n FROM ended \
                     GROUP BY server_id) e \
               WHERE s.id = e.server_id), \
             played AS ( \
               INSERT INTO game_plays (game_id, user_id, session_id, start_time, end_time) \
               SELECT game_id, user_id, id, joined_at, $1 FROM ended \
               WHERE joined_at IS NOT NULL ON CONFLICT DO NOTHING), \
             event AS ({event}) \
             SELECT id FROM ended",
            event = event_insert("session.ended", "ended", "$1"),
        );
        db.execute_raw(raw(db, &sql, vec![now.into(), me.into(), game.into()]))
            .await?;
        return Ok(());
    }
    let previous = play_session::Entity::update_many()
        .col_expr(play_session::Column::EndedAt, Expr::value(now))
        .col_expr(play_session::Column::EndReason, Expr::value("replaced"))
        .filter(play_session::Column::UserId.eq(me))
        .filter(play_session::Column::GameId.eq(game))
        .filter(play_session::Column::EndedAt.is_null())
        .exec_with_returning(db)
        .await?;
    ended_in(db, changes, &previous).await
}

/// Takes a seat on server `id` ([`take_seat`]) and starts the session on it ([`start_in`]);
/// on PostgreSQL in one statement. `None` when the server had no seat for this player.
async fn seat_in(
    db: &impl ConnectionTrait,
    settings: &crate::settings::Settings,
    me: Uuid,
    played: &Played,
    id: i32,
    cut: &DateTime<Utc>,
    switch: bool,
) -> ApiResult<Option<Placed>> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        let Some(server) = take_seat(db, id, &played.game, cut, switch).await? else {
            return Ok(None);
        };
        return Ok(Some(start_in(db, settings, me, played, server).await?));
    }
    use sea_orm::FromQueryResult;
    let (token, hash) = new_opaque();
    let now = Utc::now();
    let (fits, set_game) = if switch {
        ("live = 0 AND provisioned", ", game_id = $2")
    } else {
        ("game_id = $2", "")
    };
    // Under the row lock the condition is checked again after any writer before, so the
    // last seat goes to one player; a server another Play holds is skipped (see take_seat).
    let sql = format!(
        "WITH seat AS ( \
           UPDATE game_servers SET live = live + 1, updated_at = $4{set_game} \
           WHERE id = (SELECT id FROM game_servers WHERE id = $3 FOR UPDATE SKIP LOCKED) \
             AND {open} AND {fits} \
           RETURNING *), \
         started AS ( \
           INSERT INTO play_sessions (token_hash, user_id, character_id, game_id, server_id, \
             server_type, created_at, expires_at) \
           SELECT $5, $6, $7, $2, id, \
             CASE WHEN official OR provisioned THEN 'provision' ELSE 'host' END, $4, $8 \
           FROM seat RETURNING *), \
         event AS ({event}) \
         SELECT {server}, {session} FROM seat, started",
        open = open("", played.game.hosted),
        event = event_insert("session.started", "started", "$4"),
        server = prefixed::<game_server::Entity>("seat", "s_"),
        session = prefixed::<play_session::Entity>("started", "p_"),
    );
    let expires = now + Duration::seconds(i64::from(settings.session_join_seconds));
    let values = vec![
        (*cut).into(),
        played.game.id.into(),
        id.into(),
        now.into(),
        hash.into(),
        me.into(),
        played.character.as_ref().map(|c| c.id).into(),
        expires.into(),
    ];
    let Some(row) = db.query_one_raw(raw(db, &sql, values)).await? else {
        return Ok(None);
    };
    Ok(Some(Placed {
        session: Issued {
            row: play_session::Model::from_query_result(&row, "p_")?,
            token,
        },
        server: game_server::Model::from_query_result(&row, "s_")?,
    }))
}

/// The columns of entity `E` read from `table` (a part of a `WITH`), each named with
/// `prefix`, so one row carries two models apart (`from_query_result(row, prefix)`).
fn prefixed<E: sea_orm::EntityTrait>(table: &str, prefix: &str) -> String {
    use sea_orm::{IdenStatic, Iterable};
    E::Column::iter()
        .map(|c| format!("{table}.\"{c}\" AS \"{prefix}{c}\"", c = c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parts of the selection statement, in its `r` column.
const BLOCKED: i32 = -2;
const FRIENDS: i32 = -1;

/// The servers to try, best first: those with friends (most friends first), and the rest by
/// the index orderings (official, the player's country, fewest players; ties at random),
/// those with someone in a block with the player last.
async fn candidates(
    db: &impl ConnectionTrait,
    game: &game::Model,
    cut: DateTime<Utc>,
    me: Uuid,
) -> ApiResult<(Vec<i32>, Vec<i32>)> {
    let rows: Vec<(i32, i32, i32)> = db
        .query_all_raw(selection_statement(db, game, cut, me))
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<i32>("", "r")?,
                row.try_get::<i32>("", "id")?,
                row.try_get::<i32>("", "n")?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let blocked: HashSet<i32> = rows
        .iter()
        .filter(|&&(r, _, _)| r == BLOCKED)
        .map(|&(_, id, _)| id)
        .collect();
    let mut ranked: Vec<(i32, i32, i32)> =
        rows.into_iter().filter(|&(r, _, _)| r != BLOCKED).collect();
    ranked.shuffle(&mut rand::rng());
    // Friends' servers by most friends; the rest by their ordering, then fewest players.
    ranked.sort_by_key(|&(r, _, n)| (r, if r == FRIENDS { -n } else { n }));
    let mut seen = HashSet::new();
    let (mut friends, mut rest, mut last) = (Vec::new(), Vec::new(), Vec::new());
    for (r, id, _) in ranked {
        if !seen.insert(id) {
            continue;
        }
        if blocked.contains(&id) {
            last.push(id);
        } else if r == FRIENDS {
            friends.push(id);
        } else {
            rest.push(id);
        }
    }
    rest.extend(last);
    Ok((friends, rest))
}

/// The selection of servers for `me` in `game`, one statement with its parts told apart by
/// `r`: the servers where the player's friends play ([`FRIENDS`], `n` friends) and those
/// where someone in a block with the player plays ([`BLOCKED`]), open or not (a seat is
/// taken only on an open one, so reading each of them here would repeat that check per
/// friend), then the open servers in each order of selection, up to [`CANDIDATES`] each,
/// read from an index in its own order (official or not, the player's country or any; `n`
/// players).
fn selection_statement(
    db: &impl ConnectionTrait,
    game: &game::Model,
    cut: DateTime<Utc>,
    me: Uuid,
) -> sea_orm::Statement {
    let linked = |r: i32, table: &str, also: &str| {
        format!(
            "SELECT {r} AS r, server_id AS id, CAST(COUNT(*) AS INTEGER) AS n \
             FROM play_sessions \
             WHERE game_id = $2 AND ended_at IS NULL AND user_id IN ( \
               SELECT target_id FROM {table} WHERE user_id = $3 {also} \
               UNION ALL SELECT user_id FROM {table} WHERE target_id = $3 {also}) \
             GROUP BY server_id"
        )
    };
    let mut parts = vec![
        linked(FRIENDS, "friends", "AND NOT pending"),
        linked(BLOCKED, "blocks", ""),
    ];
    let officials: &[bool] = if game.hosted {
        &[false]
    } else {
        &[true, false]
    };
    for (rank, official) in officials.iter().enumerate() {
        let flag = if *official {
            "official"
        } else {
            "NOT official"
        };
        for (r, country) in [
            (
                rank * 2,
                " AND country = (SELECT country FROM users WHERE id = $3)",
            ),
            (rank * 2 + 1, ""),
        ] {
            parts.push(format!(
                "SELECT * FROM (SELECT {r} AS r, id, live AS n FROM game_servers \
                 WHERE game_id = $2 AND {open} AND {flag}{country} \
                 ORDER BY live LIMIT {CANDIDATES}) AS c{r}",
                open = open("", game.hosted),
            ));
        }
    }
    raw(
        db,
        &parts.join(" UNION ALL "),
        vec![cut.into(), game.id.into(), me.into()],
    )
}

/// PostgreSQL's plan of the statement that picks a server for `me` in `game`. For the load
/// command, which fails on a sequential scan of a large table.
pub async fn explain_selection(
    db: &impl ConnectionTrait,
    game: i32,
    me: Uuid,
) -> ApiResult<String> {
    let game = game::Entity::find_by_id(game)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("game"))?;
    let statement = selection_statement(db, &game, Utc::now() - Duration::hours(1), me);
    let explain = sea_orm::Statement {
        sql: format!("EXPLAIN {}", statement.sql),
        ..statement
    };
    let lines: Vec<String> = db
        .query_all_raw(explain)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?;
    Ok(lines.join("\n"))
}

/// Takes one seat on server `id` if it is still open with room (and, when `switch`, still
/// empty, moving it to `game`). One statement; under PostgreSQL's row lock the condition is
/// checked again after any writer before, so the last seat goes to one player only. A server
/// another Play holds is skipped, not waited for (`SKIP LOCKED`): the next read of
/// candidates sees it again, so players pressing Play together spread out instead of
/// queueing on the emptiest server.
async fn take_seat(
    db: &impl ConnectionTrait,
    id: i32,
    game: &game::Model,
    cut: &DateTime<Utc>,
    switch: bool,
) -> ApiResult<Option<game_server::Model>> {
    let mut condition = Condition::all()
        .add(game_server::Column::Id.eq(id))
        .add(Expr::cust_with_values(open("", game.hosted), [*cut]));
    let mut update = game_server::Entity::update_many()
        .col_expr(
            game_server::Column::Live,
            Expr::col(game_server::Column::Live).add(1),
        )
        .col_expr(game_server::Column::UpdatedAt, Expr::value(Utc::now()));
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::sea_query::{LockBehavior, LockType, Query};
        condition = condition.add(
            game_server::Column::Id.in_subquery(
                Query::select()
                    .column(game_server::Column::Id)
                    .from(game_server::Entity)
                    .and_where(game_server::Column::Id.eq(id))
                    .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                    .to_owned(),
            ),
        );
    }
    if switch {
        condition = condition
            .add(game_server::Column::Live.eq(0))
            .add(game_server::Column::Provisioned.eq(true));
        update = update.col_expr(game_server::Column::GameId, Expr::value(game.id));
    } else {
        condition = condition.add(game_server::Column::GameId.eq(game.id));
    }
    Ok(update
        .filter(condition)
        .exec_with_returning(db)
        .await?
        .pop())
}

/// Writes the session on a seat just taken, and its `session.started` event.
async fn start_in(
    db: &impl ConnectionTrait,
    settings: &crate::settings::Settings,
    me: Uuid,
    played: &Played,
    server: game_server::Model,
) -> ApiResult<Placed> {
    let (token, hash) = new_opaque();
    let now = Utc::now();
    let join_seconds = i64::from(settings.session_join_seconds);
    let row = play_session::ActiveModel {
        token_hash: Set(hash),
        user_id: Set(me),
        character_id: Set(played.character.as_ref().map(|c| c.id)),
        game_id: Set(played.game.id),
        server_id: Set(server.id),
        server_type: Set(server_type(&server).to_owned()),
        created_at: Set(now),
        expires_at: Set(now + Duration::seconds(join_seconds)),
        joined_at: Set(None),
        pinged_at: Set(None),
        ended_at: Set(None),
        end_reason: Set(None),
        ..Default::default()
    };
    let session = play_session::Entity::insert(row)
        .exec_with_returning(db)
        .await?;
    events_in(db, "session.started", std::slice::from_ref(&session), now).await?;
    Ok(Placed {
        session: Issued {
            row: session,
            token,
        },
        server,
    })
}

/// `provision` on an official or provisioned server, `host` on a player's own.
fn server_type(server: &game_server::Model) -> &'static str {
    if server.official || server.provisioned {
        "provision"
    } else {
        "host"
    }
}

/// What a session's platform events say of it. The same keys as [`event_insert`]'s.
fn event_payload(session: &play_session::Model) -> serde_json::Value {
    json!({
        "sessionId": session.id,
        "userId": session.user_id,
        "gameId": session.game_id,
        "serverId": session.server_id,
        "characterId": session.character_id,
        "reason": session.end_reason,
    })
}

/// Writes the sessions' platform events, one statement.
async fn events_in(
    db: &impl ConnectionTrait,
    kind: &str,
    sessions: &[play_session::Model],
    at: DateTime<Utc>,
) -> ApiResult<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    platform_event::Entity::insert_many(sessions.iter().map(|session| {
        platform_event::ActiveModel {
            kind: Set(kind.to_owned()),
            payload: Set(event_payload(session)),
            created_at: Set(at),
            ..Default::default()
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// On PostgreSQL, validation in one statement: the session joins (`$1` the time, `$2` the
/// token's hash, `$3` the server) and its `session.joined` event is written with it; the
/// row holds the session (`j_`) and its player, if the account is not deleted (`u_`).
fn joined_event() -> String {
    format!(
        "WITH joined AS ( \
           UPDATE play_sessions SET joined_at = $1, pinged_at = $1 \
           WHERE token_hash = $2 AND server_id = $3 AND joined_at IS NULL AND ended_at IS NULL \
             AND expires_at > $1 \
           RETURNING *), \
         event AS ({event}) \
         SELECT {session}, {user} FROM joined \
         LEFT JOIN users ON users.id = joined.user_id AND users.deleted_at IS NULL",
        event = event_insert("session.joined", "joined", "$1"),
        session = prefixed::<play_session::Entity>("joined", "j_"),
        user = prefixed::<arena_entity::auth::user::Entity>("users", "u_"),
    )
}

/// On PostgreSQL, the statement (for a `WITH` part) that writes a `kind` event for each
/// session in `sessions` (a part before it) at `at`, with the payload of [`event_payload`].
fn event_insert(kind: &str, sessions: &str, at: &str) -> String {
    format!(
        "INSERT INTO platform_events (kind, payload, created_at) \
         SELECT '{kind}', jsonb_build_object('sessionId', id, 'userId', user_id, \
           'gameId', game_id, 'serverId', server_id, 'characterId', character_id, \
           'reason', end_reason), {at} FROM {sessions}"
    )
}

/// What a server learns when it validates a session token.
pub struct Validated {
    pub session: play_session::Model,
    pub user: arena_entity::auth::user::Model,
    pub character: Option<character::Model>,
    pub properties: Vec<property::Model>,
    /// The items the character wears that the player still owns; only when the game
    /// supports individual character features.
    pub worn: Vec<worn_item::Model>,
}

/// A server validates the token a player brought: once, only on the server it was issued
/// for, before it expires. The session is joined.
pub async fn validate(ctx: &AppContext, viewer: &Viewer, token: &str) -> ApiResult<Validated> {
    let server = ctx.server_tokens.server_id(&ctx.db, viewer).await?;
    let now = Utc::now();
    let hash = hash_opaque(token.trim());
    let joined = if ctx.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::FromQueryResult;
        // One statement is one transaction: no round trips to open and commit one. The
        // player is read in it too.
        let row = ctx
            .db
            .query_one_raw(raw(
                &ctx.db,
                &joined_event(),
                vec![now.into(), hash.as_str().into(), server.into()],
            ))
            .await?;
        match row {
            None => None,
            Some(row) => {
                let session = play_session::Model::from_query_result(&row, "j_")?;
                let user = match row.try_get::<Option<Uuid>>("u_", "id")? {
                    Some(_) => Some(arena_entity::auth::user::Model::from_query_result(
                        &row, "u_",
                    )?),
                    None => None,
                };
                Some((session, user))
            }
        }
    } else {
        ctx.write(async |db, _changes| {
            let joined = play_session::Entity::update_many()
                .col_expr(play_session::Column::JoinedAt, Expr::value(now))
                .col_expr(play_session::Column::PingedAt, Expr::value(now))
                .filter(play_session::Column::TokenHash.eq(hash.as_str()))
                .filter(play_session::Column::ServerId.eq(server))
                .filter(play_session::Column::JoinedAt.is_null())
                .filter(play_session::Column::EndedAt.is_null())
                .filter(play_session::Column::ExpiresAt.gt(now))
                .exec_with_returning(db)
                .await?;
            events_in(db, "session.joined", &joined, now).await?;
            let Some(session) = joined.into_iter().next() else {
                return Ok(None);
            };
            let user = crate::auth::find_user(db, session.user_id).await?;
            Ok(Some((session, user)))
        })
        .await?
    };
    let Some((session, user)) = joined else {
        return Err(why_not_joined(&ctx.db, &hash, server, now).await);
    };
    let user = user.ok_or(ApiError::NotFound("player"))?;
    let (character, properties, worn) = match session.character_id {
        None => (None, Vec::new(), Vec::new()),
        Some(id) => character_of(&ctx.db, id, session.game_id).await?,
    };
    Ok(Validated {
        session,
        user,
        character,
        properties,
        worn,
    })
}

/// The reason a token did not join, for a clear error.
async fn why_not_joined(
    db: &impl ConnectionTrait,
    hash: &str,
    server: i32,
    now: DateTime<Utc>,
) -> ApiError {
    let found = play_session::Entity::find()
        .filter(play_session::Column::TokenHash.eq(hash))
        .one(db)
        .await;
    match found {
        Err(err) => err.into(),
        Ok(None) => ApiError::NotFound("session"),
        Ok(Some(s)) if s.server_id != server => ApiError::Forbidden,
        Ok(Some(s)) if s.joined_at.is_some() => {
            ApiError::Conflict("this session token was validated already".into())
        }
        Ok(Some(s)) if s.ended_at.is_some() => ApiError::Conflict("this session ended".into()),
        Ok(Some(s)) if s.expires_at <= now => {
            ApiError::Conflict("this session token expired before it was validated".into())
        }
        Ok(Some(_)) => ApiError::Conflict("this session changed; try again".into()),
    }
}

/// A character with its properties, and the worn items the player still owns when the game
/// supports individual character features.
async fn character_of(
    db: &impl ConnectionTrait,
    id: i32,
    game: i32,
) -> ApiResult<(
    Option<character::Model>,
    Vec<property::Model>,
    Vec<worn_item::Model>,
)> {
    let Some(found) = character::Entity::find_by_id(id).one(db).await? else {
        return Ok((None, Vec::new(), Vec::new()));
    };
    let properties = crate::characters::properties_of_many(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let features = game_support::Entity::find()
        .filter(game_support::Column::GameId.eq(game))
        .filter(game_support::Column::Flag.eq(SupportFlag::IndividualCharacterFeatures))
        .filter(game_support::Column::Enabled.eq(true))
        .one(db)
        .await?
        .is_some();
    let worn = if features {
        let worn = crate::characters::worn_of_many(db, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        let owned: HashSet<i32> = crate::store::live_copies(found.user_id)
            .filter(
                arena_entity::store::ownership::Column::ContentId
                    .is_in(worn.iter().map(|w| w.content_id)),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|o| o.content_id)
            .collect();
        worn.into_iter()
            .filter(|w| owned.contains(&w.content_id))
            .collect()
    } else {
        Vec::new()
    };
    Ok((Some(found), properties, worn))
}

/// Keeps the joined, live sessions of `server` among `ids` alive.
pub async fn keep_alive_in(
    db: &impl ConnectionTrait,
    server: i32,
    ids: &[i32],
    now: DateTime<Utc>,
) -> ApiResult<u64> {
    Ok(play_session::Entity::update_many()
        .col_expr(play_session::Column::PingedAt, Expr::value(now))
        .filter(play_session::Column::Id.is_in(ids.iter().copied()))
        .filter(play_session::Column::ServerId.eq(server))
        .filter(play_session::Column::JoinedAt.is_not_null())
        .filter(play_session::Column::EndedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// A server keeps one of its joined sessions alive.
pub async fn ping_session(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<play_session::Model> {
    let server = ctx.server_tokens.server_id(&ctx.db, viewer).await?;
    let now = Utc::now();
    let pinged = play_session::Entity::update_many()
        .col_expr(play_session::Column::PingedAt, Expr::value(now))
        .filter(play_session::Column::Id.eq(id))
        .filter(play_session::Column::ServerId.eq(server))
        .filter(play_session::Column::JoinedAt.is_not_null())
        .filter(play_session::Column::EndedAt.is_null())
        .exec_with_returning(&ctx.db)
        .await?
        .pop();
    match pinged {
        Some(session) => Ok(session),
        None => {
            let found = play_session::Entity::find_by_id(id).one(&ctx.db).await?;
            Err(match found {
                Some(s) if s.server_id == server && s.ended_at.is_some() => {
                    ApiError::Conflict("this session ended".into())
                }
                Some(s) if s.server_id == server => {
                    ApiError::Conflict("this session was not validated yet".into())
                }
                _ => ApiError::NotFound("session"),
            })
        }
    }
}

/// Ends a session: its server (with its token), its player, or a moderator
/// (`server.quarantine`). Ending one that ended is a no-op that returns it.
pub async fn end_session(
    ctx: &AppContext,
    viewer: &Viewer,
    id: i32,
) -> ApiResult<play_session::Model> {
    let (reason, may) = match &viewer.machine {
        Some(_) => {
            let server = ctx.server_tokens.server_id(&ctx.db, viewer).await?;
            (
                "ended",
                Condition::all().add(play_session::Column::ServerId.eq(server)),
            )
        }
        None => {
            let me = viewer.require_user()?.id;
            if viewer.has_privilege(privileges::SERVER_QUARANTINE) {
                ("ended_by_moderator", Condition::all())
            } else {
                (
                    "left",
                    Condition::all().add(play_session::Column::UserId.eq(me)),
                )
            }
        }
    };
    ctx.write(async |db, changes| {
        let mine = Condition::all()
            .add(play_session::Column::Id.eq(id))
            .add(may.clone());
        if let Some(ended) = end_where_in(db, changes, mine.clone(), reason).await?.pop() {
            return Ok(ended);
        }
        // Ended before, or not the caller's to end.
        play_session::Entity::find()
            .filter(mine)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("session"))
    })
    .await
}

/// Ends the live sessions on `servers` with `reason`.
pub async fn end_on_servers_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    servers: &[i32],
    reason: &'static str,
) -> ApiResult<()> {
    end_where_in(
        db,
        changes,
        Condition::all().add(play_session::Column::ServerId.is_in(servers.iter().copied())),
        reason,
    )
    .await?;
    Ok(())
}

/// Ends the live sessions matching `matching`: locks them in id order, marks them ended and
/// settles them ([`ended_in`]).
pub async fn end_where_in(
    db: &impl ConnectionTrait,
    changes: &mut Changes,
    matching: Condition,
    reason: &'static str,
) -> ApiResult<Vec<play_session::Model>> {
    let live = crate::db::lock_in_order(
        db,
        play_session::Entity::find()
            .filter(matching)
            .filter(play_session::Column::EndedAt.is_null()),
        play_session::Column::Id,
    )
    .await?;
    if live.is_empty() {
        return Ok(Vec::new());
    }
    let ended = play_session::Entity::update_many()
        .col_expr(play_session::Column::EndedAt, Expr::value(Utc::now()))
        .col_expr(play_session::Column::EndReason, Expr::value(reason))
        .filter(play_session::Column::Id.is_in(live.iter().map(|s| s.id)))
        .filter(play_session::Column::EndedAt.is_null())
        .exec_with_returning(db)
        .await?;
    ended_in(db, changes, &ended).await?;
    Ok(ended)
}

/// Settles sessions just marked ended: frees their seats, records the plays of those that
/// were joined and writes a `session.ended` event for each.
async fn ended_in(
    db: &impl ConnectionTrait,
    _changes: &mut Changes,
    ended: &[play_session::Model],
) -> ApiResult<()> {
    let Some(first) = ended.first() else {
        return Ok(());
    };
    let now = first.ended_at.unwrap_or_else(Utc::now);
    let mut per_server: BTreeMap<i32, i32> = BTreeMap::new();
    for session in ended {
        *per_server.entry(session.server_id).or_default() += 1;
    }
    for (server, n) in per_server {
        game_server::Entity::update_many()
            .col_expr(
                game_server::Column::Live,
                Expr::col(game_server::Column::Live).sub(n),
            )
            .filter(game_server::Column::Id.eq(server))
            .exec(db)
            .await?;
    }
    let plays: Vec<game_play::ActiveModel> = ended
        .iter()
        .filter_map(|s| {
            s.joined_at.map(|start| game_play::ActiveModel {
                game_id: Set(s.game_id),
                user_id: Set(s.user_id),
                session_id: Set(s.id),
                start_time: Set(start),
                end_time: Set(Some(now)),
                ..Default::default()
            })
        })
        .collect();
    if !plays.is_empty() {
        game_play::Entity::insert_many(plays)
            .on_conflict(crate::db::any_conflict())
            .exec_without_returning(db)
            .await?;
    }
    events_in(db, "session.ended", ended, now).await
}

/// Ends the sessions whose token expired before a server validated it, and the joined ones
/// silent past `ARENA_SESSION_TIMEOUT_SECONDS`; returns how many it ended.
pub async fn sweep(ctx: &AppContext) -> ApiResult<usize> {
    let now = Utc::now();
    let silent_since = now - Duration::seconds(i64::from(ctx.settings.session_timeout_seconds));
    let mut ended = 0;
    let sweeps: [(&'static str, Condition); 2] = [
        (
            "expired",
            Condition::all()
                .add(play_session::Column::JoinedAt.is_null())
                .add(play_session::Column::ExpiresAt.lte(now)),
        ),
        (
            "timeout",
            Condition::all()
                .add(play_session::Column::JoinedAt.is_not_null())
                .add(play_session::Column::PingedAt.lt(silent_since)),
        ),
    ];
    for (reason, due) in sweeps {
        let ids: Vec<i32> = play_session::Entity::find()
            .select_only()
            .column(play_session::Column::Id)
            .filter(play_session::Column::EndedAt.is_null())
            .filter(due.clone())
            .order_by_asc(play_session::Column::Id)
            .limit(1000)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        if ids.is_empty() {
            continue;
        }
        let matching = due.add(play_session::Column::Id.is_in(ids));
        ended += ctx
            .write(async move |db, changes| end_where_in(db, changes, matching, reason).await)
            .await?
            .len();
    }
    Ok(ended)
}

/// Which sessions a list shows; `None` does not narrow it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionFilter {
    pub player: Option<Uuid>,
    pub server: Option<i32>,
    pub game: Option<i32>,
    /// Only those not ended.
    pub live_only: bool,
}

/// Sessions by filter, newest first, at most `limit`.
pub async fn sessions_of(
    db: &impl ConnectionTrait,
    filter: SessionFilter,
    limit: u64,
) -> ApiResult<Vec<play_session::Model>> {
    let SessionFilter {
        player,
        server,
        game,
        live_only,
    } = filter;
    let mut query = play_session::Entity::find();
    if let Some(game) = game {
        query = query.filter(play_session::Column::GameId.eq(game));
    }
    if let Some(player) = player {
        query = query.filter(play_session::Column::UserId.eq(player));
    }
    if let Some(server) = server {
        query = query.filter(play_session::Column::ServerId.eq(server));
    }
    if live_only {
        query = query.filter(play_session::Column::EndedAt.is_null());
    }
    Ok(query
        .order_by_desc(play_session::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A player's plays, newest first.
pub async fn plays_of(
    db: &impl ConnectionTrait,
    player: Uuid,
    limit: u64,
) -> ApiResult<Vec<game_play::Model>> {
    Ok(game_play::Entity::find()
        .filter(game_play::Column::UserId.eq(player))
        .order_by_desc(game_play::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Plays per game per UTC day from `from` to `to` (both included, at most
/// [`crate::battles::MAX_DAYS`]): (day, game, plays, players), oldest first.
pub async fn plays_per_day(
    db: &impl ConnectionTrait,
    game: Option<i32>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> ApiResult<Vec<(chrono::NaiveDate, i32, i64, i64)>> {
    crate::battles::check_range(from, to)?;
    let (day, start, end) = crate::db::utc_days(db, "start_time", from, to);
    let mut values: Vec<sea_orm::Value> = vec![start.into(), end.into()];
    let one_game = match game {
        Some(game) => {
            values.push(game.into());
            " AND game_id = $3"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {day} AS day, game_id, COUNT(*) AS plays, COUNT(DISTINCT user_id) AS players \
         FROM game_plays WHERE start_time >= $1 AND start_time < $2{one_game} \
         GROUP BY 1, 2 ORDER BY 1, 2"
    );
    db.query_all_raw(raw(db, &sql, values))
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "day")?,
                row.try_get("", "game_id")?,
                row.try_get("", "plays")?,
                row.try_get("", "players")?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
}
