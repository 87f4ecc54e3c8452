"""The models give the verdict the API server gives (tests/integration/test_crds.py checks the
server against the same table)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paddock.api import describe_errors, parse_object
from tests.unit.api.bad_objects import BAD, GOOD, Case


def test_the_table_is_large_and_unique() -> None:
    assert len(BAD) >= 15
    ids = [case.id for case in BAD + GOOD]
    assert len(ids) == len(set(ids))
    names = [(case.kind, case.name) for case in BAD + GOOD]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_bad_object_is_rejected_naming_the_field(case: Case) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_object(case.manifest)
    text = "\n".join(describe_errors(caught.value))
    assert case.field in text, text
    if case.message:
        assert case.message in text, text


@pytest.mark.parametrize("case", GOOD, ids=lambda case: case.id)
def test_good_object_is_accepted(case: Case) -> None:
    parsed = parse_object(case.manifest)
    assert parsed.kind == case.kind
