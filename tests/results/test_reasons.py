"""Counting failure and warning reasons, and the top ones as reports show them."""

from __future__ import annotations

from workers.results.reasons import ReasonCount, ReasonTally, from_json, lines, tally_result_file


def test_the_top_reasons_are_the_most_frequent_first_then_by_name() -> None:
    tally = ReasonTally()
    tally.update(["b"] * 3 + ["a"] * 3 + ["c"] * 1204 + ["", " "])
    top = tally.top(3)
    assert top == [ReasonCount("c", 1204), ReasonCount("a", 3), ReasonCount("b", 3)]
    assert lines(top[:1]) == ["c: 1,204 rows"]
    assert ReasonCount("d", 1).text() == "d: 1 row"
    assert tally.top()[-1] == ReasonCount("(no reason given)", 2)
    assert tally.rows == 1212
    assert from_json([c.as_dict() for c in top]) == top


def test_a_marketo_result_file_is_tallied_by_its_last_column() -> None:
    data = (
        b"email,leadScore,Import Failure Reason\n"
        b"a@x.com,x,Invalid data type in field Lead Score\n"
        b'b@x.com,"1,2",Invalid data type in field Lead Score\n'
        b",1,Missing value for lookup field 'email'\n"
    )
    assert tally_result_file(data).top() == [
        ReasonCount("Invalid data type in field Lead Score", 2),
        ReasonCount("Missing value for lookup field 'email'", 1),
    ]
    assert tally_result_file(data.replace(b",", b"\t"), "\t").rows == 3
