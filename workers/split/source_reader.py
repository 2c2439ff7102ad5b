"""Turn one stored object into a stream of UTF-8 blocks.

Gzip is detected by content (the ``1f 8b`` magic, also without a ``.gz``
suffix; multi-member streams too), a UTF-8 byte-order mark is stripped, a
UTF-16 one selects UTF-16, and any other declared encoding (``latin-1``,
``cp1252``...) is transcoded to UTF-8. UTF-8 input is passed through as is:
its validity is checked later, record by record, by the splitter. Bytes a
declared encoding cannot decode come out unchanged (they are then not valid
UTF-8 and their record is rejected). Memory stays at a few blocks whatever the
object's size or compression ratio.

``Limits`` stops a source early, with an error naming the object and the
figure, once it expands past a ratio of its stored size (a gzip bomb) or past
a number of bytes. Text that looks like UTF-16 without a byte-order mark (every
other byte NUL) is refused with the ``encoding`` to set.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from workers.errors import InputError

BLOCK_BYTES = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = codecs.BOM_UTF8
UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig", "u8"})
# Below this many decompressed bytes the expansion ratio is not checked: a small,
# very repetitive file may compress far better than any real dataset.
RATIO_GRACE_BYTES = 1024 * 1024
UTF16_PROBE_BYTES = 64
UNICODE_WIDE = ("utf-16", "utf-32")  # codec names whose text holds NUL bytes


@dataclass(frozen=True)
class Limits:
    """How far one object may expand when read (None: no limit)."""

    max_expansion_ratio: float | None = None  # decompressed / stored bytes, for gzip
    max_source_bytes: int | None = None  # decompressed bytes of one object
    stored_bytes: int | None = None  # the object's size as stored (for the ratio)


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def raw_blocks(reader: Readable, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    while True:
        block = reader.read(block_bytes)
        if not block:
            return
        yield block


def gunzip(
    blocks: Iterator[bytes],
    source: str,
    block_bytes: int = BLOCK_BYTES,
    limits: Limits | None = None,
) -> Iterator[bytes]:
    """Decompress a (possibly multi-member) gzip stream, never more than a block at a time."""
    if limits is not None:
        yield from _capped(_gunzip(blocks, source, block_bytes), source, limits, gzip=True)
    else:
        yield from _gunzip(blocks, source, block_bytes)


def _capped(blocks: Iterator[bytes], source: str, limits: Limits, *, gzip: bool) -> Iterator[bytes]:
    """The blocks, stopping with an InputError once they pass one of ``limits``."""
    ratio, stored = limits.max_expansion_ratio, limits.stored_bytes
    ratio_cap = None
    if gzip and ratio is not None and stored is not None:
        ratio_cap = max(int(ratio * stored), RATIO_GRACE_BYTES)
    size_cap = limits.max_source_bytes
    total = 0
    for block in blocks:
        total += len(block)
        if ratio_cap is not None and total > ratio_cap:
            raise InputError(
                f"gzip data decompresses to more than {ratio_cap:,} bytes, over {ratio:g} "
                f"times its {stored:,} stored bytes: stopped as a likely gzip bomb; "
                "raise SPLIT_MAX_EXPANSION_RATIO if the data is genuine",
                source=source,
            )
        if size_cap is not None and total > size_cap:
            what = "decompressed data" if gzip else "data"
            raise InputError(
                f"{what} is larger than the {size_cap:,}-byte limit of one source object: "
                "stopped; raise SPLIT_MAX_SOURCE_BYTES or split the object",
                source=source,
            )
        yield block


def _gunzip(blocks: Iterator[bytes], source: str, block_bytes: int) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        for block in blocks:
            data = block
            while data:
                if decompressor.eof:
                    if not data.strip(b"\x00"):  # zero padding after the last member
                        break
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next member
                out = decompressor.decompress(data, block_bytes)
                if out:
                    yield out
                if decompressor.eof:
                    data = decompressor.unused_data
                    continue
                data = decompressor.unconsumed_tail
                while not data and len(out) == block_bytes:  # output held back for lack of room
                    out = decompressor.decompress(b"", block_bytes)
                    if out:
                        yield out
                    if decompressor.eof:
                        data = decompressor.unused_data
        if not decompressor.eof:
            raise InputError("gzip data ends early (truncated object?)", source=source)
    except zlib.error as error:
        raise InputError(f"gzip data is corrupt ({error})", source=source) from None


def _transcode(blocks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="surrogateescape")
    for block in blocks:
        text = decoder.decode(block)
        if text:
            yield text.encode("utf-8", "surrogateescape")
    text = decoder.decode(b"", final=True)
    if text:
        yield text.encode("utf-8", "surrogateescape")


def utf8_blocks(
    reader: Readable,
    source: str,
    encoding: str = "utf-8",
    block_bytes: int = BLOCK_BYTES,
    limits: Limits | None = None,
) -> Iterator[bytes]:
    """The object's content as UTF-8 blocks (decompressed, BOM stripped, transcoded)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f'unknown encoding {encoding!r}: set encoding to a codec name such as "utf-8", '
            '"latin-1", "cp1252" or "utf-16-le"',
            source=source,
        ) from None
    blocks = raw_blocks(reader, block_bytes)
    first = next(blocks, b"")
    while len(first) < 4:  # a reader may return short reads: gather enough for magic/BOM
        more = next(blocks, b"")
        if not more:
            break
        first += more
    if not first:
        return
    stream: Iterator[bytes] = _chain(first, blocks)
    gzip = first.startswith(GZIP_MAGIC)
    if gzip:
        stream = _gunzip(stream, source, block_bytes)
    if limits is not None:
        stream = _capped(stream, source, limits, gzip=gzip)
    first = next(stream, b"")  # again: decompressed, and counted against the limits
    while len(first) < UTF16_PROBE_BYTES:
        more = next(stream, b"")
        if not more:
            break
        first += more
    stream = _chain(first, stream)
    if first.startswith(UTF8_BOM):
        stream = skip_bytes(stream, len(UTF8_BOM))
        encoding = "utf-8"
    elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif not codecs.lookup(encoding).name.startswith(UNICODE_WIDE):
        _refuse_utf16_without_bom(first, source)
    if not is_utf8(encoding):
        stream = _transcode(stream, encoding)
    for block in stream:
        if block:
            yield block


def _refuse_utf16_without_bom(first: bytes, source: str) -> None:
    """Raise when the text starts like UTF-16 without a BOM: one byte of every pair NUL."""
    probe = first[:UTF16_PROBE_BYTES]
    probe = probe[: len(probe) - len(probe) % 2]
    if len(probe) < 4:
        return
    high, low = probe[1::2], probe[0::2]  # little-endian: the high bytes of ASCII are NUL
    for zeros, text, name in ((high, low, "utf-16-le"), (low, high, "utf-16-be")):
        if not zeros.strip(b"\x00") and text.strip(b"\x00"):
            raise InputError(
                f'looks like UTF-16 without a byte-order mark: set encoding to "{name}"',
                source=source,
            )


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def skip_bytes(blocks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """The blocks without their first ``count`` bytes."""
    for block in blocks:
        if count:
            dropped = min(count, len(block))
            block = block[dropped:]
            count -= dropped
        if block:
            yield block
