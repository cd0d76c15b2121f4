//! SeaORM entities of the Arena schema: one module per table, grouped by domain folder.
