"""The database's own guard on append-only tables (contract map, clause 10: "every state
change … in an append-only event log"; acceptances are the evidence of clause 3).

The ORM already refuses to change or delete these rows (soldee.models.AppendOnlyModel). On
PostgreSQL a trigger refuses it too, so neither raw SQL, a management shell, nor another
client of the database can rewrite the evidence. TRUNCATE is not a row change and is not
refused (the test runner empties tables with it; production never does). On SQLite — the
embedded demo — the ORM guard alone applies: its test runner empties tables with DELETE.
"""

FUNCTION = """
CREATE OR REPLACE FUNCTION soldee_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def guard(*tables: str):
    """A RunPython operation pair adding (and, backwards, removing) the trigger on `tables`."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(FUNCTION, params=None)  # its % are plpgsql's, not placeholders
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION soldee_append_only()")

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    return forwards, backwards
