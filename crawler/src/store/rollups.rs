//! The rollups analytics read over long ranges, rebuilt for a day's date when a run of that
//! day finishes, in the transaction that marks it finishing.

use arena_api::db::raw;
use arena_migration::BATTLE_COUNTERS;
use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, DbErr, Value};

/// The first and last day of `day`'s month.
pub fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (first, next.pred_opt().unwrap_or(first))
}

/// Rebuilds `day`'s activity per platform and the per-player sums of its month from the
/// daily diffs, replacing what was there (a day crawled again is counted once).
pub async fn refresh(db: &impl ConnectionTrait, day: NaiveDate) -> Result<(), DbErr> {
    let date = |d: NaiveDate| Value::from(d);
    db.execute_raw(raw(
        db,
        "DELETE FROM battle_daily_activity WHERE day = $1",
        vec![date(day)],
    ))
    .await?;
    db.execute_raw(raw(
        db,
        "INSERT INTO battle_daily_activity \
         (day, platform, active_players, battles, wins, damage_dealt) \
         SELECT day, platform, COUNT(*), CAST(SUM(battles) AS BIGINT), \
         CAST(SUM(wins) AS BIGINT), CAST(SUM(damage_dealt) AS BIGINT) \
         FROM battle_diffs WHERE day = $1 GROUP BY day, platform",
        vec![date(day)],
    ))
    .await?;
    let (first, last) = month_of(day);
    db.execute_raw(raw(
        db,
        "DELETE FROM battle_monthly_diffs WHERE month = $1",
        vec![date(first)],
    ))
    .await?;
    let sums: Vec<String> = BATTLE_COUNTERS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect();
    db.execute_raw(raw(
        db,
        &format!(
            "INSERT INTO battle_monthly_diffs (month, player_id, platform, {columns}) \
             SELECT $1, player_id, MIN(platform), {sums} \
             FROM battle_diffs WHERE day BETWEEN $2 AND $3 GROUP BY player_id",
            columns = BATTLE_COUNTERS.join(", "),
            sums = sums.join(", "),
        ),
        vec![date(first), date(first), date(last)],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn months_end_where_they_end() {
        assert_eq!(
            month_of(day("2026-02-14")),
            (day("2026-02-01"), day("2026-02-28"))
        );
        assert_eq!(
            month_of(day("2026-12-31")),
            (day("2026-12-01"), day("2026-12-31"))
        );
    }
}
