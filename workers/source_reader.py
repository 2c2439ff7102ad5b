"""Turn one stored object into a stream of UTF-8 blocks.

Gzip is detected by content (the ``1f 8b`` magic, also without a ``.gz``
suffix; multi-member streams too), a UTF-8 byte-order mark is stripped, a
UTF-16 one selects UTF-16, and any other declared encoding (``latin-1``,
``cp1252``...) is transcoded to UTF-8. UTF-8 input is passed through as is:
its validity is checked later, record by record, by the splitter. Bytes a
declared encoding cannot decode come out unchanged (they are then not valid
UTF-8 and their record is rejected). Memory stays at a few blocks whatever the
object's size or compression ratio.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from typing import Protocol

from workers.errors import InputError

BLOCK_BYTES = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = codecs.BOM_UTF8
UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig", "u8"})


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


def gunzip(blocks: Iterator[bytes], source: str, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Decompress a (possibly multi-member) gzip stream, never more than a block at a time."""
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
    reader: Readable, source: str, encoding: str = "utf-8", block_bytes: int = BLOCK_BYTES
) -> Iterator[bytes]:
    """The object's content as UTF-8 blocks (decompressed, BOM stripped, transcoded)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", source=source) from None
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
    if first.startswith(GZIP_MAGIC):
        stream = gunzip(stream, source, block_bytes)
        first = next(stream, b"")
        while len(first) < 4:
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
    if not is_utf8(encoding):
        stream = _transcode(stream, encoding)
    for block in stream:
        if block:
            yield block


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
