//! `schema.graphql` at the repository root is the live schema.

#[test]
fn schema_graphql_matches_the_live_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let live = arena_api::graphql::sdl();
    assert!(
        committed == live,
        "schema.graphql is stale; regenerate it with\n\n    \
         cargo run -q -- export-schema > schema.graphql\n\nand review the diff"
    );
}
