"""Queries the ORM builds once per database connection and then only runs.

After a restart every learner's socket opens at once, and each reads the same few rows
(lessons_app.tutor.conversation). Building a query with the ORM (resolving its filters
and joins, then compiling them to SQL) costs about 0.2 ms of the interpreter for each,
ten times what SQLite takes to run it; the rows themselves load quickly. A
:class:`PreparedQuery` is an ORM query all the same, written with the ORM, compiled by
it once (per connection: the SQL and the converters of its columns), then run with the
caller's arguments in place of the placeholders it was compiled with. Its rows come back
converted as ``values_list`` converts them (the backend's and the fields' converters),
and the ``load_*`` helpers make model instances of them with ``Model.from_db``, as the
ORM itself does.

Only ``exact`` lookups on plain values (ids, strings) may take arguments: the value is
put in the compiled query's parameters as it is, as the ORM would have put it.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)

# Placeholders: distinct, of the argument's own type, and no constant of a query (a
# placeholder found twice among its parameters is refused). Numbers an id column of any
# backend holds: Django compiles a number out of its column's range to no query at all.
_placeholder_numbers = itertools.count(start=2_000_000_000)


def _placeholder(kind: type) -> Any:
    number = next(_placeholder_numbers)
    if kind is int:
        return number
    if kind is str:
        return f"\x00placeholder{number}"
    raise TypeError(f"A prepared query takes int or str arguments, not {kind.__name__}")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    # Where each argument goes in ``params``.
    slots: tuple[tuple[str, int], ...]
    # (column index, its converters, its expression), for the columns that have any.
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]


def model_fields(model: type[models.Model], prefix: str = "") -> list[str]:
    """``model``'s columns as ``values_list`` names them, after ``prefix`` (a relation's path)."""
    return [f"{prefix}{field.attname}" for field in model._meta.concrete_fields]


class PreparedQuery:
    """A ``values_list`` query, compiled once per connection, run with new arguments.

    ``build`` takes the arguments by name (each of the type ``arguments`` gives it) and
    returns the query; it is called with placeholders, once for each connection.
    """

    def __init__(self, build: Callable[..., QuerySet], **arguments: type) -> None:
        self._build = build
        self._arguments = arguments
        self._compiled: weakref.WeakKeyDictionary[Any, _Compiled] = weakref.WeakKeyDictionary()

    def _compile(self, connection) -> _Compiled:
        placeholders = {name: _placeholder(kind) for name, kind in self._arguments.items()}
        queryset = self._build(**placeholders)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = []
        for name, placeholder in placeholders.items():
            found = [
                i for i, p in enumerate(params) if type(p) is type(placeholder) and p == placeholder
            ]
            if len(found) != 1:
                raise ValueError(f"Argument {name!r} is not one parameter of the query: {sql}")
            slots.append((name, found[0]))
        converters = tuple(
            (index, tuple(found), expression)
            for index, (found, expression) in compiler.get_converters(
                [column for column, _, _ in compiler.select]
            ).items()
        )
        return _Compiled(sql, tuple(params), tuple(slots), converters)

    def rows(self, using: str = DEFAULT_DB_ALIAS, **arguments: Any) -> list[Sequence[Any]]:
        """The query's rows with ``arguments``, each value converted as the ORM converts it."""
        connection = connections[using]
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compiled[connection] = self._compile(connection)
        params = list(compiled.params)
        for name, index in compiled.slots:
            params[index] = arguments[name]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for index, found, expression in compiled.converters:
                value = values[index]
                for converter in found:
                    value = converter(value, expression, connection)
                values[index] = value
            converted.append(values)
        return converted


def load(model: type[M], values: Sequence[Any], start: int = 0, using: str = DEFAULT_DB_ALIAS) -> M:
    """An instance of ``model`` from its columns (:func:`model_fields`) at ``start`` of a row."""
    fields = model._meta.concrete_fields
    return model.from_db(
        using, [field.attname for field in fields], values[start : start + len(fields)]
    )


def width(model: type[models.Model]) -> int:
    """How many columns :func:`model_fields` selects for ``model``."""
    return len(model._meta.concrete_fields)
