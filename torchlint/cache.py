"""The result cache: a file's findings, kept until its content, the settings or torchlint change.

Layout: `<cache dir>/CACHEDIR.TAG`, `<cache dir>/.gitignore` (`*`), and one JSON entry per linted
file under `<cache dir>/results/<key[:2]>/<key>.json`. The key is a BLAKE2 hash of the file's bytes,
the path it is shown under (per-file-ignores and messages depend on it), the settings fingerprint
and the torchlint code fingerprint, so a changed input simply misses and old entries are never read.

Entries are JSON rather than pickle: a cache folder can arrive with a cloned repository, and reading
it must never run code. Each entry is written to a temporary file and renamed into place, so
concurrent runs see either a whole entry or none; an entry that fails to load is ignored and
rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from torchlint import __version__
from torchlint.diagnostics import Applicability, Diagnostic, Edit, FileResult, Fix, Note, Position, Severity, Span

DEFAULT_DIR = ".torchlint_cache"
FORMAT = 1  # bump when the entry layout changes
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by torchlint.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)


class ResultCache:
    """Read and write cached `FileResult`s for one run (one settings fingerprint)."""

    def __init__(
        self,
        directory: str,
        settings_fingerprint: str,
        code_fingerprint: str | None = None,
        *,
        confined_to: str | None = None,
    ) -> None:
        """`confined_to`: the project root, for the default location (not one the user named):
        a cache folder that is a symlink, or lies outside the root, is then refused (`refused`
        says why) and the run goes on without a cache, writing nothing anywhere."""
        self.directory = directory
        self.results_dir = os.path.join(directory, "results")
        code = code_fingerprint if code_fingerprint is not None else torchlint_fingerprint()
        self._salt = f"{FORMAT}\0{code}\0{settings_fingerprint}\0".encode()
        self._prepared = False
        self.refused = _refusal(directory, confined_to) if confined_to is not None else None

    def key(self, path: str, data: bytes) -> str:
        digest = hashlib.blake2b(self._salt, digest_size=20)
        digest.update(path.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
        digest.update(data)
        return digest.hexdigest()

    def _entry(self, key: str) -> str:
        return os.path.join(self.results_dir, key[:2], key + ".json")

    def get(self, key: str, path: str) -> FileResult | None:
        """The cached result, or None on a miss or an unreadable/corrupted entry."""
        if self.refused:
            return None
        try:
            with open(self._entry(key), encoding="utf-8") as handle:
                record = json.load(handle)
            return _result_from_json(record, path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def put(self, key: str, result: FileResult) -> None:
        """Store a result; failures (read-only disk, races) only cost the next run a miss."""
        import tempfile

        if self.refused:
            return
        try:
            self._prepare()
            target = self._entry(key)
            folder = os.path.dirname(target)
            os.makedirs(folder, exist_ok=True)
            if not _inside(folder, self.directory):
                return  # `results/` or a shard folder is a symlink out of the cache: write nothing
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(_result_to_json(result), stream, separators=(",", ":"))
                os.replace(temporary, target)
            except BaseException:
                _remove(temporary)
                raise
        except OSError:
            pass

    def _prepare(self) -> None:
        if self._prepared:
            return
        ensure_cache_dir(self.directory)
        self._prepared = True


def ensure_cache_dir(directory: str) -> None:
    """Create the folder with its CACHEDIR.TAG (backup tools skip it) and a `*` .gitignore."""
    os.makedirs(directory, exist_ok=True)
    for name, content in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", "# Created by torchlint.\n*\n")):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            try:
                with open(path, "x", encoding="utf-8") as handle:
                    handle.write(content)
            except FileExistsError:  # another run made it first
                pass


def _refusal(directory: str, root: str) -> str | None:
    """Why the default cache folder must not be used, or None."""
    if os.path.islink(directory):
        return f"{directory} is a symlink"
    if not _inside(directory, root):
        return f"{directory} lies outside the project root {root}"
    return None


def _inside(path: str, root: str) -> bool:
    """Does `path` resolve (all symlinks followed) to `root` or somewhere below it?"""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def clean(directory: str) -> bool:
    """Delete a cache folder; only one that torchlint made (it has our CACHEDIR.TAG). True if removed."""
    tag = os.path.join(directory, "CACHEDIR.TAG")
    try:
        with open(tag, encoding="utf-8") as handle:
            ours = "torchlint" in handle.read()
    except OSError:
        return False
    if not ours:
        return False
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    return not os.path.exists(directory)


def torchlint_fingerprint() -> str:
    """The version, plus the size and mtime of torchlint's own modules.

    The version alone would keep stale results while the rules are being edited in a checkout
    (an editable install keeps its version); stat-ing ~100 files costs about a millisecond.
    """
    import torchlint
    import torchlint.rules as rules

    parts = [__version__]
    for folder in sorted({*torchlint.__path__, *rules.__path__}):
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    try:
                        stat = os.stat(os.path.join(root, name))
                    except OSError:
                        continue
                    parts.append(f"{os.path.relpath(os.path.join(root, name), folder)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# --- JSON (de)serialisation of results -------------------------------------------------------


def _span_json(span: Span | None) -> list[int] | None:
    if span is None:
        return None
    return [span.start.row, span.start.column, span.end.row, span.end.column]


def _span_back(value: Any) -> Span:
    if not (isinstance(value, list) and len(value) == 4 and all(_is_int(v) and v >= 0 for v in value)):
        raise ValueError(f"bad span: {value!r}")
    a, b, c, d = value
    return Span(Position(a, b), Position(c, d))


def _optional_span_back(value: Any) -> Span | None:
    return None if value is None else _span_back(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string: {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _cell(value: Any) -> int | None:
    if value is None or (_is_int(value) and value >= 0):
        return value
    raise ValueError(f"bad cell: {value!r}")


def _line(value: Any) -> int | None:
    if value is None or (_is_int(value) and value >= 1):
        return value
    raise ValueError(f"bad line: {value!r}")


def _fields(value: Any, names: tuple[str, ...]) -> dict:
    if not (isinstance(value, dict) and set(value) == set(names)):
        raise ValueError(f"expected an object with {names}")
    return value


def _triples(value: Any) -> list:
    if not (isinstance(value, list) and all(isinstance(v, list) and len(v) == 3 for v in value)):
        raise ValueError("expected a list of triples")
    return value


def _result_to_json(result: FileResult) -> dict[str, Any]:
    return {"diagnostics": [_diagnostic_json(d) for d in result.diagnostics]}


def _diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    fix = None
    if d.fix is not None:
        fix = {
            "message": d.fix.message,
            "applicability": d.fix.applicability.value,
            "edits": [[_span_json(e.span), e.content, e.cell] for e in d.fix.edits],
        }
    return {
        "code": d.code,
        "name": d.name,
        "message": d.message,
        "severity": d.severity.value,
        "span": _span_json(d.span),
        "cell": d.cell,
        "notes": [[n.message, _span_json(n.span), n.cell] for n in d.notes],
        "help": d.help,
        "fix": fix,
        "ipynb_line": d.ipynb_line,
    }


def _result_from_json(record: Any, path: str) -> FileResult:
    """Every field is checked: an entry that is not exactly what `_result_to_json` writes raises
    ValueError, and the caller treats it as a miss (the file is linted again and the entry rewritten)."""
    record = _fields(record, ("diagnostics",))
    if not isinstance(record["diagnostics"], list):
        raise ValueError("diagnostics must be a list")
    return FileResult(path=path, diagnostics=[_diagnostic_back(item, path) for item in record["diagnostics"]])


_DIAGNOSTIC_FIELDS = ("code", "name", "message", "severity", "span", "cell", "notes", "help", "fix", "ipynb_line")


def _diagnostic_back(item: Any, path: str) -> Diagnostic:
    item = _fields(item, _DIAGNOSTIC_FIELDS)
    fix = item["fix"]
    if fix is not None:
        fix = _fields(fix, ("message", "applicability", "edits"))
        fix = Fix(
            _text(fix["message"]),
            Applicability(fix["applicability"]),
            tuple(Edit(_span_back(span), _text(content), _cell(cell)) for span, content, cell in _triples(fix["edits"])),
        )
    return Diagnostic(
        code=_text(item["code"]),
        name=_text(item["name"]),
        message=_text(item["message"]),
        severity=Severity(item["severity"]),
        path=path,
        span=_span_back(item["span"]),
        cell=_cell(item["cell"]),
        notes=tuple(Note(_text(message), _optional_span_back(span), _cell(cell)) for message, span, cell in _triples(item["notes"])),
        help=_optional_text(item["help"]),
        fix=fix,
        ipynb_line=_line(item["ipynb_line"]),
    )
