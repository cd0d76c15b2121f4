//! The bulk writes of fetched batches: players, daily totals and daily diffs.

use super::*;

/// One fetched batch on its way to the database.
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// The batch.
    pub job: Job,
    /// Its platform.
    pub platform: Platform,
    /// The accounts found.
    pub players: Vec<Player>,
}

/// What one bulk write changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Batches marked done.
    pub batches: i64,
    /// Account ids they covered.
    pub accounts: i64,
    /// Accounts found.
    pub found: i64,
    /// Players whose rows were written (new or changed).
    pub changed: i64,
}

fn ts(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// A stored player's id and counters, read by the names in [`COUNTERS`].
fn stored(row: &sea_orm::QueryResult) -> Result<(i64, [i64; 13]), DbErr> {
    let mut counters = [0; 13];
    for (value, name) in counters.iter_mut().zip(COUNTERS) {
        *value = row.try_get("", name)?;
    }
    Ok((row.try_get("", "id")?, counters))
}

/// Every `battle_players` column, in the order rows are built.
fn player_columns() -> Vec<&'static str> {
    [
        "id",
        "platform",
        "nickname",
        "created_at",
        "last_battle_time",
        "updated_at",
    ]
    .into_iter()
    .chain(COUNTERS.iter().copied())
    .chain(["max_damage", "max_frags", "max_xp", "trees_cut"])
    .chain(["first_seen_at", "last_pulled_at", "last_changed_on"])
    .collect()
}

fn aliases(names: &[&str]) -> Vec<Alias> {
    names.iter().map(|name| Alias::new(*name)).collect()
}

/// Writes fetched batches in one transaction: players that are new or whose battle count
/// changed get their row upserted and a total and a diff for `day`; the batches are marked
/// done and the run's counters advanced. Batches already done are skipped, so a result
/// delivered twice is written once.
pub async fn write_results(
    db: &DatabaseConnection,
    run_id: i64,
    day: NaiveDate,
    results: &[BatchResult],
) -> Result<Written, DbErr> {
    let txn = begin_write(db).await?;
    let ids: Vec<i64> = results.iter().map(|r| r.job.batch_id).collect();
    let open: Vec<i64> = crawl_batch::Entity::find()
        .select_only()
        .column(crawl_batch::Column::Id)
        .filter(crawl_batch::Column::Id.is_in(ids))
        .filter(crawl_batch::Column::State.ne(DONE))
        .into_tuple()
        .all(&txn)
        .await?;
    let results: Vec<&BatchResult> = results
        .iter()
        .filter(|r| open.contains(&r.job.batch_id))
        .collect();
    let mut written = Written::default();
    if results.is_empty() {
        txn.commit().await?;
        return Ok(written);
    }

    let mut previous: HashMap<i64, [i64; 13]> = HashMap::new();
    // One range scan per batch is cheaper than a long IN list.
    for chunk in results.chunks(200) {
        let mut range = Expr::value(false);
        for result in chunk {
            range = range
                .or(Expr::col(Alias::new("id")).between(result.job.first_id, result.job.last_id));
        }
        let select = Query::select()
            .columns(aliases(&["id"]).into_iter().chain(aliases(COUNTERS)))
            .from(Alias::new("battle_players"))
            .and_where(range)
            .to_owned();
        let backend = txn.get_database_backend();
        for row in txn.query_all_raw(backend.build(&select)).await? {
            let (id, counters) = stored(&row)?;
            previous.insert(id, counters);
        }
    }

    let now = Utc::now();
    let mut changed: Vec<Changed<'_>> = Vec::new();
    for result in &results {
        written.batches += 1;
        written.accounts += result.job.last_id - result.job.first_id + 1;
        for player in &result.players {
            written.found += 1;
            let current = counters(player);
            let diff = match previous.get(&player.account_id) {
                Some(old) if old[0] == current[0] => continue,
                Some(old) => std::array::from_fn(|i| current[i] - old[i]),
                None => current,
            };
            changed.push(Changed {
                player,
                platform: result.platform.as_str(),
                current,
                diff,
            });
        }
    }
    written.changed = changed.len() as i64;
    if txn.get_database_backend() == DbBackend::Postgres {
        insert_unnest(&txn, &changed, now, day).await?;
    } else {
        insert_values(&txn, &changed, now, day).await?;
    }

    // Per-batch player counts in one statement.
    let mut found = Expr::case(Expr::value(false), 0);
    for result in &results {
        let count = i32::try_from(result.players.len()).unwrap_or(i32::MAX);
        found = found.case(
            Expr::col(crawl_batch::Column::Id).eq(result.job.batch_id),
            count,
        );
    }
    unleased(DONE)
        .col_expr(crawl_batch::Column::Players, found.into())
        .col_expr(crawl_batch::Column::DoneAt, Expr::value(now))
        .filter(crawl_batch::Column::Id.is_in(results.iter().map(|r| r.job.batch_id)))
        .exec(&txn)
        .await?;
    crawl_run::Entity::update_many()
        .col_expr(
            crawl_run::Column::BatchesDone,
            Expr::col(crawl_run::Column::BatchesDone).add(written.batches),
        )
        .col_expr(
            crawl_run::Column::AccountsDone,
            Expr::col(crawl_run::Column::AccountsDone).add(written.accounts),
        )
        .col_expr(
            crawl_run::Column::PlayersFound,
            Expr::col(crawl_run::Column::PlayersFound).add(written.found),
        )
        .col_expr(
            crawl_run::Column::PlayersChanged,
            Expr::col(crawl_run::Column::PlayersChanged).add(written.changed),
        )
        .filter(crawl_run::Column::Id.eq(run_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(written)
}

/// A player whose battle count changed (or who is new), with its counters and growth.
struct Changed<'a> {
    player: &'a Player,
    platform: &'static str,
    current: [i64; 13],
    diff: [i64; 13],
}

/// Every column of a daily table, in the order rows are built.
fn daily_columns() -> Vec<&'static str> {
    ["day", "player_id", "platform"]
        .into_iter()
        .chain(COUNTERS.iter().copied())
        .collect()
}

/// `SET col = excluded.col` for every player column but the key and first sighting.
fn player_updates() -> String {
    player_columns()
        .iter()
        .filter(|c| !matches!(**c, "id" | "first_seen_at"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SET` for a daily table: totals take the latest counters; diffs add a second run's growth
/// on the same day to the first's.
fn daily_updates(table: &str, accumulate: bool) -> String {
    COUNTERS
        .iter()
        .map(|c| {
            if accumulate {
                format!("{c} = {table}.{c} + excluded.{c}")
            } else {
                format!("{c} = excluded.{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL: one statement per table whatever the row count, each column one array
/// parameter (`UNNEST`), instead of tens of thousands of scalar parameters to parse and plan.
async fn insert_unnest(
    txn: &DatabaseTransaction,
    changed: &[Changed<'_>],
    now: DateTime<Utc>,
    day: NaiveDate,
) -> Result<(), DbErr> {
    if changed.is_empty() {
        return Ok(());
    }
    let column = |f: &dyn Fn(&Changed<'_>) -> i64| -> Value {
        changed.iter().map(f).collect::<Vec<i64>>().into()
    };
    let times = |f: &dyn Fn(&Player) -> i64| -> Value {
        changed
            .iter()
            .map(|c| ts(f(c.player)))
            .collect::<Vec<_>>()
            .into()
    };
    let ids = column(&|c| c.player.account_id);
    let platforms: Value = changed
        .iter()
        .map(|c| c.platform.to_owned())
        .collect::<Vec<String>>()
        .into();
    let mut values = vec![
        ids.clone(),
        platforms.clone(),
        changed
            .iter()
            .map(|c| c.player.nickname.clone())
            .collect::<Vec<String>>()
            .into(),
        times(&|p| p.created_at),
        times(&|p| p.last_battle_time),
        times(&|p| p.updated_at),
    ];
    for i in 0..COUNTERS.len() {
        values.push(column(&|c| c.current[i]));
    }
    values.push(column(&|c| c.player.statistics.max_damage));
    values.push(column(&|c| c.player.statistics.max_frags));
    values.push(column(&|c| c.player.statistics.max_xp));
    values.push(column(&|c| c.player.statistics.trees_cut));
    let n = changed.len();
    values.push(vec![now; n].into());
    values.push(vec![now; n].into());
    values.push(vec![day; n].into());
    let types: Vec<&str> = player_columns()
        .iter()
        .map(|c| match *c {
            "platform" | "nickname" => "text",
            "created_at" | "last_battle_time" | "updated_at" | "first_seen_at"
            | "last_pulled_at" => "timestamptz",
            "last_changed_on" => "date",
            _ => "bigint",
        })
        .collect();
    let sql = format!(
        "INSERT INTO battle_players ({}) SELECT * FROM UNNEST({}) \
         ON CONFLICT (id) DO UPDATE SET {}",
        player_columns().join(", "),
        unnest_params(&types),
        player_updates()
    );
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    for (table, accumulate) in [("battle_totals", false), ("battle_diffs", true)] {
        let mut values = vec![vec![day; n].into(), ids.clone(), platforms.clone()];
        for i in 0..COUNTERS.len() {
            values.push(if accumulate {
                column(&|c| c.diff[i])
            } else {
                column(&|c| c.current[i])
            });
        }
        let mut types = vec!["date", "bigint", "text"];
        types.extend(["bigint"; 13]);
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM UNNEST({}) \
             ON CONFLICT (day, player_id) DO UPDATE SET {}",
            daily_columns().join(", "),
            unnest_params(&types),
            daily_updates(table, accumulate)
        );
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    }
    Ok(())
}

fn unnest_params(types: &[&str]) -> String {
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Any backend: multi-row `INSERT … VALUES`, in chunks under SQLite's 32,766 parameters.
async fn insert_values(
    txn: &DatabaseTransaction,
    changed: &[Changed<'_>],
    now: DateTime<Utc>,
    day: NaiveDate,
) -> Result<(), DbErr> {
    for chunk in changed.chunks(1_000) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("battle_players"))
            .columns(aliases(&player_columns()))
            .on_conflict(
                OnConflict::column(Alias::new("id"))
                    .update_columns(aliases(
                        &player_columns()
                            .iter()
                            .copied()
                            .filter(|c| !matches!(*c, "id" | "first_seen_at"))
                            .collect::<Vec<_>>(),
                    ))
                    .to_owned(),
            );
        for c in chunk {
            let p = c.player;
            let mut row: Vec<SimpleExpr> = vec![
                p.account_id.into(),
                c.platform.into(),
                p.nickname.clone().into(),
                ts(p.created_at).into(),
                ts(p.last_battle_time).into(),
                ts(p.updated_at).into(),
            ];
            row.extend(c.current.iter().map(|&v| SimpleExpr::from(v)));
            let s = &p.statistics;
            row.extend(
                [s.max_damage, s.max_frags, s.max_xp, s.trees_cut]
                    .into_iter()
                    .map(SimpleExpr::from),
            );
            row.extend([now.into(), now.into(), day.into()]);
            insert.values_panic(row);
        }
        txn.execute(&insert).await?;
    }
    for (table, accumulate) in [("battle_totals", false), ("battle_diffs", true)] {
        let mut conflict = OnConflict::columns(aliases(&["day", "player_id"]));
        if accumulate {
            for &counter in COUNTERS {
                conflict.value(
                    Alias::new(counter),
                    Expr::col((Alias::new(table), Alias::new(counter)))
                        .add(Expr::col((Alias::new("excluded"), Alias::new(counter)))),
                );
            }
        } else {
            conflict.update_columns(aliases(COUNTERS));
        }
        for chunk in changed.chunks(2_000) {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(table))
                .columns(aliases(&daily_columns()))
                .on_conflict(conflict.clone());
            for c in chunk {
                let values = if accumulate { c.diff } else { c.current };
                let mut row: Vec<SimpleExpr> =
                    vec![day.into(), c.player.account_id.into(), c.platform.into()];
                row.extend(values.iter().map(|&v| SimpleExpr::from(v)));
                insert.values_panic(row);
            }
            txn.execute(&insert).await?;
        }
    }
    Ok(())
}
