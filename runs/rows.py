"""Plain-SQL inserts and updates of model rows for the run engine's hot path (issue 10).

Building an INSERT or UPDATE through the ORM (`bulk_create`, `save(update_fields=...)`, `QuerySet.update`)
compiles the statement again for every call: on a run of the reference flow that compiling cost more CPU
than executing the SQL. These helpers build each statement's text once per process, database vendor and
field list, and fill in the values exactly as the ORM does (`Field.pre_save` for `auto_now_add` and file
fields, then `Field.get_db_prep_save`), so the rows are the same rows the ORM would write. Model signals are
not sent (the ORM's `bulk_create` does not send them either; no receiver of the project listens to these
models' signals).

Only for models without multi-table inheritance; RETURNING needs PostgreSQL or SQLite >= 3.35, the two
databases Patchbay supports.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, ForeignKey, Model


def _column(field: Field) -> str:
    assert field.column is not None  # concrete fields only
    return connection.ops.quote_name(field.column)


@cache
def _insert_plan(model: type[Model], vendor: str) -> tuple[str, str, str, list[Field], list[ForeignKey]]:
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    foreign = [field for field in fields if isinstance(field, ForeignKey)]
    columns = ", ".join(_column(field) for field in fields)
    pk = meta.pk
    assert pk is not None
    # Table and column names come from the model, never from input.
    prefix = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return prefix, row, f" RETURNING {_column(pk)}", fields, foreign


def insert_rows(objs: Sequence[Model]) -> None:
    """Insert unsaved instances of one model in one statement (per batch) and set their primary keys.

    A foreign key given as an instance saved meanwhile (a payload built for a step whose row was inserted
    after it) is taken from that instance, as `bulk_create` does."""
    if not objs:
        return
    model = type(objs[0])
    prefix, row, returning, fields, foreign = _insert_plan(model, connection.vendor)
    for obj in objs:
        for key in foreign:
            if getattr(obj, key.attname) is None and key.is_cached(obj):
                related = key.get_cached_value(obj)
                if related is not None:
                    setattr(obj, key.attname, related.pk)
    batch = max(1, connection.ops.bulk_batch_size(fields, objs) or len(objs))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start : start + batch]
            params: list[Any] = []
            for obj in chunk:
                for field in fields:
                    params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
            cursor.execute(prefix + ", ".join([row] * len(chunk)) + returning, params)
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias


@cache
def _update_plan(model: type[Model], names: tuple[str, ...], vendor: str) -> tuple[str, list[Field]]:
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    concrete = [field for field in fields if isinstance(field, Field) and field.column]
    assert len(concrete) == len(fields), "only concrete fields"
    pk = meta.pk
    assert pk is not None
    sets = ", ".join(f"{_column(field)} = %s" for field in concrete)
    # Table and column names come from the model, never from input.
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {_column(pk)} = %s"  # noqa: S608
    return sql, concrete


def update_row(obj: Model, names: Sequence[str]) -> int:
    """`obj.save(update_fields=names)` as one prepared UPDATE by primary key; returns the rows updated."""
    sql, fields = _update_plan(type(obj), tuple(names), connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in fields]
    params.append(obj.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def update_by_pk(model: type[Model], pk: Any, values: dict[str, Any]) -> int:
    """`model.objects.filter(pk=pk).update(**values)` for plain values, as one prepared UPDATE."""
    sql, fields = _update_plan(model, tuple(values), connection.vendor)
    pairs = zip(fields, values.values(), strict=True)
    params = [field.get_db_prep_save(value, connection) for field, value in pairs]
    params.append(pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@cache
def _select_plan(
    model: type[Model], alias: str, deferred: tuple[str, ...], vendor: str
) -> tuple[str, list[str], list[tuple[list[Any], Any]]]:
    quote = connection.ops.quote_name
    fields = [field for field in model._meta.concrete_fields if field.attname not in deferred]
    columns = ", ".join(f"{quote(alias)}.{_column(field)}" for field in fields)
    converters: list[tuple[list[Any], Any]] = []
    for field in fields:
        column = field.get_col(alias)
        converters.append(
            (connection.ops.get_db_converters(column) + field.get_db_converters(connection), column)
        )
    return columns, [field.attname for field in fields], converters


class Part:
    """One model's columns in a `select_joined` statement: `alias` is its table's alias in the SQL."""

    def __init__(self, model: type[Model], alias: str, *, defer: tuple[str, ...] = ()) -> None:
        self.model = model
        self.alias = alias
        self.defer = defer


def select_joined(parts: Sequence[Part], sql: str, params: Sequence[Any]) -> list[list[Model]]:
    """`SELECT <every column of each part> <sql>`: one model instance per part for each row, read as the
    ORM reads them (its converters, `Model.from_db`), without compiling a QuerySet.

    `sql` is the FROM / JOIN / WHERE / ORDER / LIMIT text, written with the parts' aliases and double-quoted
    names (valid SQL for both PostgreSQL and SQLite). The caller links the instances (`set_related`)."""
    plans = [_select_plan(part.model, part.alias, part.defer, connection.vendor) for part in parts]
    columns = ", ".join(plan[0] for plan in plans)
    with connection.cursor() as cursor:
        # The column list comes from the models; `sql` is the caller's literal text.
        cursor.execute(f"SELECT {columns} {sql}", list(params))
        rows = cursor.fetchall()
    found: list[list[Model]] = []
    db = connection.alias
    for row in rows:
        instances: list[Model] = []
        start = 0
        for part, (_, names, converters) in zip(parts, plans, strict=True):
            values = list(row[start : start + len(names)])
            start += len(names)
            for position, (functions, column) in enumerate(converters):
                value = values[position]
                for function in functions:
                    value = function(value, column, connection)
                values[position] = value
            instances.append(part.model.from_db(db, names, values))
        found.append(instances)
    return found


def set_related(obj: Model, name: str, related: Model) -> None:
    """Cache `related` as `obj.<name>` (a forward foreign key), as `select_related` does."""
    field = obj._meta.get_field(name)
    assert isinstance(field, ForeignKey)
    field.set_cached_value(obj, related)
