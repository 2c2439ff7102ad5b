"""Re-quoting records for another delimiter and dropping columns: the splitter's slow path.

Used only when the output differs from the input (``output_format``, a column
mapping that drops columns); records are parsed with the csv module, so this
runs at its speed, not the byte scanners'.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence


class Converter:
    """Re-quotes records for another delimiter and/or drops columns (the slow path).

    A record whose field count differs from the header's cannot be cut into
    columns safely (values would shift), so it is returned as bad instead.
    """

    def __init__(
        self,
        in_delimiter: str,
        out_delimiter: str,
        keep: Sequence[int] | None,
        line_ending: str,
        width: int,
    ) -> None:
        self.in_delimiter = in_delimiter
        self.out_delimiter = out_delimiter
        self.keep = list(keep) if keep is not None else None
        self.line_ending = line_ending
        self.width = width

    def __call__(self, data: bytes) -> tuple[bytes, list[tuple[int, int, str]]]:
        """(the good records converted, (start, end, reason) of each bad one in ``data``)."""
        text = data.decode("utf-8")
        # newline="\n": lines (and so line_num) end at LF only, as records do here.
        reader = csv.reader(
            io.StringIO(text, newline="\n"), delimiter=self.in_delimiter, strict=False
        )
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.out_delimiter, lineterminator=self.line_ending)
        # The csv module leaves a lone CR unquoted when the line ending is LF: quote it ourselves.
        careful = csv.writer(
            out, delimiter=self.out_delimiter, lineterminator=self.line_ending,
            quoting=csv.QUOTE_ALL,
        )  # fmt: skip
        check_cr = "\r" in text
        keep = self.keep
        width = self.width
        bad: list[tuple[int, int, int]] = []  # (first line, last line, fields), 0-based
        previous = 0
        for row in reader:
            if len(row) != width:
                bad.append((previous, reader.line_num, len(row)))
                previous = reader.line_num
                continue
            previous = reader.line_num
            values = row if keep is None else [row[i] for i in keep]
            if check_cr and any("\r" in value for value in values):
                careful.writerow(values)
            else:
                writer.writerow(values)
        return out.getvalue().encode("utf-8"), self._spans(data, bad) if bad else []

    def _spans(self, data: bytes, bad: list[tuple[int, int, int]]) -> list[tuple[int, int, str]]:
        """Byte ranges of the bad records, from their line numbers."""
        starts = [0]
        position = data.find(b"\n")
        while position >= 0:
            starts.append(position + 1)
            position = data.find(b"\n", position + 1)
        starts.append(len(data))
        return [
            (starts[first], starts[min(last, len(starts) - 1)],
             f"record has {fields} field{'' if fields == 1 else 's'}, the header has {self.width}")
            for first, last, fields in bad
        ]  # fmt: skip
