"""Compressed inputs: gzip, bzip2, xz and zstd, recognised by their first bytes.

A compressed file is read as a stream through :class:`CappedReader`, which stops with
:class:`TooLarge` once more than ``max_bytes`` have come out of it: the per-file cap
applies to the decompressed size, so a small file that inflates without end (a
decompression bomb) costs at most ``max_bytes`` of work and never more memory than one
read buffer. Corrupt or truncated data surfaces as :class:`CorruptData`, on the read after
the last bytes that could be decompressed (readers check for it at what looks like the end).
Both are ``OSError`` subclasses, so the readers' usual error handling reports them.
"""

from __future__ import annotations

import bz2
import errno
import io
import lzma
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

__all__ = [
    "COMPRESSED_SUFFIXES",
    "CappedReader",
    "Compression",
    "CorruptData",
    "TooLarge",
    "check_end",
    "inner_name",
    "open_decompressed",
    "sniff_compression",
]


class Compression(NamedTuple):
    """A compression format: its name and the suffixes files of it usually carry."""

    name: str
    magic: bytes
    suffixes: tuple[str, ...]


_FORMATS = (
    Compression("gzip", b"\x1f\x8b", (".gz", ".gzip")),
    Compression("bzip2", b"BZh", (".bz2",)),
    Compression("xz", b"\xfd7zXZ\x00", (".xz",)),
    Compression("zstd", b"(\xb5/\xfd", (".zst", ".zstd")),
)
COMPRESSED_SUFFIXES = tuple(s for f in _FORMATS for s in f.suffixes)
XZ_MEMLIMIT = 256 << 20  # xz -9e needs 65 MiB to decode; a larger claim is refused


def _decode_errors() -> tuple[type[BaseException], ...]:
    """Errors of a damaged stream (pyarrow's only when it is loaded: it reads zstd)."""
    pa = sys.modules.get("pyarrow")
    arrow = (pa.ArrowException,) if pa is not None else ()
    return (EOFError, lzma.LZMAError, zlib.error, ValueError, *arrow)


class _Stream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class TooLarge(OSError):
    """More than ``max_bytes`` came out of a compressed file."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(errno.EFBIG, f"too large: decompressed size > max_bytes={max_bytes}", None)


class CorruptData(OSError):
    """The compressed data is damaged or cut short."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(errno.EIO, f"corrupt {kind} data: {detail}", None)


def sniff_compression(head: bytes) -> Compression | None:
    """The compression format whose signature ``head`` (a file's first bytes) starts with.

    ``BZh`` must be followed by a block size digit, so a text starting "BZh" stays text.
    """
    for fmt in _FORMATS:
        if head.startswith(fmt.magic):
            if fmt.name == "bzip2" and (len(head) < 4 or head[3:4] not in b"123456789"):
                continue
            return fmt
    return None


def inner_name(name: str, fmt: Compression) -> str:
    """``name`` without its compression suffix (``a.jsonl.gz`` → ``a.jsonl``), if it has one."""
    lower = name.lower()
    for suffix in fmt.suffixes:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def check_end(stream: io.BufferedReader) -> None:
    """Raise what ended ``stream`` when that was damaged data rather than the true end (a
    no-op for a plain file): call it where a reader meets the end of its data.

    Raises:
        CorruptData: the compressed data is damaged or cut short.
    """
    raw = stream.raw
    if isinstance(raw, CappedReader) and raw.error is not None:
        raise raw.error


class CappedReader(io.RawIOBase):
    """A raw binary stream over a decompressing one that refuses to give more than a cap."""

    def __init__(self, stream: _Stream, *, kind: str, max_bytes: int) -> None:
        super().__init__()
        self._stream = stream
        self._kind = kind
        self._max = max_bytes
        self.n_out = 0
        self.error: CorruptData | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        # Up to max_bytes + 1 bytes come out, so that a reader sees a file is over the cap;
        # asking for more then raises.
        # Damaged data first reads as the end of the stream, so that a buffered reader hands
        # out the bytes it holds (a line in the making would be lost with an exception); the
        # next read raises, and check_end tells a reader at the end what ended the data.
        if self.error is not None:
            raise self.error
        room = self._max + 1 - self.n_out
        if room <= 0:
            raise TooLarge(self._max)
        view = memoryview(buffer).cast("B")
        try:
            data = self._stream.read(min(len(view), room))
        except _decode_errors() as err:
            self.error = CorruptData(self._kind, str(err) or type(err).__name__)
            return 0
        except OSError as err:
            self.error = CorruptData(self._kind, err.strerror or str(err))
            return 0
        n = len(data)
        view[:n] = data
        self.n_out += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, /, max_length: int = -1) -> bytes: ...


class _ChunkStream:
    """gzip, bzip2 or xz data (one stream or several, concatenated), decompressed as read.

    Unlike ``gzip.open`` and ``bz2.open``, whose own read buffers drop what they hold when
    the data turns out damaged, every byte that decompresses is handed out before the damage
    is reported, so the records of a truncated file before the cut are kept. The xz decoder
    allocates the dictionary size the file declares (up to 1.5 GiB); past ``XZ_MEMLIMIT`` it
    refuses, which the reader reports as corrupt data.
    """

    def __init__(self, path: str, new: Callable[[], _Decompressor]) -> None:
        self._file = Path(path).open("rb")  # noqa: SIM115 - closed by close()
        self._new = new
        self._dec = new()
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        want = size if size > 0 else 1 << 16
        while not self._done:
            if self._dec.eof:
                rest = self._dec.unused_data + self._file.read(1 << 16)
                if not rest.strip(b"\0"):  # end of file, or stream padding
                    self._done = True
                    break
                self._dec = self._new()
                data = self._dec.decompress(rest, max_length=want)
            elif self._dec.needs_input:
                chunk = self._file.read(1 << 16)
                if not chunk:
                    raise EOFError("compressed file ended before the end-of-stream marker")
                data = self._dec.decompress(chunk, max_length=want)
            else:
                data = self._dec.decompress(b"", max_length=want)
            if data:
                return data
        return b""

    def close(self) -> None:
        self._file.close()


class _Zlib:
    """zlib's gzip decoder with the interface of the lzma and bz2 ones (``needs_input``,
    input kept between calls), for :class:`_ChunkStream`."""

    def __init__(self) -> None:
        self._dec = zlib.decompressobj(wbits=31)
        self._in = b""

    @property
    def eof(self) -> bool:
        return self._dec.eof

    @property
    def needs_input(self) -> bool:
        return not self._in

    @property
    def unused_data(self) -> bytes:
        return self._dec.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._dec.decompress(self._in + data, max(max_length, 0))
        self._in = self._dec.unconsumed_tail
        return out


def _open_raw(path: str, fmt: Compression) -> _Stream:
    if fmt.name == "gzip":
        return _ChunkStream(path, _Zlib)
    if fmt.name == "bzip2":
        return _ChunkStream(path, bz2.BZ2Decompressor)
    if fmt.name == "xz":
        return _ChunkStream(path, lambda: lzma.LZMADecompressor(memlimit=XZ_MEMLIMIT))
    import pyarrow as pa

    stream: _Stream = pa.CompressedInputStream(pa.OSFile(str(Path(path)), "rb"), "zstd")
    return stream


def open_decompressed(path: str, fmt: Compression, *, max_bytes: int) -> io.BufferedReader:
    """A buffered stream of ``path``'s decompressed bytes, capped at ``max_bytes``.

    Raises:
        OSError: The file cannot be opened.
    """
    raw = CappedReader(_open_raw(path, fmt), kind=fmt.name, max_bytes=max_bytes)
    return io.BufferedReader(raw, buffer_size=1 << 16)
