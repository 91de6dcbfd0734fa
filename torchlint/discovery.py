"""Which files a run checks: walk the given paths, honouring excludes and .gitignore files.

Directories are walked without following symlinked directories (as git and Ruff do), and a
symlinked file found while walking is checked only when it resolves inside the project root or
the walked directory: a `leak.py -> /etc/passwd` is never read. Files named explicitly are always
checked unless `force-exclude` is set; a candidate that is a symlink says so (`symlink`), so that
fixes never write through it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from torchlint.config import Settings

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class Candidate:
    path: str  # as shown to the user
    explicit: bool
    symlink: bool = False  # the path is a symbolic link (to a file inside the project, or named explicitly)


class _Excluder:
    def __init__(self, settings: Settings) -> None:
        self.root = os.path.abspath(settings.project_root)
        self.patterns = list(settings.exclude) + list(settings.extend_exclude)
        self._spec = None

    @property
    def spec(self):
        # Built on first use: checking only files named explicitly (a pre-commit hook) never
        # matches a pattern, and importing pathspec costs more than linting a small file.
        if self._spec is None:
            import pathspec

            self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)
        return self._spec

    def excluded(self, path: str, is_dir: bool, anchor: str | None = None) -> bool:
        """Does an exclude pattern match `path` (relative to the project root, or to `anchor`)?"""
        absolute = os.path.abspath(path)
        root = anchor or self.root
        relative = os.path.relpath(absolute, root) if absolute.startswith(root) else absolute.lstrip("/")
        relative = relative.replace(os.sep, "/")
        return self.spec.match_file(relative + ("/" if is_dir else "")) or self.spec.match_file(os.path.basename(absolute) + ("/" if is_dir else ""))


class _GitIgnores:
    """The .gitignore files in force for a directory: those of its ancestors inside the repo."""

    def __init__(self) -> None:
        self._cache: dict[str, object] = {}

    def spec_for(self, directory: str):
        if directory not in self._cache:
            path = os.path.join(directory, ".gitignore")
            spec = None
            if os.path.isfile(path):
                import pathspec

                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        spec = pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
                except OSError:
                    spec = None
            self._cache[directory] = spec
        return self._cache[directory]

    def ignored(self, path: str, is_dir: bool, anchor: str | None = None) -> bool:
        """Is `path` ignored by a .gitignore of its repo (only those at or below `anchor`, if given)?"""
        absolute = os.path.abspath(path)
        directory = os.path.dirname(absolute)
        while True:
            spec = self.spec_for(directory)
            if spec is not None:
                relative = os.path.relpath(absolute, directory).replace(os.sep, "/")
                if spec.match_file(relative + ("/" if is_dir else "")):
                    return True
            if os.path.isdir(os.path.join(directory, ".git")) or directory == anchor:
                return False
            parent = os.path.dirname(directory)
            if parent == directory:
                return False
            directory = parent


def discover(paths: list[str], settings: Settings) -> Iterator[Candidate]:
    """Yield every file to check, each once, in a stable (sorted) order."""
    excluder = _Excluder(settings)
    gitignores = _GitIgnores() if settings.respect_gitignore else None
    seen_files: set[str] = set()
    for given in paths:
        if os.path.isdir(given):
            top_excluded = excluder.excluded(given, True) or (gitignores and gitignores.ignored(given, True))
            if settings.force_exclude and top_excluded:
                continue
            # A directory named explicitly is walked even when excluded, as Ruff does: patterns
            # then apply to what lies below it, not to the directory itself.
            anchor = os.path.abspath(given) if top_excluded else None
            roots = (os.path.realpath(settings.project_root), os.path.realpath(given))
            yield from _walk(given, excluder, gitignores, seen_files, anchor, roots)
        else:
            if settings.force_exclude and (excluder.excluded(given, False) or (gitignores and gitignores.ignored(given, False))):
                continue
            key = os.path.abspath(given)
            if key not in seen_files:
                seen_files.add(key)
                yield Candidate(_shown(given), explicit=True, symlink=os.path.islink(given))


def _walk(
    top: str,
    excluder: _Excluder,
    gitignores: _GitIgnores | None,
    seen_files: set[str],
    anchor: str | None,
    roots: tuple[str, ...],
) -> Iterator[Candidate]:
    visited_dirs: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            stat = os.stat(directory)
        except OSError:
            continue
        identity = (stat.st_dev, stat.st_ino)
        if identity in visited_dirs:
            continue  # a second hard link to a directory already walked (bind mounts)
        visited_dirs.add(identity)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_link, is_dir = False, False
            if is_link and os.path.isdir(entry.path):
                continue  # a symlinked directory is never walked: it may lead anywhere
            if excluder.excluded(entry.path, is_dir, anchor) or (gitignores and gitignores.ignored(entry.path, is_dir, anchor)):
                continue
            if is_dir:
                subdirs.append(entry.path)
            elif entry.name.endswith(SOURCE_SUFFIXES):
                if is_link and not _resolves_inside(entry.path, roots):
                    continue  # `leak.py -> /etc/passwd`; a dangling link is still reported (TL002)
                key = os.path.abspath(entry.path)
                if key not in seen_files:
                    seen_files.add(key)
                    yield Candidate(_shown(entry.path), explicit=False, symlink=is_link)
        stack.extend(reversed(subdirs))


def _resolves_inside(path: str, roots: tuple[str, ...]) -> bool:
    """Does this symlink's final target lie inside one of the (real) root directories?

    A dangling link or a loop counts as inside: nothing outside is read, and it is reported.
    """
    if not os.path.exists(path):
        return True
    target = os.path.realpath(path)
    return any(target == root or target.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _shown(path: str) -> str:
    """Paths below the working directory are shown relative to it, others as given."""
    if path == "-":
        return path
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
