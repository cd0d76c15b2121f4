//! What every query passes before async-graphql validates it: parsed once per distinct text
//! (on a bounded pool, never on the async workers), its fragments checked for cycles and its
//! field selections counted as if every fragment were expanded, so that validation, which
//! expands them, only ever sees bounded work.

use std::{
    collections::{HashMap, HashSet},
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use async_graphql::{
    ServerError,
    parser::{
        Positioned, parse_query,
        types::{
            Directive, DocumentOperations, ExecutableDocument, OperationType, Selection,
            SelectionSet,
        },
    },
};
use async_graphql_value::{ConstValue, Value};
use lru::LruCache;

use crate::{
    Locked,
    cpu::{CpuPool, Priority},
    error::{ApiError, RequestFault},
};

/// Deepest nesting of fields and fragments, fragments expanded. The schema's depth limit is
/// lower; this one keeps the walks below (and async-graphql's) off deep recursion.
const MAX_NESTING: usize = 64;

/// Queries longer than this are parsed every time instead of kept.
const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;

/// Mutation fields that run bcrypt; a request may hold one of them at most, so aliases
/// cannot multiply password guesses or hashing work.
pub const PASSWORD_FIELDS: &[&str] = &[
    "login",
    "register",
    "changePassword",
    "disableTotp",
    "deleteAccount",
    "resetPassword",
];

/// A refusal before validation, with the `reason` it is reported under.
#[derive(Debug)]
pub struct Refusal {
    /// `extensions.reason`.
    pub fault: RequestFault,
    /// What is wrong.
    pub message: String,
}

impl Refusal {
    fn new(fault: RequestFault, message: impl Into<String>) -> Self {
        Self {
            fault,
            message: message.into(),
        }
    }
}

/// The preflight's outcome: a document, a refusal of the query, or `RATE_LIMITED` when the
/// parsing pool is full.
pub enum Checked {
    /// Fit to validate.
    Document(ExecutableDocument),
    /// Refused with a `BAD_USER_INPUT` reason.
    Refused(Refusal),
    /// Refused for now; the error carries the retry hint.
    Busy(ApiError),
}

/// Parses and bounds queries, keeping the documents of recent distinct texts.
pub struct Preflight {
    documents: Mutex<LruCache<String, Arc<ExecutableDocument>>>,
    pool: CpuPool,
    max_selections: usize,
}

impl Preflight {
    /// Keeps up to `cache` documents; refuses more than `max_selections` expanded selections.
    pub fn new(cache: usize, max_selections: usize) -> std::io::Result<Self> {
        let cores = CpuPool::cores();
        Ok(Self {
            documents: Mutex::new(LruCache::new(
                NonZeroUsize::new(cache).unwrap_or(NonZeroUsize::MIN),
            )),
            pool: CpuPool::new("graphql-parse", cores, cores * 32, Priority::Normal)?,
            max_selections,
        })
    }

    /// The document of `query` after the checks.
    pub async fn check(&self, query: &str) -> Checked {
        if let Some(document) = self.documents.locked().get(query) {
            return Checked::Document(ExecutableDocument::clone(document));
        }
        let owned = query.to_owned();
        let max_selections = self.max_selections;
        let outcome = self
            .pool
            .run(move || {
                let document = parse_query(&owned).map_err(|err| {
                    Refusal::new(RequestFault::ParseFailed, ServerError::from(err).message)
                })?;
                bound(&document, max_selections)?;
                Ok::<_, Refusal>((owned, document))
            })
            .await;
        match outcome {
            Err(busy) => Checked::Busy(busy.into()),
            Ok(Err(refusal)) => Checked::Refused(refusal),
            Ok(Ok((owned, document))) => {
                if owned.len() <= MAX_CACHED_QUERY_BYTES {
                    self.documents
                        .locked()
                        .put(owned, Arc::new(document.clone()));
                }
                Checked::Document(document)
            }
        }
    }
}

/// Refuses fragment cycles, nesting past [`MAX_NESTING`], more than `max_selections` field
/// selections with fragments expanded (over all operations: validation visits each), and more
/// than one of [`PASSWORD_FIELDS`].
pub fn bound(document: &ExecutableDocument, max_selections: usize) -> Result<(), Refusal> {
    let mut walk = Walk {
        document,
        sizes: HashMap::new(),
    };
    let mut total = 0usize;
    for (_, operation) in document.operations.iter() {
        for variable in &operation.node.variable_definitions {
            if let Some(default) = &variable.node.default_value {
                refuse_control_in_const(&default.node)?;
            }
        }
        refuse_control_in_directives(&operation.node.directives)?;
        total = total.saturating_add(walk.size(&operation.node.selection_set, 0)?);
    }
    if total > max_selections {
        return Err(Refusal::new(
            RequestFault::ComplexityLimit,
            format!(
                "the query selects {total} fields once its fragments are expanded; \
                 at most {max_selections} are allowed"
            ),
        ));
    }
    let mut password_fields = 0;
    for (_, operation) in document.operations.iter() {
        if operation.node.ty == OperationType::Mutation {
            walk.count_root_fields(
                &operation.node.selection_set,
                PASSWORD_FIELDS,
                &mut password_fields,
                0,
            );
        }
    }
    if password_fields > 1 {
        return Err(Refusal::new(
            RequestFault::ValidationFailed,
            "a request may hold one password field (login, register, changePassword, \
             disableTotp, deleteAccount, resetPassword) at most",
        ));
    }
    Ok(())
}

/// Whether `text` holds a control character other than tab, line feed and carriage return:
/// NUL is refused by PostgreSQL, and the rest have no place in text shown to people.
pub fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

fn control_refusal() -> Refusal {
    Refusal::new(
        RequestFault::ControlCharacter,
        "text may not hold control characters (NUL included) other than tab and line breaks",
    )
}

/// Refuses a literal in the query holding a control character.
fn refuse_control(value: &Value) -> Result<(), Refusal> {
    match value {
        Value::String(text) if has_control(text) => Err(control_refusal()),
        Value::List(items) => items.iter().try_for_each(refuse_control),
        Value::Object(fields) => fields.iter().try_for_each(|(key, value)| {
            if has_control(key) {
                return Err(control_refusal());
            }
            refuse_control(value)
        }),
        _ => Ok(()),
    }
}

/// Refuses a variable value (or a default) holding a control character.
pub fn refuse_control_in_const(value: &ConstValue) -> Result<(), Refusal> {
    match value {
        ConstValue::String(text) if has_control(text) => Err(control_refusal()),
        ConstValue::List(items) => items.iter().try_for_each(refuse_control_in_const),
        ConstValue::Object(fields) => fields.iter().try_for_each(|(key, value)| {
            if has_control(key) {
                return Err(control_refusal());
            }
            refuse_control_in_const(value)
        }),
        _ => Ok(()),
    }
}

fn refuse_control_in_directives(directives: &[Positioned<Directive>]) -> Result<(), Refusal> {
    directives
        .iter()
        .flat_map(|directive| &directive.node.arguments)
        .try_for_each(|(_, value)| refuse_control(&value.node))
}

/// The document with only the operation named `name` and the fragments it reaches. The
/// others are never run, and async-graphql's complexity visitor would evaluate their fields'
/// arguments against this request's variables, which are not theirs. Unchanged when there is
/// no such operation (validation reports it).
pub fn select_operation(mut document: ExecutableDocument, name: &str) -> ExecutableDocument {
    let DocumentOperations::Multiple(operations) = &mut document.operations else {
        return document;
    };
    let Some((key, operation)) = operations.remove_entry(name) else {
        return document;
    };
    let mut reached = HashSet::new();
    let mut pending = vec![&operation.node.selection_set];
    while let Some(set) = pending.pop() {
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => pending.push(&field.node.selection_set),
                Selection::InlineFragment(inline) => pending.push(&inline.node.selection_set),
                Selection::FragmentSpread(spread) => {
                    let fragment_name = &spread.node.fragment_name.node;
                    if reached.insert(fragment_name.clone())
                        && let Some(fragment) = document.fragments.get(fragment_name)
                    {
                        pending.push(&fragment.node.selection_set);
                    }
                }
            }
        }
    }
    document.fragments.retain(|name, _| reached.contains(name));
    document.operations = DocumentOperations::Multiple(HashMap::from([(key, operation)]));
    document
}

enum Fragment {
    /// Being expanded: meeting it again is a cycle.
    Open,
    Size(usize),
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    sizes: HashMap<&'a str, Fragment>,
}

impl<'a> Walk<'a> {
    /// Field selections in `set` with fragments expanded; each fragment is measured once.
    fn size(&mut self, set: &'a Positioned<SelectionSet>, depth: usize) -> Result<usize, Refusal> {
        if depth > MAX_NESTING {
            return Err(Refusal::new(
                RequestFault::DepthLimit,
                format!("fields and fragments nest deeper than {MAX_NESTING}"),
            ));
        }
        let mut total = 0usize;
        for selection in &set.node.items {
            refuse_control_in_directives(selection.node.directives())?;
            let size = match &selection.node {
                Selection::Field(field) => {
                    for (_, value) in &field.node.arguments {
                        refuse_control(&value.node)?;
                    }
                    1usize.saturating_add(self.size(&field.node.selection_set, depth + 1)?)
                }
                Selection::InlineFragment(inline) => {
                    self.size(&inline.node.selection_set, depth + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.sizes.get(name) {
                        Some(Fragment::Size(size)) => *size,
                        Some(Fragment::Open) => {
                            return Err(Refusal::new(
                                RequestFault::ValidationFailed,
                                format!(r#"Cannot spread fragment "{name}" within itself."#),
                            ));
                        }
                        None => {
                            // An unknown fragment is validation's to report.
                            let Some((key, fragment)) = self.document.fragments.get_key_value(name)
                            else {
                                continue;
                            };
                            refuse_control_in_directives(&fragment.node.directives)?;
                            self.sizes.insert(key.as_str(), Fragment::Open);
                            let size = self.size(&fragment.node.selection_set, depth + 1)?;
                            self.sizes.insert(key.as_str(), Fragment::Size(size));
                            size
                        }
                    }
                }
            };
            total = total.saturating_add(size);
        }
        Ok(total)
    }

    /// Counts the fields named in `names` at the top of `set`, through fragments (which
    /// [`Self::size`] has already proven acyclic).
    fn count_root_fields(
        &self,
        set: &'a Positioned<SelectionSet>,
        names: &[&str],
        count: &mut usize,
        depth: usize,
    ) {
        if depth > MAX_NESTING {
            return;
        }
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => {
                    if names.contains(&field.node.name.node.as_str()) {
                        *count += 1;
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.count_root_fields(&inline.node.selection_set, names, count, depth + 1);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.count_root_fields(
                            &fragment.node.selection_set,
                            names,
                            count,
                            depth + 1,
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, max: usize) -> Result<(), RequestFault> {
        let document = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        bound(&document, max).map_err(|refusal| refusal.fault)
    }

    /// Each fragment spreads the next twice: 2^levels selections from a few hundred bytes.
    fn fan_out(levels: usize) -> String {
        let mut query = String::from("query { ...F0 }\n");
        for level in 0..levels {
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{n} ...F{n} }}\n",
                n = level + 1
            ));
        }
        query.push_str(&format!(
            "fragment F{levels} on Query {{ serverInfo {{ version }} }}\n"
        ));
        query
    }

    #[test]
    fn counts_fragments_as_expanded_without_expanding_them() {
        // 2^3 copies of `serverInfo { version }`: 16 selections.
        assert_eq!(check(&fan_out(3), 16), Ok(()));
        assert_eq!(check(&fan_out(4), 16), Err(RequestFault::ComplexityLimit));
        // 2^60 selections: counted (saturating) in microseconds, refused.
        assert_eq!(
            check(&fan_out(60), 2000),
            Err(RequestFault::ComplexityLimit)
        );
    }

    #[test]
    fn control_characters_in_literals_are_refused_wherever_they_are() {
        for query in [
            "{ users(search: \"a\\u0000b\") { totalCount } }",
            "query($s: String = \"\\u0007\") { users(search: $s) { totalCount } }",
            "{ a: users(filter: { names: [\"ok\", \"\\u001b[31m\"] }) { totalCount } }",
            "{ ...F } fragment F on Query { serverInfo @include(if: true) { version(x: \"\\u0000\") } }",
        ] {
            assert_eq!(
                check(query, 2000),
                Err(RequestFault::ControlCharacter),
                "{query}"
            );
        }
        assert_eq!(
            check(
                "{ users(search: \"tab\\there\\nline\") { totalCount } }",
                2000
            ),
            Ok(())
        );
    }

    #[test]
    fn selecting_an_operation_keeps_the_fragments_it_reaches() {
        let query = "query A { ...X } query B { ...Y } \
                     fragment X on Query { ...Z } fragment Y on Query { a } fragment Z on Query { b }";
        let document = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
        let selected = select_operation(document, "A");
        assert_eq!(selected.operations.iter().count(), 1);
        let mut kept: Vec<&str> = selected.fragments.keys().map(|k| k.as_str()).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["X", "Z"]);
    }

    #[test]
    fn fragment_cycles_are_validation_failures() {
        let query = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert_eq!(check(query, 2000), Err(RequestFault::ValidationFailed));
    }

    #[test]
    fn one_password_field_per_request() {
        let one = r#"mutation { login(login: "a", password: "b") { accessToken } }"#;
        assert_eq!(check(one, 2000), Ok(()));
        let aliased =
            r#"mutation { a: deleteAccount(password: "x") b: deleteAccount(password: "y") }"#;
        assert_eq!(check(aliased, 2000), Err(RequestFault::ValidationFailed));
        let hidden = r#"mutation { login(login: "a", password: "b") { accessToken } ...M }
            fragment M on Mutation { changePassword(currentPassword: "x", newPassword: "y") }"#;
        assert_eq!(check(hidden, 2000), Err(RequestFault::ValidationFailed));
    }
}
