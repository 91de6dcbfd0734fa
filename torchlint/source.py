"""Reading a file's bytes and decoding them the way Python itself would (PEP 263, BOM)."""

from __future__ import annotations

import codecs
import io
import tokenize
from dataclasses import dataclass


class SourceError(Exception):
    """The file cannot be turned into text; becomes a TL002 diagnostic."""


class TooLarge(SourceError):
    """The file is over the `max-file-size` limit; also a TL002 diagnostic, worded as such."""


@dataclass(frozen=True)
class DecodedSource:
    text: str
    encoding: str
    has_bom: bool


def decode_python(data: bytes) -> DecodedSource:
    """Decode Python source bytes honouring a UTF-8 BOM and a PEP 263 coding cookie."""
    if b"\x00" in data:
        raise SourceError("file contains NUL bytes")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing encoding declaration" not in str(exc):
            raise SourceError(str(exc)) from None  # unknown codec, or BOM with another cookie
        encoding = "utf-8"  # no cookie and not UTF-8: decoding below says where it fails
    has_bom = data.startswith(codecs.BOM_UTF8)
    if has_bom:
        data = data[len(codecs.BOM_UTF8) :]
        encoding = "utf-8"
    elif encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"cannot decode as {encoding} at line {line} (byte offset {exc.start}): {exc.reason}"
        ) from None
    except LookupError as exc:
        raise SourceError(f"unknown encoding: {exc}") from None
    return DecodedSource(text=text, encoding=encoding, has_bom=has_bom)


def read_bytes(path: str, max_size: int | None = None) -> bytes:
    """The bytes of a regular file, at most `max_size` of them (None: no limit).

    A FIFO, a device or a socket is never opened for reading: a `fifo.py` would block forever,
    a symlink to `/dev/zero` would be read until memory runs out.
    """
    import os

    if os.path.islink(path) and not os.path.exists(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        if os.path.lexists(path) and _is_loop(path):
            raise SourceError("symlink loop (too many levels of symbolic links)")
        raise SourceError(f"dangling symlink to `{target}`")
    try:
        _require_regular(os.stat(path).st_mode)
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it won't block.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise SourceError("file vanished before it could be read") from None
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except OSError as exc:
        raise SourceError(exc.strerror or str(exc)) from None
    with os.fdopen(descriptor, "rb") as handle:
        try:
            status = os.fstat(descriptor)
            _require_regular(status.st_mode)
            if max_size is not None:
                check_size(status.st_size, max_size)
                data = handle.read(max_size + 1)
                check_size(len(data), max_size)
                return data
            return handle.read()
        except OSError as exc:
            raise SourceError(exc.strerror or str(exc)) from None


# A notebook's JSON also holds outputs (images): its code is held to the limit, its file to this multiple.
NOTEBOOK_FILE_FACTOR = 25


def read_limit(path: str, max_file_size: int | None) -> int | None:
    """How many bytes of this file may be read, given the `max-file-size` setting (None: no limit)."""
    if not max_file_size:
        return None
    return max_file_size * NOTEBOOK_FILE_FACTOR if path.endswith(".ipynb") else max_file_size


def check_size(size: int, max_size: int | None) -> None:
    """Refuse a file larger than the limit (`max-file-size`), before it costs minutes and gigabytes."""
    if max_size is not None and size > max_size:
        raise TooLarge(
            f"not analysed: the file is {format_size(size)}, larger than the {format_size(max_size)} limit "
            "(raise `max-file-size` in [tool.torchlint], or pass --max-file-size)"
        )


def format_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


def _require_regular(mode: int) -> None:
    import stat

    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise SourceError("is a directory")
    kind = (
        "a FIFO" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
        else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file"
    )
    raise SourceError(f"not a regular file ({kind}); only regular files are read")


def _is_loop(path: str) -> bool:
    import errno
    import os

    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False
