"""The database: schema, engine, and the append-only message log."""
