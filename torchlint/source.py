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
    except SyntaxError as exc:  # unknown codec in the cookie, or BOM + non-UTF-8 cookie
        raise SourceError(str(exc)) from None
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
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SourceError("file vanished before it could be read") from None
    except IsADirectoryError:
        raise SourceError("is a directory") from None
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from None
