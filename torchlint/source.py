"""Reading a file's bytes and decoding them the way Python itself would (PEP 263, BOM)."""

from __future__ import annotations

import codecs
import io
import tokenize
from dataclasses import dataclass


class SourceError(Exception):
    """The file cannot be turned into text; becomes a TL002 diagnostic."""


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


def read_bytes(path: str) -> bytes:
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
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SourceError("file vanished before it could be read") from None
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except OSError as exc:
        raise SourceError(exc.strerror or str(exc)) from None


def _is_loop(path: str) -> bool:
    import errno
    import os

    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False
