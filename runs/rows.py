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

import weakref
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model


def current_connection() -> BaseDatabaseWrapper:
    """This thread's default connection itself: `django.db.connection` is a proxy that looks the
    thread's connection up (an asgiref Local) on every attribute access, and the field methods that
    prepare each value reach for it several times; on the engine's hot path that lookup cost as much as
    executing the SQL."""
    return connections[DEFAULT_DB_ALIAS]


def _column(field: Field) -> str:
    assert field.column is not None  # concrete fields only
    return connection.ops.quote_name(field.column)


# Fields whose value the ORM passes to the database driver unchanged when it already has the Python type
# the field stands for (their get_db_prep_save only converts other types: `str(value)`, `int(value)`, ...)
# and whose pre_save reads the attribute. Exact classes only: a subclass may prepare values its own way.
PLAIN_TYPES: dict[type[Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.IntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.PositiveBigIntegerField: (int,),
    models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.BooleanField: (bool,),
    models.FloatField: (float,),
}
AUTO_KEYS = (models.AutoField, models.BigAutoField)


def _plain_types(field: Field) -> tuple[type, ...] | None:
    """The exact Python types a value of `field` may have to go to the driver as it is (`type(value) in
    types`, so True is not taken for an int); None: always prepare it."""
    if isinstance(field, ForeignKey):
        return (int,) if type(field.target_field) in AUTO_KEYS else None
    return PLAIN_TYPES.get(type(field))


@cache
def _insert_plan(
    model: type[Model], vendor: str
) -> tuple[str, str, str, list[tuple[Field, str, tuple[type, ...] | None]], list[ForeignKey]]:
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
    values = [(field, field.attname, _plain_types(field)) for field in fields]
    return prefix, row, f" RETURNING {_column(pk)}", values, foreign


def insert_rows(objs: Sequence[Model]) -> None:
    """Insert unsaved instances of one model in one statement (per batch) and set their primary keys.

    A foreign key given as an instance saved meanwhile (a payload built for a step whose row was inserted
    after it) is taken from that instance, as `bulk_create` does."""
    if not objs:
        return
    db = current_connection()
    model = type(objs[0])
    prefix, row, returning, values, foreign = _insert_plan(model, db.vendor)
    for obj in objs:
        for key in foreign:
            if getattr(obj, key.attname) is None and key.is_cached(obj):
                related = key.get_cached_value(obj)
                if related is not None:
                    setattr(obj, key.attname, related.pk)
    fields = [field for field, _, _ in values]
    batch = len(objs) if len(objs) == 1 else max(1, db.ops.bulk_batch_size(fields, objs) or len(objs))
    with db.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start : start + batch]
            params: list[Any] = []
            for obj in chunk:
                for field, attname, types in values:
                    if types is not None:
                        value = getattr(obj, attname)
                        if value is None or type(value) in types:
                            params.append(value)
                            continue
                    params.append(field.get_db_prep_save(field.pre_save(obj, True), db))
            cursor.execute(prefix + ", ".join([row] * len(chunk)) + returning, params)
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = db.alias


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
    db = current_connection()
    sql, fields = _update_plan(type(obj), tuple(names), db.vendor)
    params = [field.get_db_prep_save(field.pre_save(obj, False), db) for field in fields]
    params.append(obj.pk)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def update_by_pk(model: type[Model], pk: Any, values: dict[str, Any]) -> int:
    """`model.objects.filter(pk=pk).update(**values)` for plain values, as one prepared UPDATE."""
    db = current_connection()
    sql, fields = _update_plan(model, tuple(values), db.vendor)
    pairs = zip(fields, values.values(), strict=True)
    params = [field.get_db_prep_save(value, db) for field, value in pairs]
    params.append(pk)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@cache
def _select_columns(
    model: type[Model], alias: str, deferred: tuple[str, ...], vendor: str
) -> tuple[str, list[str], list[tuple[Field, Any]]]:
    quote = connection.ops.quote_name
    fields = [field for field in model._meta.concrete_fields if field.attname not in deferred]
    columns = ", ".join(f"{quote(alias)}.{_column(field)}" for field in fields)
    return columns, [field.attname for field in fields], [(field, field.get_col(alias)) for field in fields]


# Per connection (the backend's converters are methods of its `ops`), per model part: the converters of
# each column, as the ORM's compiler applies them.
_converters: weakref.WeakKeyDictionary[
    BaseDatabaseWrapper, dict[tuple[Any, ...], list[tuple[list[Any], Any]]]
]
_converters = weakref.WeakKeyDictionary()


def _select_plan(
    conn: BaseDatabaseWrapper, model: type[Model], alias: str, deferred: tuple[str, ...]
) -> tuple[str, list[str], list[tuple[list[Any], Any]]]:
    columns, names, fields = _select_columns(model, alias, deferred, conn.vendor)
    mine = _converters.setdefault(conn, {})
    key = (model, alias, deferred)
    converters = mine.get(key)
    if converters is None:
        converters = [
            (conn.ops.get_db_converters(column) + field.get_db_converters(conn), column)
            for field, column in fields
        ]
        mine[key] = converters
    return columns, names, converters


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
    conn = current_connection()
    plans = [_select_plan(conn, part.model, part.alias, part.defer) for part in parts]
    columns = ", ".join(plan[0] for plan in plans)
    with conn.cursor() as cursor:
        # The column list comes from the models; `sql` is the caller's literal text.
        cursor.execute(f"SELECT {columns} {sql}", list(params))
        rows = cursor.fetchall()
    found: list[list[Model]] = []
    db = conn.alias
    for row in rows:
        instances: list[Model] = []
        start = 0
        for part, (_, names, converters) in zip(parts, plans, strict=True):
            values = list(row[start : start + len(names)])
            start += len(names)
            for position, (functions, column) in enumerate(converters):
                value = values[position]
                for function in functions:
                    value = function(value, column, conn)
                values[position] = value
            instances.append(part.model.from_db(db, names, values))
        found.append(instances)
    return found


def set_related(obj: Model, name: str, related: Model) -> None:
    """Cache `related` as `obj.<name>` (a forward foreign key), as `select_related` does."""
    field = obj._meta.get_field(name)
    assert isinstance(field, ForeignKey)
    field.set_cached_value(obj, related)
