"""The stage-kind registry covers the model exactly: every kind, every field an author writes."""

from __future__ import annotations

from django.template.loader import get_template

from lessons_app.models import Stage
from lessons_app.stage_kinds import COMMON_FIELDS, KINDS, STAGE_CONTENT_FIELDS

# Stage fields that say where a stage is, not what an author writes in it.
PLACEMENT_FIELDS = {"id", "lesson", "position"}


def test_every_kind_of_the_model_has_one_entry_and_no_entry_is_extra():
    assert sorted(KINDS) == sorted(Stage.Kind.values)


def test_every_authored_stage_field_belongs_to_exactly_one_kind_or_to_all():
    model_fields = {
        field.name for field in Stage._meta.get_fields() if field.concrete
    } - PLACEMENT_FIELDS
    assert sorted(STAGE_CONTENT_FIELDS) == sorted(model_fields)
    assert len(STAGE_CONTENT_FIELDS) == len(set(STAGE_CONTENT_FIELDS)), "a field claimed twice"


def test_a_file_spells_each_key_of_a_stage_once():
    for kind in KINDS.values():
        keys = [field.key for field in (*COMMON_FIELDS, *kind.fields)]
        assert len(keys) == len(set(keys)), kind.value


def test_every_kind_has_its_template():
    for kind in KINDS.values():
        get_template(kind.template)
