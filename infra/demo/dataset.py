"""A realistic lead export, as an ETL job writes it: gzipped CSV parts under one prefix.

Most rows are clean; a known few are not, so that the demo shows every way a
row can end up somewhere other than Marketo's database, and the report can be
checked against what was planted:

- rejected before submission (the splitter's rejects file): a record holding
  a NUL byte, a record with bytes that are not UTF-8;
- failed by Marketo (its failure files): a lead score that is not a number,
  a lead without an email (the lookup field);
- imported with a warning (its warning files): an email address that is not
  one, a loyalty tier longer than the field's 20 characters.
"""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

HEADER = b"email,firstName,lastName,company,title,city,country,leadScore,loyaltyTier,notes\n"
FIRST = ["Anna", "Björn", "José", "Zoë", "Łukasz", "Chloé", "Søren", "Ana María", "美羽", "John"]
LAST = ["Müller", "O'Brien", "García", "Nguyễn", "Dvořák", "Smith", "Kowalski", "Иванов"]
COMPANY = ["Acme, Inc.", "Globex", 'Stark "Industries"', "Wayne Enterprises, LLC", "北京公司"]
TITLE = ["Manager", "VP, Sales", "Engineer", "Director of Marketing", "CFO"]
CITY = [("Berlin", "DE"), ("São Paulo", "BR"), ("Zürich", "CH"), ("Kraków", "PL"), ("Austin", "US")]
TIER = ["gold", "silver", "bronze", ""]
NOTES = [
    "",
    'Met at the "Summit", wants a demo',
    "called twice\nleft voicemail",
    "VIP; see notes, page 2",
    "prefers email — no calls",
    "",
]

# One planted problem per this many rows, at a fixed offset, so counts are known.
EVERY = 25_000


@dataclass
class Planted:
    """How many rows of each kind the dataset holds."""

    rows: int = 0
    rejected: list[str] = field(default_factory=list)  # reasons, one per rejected row
    marketo_failures: int = 0
    marketo_warnings: int = 0

    @property
    def clean(self) -> int:
        return self.rows - len(self.rejected) - self.marketo_failures


def _quote(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _row(n: int, rng: random.Random, planted: Planted) -> bytes:
    city, country = rng.choice(CITY)
    values = [
        f"lead{n}@example{n % 97}.com", rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANY),
        rng.choice(TITLE), city, country, str(rng.randint(0, 100)), rng.choice(TIER),
        rng.choice(NOTES),
    ]  # fmt: skip
    problem = n % EVERY
    if problem == 11:
        values[7] = "n/a"  # Marketo: Invalid data type in field Lead Score
        planted.marketo_failures += 1
    elif problem == 12:
        values[0] = ""  # Marketo: the lookup field is missing
        planted.marketo_failures += 1
    elif problem == 13:
        values[0] = f"lead{n} at example.com"  # Marketo warns: Invalid email address
        planted.marketo_warnings += 1
    elif problem == 14:
        values[8] = "platinum-plus-founders-circle"  # Marketo warns: truncated to 20
        planted.marketo_warnings += 1
    line = (",".join(_quote(v) for v in values) + "\n").encode()
    if problem == 15:
        planted.rejected.append("NUL byte in record")
        return line.replace(b",", b",\x00", 1)  # a NUL byte in the first name
    if problem == 16:
        planted.rejected.append("undecodable bytes")
        return line.replace(b",", b",caf\xe9 ", 1)  # a Latin-1 byte in a UTF-8 file
    return line


def generate_parts(
    rows: int, parts: int, planted: Planted, seed: int = 7
) -> Iterator[tuple[str, bytes]]:
    """``(name, gzipped CSV with header)`` for each part, in key order; counts into ``planted``."""
    rng = random.Random(seed)
    per_part = -(-rows // parts)
    for part in range(parts):
        first = part * per_part
        last = min(rows, first + per_part)
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) as out:
            out.write(HEADER)
            out.write(b"".join(_row(n, rng, planted) for n in range(first, last)))
        planted.rows += last - first
        yield f"part-{part:05d}.csv.gz", buffer.getvalue()
