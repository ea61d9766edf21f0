"""Learner personas: who the evaluation's learner is, read from a YAML file.

A persona is a name, a description and how its side of the chat is played:
by a model that is given the description (the judge, or the persona's own
``learner_provider``), or by the persona's scripted ``messages``, sent in order.
A file that is not valid says which persona and which field, before any model
is called. The format is in docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PERSONAS_FILE = Path(__file__).with_name("default_personas.yaml")
DEFAULT_TURNS = 3
MAX_TURNS = 20
_FIELDS = frozenset({"name", "description", "turns", "messages", "learner_provider"})


class PersonaFileError(ValueError):
    """The personas file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    # How many learner messages the persona sends (the length of ``messages`` if scripted).
    turns: int = DEFAULT_TURNS
    # Scripted learner messages; empty: a model plays the learner from the description.
    messages: tuple[str, ...] = ()
    # The provider that plays the learner; empty: the judge's.
    learner_provider: str = ""

    @property
    def scripted(self) -> bool:
        return bool(self.messages)


def _text(entry: Mapping[str, Any], field: str, where: str, *, required: bool) -> str:
    value = entry.get(field, "")
    if not isinstance(value, str):
        raise PersonaFileError(f"{where}: '{field}' must be text.")
    if required and not value.strip():
        raise PersonaFileError(f"{where}: '{field}' is required.")
    return value.strip()


def _messages(entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
    messages = entry.get("messages", [])
    if not isinstance(messages, list) or not all(
        isinstance(m, str) and m.strip() for m in messages
    ):
        raise PersonaFileError(f"{where}: 'messages' must be a list of non-empty texts.")
    return tuple(m.strip() for m in messages)


def _turns(entry: Mapping[str, Any], messages: tuple[str, ...], where: str) -> int:
    turns = entry.get("turns", len(messages) or DEFAULT_TURNS)
    if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= MAX_TURNS:
        raise PersonaFileError(f"{where}: 'turns' must be a whole number from 1 to {MAX_TURNS}.")
    if messages and turns != len(messages):
        raise PersonaFileError(
            f"{where}: a scripted persona sends its {len(messages)} messages; 'turns' says {turns}."
        )
    return turns


def persona_from(entry: Any, index: int) -> Persona:
    """One persona from its YAML mapping (``index`` counts from 1, for messages)."""
    where = f"persona {index}"
    if not isinstance(entry, Mapping):
        raise PersonaFileError(f"{where}: expected a mapping with a name and a description.")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise PersonaFileError(f"{where}: unknown field(s) {', '.join(unknown)}.")
    name = _text(entry, "name", where, required=True)
    where = f"persona {index} ({name})"
    messages = _messages(entry, where)
    return Persona(
        name=name,
        description=_text(entry, "description", where, required=True),
        turns=_turns(entry, messages, where),
        messages=messages,
        learner_provider=_text(entry, "learner_provider", where, required=False),
    )


def parse_personas(text: str, source: str = "personas file") -> list[Persona]:
    """The personas of a YAML document: ``{personas: [...]}``, names unique."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PersonaFileError(f"{source} is not valid YAML: {exc}") from None
    entries = data.get("personas") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise PersonaFileError(f"{source}: expected a 'personas' list with at least one persona.")
    personas = [persona_from(entry, index) for index, entry in enumerate(entries, start=1)]
    names = [persona.name for persona in personas]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PersonaFileError(f"{source}: persona names must be unique: {', '.join(duplicates)}.")
    return personas


def load_personas(path: Path | str | None = None) -> list[Persona]:
    """The personas in ``path``, or the shipped defaults (:data:`DEFAULT_PERSONAS_FILE`)."""
    file = Path(path) if path is not None else DEFAULT_PERSONAS_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PersonaFileError(f"Cannot read personas file {file}: {exc.strerror}.") from None
    return parse_personas(text, source=str(file))
