"""Split a dataset (one object, or every part under a prefix) into staged files.

This is what the pipeline calls::

    run = SplitRun(source, dest, storage=storage, options=SplitOptions(...))
    for chunk in run:          # each file as soon as it is written
        submit(chunk)
    result = run.result        # per-file and per-source figures, rejects

Before the first record is read: every part's header is read and compared,
the (mapped) header is checked against the describe, and missing or empty
sources fail with a clear ``InputError``. Records of all parts are packed
together, so files stay full even when parts are small. Rejected records go to
``<dest>/rejects.csv``; more than ``reject_threshold`` of them fails the
source with ``TooManyRejects`` (files announced before are listed in the error
result; with ``pipelined=False`` nothing is announced until the whole source
passed).

The module stays over 300 lines because ``SplitRun`` holds the one ordering of a
split (headers, checks, packing, rejects, threshold), which reads best unbroken.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

from workers import defaults
from workers.errors import InputError, OptionError, TooManyRejects, listing
from workers.split.background_io import BackgroundWrites, read_ahead
from workers.split.convert import Converter
from workers.split.header_check import (
    DELIMITERS,
    ColumnMapping,
    TargetFields,
    check_header,
    format_row,
    parse_header,
    plan_header,
    sniff_delimiter,
)
from workers.split.line_index import PendingIndex, index_uri
from workers.split.manifest import write_manifest
from workers.split.records import CR_TO_LF, header_end
from workers.split.rejects import Reject, RejectsWriter
from workers.split.source_reader import BLOCK_BYTES, Limits, skip_bytes, utf8_blocks
from workers.split.splitter import ChunkInfo, PartStats, Splitter
from workers.storage import ObjectInfo, Storage, join_uri

FORMATS = tuple(DELIMITERS)
PROBE_BYTES = 64 * 1024
UNDECODABLE = "undecodable bytes"  # how the splitter's reason for bad text starts


@dataclass(frozen=True)
class SplitOptions:
    limit: int = defaults.CHUNK_BYTE_LIMIT
    input_format: str | None = None  # csv | tsv | ssv; None: from the name, else sniffed
    output_format: str | None = None  # None: same as the input
    encoding: str = "utf-8"
    reject_threshold: float = defaults.REJECT_THRESHOLD
    mapping: ColumnMapping | None = None
    target: TargetFields | None = None
    pipelined: bool = True
    file_prefix: str = "chunk"
    rejects_name: str = "rejects.csv"
    block_bytes: int = BLOCK_BYTES  # read size; tests make it tiny
    read_ahead: bool = True  # read (and decompress) in a thread of its own
    line_index: bool = True  # each record's source line, beside each file (line_index.py)
    max_expansion_ratio: float | None = defaults.SPLIT_MAX_EXPANSION_RATIO  # gzip bombs
    max_source_bytes: int | None = defaults.SPLIT_MAX_SOURCE_BYTES  # per object, decompressed

    def limits(self, info: ObjectInfo) -> Limits:
        return Limits(self.max_expansion_ratio, self.max_source_bytes, info.size)


@dataclass
class SplitResult:
    source: str
    dest: str
    output_format: str
    columns: list[str]
    limit: int
    files: list[ChunkInfo] = field(default_factory=list)
    sources: list[PartStats] = field(default_factory=list)
    rejects_uri: str | None = None
    reject_samples: list[Reject] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.sources)

    @property
    def rejects(self) -> int:
        return sum(s.rejects for s in self.sources)

    @property
    def skipped(self) -> int:
        """Blank lines skipped (rows read = rows + rejects + skipped)."""
        return sum(s.skipped for s in self.sources)

    @property
    def data_bytes(self) -> int:
        return sum(s.data_bytes for s in self.sources)

    @property
    def average_fill(self) -> float:
        """Mean size of the files but the last, as a fraction of the limit."""
        full = self.files[:-1] or self.files
        return sum(f.bytes for f in full) / (len(full) * self.limit) if full else 0.0


@dataclass
class _Header:
    raw: bytes
    columns: list[str]
    line_ending: bytes
    lines: int
    cr_only: bool = False  # lines end in CR alone: read with every CR as LF


def _cr_to_lf(blocks: Iterator[bytes]) -> Iterator[bytes]:
    for block in blocks:
        yield block.translate(CR_TO_LF)


def _format_from_name(name: str) -> str | None:
    lowered = name.lower()
    for suffix in (".gz", ".gzip"):
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
    for fmt in FORMATS:
        if lowered.endswith("." + fmt):
            return fmt
    return None


def _check_format(fmt: str | None, what: str) -> None:
    if fmt is not None and fmt not in DELIMITERS:
        raise InputError(f"unknown {what} {fmt!r}: use one of csv, tsv, ssv")


class SplitRun:
    """One split of ``source`` into files under ``dest``; iterate to run it."""

    def __init__(
        self, source: str, dest: str, *, storage: Storage, options: SplitOptions | None = None
    ) -> None:
        self.source = source
        self.dest = dest.rstrip("/")
        self.storage = storage
        self.options = options or SplitOptions()
        _check_format(self.options.input_format, "input format")
        _check_format(self.options.output_format, "output format")
        self._result: SplitResult | None = None

    @property
    def result(self) -> SplitResult:
        if self._result is None:
            raise RuntimeError("the split has not run yet: iterate over it first")
        return self._result

    @property
    def progress(self) -> SplitResult | None:
        """The figures so far (also after a failure); None before the split starts."""
        return self._result

    def run(self, on_chunk: Callable[[ChunkInfo], None] | None = None) -> SplitResult:
        for chunk in self:
            if on_chunk is not None:
                on_chunk(chunk)
        return self.result

    # -- before any record: listing, headers, checks ------------------------------------

    def _read_header(self, info: ObjectInfo) -> _Header | None:
        """The header record of one object; None when the object holds no data at all."""
        with self.storage.open(info.uri) as reader:
            data = b""
            options = self.options
            blocks = utf8_blocks(
                reader, info.uri, options.encoding, PROBE_BYTES, options.limits(info)
            )
            for block in blocks:
                data += block
                found = header_end(data, final=False)
                if found is not None:
                    return self._header(data[: found[0]], found[1])
                if len(data) > self.options.limit:
                    raise OptionError(
                        f"header record is larger than the {self.options.limit:,}-byte limit",
                        option="limit",
                        source=info.uri,
                    )
            if not data.strip():
                return None
            found = header_end(data, final=True)
            if found is not None:
                return self._header(data[: found[0]], found[1])
            return self._header(data + b"\n", b"\n")

    def _header(self, raw: bytes, ending: bytes) -> _Header:
        """The header's line ending decides the object's (LF, CR LF, or CR read as LF)."""
        if ending == b"\r":
            raw = raw.translate(CR_TO_LF)
            return _Header(raw, [], b"\n", raw.count(b"\n"), cr_only=True)
        return _Header(raw, [], ending, raw.count(b"\n"))

    def _plan(self, parts: list[ObjectInfo]) -> tuple[list[tuple[ObjectInfo, _Header]], _Header]:
        single = len(parts) == 1 and not self.source.endswith("/")
        headed: list[tuple[ObjectInfo, _Header]] = []
        for info in parts:
            header = self._read_header(info)
            if header is None:
                if single:
                    raise InputError("object is empty", source=info.uri)
                continue
            headed.append((info, header))
        if not headed:
            raise InputError(f"all {len(parts)} objects under this prefix are empty",
                             source=self.source)  # fmt: skip
        first_info, first = headed[0]
        fmt = self.options.input_format or _format_from_name(first_info.name)
        delimiter = DELIMITERS[fmt] if fmt else sniff_delimiter(first.raw)
        for _info, header in headed:
            header.columns = parse_header(header.raw, delimiter)
        for info, header in headed[1:]:
            if header.columns != first.columns:
                difference = _difference(first.columns, header.columns)
                raise InputError(
                    f"header differs from {first_info.name}: {difference}", source=info.uri
                )
        self._delimiter = delimiter
        return headed, first

    # -- the split -------------------------------------------------------------------

    def __iter__(self) -> Generator[ChunkInfo, None, None]:
        options = self.options
        parts = self.storage.list_source(self.source)
        headed, first = self._plan(parts)
        in_delimiter = self._delimiter
        in_format = next(k for k, v in DELIMITERS.items() if v == in_delimiter)
        out_format = options.output_format or in_format
        out_delimiter = DELIMITERS[out_format]
        plan = plan_header(first.columns, options.mapping, source=self.source)
        check_header(plan.output_columns, options.target, source=self.source,
                     delimiter=in_delimiter)  # fmt: skip
        same_shape = plan.keep is None and out_delimiter == in_delimiter
        if same_shape and plan.output_columns == plan.source_columns:
            header_out = first.raw
        else:
            header_out = format_row(plan.output_columns, out_delimiter,
                                    first.line_ending.decode())  # fmt: skip
        if len(header_out) >= options.limit:
            raise OptionError(
                f"the header alone ({len(header_out):,} bytes) leaves no room for records "
                f"under the {options.limit:,}-byte limit",
                option="limit",
                source=self.source,
            )
        convert = None
        if not same_shape:
            convert = Converter(in_delimiter, out_delimiter, plan.keep, first.line_ending.decode(),
                                len(plan.source_columns))  # fmt: skip

        result = SplitResult(self.source, self.dest, out_format, plan.output_columns, options.limit)
        self._result = result
        rejects = RejectsWriter(self.storage, join_uri(self.dest, options.rejects_name))
        ready: list[ChunkInfo] = []
        writes = BackgroundWrites(self.storage)

        def write_chunk(
            index: int, pieces: list[bytes | memoryview], lines: PendingIndex | None
        ) -> str:
            name = f"{options.file_prefix}-{index:05d}.{out_format}"
            uri = join_uri(self.dest, name)
            writes.submit(uri, pieces, None if lines is None else (index_uri(uri), lines))
            return uri

        splitter = Splitter(
            header=header_out,
            limit=options.limit,
            write_chunk=write_chunk,
            rejects=rejects,
            on_chunk=ready.append,
            line_ending=first.line_ending,
            encoding=options.encoding,
            convert=convert,
            delimiter=in_delimiter.encode(),
            index_lines=options.line_index,
        )
        announced = 0
        try:
            for info, header in headed:
                stats = PartStats(info.uri, object_bytes=info.size)
                result.sources.append(stats)
                # (the reading thread stops before its reader closes, however this ends)
                with self.storage.open(info.uri) as reader, contextlib.ExitStack() as stack:
                    read = utf8_blocks(reader, info.uri, options.encoding, options.block_bytes,
                                       options.limits(info))  # fmt: skip
                    if options.read_ahead:
                        read = stack.enter_context(contextlib.closing(read_ahead(read)))
                    blocks = skip_bytes(read, len(header.raw))
                    if header.cr_only:
                        blocks = _cr_to_lf(blocks)
                    for _ in splitter.feed_iter(stats, blocks, header.lines + 1):
                        if options.pipelined and self._within_threshold(result):
                            while announced < writes.written(len(ready)):
                                announced += 1
                                yield ready[announced - 1]
                stats.data_bytes += len(header.raw)
            splitter.flush()
        finally:
            try:
                writes.close()  # every file listed in the result is written
            finally:
                result.files = splitter.chunks
                result.reject_samples = list(rejects.samples)
                result.rejects_uri = rejects.close()
                if options.line_index and (result.files or result.rejects_uri):
                    write_manifest(self.storage, self.dest, self.source, result,
                                   [info.uri for info, _ in headed], plan, in_format,
                                   options.target)  # fmt: skip
        if result.rows == 0 and result.rejects == 0:
            what = "header only, no records"
            if len(parts) > 1 or self.source.endswith("/"):
                what = f"header only, no records in any of its {len(parts)} objects"
            raise InputError(what, source=self.source)
        if not self._within_threshold(result):
            total = result.rows + result.rejects
            raise TooManyRejects(
                f"{result.rejects:,} of {total:,} records rejected "
                f"({result.rejects / total:.2%}), more than the {options.reject_threshold:.0%} "
                f"allowed; see {result.rejects_uri}{_encoding_hint(result, options.encoding)}",
                source=self.source,
            )
        while announced < len(ready):
            announced += 1
            yield ready[announced - 1]

    def _within_threshold(self, result: SplitResult) -> bool:
        total = result.rows + result.rejects
        return result.rejects <= self.options.reject_threshold * total


def _encoding_hint(result: SplitResult, encoding: str) -> str:
    """When every sampled reject is undecodable text, the file is likely in another encoding."""
    samples = result.reject_samples
    if not samples or not all(s.reason.startswith(UNDECODABLE) for s in samples):
        return ""
    return (
        f"; the rejected records are not valid {encoding}: set encoding to the file's "
        '(e.g. "cp1252" or "latin-1")'
    )


def _difference(expected: list[str], found: list[str]) -> str:
    if len(expected) != len(found):
        return f"{len(found)} columns, expected {len(expected)} ({listing(found, ', ')})"
    for number, (want, got) in enumerate(zip(expected, found, strict=True), start=1):
        if want != got:
            return f"column {number} is {got!r}, expected {want!r}"
    return "same names, different quoting"


def split_dataset(
    source: str,
    dest: str,
    *,
    storage: Storage,
    options: SplitOptions | None = None,
    on_chunk: Callable[[ChunkInfo], None] | None = None,
) -> SplitResult:
    """Split ``source`` into files under ``dest``, calling ``on_chunk`` as each is written."""
    return SplitRun(source, dest, storage=storage, options=options).run(on_chunk)
