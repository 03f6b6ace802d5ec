"""Set-based helpers for sync volume: COPY for big inserts and array parameters for big lookups.

On PostgreSQL a 10,000-row executemany costs ~10x a COPY of the same rows, and an IN list of
10,000 bound parameters costs more to compile than to run (INGEST.md). SQLite (`make run`) takes
the plain portable path.
"""
from __future__ import annotations

from sqlalchemy import JSON, Table, any_, bindparam, insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

COPY_THRESHOLD = 200  # below this, executemany is as fast and simpler


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert `rows` into `model`'s table: COPY on PostgreSQL for large batches."""
    if not rows:
        return
    if not is_postgresql(session) or len(rows) < COPY_THRESHOLD:
        session.execute(insert(model), rows)
        return
    table: Table = model.__table__
    defaults = _python_defaults(table, rows[0])  # COPY skips SQLAlchemy's Python-side defaults
    columns = list(rows[0]) + list(defaults)
    rows = [{**row, **defaults} for row in rows] if defaults else rows
    jsonb = {c for c in columns if isinstance(table.c[c].type, JSON)}
    from psycopg.types.json import Jsonb
    session.flush()
    cursor = session.connection().connection.driver_connection.cursor()
    statement = f'COPY {table.name} ({", ".join(columns)}) FROM STDIN'
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Jsonb(row[c]) if c in jsonb and row[c] is not None else row[c] for c in columns])
    cursor.close()


def in_values(session: Session, column, values, item_type: TypeEngine):
    """`column IN values` as one array parameter on PostgreSQL (no giant parameter list)."""
    values = list(values)
    if is_postgresql(session) and len(values) > 50:
        return column == any_(bindparam(f"{column.key}_values", values, type_=ARRAY(item_type), unique=True))
    return column.in_(values)


def _python_defaults(table: Table, sample: dict) -> dict:
    values = {}
    for column in table.columns:
        default = column.default
        if column.name in sample or default is None or not default.is_scalar and not default.is_callable:
            continue
        values[column.name] = default.arg(None) if default.is_callable else default.arg
    return values
