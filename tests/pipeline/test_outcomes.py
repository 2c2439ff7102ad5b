"""A step's outcome is one StepOutcome member, and reaches Celery as the same plain string."""

from __future__ import annotations

import inspect
import json

from kombu.utils.json import dumps

from workers.pipeline import outcomes
from workers.pipeline.outcomes import StepOutcome


def test_every_outcome_is_its_name_in_kebab_case_and_serializes_as_that_string() -> None:
    for member in StepOutcome:
        assert member.value == member.name.lower().replace("_", "-")
        assert json.loads(dumps({"result": member})) == {"result": member.value}
        assert isinstance(member, str) and member == member.value


def test_every_outcome_says_what_it_means() -> None:
    lines = inspect.getsource(outcomes).splitlines()
    for member in StepOutcome:
        (line,) = [line for line in lines if line.strip().startswith(f"{member.name} = ")]
        assert "  # " in line, f"{member.name} has no comment saying what it means"
