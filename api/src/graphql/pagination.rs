//! Relay connections. A page costs what it holds: rows are found by keyset (`WHERE (key,
//! id) < cursor ORDER BY key, id LIMIT n + 1`), so any page reads about `n` index entries,
//! and `totalCount` is counted only when a client selects it.

use std::{future::Future, pin::Pin, sync::Arc};

use async_graphql::{
    Object, OutputType,
    connection::{Connection, CursorType, Edge, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Value,
    sea_query::{Expr, SimpleExpr},
};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// Most rows one page may hold; also the default.
pub const MAX_PAGE: u64 = 100;

type Counting = Pin<Box<dyn Future<Output = ApiResult<u64>> + Send>>;

/// The extra field every connection has: the rows matching the filter, counted only if asked.
#[derive(Clone)]
pub struct TotalCount(Arc<dyn Fn() -> Counting + Send + Sync>);

impl TotalCount {
    /// A count already known.
    pub fn known(total: u64) -> Self {
        Self(Arc::new(move || Box::pin(async move { Ok(total) })))
    }

    /// The rows `query` matches, counted when the field is resolved.
    pub fn of<E>(db: &DatabaseConnection, query: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let db = db.clone();
        Self(Arc::new(move || {
            let (db, query) = (db.clone(), query.clone());
            Box::pin(async move { Ok(query.count(&db).await?) })
        }))
    }
}

#[Object]
impl TotalCount {
    /// Rows matching the filter, on every page.
    async fn total_count(&self) -> async_graphql::Result<u64> {
        Ok((self.0)().await?)
    }
}

/// A page from rows fetched in slice order with one extra row (`limit + 1`); `from_last`
/// when they came from the end (`last`), `(after, before)` saying which cursors were given.
fn slice_page<Row, Cursor: CursorType + Send + Sync, Node: OutputType>(
    mut rows: Vec<Row>,
    limit: u64,
    from_last: bool,
    (after, before): (bool, bool),
    total_count: TotalCount,
    edge: impl Fn(Row) -> Edge<Cursor, Node, EmptyFields>,
) -> Connection<Cursor, Node, TotalCount> {
    let more = u64::try_from(rows.len()).unwrap_or(u64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    if from_last {
        rows.reverse();
    }
    let (has_previous, has_next) = if from_last {
        (more, before)
    } else {
        (after, more)
    };
    let mut connection = Connection::with_additional_fields(has_previous, has_next, total_count);
    connection.edges.extend(rows.into_iter().map(edge));
    connection
}

/// A Relay connection keyed by row id.
pub type IdConnection<Node> = Connection<i64, Node, TotalCount>;

/// Which slice of a newest-first list a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Only ids below this (`after` a cursor, newest first).
    pub below: Option<i64>,
    /// Only ids above this (`before` a cursor).
    pub above: Option<i64>,
    /// Rows to return.
    pub limit: u64,
    /// `last`: take from the old end of the slice.
    pub from_oldest: bool,
}

impl Window {
    /// From the Relay arguments; `first` and `last` are capped at [`MAX_PAGE`].
    pub fn parse(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Self> {
        let cursor = |raw: Option<String>, field| {
            raw.map(|c| {
                i64::decode_cursor(&c)
                    .map_err(|_| ApiError::bad_input(field, "that is not a cursor of this list"))
            })
            .transpose()
        };
        let count = |n: Option<i32>, field| match n {
            Some(n) if n < 0 => Err(ApiError::bad_input(field, "a page size is not negative")),
            Some(n) => Ok(Some(u64::try_from(n).unwrap_or(0).min(MAX_PAGE))),
            None => Ok(None),
        };
        if first.is_some() && last.is_some() {
            return Err(ApiError::bad_input("last", "give first or last, not both"));
        }
        let (first, last) = (count(first, "first")?, count(last, "last")?);
        Ok(Self {
            below: cursor(after, "after")?,
            above: cursor(before, "before")?,
            limit: first.or(last).unwrap_or(MAX_PAGE),
            from_oldest: last.is_some(),
        })
    }

    /// Narrows `query` to the window on its `id` column, in window order, with one row more
    /// than the page so [`Window::page`] can tell whether more follow.
    pub fn select<E: EntityTrait>(self, query: Select<E>, id: impl ColumnTrait) -> Select<E> {
        let mut query = query;
        if let Some(below) = self.below {
            query = query.filter(id.lt(below));
        }
        if let Some(above) = self.above {
            query = query.filter(id.gt(above));
        }
        let ordered = if self.from_oldest {
            query.order_by_asc(id)
        } else {
            query.order_by_desc(id)
        };
        ordered.limit(self.limit + 1)
    }

    /// Builds the page from rows fetched in window order with one extra row (`limit + 1`):
    /// newest first, or oldest first for `last`.
    pub fn page<Row, Node: OutputType>(
        self,
        rows: Vec<Row>,
        total_count: TotalCount,
        id: impl Fn(&Row) -> i64,
        node: impl Fn(Row) -> Node,
    ) -> IdConnection<Node> {
        let ends = (self.below.is_some(), self.above.is_some());
        slice_page(
            rows,
            self.limit,
            self.from_oldest,
            ends,
            total_count,
            |row| Edge::new(id(&row), node(row)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let w = Window::parse(Some(10.encode_cursor()), None, Some(5), None).expect("ok");
        assert_eq!((w.below, w.limit, w.from_oldest), (Some(10), 5, false));
        let w = Window::parse(None, None, None, Some(1000)).expect("ok");
        assert_eq!((w.limit, w.from_oldest), (MAX_PAGE, true));
        assert!(Window::parse(Some("x".into()), None, None, None).is_err());
        assert!(Window::parse(None, None, Some(1), Some(1)).is_err());
        assert!(Window::parse(None, None, Some(-1), None).is_err());
    }
}

/// A Relay connection keyed by position, for lists in an order other than by id.
pub type OffsetConnection<Node> = Connection<usize, Node, TotalCount>;

/// Which positions of a list of `total` rows a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetWindow {
    /// First position.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
    total: u64,
}

impl OffsetWindow {
    /// From the Relay arguments and the number of matching rows.
    pub fn parse(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
        total: u64,
    ) -> ApiResult<Self> {
        let window = Window::parse(None, None, first, last)?;
        let position = |raw: Option<String>, field| {
            raw.map(|c| {
                usize::decode_cursor(&c)
                    .map(|p| u64::try_from(p).unwrap_or(u64::MAX))
                    .map_err(|_| ApiError::bad_input(field, "that is not a cursor of this list"))
            })
            .transpose()
        };
        let start = position(after, "after")?
            .map_or(0, |p| p.saturating_add(1))
            .min(total);
        let end = position(before, "before")?
            .unwrap_or(total)
            .min(total)
            .max(start);
        let (offset, end) = if window.from_oldest {
            (end.saturating_sub(window.limit).max(start), end)
        } else {
            (start, end.min(start.saturating_add(window.limit)))
        };
        Ok(Self {
            offset,
            limit: end - offset,
            total,
        })
    }

    /// The page of `rows` fetched at [`OffsetWindow::offset`].
    pub fn page<Row, Node: OutputType>(
        self,
        rows: Vec<Row>,
        node: impl Fn(Row) -> Node,
    ) -> OffsetConnection<Node> {
        let end = self.offset + self.limit;
        let mut connection = Connection::with_additional_fields(
            self.offset > 0,
            end < self.total,
            TotalCount::known(self.total),
        );
        let start = usize::try_from(self.offset).unwrap_or(usize::MAX);
        connection.edges.extend(
            rows.into_iter()
                .enumerate()
                .map(|(i, row)| Edge::new(start + i, node(row))),
        );
        connection
    }
}

#[cfg(test)]
mod offset_tests {
    use super::*;

    #[test]
    fn offset_windows() {
        let w = OffsetWindow::parse(None, None, Some(10), None, 25).expect("ok");
        assert_eq!((w.offset, w.limit), (0, 10));
        let w = OffsetWindow::parse(Some(9usize.encode_cursor()), None, Some(10), None, 25)
            .expect("ok");
        assert_eq!((w.offset, w.limit), (10, 10));
        let w = OffsetWindow::parse(None, None, None, Some(10), 25).expect("ok");
        assert_eq!((w.offset, w.limit), (15, 10));
        let w = OffsetWindow::parse(None, Some(5usize.encode_cursor()), None, Some(10), 25)
            .expect("ok");
        assert_eq!((w.offset, w.limit), (0, 5));
        let w = OffsetWindow::parse(Some(30usize.encode_cursor()), None, Some(10), None, 25)
            .expect("ok");
        assert_eq!(w.limit, 0);
    }
}

/// A connection whose cursors name a row's position in its order: its sort key and id.
pub type KeyConnection<Node> = Connection<String, Node, TotalCount>;

/// A sort key as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireKey", into = "WireKey")]
pub enum SortKey {
    /// A whole number (counters).
    Int(i64),
    /// A ratio (win rate).
    Float(f64),
    /// Text (names).
    Text(String),
}

/// A float travels as its bits: a decimal might not parse back to the same value, and the
/// cursor must compare equal to its row.
#[derive(Clone, Serialize, Deserialize)]
enum WireKey {
    #[serde(rename = "n")]
    Int(i64),
    #[serde(rename = "f")]
    Float(u64),
    #[serde(rename = "t")]
    Text(String),
}

impl From<WireKey> for SortKey {
    fn from(key: WireKey) -> Self {
        match key {
            WireKey::Int(v) => Self::Int(v),
            WireKey::Float(bits) => Self::Float(f64::from_bits(bits)),
            WireKey::Text(v) => Self::Text(v),
        }
    }
}

impl From<SortKey> for WireKey {
    fn from(key: SortKey) -> Self {
        match key {
            SortKey::Int(v) => Self::Int(v),
            SortKey::Float(v) => Self::Float(v.to_bits()),
            SortKey::Text(v) => Self::Text(v),
        }
    }
}

impl From<SortKey> for Value {
    fn from(key: SortKey) -> Self {
        match key {
            SortKey::Int(v) => v.into(),
            SortKey::Float(v) => v.into(),
            SortKey::Text(v) => v.into(),
        }
    }
}

/// A row's place in a list ordered by an optional sort key, then by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyCursor {
    /// The sort key; absent when the list is ordered by id alone.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SortKey>,
    /// The row id (a number, or a UUID as text).
    #[serde(rename = "i")]
    pub id: serde_json::Value,
}

impl KeyCursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str, field: &'static str) -> ApiResult<Self> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ApiError::bad_input(field, "that is not a cursor of this list"))
    }
}

/// A sort key's expression, and whether a cursor's key is of its type.
pub type KeyExpr = (SimpleExpr, fn(&SortKey) -> bool);

/// How a list is ordered: by `key` (when given), then by `id`, both the same direction.
pub struct KeyOrder {
    /// The sort key's expression, and the type its cursor value must have.
    pub key: Option<KeyExpr>,
    /// The id column.
    pub id: SimpleExpr,
    /// Descending.
    pub descending: bool,
}

/// Which slice of a keyset-ordered list a request asks for.
#[derive(Debug, Clone)]
pub struct Keyset {
    after: Option<KeyCursor>,
    before: Option<KeyCursor>,
    limit: u64,
    from_last: bool,
}

impl Keyset {
    /// From the Relay arguments; `first` and `last` are capped at [`MAX_PAGE`].
    pub fn parse(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Self> {
        let window = Window::parse(None, None, first, last)?;
        Ok(Self {
            after: after.map(|c| KeyCursor::decode(&c, "after")).transpose()?,
            before: before
                .map(|c| KeyCursor::decode(&c, "before"))
                .transpose()?,
            limit: window.limit,
            from_last: window.from_oldest,
        })
    }

    /// `(key, id)` compared with a cursor: `<` or `>`.
    fn beyond(
        order: &KeyOrder,
        cursor: &KeyCursor,
        field: &'static str,
        less: bool,
    ) -> ApiResult<SimpleExpr> {
        use sea_orm::sea_query::ExprTrait;
        let wrong = || ApiError::bad_input(field, "that cursor belongs to another order");
        let id: Value = match &cursor.id {
            serde_json::Value::Number(n) => n.as_i64().ok_or_else(wrong)?.into(),
            serde_json::Value::String(s) => uuid::Uuid::parse_str(s).map_err(|_| wrong())?.into(),
            _ => return Err(wrong()),
        };
        let (left, right): (SimpleExpr, SimpleExpr) = match (&order.key, &cursor.key) {
            (None, None) => (order.id.clone(), Expr::val(id)),
            (Some((key, fits)), Some(value)) if fits(value) => (
                Expr::tuple([key.clone(), order.id.clone()]),
                Expr::tuple([Expr::val(Value::from(value.clone())), Expr::val(id)]),
            ),
            _ => return Err(wrong()),
        };
        Ok(if less { left.lt(right) } else { left.gt(right) })
    }

    /// Narrows `query` to the slice in `order`, with one row more than the page.
    pub fn select<E: EntityTrait>(
        &self,
        query: Select<E>,
        order: &KeyOrder,
    ) -> ApiResult<Select<E>> {
        let mut query = query;
        // Walking forward in a descending list means smaller keys.
        if let Some(after) = &self.after {
            query = query.filter(Self::beyond(order, after, "after", order.descending)?);
        }
        if let Some(before) = &self.before {
            query = query.filter(Self::beyond(order, before, "before", !order.descending)?);
        }
        let forward = order.descending != self.from_last;
        let direction = if forward { Order::Desc } else { Order::Asc };
        if let Some((key, _)) = &order.key {
            query = query.order_by(key.clone(), direction.clone());
        }
        Ok(query
            .order_by(order.id.clone(), direction)
            .limit(self.limit + 1))
    }

    /// Builds the page from rows fetched by [`Keyset::select`].
    pub fn page<Row, Node: OutputType>(
        self,
        rows: Vec<Row>,
        total_count: TotalCount,
        cursor: impl Fn(&Row) -> KeyCursor,
        node: impl Fn(Row) -> Node,
    ) -> KeyConnection<Node> {
        let ends = (self.after.is_some(), self.before.is_some());
        slice_page(rows, self.limit, self.from_last, ends, total_count, |row| {
            Edge::new(cursor(&row).encode(), node(row))
        })
    }
}

/// Reads `query` as a keyset page of `keyset` in `order`.
pub async fn fetch_keyset<E: EntityTrait>(
    db: &impl ConnectionTrait,
    keyset: &Keyset,
    query: Select<E>,
    order: &KeyOrder,
) -> ApiResult<Vec<E::Model>> {
    Ok(keyset.select(query, order)?.all(db).await?)
}

#[cfg(test)]
mod keyset_tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = KeyCursor {
            key: Some(SortKey::Float(0.4699182966080714)),
            id: 42.into(),
        };
        assert_eq!(
            KeyCursor::decode(&cursor.encode(), "after").expect("ok"),
            cursor
        );
        assert!(KeyCursor::decode("not a cursor", "after").is_err());
        let keyset = Keyset::parse(Some(cursor.encode()), None, Some(500), None).expect("ok");
        assert_eq!(keyset.limit, MAX_PAGE);
    }
}
