"""Failure and warning rows matched back to their chunk's records (pure logic)."""

from __future__ import annotations

from workers.results.matching import ChunkMatcher, key_of, key_positions, parse

HEADER = ["email", "firstName", "leadScore"]
RECORDS = [
    ["a@x.com", "Ann", "1"],
    ["dup@x.com", "One", "1"],  # 1
    ["dup@x.com", "Two", "bad"],  # 2
    ["dup@x.com", "Three", "3"],  # 3
    ["twin@x.com", "T", "x"],  # 4
    ["twin@x.com", "T", "x"],  # 5
    ["short@x.com", "S"],  # 6: a field short
    ["wide@x.com", "W", "1", "extra"],  # 7: a field too many
    ["Case@X.com", "C", "1"],  # 8
]


POSITIONS = key_positions(HEADER, ["email"])


def matcher() -> ChunkMatcher:
    return ChunkMatcher.of(RECORDS, len(HEADER), POSITIONS)


def test_rows_sharing_a_key_are_told_apart_by_their_cells() -> None:
    found = matcher().match([["dup@x.com", "Two", "bad", "Invalid data type"]], POSITIONS)
    assert found.reasons == {2: "Invalid data type"} and found.unmatched == 0


def test_identical_rows_take_their_records_in_the_chunks_order() -> None:
    found = matcher().match(
        [["twin@x.com", "T", "x", "first"], ["twin@x.com", "T", "x", "second"]], POSITIONS
    )
    assert found.reasons == {4: "first", 5: "second"}


def test_rows_are_padded_as_marketo_pads_them_and_keep_extra_fields() -> None:
    found = matcher().match(
        [["short@x.com", "S", "", "Wrong number"], ["wide@x.com", "W", "1", "extra", "Wide"]],
        POSITIONS,
    )
    assert found.reasons == {6: "Wrong number", 7: "Wide"}


def test_cells_marketo_changed_fall_back_to_the_key_then_to_a_looser_key() -> None:
    found = matcher().match(
        [
            ["dup@x.com", "two (changed)", "bad", "by key: the first record not matched"],
            ["dup@x.com", "One", "1", "by its cells"],
            [" case@x.COM ", "C", "1", "by a looser key"],
            ["nobody@x.com", "N", "1", "no such record"],
        ],
        POSITIONS,
    )
    assert found.reasons == {
        1: "by its cells",
        2: "by key: the first record not matched",
        8: "by a looser key",
    }
    assert found.unmatched == 1


def test_every_file_starts_from_every_record() -> None:
    one = matcher()
    assert one.match([["a@x.com", "Ann", "1", "failed"]], POSITIONS).reasons == {0: "failed"}
    assert one.match([["a@x.com", "Ann", "1", "warned"]], POSITIONS).reasons == {0: "warned"}


def test_keys_of_several_fields_and_of_fields_in_another_case() -> None:
    header = ["VIN", "make", "Model"]
    positions = key_positions(header, ["vin", "model", "absent"])
    assert positions == [0, 2, -1]
    assert key_of(["123", "VW", "Golf"], positions) == "123|Golf|"
    assert parse(b'a,b\r\n"x\ny",z\r\n\r\n', ",") == [["a", "b"], ["x\ny", "z"]]
