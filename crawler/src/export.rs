//! Elasticsearch export: after a run, the day's totals and diffs and the players that
//! changed are bulk-indexed with the account id as document id into date-named indexes
//! (`{prefix}-{totals|diffs|players}-{YYYY.MM.DD}`). Documents the cluster does not take,
//! one by one or all at once when it is down, wait in `export_backlog`; every export sends
//! the backlog first, so nothing is lost.

use std::{fmt, time::Duration};

use arena_entity::battles::{daily_diff, daily_total, export_backlog, player};
use chrono::{NaiveDate, Utc};
use elasticsearch::{
    BulkParts, Elasticsearch,
    http::{
        request::JsonBody,
        transport::{SingleNodeConnectionPool, TransportBuilder},
    },
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{ExprTrait, OnConflict},
};
use serde::Serialize;
use serde_json::{Value, json};
use url::Url;

/// Documents per bulk request.
const PAGE: u64 = 1_000;

/// What an export did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    /// Documents the cluster took.
    pub sent: u64,
    /// Of those, documents that had waited in the backlog.
    pub from_backlog: u64,
    /// Documents now waiting in the backlog.
    pub waiting: u64,
}

impl fmt::Display for Exported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exported {} documents ({} from the backlog), {} waiting",
            self.sent, self.from_backlog, self.waiting
        )
    }
}

/// One document to index.
struct Doc {
    index: String,
    id: String,
    body: Value,
}

/// Why a bulk request as a whole failed.
struct Down(String);

/// Per document: `None` when indexed, else the cluster's reason.
async fn bulk(client: &Elasticsearch, docs: &[Doc]) -> Result<Vec<Option<String>>, Down> {
    let mut body: Vec<JsonBody<Value>> = Vec::with_capacity(docs.len() * 2);
    for doc in docs {
        body.push(json!({ "index": { "_index": doc.index, "_id": doc.id } }).into());
        body.push(doc.body.clone().into());
    }
    let response = client
        .bulk(BulkParts::None)
        .body(body)
        .send()
        .await
        .map_err(|err| Down(err.to_string()))?;
    let status = response.status_code();
    if !status.is_success() {
        return Err(Down(format!("bulk request answered HTTP {status}")));
    }
    let answer: Value = response
        .json()
        .await
        .map_err(|err| Down(format!("unreadable bulk answer: {err}")))?;
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    if items.len() != docs.len() {
        return Err(Down(format!(
            "bulk answer has {} items for {} documents",
            items.len(),
            docs.len()
        )));
    }
    Ok(items
        .iter()
        .map(|item| {
            let outcome = item
                .as_object()
                .and_then(|o| o.values().next())
                .cloned()
                .unwrap_or_default();
            let status = outcome["status"].as_u64().unwrap_or(500);
            (status >= 300).then(|| {
                let error = &outcome["error"];
                error["reason"]
                    .as_str()
                    .or_else(|| error["type"].as_str())
                    .map_or_else(|| format!("status {status}"), str::to_owned)
            })
        })
        .collect())
}

/// Keeps `docs` in the backlog with `reason` (updating those already there).
async fn keep(db: &DatabaseConnection, docs: &[Doc], reason: &str) -> Result<(), DbErr> {
    if docs.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    for chunk in docs.chunks(500) {
        let rows = chunk.iter().map(|doc| export_backlog::ActiveModel {
            index_name: Set(doc.index.clone()),
            doc_id: Set(doc.id.clone()),
            body: Set(doc.body.to_string()),
            attempts: Set(1),
            last_error: Set(Some(reason.to_owned())),
            created_at: Set(now),
            ..Default::default()
        });
        export_backlog::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    export_backlog::Column::IndexName,
                    export_backlog::Column::DocId,
                ])
                .update_columns([
                    export_backlog::Column::Body,
                    export_backlog::Column::LastError,
                ])
                .value(
                    export_backlog::Column::Attempts,
                    sea_orm::sea_query::Expr::col((
                        export_backlog::Entity,
                        export_backlog::Column::Attempts,
                    ))
                    .add(1),
                )
                .to_owned(),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

fn document<T: Serialize>(index: &str, id: i64, row: &T) -> Doc {
    Doc {
        index: index.to_owned(),
        id: id.to_string(),
        body: serde_json::to_value(row).unwrap_or(Value::Null),
    }
}

/// Exports `day` to the cluster at `url`, backlog first.
pub async fn export_day(
    db: &DatabaseConnection,
    url: &Url,
    prefix: &str,
    day: NaiveDate,
) -> anyhow::Result<Exported> {
    let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
        .timeout(Duration::from_secs(30))
        .build()?;
    let client = Elasticsearch::new(transport);
    let mut exported = Exported::default();
    let mut down: Option<String> = None;

    // The backlog: delivered documents leave it, refused ones stay with their reason.
    let mut after = 0;
    loop {
        let waiting = export_backlog::Entity::find()
            .filter(export_backlog::Column::Id.gt(after))
            .order_by_asc(export_backlog::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = waiting.last() else { break };
        after = last.id;
        let docs: Vec<Doc> = waiting
            .iter()
            .map(|row| Doc {
                index: row.index_name.clone(),
                id: row.doc_id.clone(),
                body: serde_json::from_str(&row.body).unwrap_or(Value::Null),
            })
            .collect();
        match bulk(&client, &docs).await {
            Ok(outcomes) => {
                let delivered: Vec<i64> = waiting
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, outcome)| outcome.is_none())
                    .map(|(row, _)| row.id)
                    .collect();
                exported.sent += delivered.len() as u64;
                exported.from_backlog += delivered.len() as u64;
                export_backlog::Entity::delete_many()
                    .filter(export_backlog::Column::Id.is_in(delivered))
                    .exec(db)
                    .await?;
                let refused: Vec<Doc> = docs
                    .into_iter()
                    .zip(outcomes)
                    .filter_map(|(doc, outcome)| outcome.map(|reason| (doc, reason)))
                    .map(|(doc, _)| doc)
                    .collect();
                keep(db, &refused, "refused again").await?;
            }
            Err(Down(reason)) => {
                tracing::warn!(%reason, "search cluster unavailable; the backlog waits");
                down = Some(reason);
                break;
            }
        }
    }

    // The day's documents, a page of players at a time.
    let stamp = day.format("%Y.%m.%d");
    let totals_index = format!("{prefix}-totals-{stamp}");
    let diffs_index = format!("{prefix}-diffs-{stamp}");
    let players_index = format!("{prefix}-players-{stamp}");
    let mut after = i64::MIN;
    loop {
        let totals = daily_total::Entity::find()
            .filter(daily_total::Column::Day.eq(day))
            .filter(daily_total::Column::PlayerId.gt(after))
            .order_by_asc(daily_total::Column::PlayerId)
            .limit(PAGE / 3)
            .all(db)
            .await?;
        let (Some(first), Some(last)) = (totals.first(), totals.last()) else {
            break;
        };
        let range = first.player_id..=last.player_id;
        after = last.player_id;
        let diffs = daily_diff::Entity::find()
            .filter(daily_diff::Column::Day.eq(day))
            .filter(daily_diff::Column::PlayerId.between(*range.start(), *range.end()))
            .all(db)
            .await?;
        let players = player::Entity::find()
            .filter(player::Column::Id.between(*range.start(), *range.end()))
            .filter(player::Column::LastChangedOn.eq(day))
            .all(db)
            .await?;
        let mut docs: Vec<Doc> = totals
            .iter()
            .map(|row| document(&totals_index, row.player_id, row))
            .collect();
        docs.extend(
            diffs
                .iter()
                .map(|row| document(&diffs_index, row.player_id, row)),
        );
        docs.extend(
            players
                .iter()
                .map(|row| document(&players_index, row.id, row)),
        );
        if let Some(reason) = &down {
            keep(db, &docs, reason).await?;
            continue;
        }
        match bulk(&client, &docs).await {
            Ok(outcomes) => {
                let mut refused = Vec::new();
                for (doc, outcome) in docs.into_iter().zip(outcomes) {
                    match outcome {
                        None => exported.sent += 1,
                        Some(reason) => refused.push((doc, reason)),
                    }
                }
                for (doc, reason) in refused {
                    keep(db, std::slice::from_ref(&doc), &reason).await?;
                }
            }
            Err(Down(reason)) => {
                tracing::warn!(%reason, "search cluster unavailable; documents wait in the backlog");
                keep(db, &docs, &reason).await?;
                down = Some(reason);
            }
        }
    }
    exported.waiting = export_backlog::Entity::find().count(db).await?;
    Ok(exported)
}
