//! Relay connections over rows with increasing integer ids, newest first.

use async_graphql::{
    OutputType, SimpleObject,
    connection::{Connection, CursorType, Edge},
};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::error::{ApiError, ApiResult};

/// Most rows one page may hold; also the default.
pub const MAX_PAGE: u64 = 100;

/// The extra field every connection has.
#[derive(SimpleObject)]
pub struct TotalCount {
    /// Rows matching the filter, on every page.
    pub total_count: u64,
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
        mut rows: Vec<Row>,
        total_count: u64,
        id: impl Fn(&Row) -> i64,
        node: impl Fn(Row) -> Node,
    ) -> IdConnection<Node> {
        let more = u64::try_from(rows.len()).unwrap_or(u64::MAX) > self.limit;
        rows.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        if self.from_oldest {
            rows.reverse();
        }
        let (has_previous, has_next) = if self.from_oldest {
            (more, self.above.is_some())
        } else {
            (self.below.is_some(), more)
        };
        let mut connection =
            Connection::with_additional_fields(has_previous, has_next, TotalCount { total_count });
        connection
            .edges
            .extend(rows.into_iter().map(|row| Edge::new(id(&row), node(row))));
        connection
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
            TotalCount {
                total_count: self.total,
            },
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
