"""IPython's input transformations, mirrored without IPython: which parts of a cell are Python.

Jupyter runs each cell through IPython before compiling it (`InteractiveShell.transform_cell`):
`TransformerManager` drops leading blank lines, removes the common indentation, strips `>>>` and
`In [1]:` prompts, turns a `%%magic` cell into one call and then, one token at a time,
`%magic`, `!shell`, `a = %magic`, `a = !cmd`, `?obj`, `obj?`/`obj??` (and `,f a`, `;f a`, `/f a`)
into calls; a cell left with a single line then goes through the prefilter, whose automagic
(on by default) runs `pip install x` as `%pip install x`.

torchlint needs IPython's verdict (does the cell compile?) and findings at the user's own rows
and columns, so `mask_cell` does not rewrite: it keeps one line per row of the cell. A command
becomes `pass` (an assignment keeps its target, `a = None`), the rows it spans become blank, a
non-Python `%%magic` cell is blanked, and the characters IPython strips from a row's start are
that row's shift. Rows are split with Python's tokenizer's rule (`positions.split_lines`), where
IPython uses `str.splitlines`; the two differ only for cells holding `\\f`, `\\x1c`, U+2028...
where the tokenizer's rule is the one that keeps Python's meaning.

The test suite compares this module with IPython's own transformer on many cells.
"""

from __future__ import annotations

import ast
import re
import sys
import tokenize
from dataclasses import dataclass

from torchlint.positions import split_lines

# Cell magics whose body is Python that IPython compiles when the cell runs: the body is linted.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "snakeviz"})
# IPython's default line magics and aliases: what automagic runs without a `%`.
LINE_MAGICS = frozenset("""
alias alias_magic autoawait autocall automagic bookmark cat cd code_wrap colors conda config cp
debug dhist dirs doctest_mode ed edit env gui hist history killbgscripts ldir lf lk ll load
load_ext loadpy logoff logon logstart logstate logstop ls lsmagic lx macro magic mamba matplotlib
micromamba mkdir mv notebook page pastebin pdb pdef pdoc pfile pinfo pinfo2 pip popd pprint
precision prun psearch psource pushd pwd pycat pylab quickref recall rehashx reload_ext rep rerun
reset reset_selective rm rmdir run save sc set_env sx system tb time timeit unalias unload_ext uv
who who_ls whos xdel xmode
""".split())

_ESCAPE_SINGLES = frozenset("!?%,;/")
_ESCAPE_DOUBLES = frozenset({"!!", "??"})
_TRANSFORM_LOOP_LIMIT = 500
_HELP_END = re.compile(
    r"""(%{0,2}
    (?!\d)[\w*]+            # a name
    (\.(?!\d)[\w*]+|\[-?[0-9]+\])*   # .attribute or [integer]
    )
    (\?\??)$""",
    re.VERBOSE,
)
_USER_INPUT = re.compile(r"^(\s*)([,;/%]|!!?|\?\??)?\s*(%{0,2}[\w\.\*]*)(.*?$|$)")
_DOCTEST_PS1 = re.compile(r"^\s*>>>[ \t]?")
_DOCTEST_PS2 = re.compile(r"^\s*\.\.\.[ \t]?")
_DOCTEST_START = re.compile(r"^\s*>>>")
_CLASSIC_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")
_CLASSIC_INITIAL = re.compile(r"^>>>( |$)")
_IPYTHON_PROMPT = re.compile(r"^(((\[nav\]|\[ins\])?\ )?In\ \[\d+\]:\ |\s*\.{3,}:\ ?)")
_TRIPLE_QUOTE = re.compile(r"(?<!\\)(\"\"\"|''')")
_STRING_PREFIX = re.compile(r"(?i)^[rubf]*$")
_TOKEN_ERRORS = (
    "unterminated string literal", "invalid non-printable character", "after line continuation character",
    "invalid decimal literal", "invalid binary literal", "invalid octal literal",
    "invalid hexadecimal literal", "in binary literal", "in octal literal", "expected EOF",
)


@dataclass(frozen=True)
class MaskedCell:
    """A cell as the Python IPython compiles, one line per row of the cell's source."""

    lines: tuple[str, ...]
    shifts: tuple[int, ...]  # per row: characters IPython strips from the row's start


def mask_cell(source: str) -> MaskedCell:
    rows = split_lines(source)
    lines, shifts, gone = _cleanup(rows)
    first = next((i for i, line in enumerate(lines) if not gone[i]), None)
    if first is not None and lines[first].startswith("%%") and not re.match(r"%%\w+\?", lines[first]):
        return _cell_magic(lines, shifts, first)
    lines = _token_transforms(lines, gone)
    remaining = [i for i in range(len(lines)) if not gone[i]]
    if len(remaining) == 1:
        lines[remaining[0]] = _automagic(lines[remaining[0]])
    return MaskedCell(tuple(lines), tuple(shifts))


def _cell_magic(lines: list[str], shifts: list[int], first: int) -> MaskedCell:
    name = lines[first][2:].rstrip().partition(" ")[0]
    if name not in PYTHON_CELL_MAGICS:
        return MaskedCell(("",) * len(lines), tuple(shifts))  # %%bash, %%writefile...: not Python
    body = mask_cell("".join(line + "\n" for line in lines[first + 1 :]))
    masked = [""] * (first + 1) + list(body.lines)
    total = shifts[: first + 1] + [a + b for a, b in zip(shifts[first + 1 :], body.shifts)]
    return MaskedCell(tuple(masked), tuple(total))


# --- cleanup: blank lines, common indentation, prompts --------------------------------------


def _cleanup(rows: list[str]) -> tuple[list[str], list[int], list[bool]]:
    """IPython's cleanup transforms, row by row: (lines, chars stripped per row, rows dropped)."""
    lines = list(rows)
    shifts = [0] * len(lines)
    gone = [False] * len(lines)
    first = next((i for i, line in enumerate(lines) if line and not line.isspace()), None)
    if first is None:
        return lines, shifts, gone
    for i in range(first):
        gone[i], shifts[i], lines[i] = True, len(lines[i]), ""
    _dedent(lines, shifts, range(first, len(lines)))
    _strip_doctest_prompts(lines, shifts, first)
    _strip_ipython_prompts(lines, shifts, first)
    return lines, shifts, gone


def _dedent(lines: list[str], shifts: list[int], indices) -> None:
    """`textwrap.dedent` on these rows: whitespace-only rows emptied, the common margin removed."""
    indices = list(indices)
    margin = None
    for i in indices:
        line = lines[i]
        if line and not line.strip(" \t"):
            shifts[i] += len(line)
            lines[i] = ""
            continue
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if not line:
            continue
        if margin is None or margin.startswith(indent):
            margin = indent
        elif not indent.startswith(margin):
            common = 0
            while common < min(len(margin), len(indent)) and margin[common] == indent[common]:
                common += 1
            margin = margin[:common]
    if margin:
        for i in indices:
            if lines[i].startswith(margin):
                lines[i] = lines[i][len(margin) :]
                shifts[i] += len(margin)


def _strip(lines: list[str], shifts: list[int], i: int, pattern: re.Pattern) -> bool:
    match = pattern.match(lines[i])
    if match is None or not match.end():
        return False
    lines[i] = lines[i][match.end() :]
    shifts[i] += match.end()
    return True


def _strip_doctest_prompts(lines: list[str], shifts: list[int], first: int) -> None:
    """IPython's classic prompt stripper in doctest mode: `>>> ` and `... ` outside strings."""
    indices = range(first, len(lines))
    in_string = _triple_quote_mask([lines[i] for i in indices])
    if not any(not inside and _DOCTEST_START.match(lines[i]) for i, inside in zip(indices, in_string)):
        return
    stripped = []
    for i, inside in zip(indices, in_string):
        if inside:
            stripped.append(False)
        elif _DOCTEST_PS1.match(lines[i]):
            stripped.append(_strip(lines, shifts, i, _DOCTEST_PS1))
        else:
            stripped.append(_strip(lines, shifts, i, _DOCTEST_PS2))
    # Dedent each run of rows outside strings where a prompt was stripped.
    start = 0
    while start < len(in_string):
        end = start
        while end < len(in_string) and in_string[end] == in_string[start]:
            end += 1
        if not in_string[start] and any(stripped[start:end]):
            _dedent(lines, shifts, range(first + start, first + end))
        start = end


def _triple_quote_mask(lines: list[str]) -> list[bool]:
    """Whether each row is inside a triple-quoted string whose prompts must stay (IPython's heuristic)."""
    mask: list[bool] = []
    in_triple = None
    preserve = False
    seen_prompt = False
    for line in lines:
        mask.append(in_triple is not None and preserve)
        for match in _TRIPLE_QUOTE.finditer(line):
            quote = match.group(1)
            if in_triple is None:
                in_triple = quote
                before = line[: match.start()]
                bare = _DOCTEST_PS2.sub("", _DOCTEST_PS1.sub("", before, count=1), count=1)
                prompted = bare != before and seen_prompt
                preserve = bool(not prompted and _STRING_PREFIX.match(bare.strip()))
                mask[-1] = preserve
            elif in_triple == quote:
                in_triple = None
                preserve = False
        seen_prompt = seen_prompt or bool(_DOCTEST_START.match(line))
    return mask


def _strip_ipython_prompts(lines: list[str], shifts: list[int], first: int) -> None:
    if _IPYTHON_PROMPT.match(lines[first]) or (first + 1 < len(lines) and _IPYTHON_PROMPT.match(lines[first + 1])):
        for i in range(first, len(lines)):
            _strip(lines, shifts, i, _IPYTHON_PROMPT)


# --- token transforms: magics, shell escapes, help ------------------------------------------


@dataclass(frozen=True)
class _Found:
    kind: str  # "assign_magic", "assign_system", "escaped", "help"
    row: int  # 0-based
    column: int
    priority: int
    end_row: int = 0  # the `?` row of a help request


def _token_transforms(lines: list[str], gone: list[bool]) -> list[str]:
    """IPython's token transforms, earliest first, each on the tokens of the text left by the
    previous one. A transform that leaves the tokenizer where it was (its logical line ended
    with NEWLINE, and the transform replaced exactly that line) does not change the tokens after
    it, so the next one is taken from the same tokenization: cells full of `!cmd` lines stay
    linear. A kind whose earliest match cannot be transformed stops (as in IPython, where it
    stays the earliest match)."""
    if not _may_hold_ipython_syntax(lines):
        return lines
    blocked: set[str] = set()
    done = 0
    while done < _TRANSFORM_LOOP_LIMIT:
        retokenize = False
        for group in _tokens_by_line(lines):
            found = [f for f in (_find_assign([group], "%"), _find_system_assign([group]),
                                 _find_escaped([group]), _find_help([group])) if f is not None and f.kind not in blocked]
            for candidate in sorted(found, key=lambda f: (f.row, f.column, f.priority)):
                replaced = _apply(lines, gone, candidate)
                if replaced is None:
                    blocked.add(candidate.kind)
                    continue
                lines, last_row = replaced
                done += 1
                ends_cleanly = group[-1].type == tokenize.NEWLINE and group[-1].start[0] - 1 == last_row
                retokenize = not ends_cleanly or done >= _TRANSFORM_LOOP_LIMIT
                break
            if retokenize:
                break
        else:
            return lines
    return lines


def _may_hold_ipython_syntax(lines: list[str]) -> bool:
    return any(
        "%" in line or "!" in line or "?" in line or line.lstrip()[:1] in (",", ";", "/") for line in lines
    )


def _tokens_by_line(lines: list[str]) -> list[list[tokenize.TokenInfo]]:
    """Tokens grouped by logical line (IPython's `make_tokens_by_line`)."""
    groups: list[list[tokenize.TokenInfo]] = [[]]
    depth = 0
    readline = iter([line + "\n" for line in lines]).__next__
    tokens: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(readline):
            tokens.append(token)
            groups[-1].append(token)
            if token.type == tokenize.NEWLINE or (token.type == tokenize.NL and depth <= 0):
                groups.append([])
            elif token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}" and depth > 0:
                depth -= 1
    except tokenize.TokenError as exc:
        if any(error in str(exc.args[0]) for error in _TOKEN_ERRORS):
            last = tokens[-1] if tokens else None
            start = (last.start[0], last.end[0]) if last else (1, 0)
            groups[-1].append(tokenize.TokenInfo(tokenize.ERRORTOKEN, "", start, start, last.line if last else ""))
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
        pass
    if not groups[-1]:
        groups.pop()
    return groups


def _first_assign(line: list[tokenize.TokenInfo]) -> int | None:
    depth = 0
    for i, token in enumerate(line):
        if token.string == "=" and depth == 0:
            return i
        if token.string in ("(", "[", "{"):
            depth += 1
        elif token.string in (")", "]", "}") and depth > 0:
            depth -= 1
    return None


def _find_assign(logical, escape: str) -> _Found | None:
    """`a = %magic` (IPython's MagicAssign)."""
    for line in logical:
        i = _first_assign(line)
        if i is not None and len(line) > i + 2 and line[i + 1].string == escape and line[i + 2].type == tokenize.NAME:
            return _Found("assign_magic", line[i + 1].start[0] - 1, line[i + 1].start[1], 10)
    return None


def _find_system_assign(logical) -> _Found | None:
    """`a = !cmd` (IPython's SystemAssign; the tokenizer spells `!` differently from 3.12)."""
    for line in logical:
        i = _first_assign(line)
        if i is None or line[i].line.strip().startswith("=") or len(line) < i + 2:
            continue
        if sys.version_info >= (3, 12):
            if line[i + 1].type == tokenize.OP and line[i + 1].string == "!":
                return _Found("assign_system", line[i + 1].start[0] - 1, line[i + 1].start[1], 10)
            continue
        j = i + 1
        while j < len(line) and line[j].type == tokenize.ERRORTOKEN:
            if line[j].string == "!":
                return _Found("assign_system", line[j].start[0] - 1, line[j].start[1], 10)
            if not line[j].string.isspace():
                break
            j += 1
    return None


def _find_escaped(logical) -> _Found | None:
    """A logical line starting with `%`, `!`, `?`, `,`, `;` or `/` (IPython's EscapedCommand)."""
    for line in logical:
        first = next((t for t in line if t.type not in (tokenize.INDENT, tokenize.DEDENT)), None)
        if first is not None and first.string in _ESCAPE_SINGLES:
            return _Found("escaped", first.start[0] - 1, first.start[1], 10)
    return None


def _find_help(logical) -> _Found | None:
    """A logical line ending with `?` (IPython's HelpEnd)."""
    for line in logical:
        if len(line) > 2 and line[-2].string == "?":
            first = next(t for t in line if t.type not in (tokenize.INDENT, tokenize.DEDENT))
            return _Found("help", first.start[0] - 1, first.start[1], 5, line[-2].start[0] - 1)
    return None


def _continued_end(lines: list[str], row: int) -> int:
    end = row
    while end < len(lines) and lines[end].endswith("\\"):
        end += 1
    return min(end, len(lines) - 1)


def _apply(lines: list[str], gone: list[bool], found: _Found) -> tuple[list[str], int] | None:
    """(The rows after one transform, its last row), or None where IPython's raises SyntaxError."""
    lines = list(lines)
    row, column = found.row, found.column
    if found.kind == "help":
        piece = "\n".join(lines[row : found.end_row + 1])
        if not _HELP_END.search(piece[column:]):
            return None
        end = found.end_row
        replacement = "pass"
    else:
        end = _continued_end(lines, row)
        if found.kind in ("assign_magic", "assign_system"):
            replacement = "None"
        else:
            command = _assembled(lines, row, column, end)
            replacement = _escaped_replacement(command)
            if replacement is None:
                return None
    lines[row] = lines[row][:column] + replacement
    for i in range(row + 1, end + 1):
        lines[i] = ""
        gone[i] = True
    return lines, end


def _assembled(lines: list[str], row: int, column: int, end: int) -> str:
    parts = [lines[row][column:]] + lines[row + 1 : end + 1]
    return " ".join([part.rstrip()[:-1] for part in parts[:-1]] + [parts[-1].rstrip()])


def _escaped_replacement(command: str) -> str | None:
    """`pass` for an escaped command IPython turns into a valid call; else what IPython writes."""
    escape = command[:2] if command[:2] in _ESCAPE_DOUBLES else command[:1]
    if escape not in (",", ";", "/"):
        return "pass"  # `get_ipython().system(...)`, `.run_line_magic(...)`: always valid
    name, _, args = command[1:].partition(" ")
    if escape == "/":
        if not name:
            return None
        call = f"{name}({', '.join(args.split())})"
    elif escape == ",":
        call = '{}("{}")'.format(name, '", "'.join(args.split()))
    else:
        call = f'{name}("{args}")'
    try:
        compile(call, "<cell>", "eval", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
        return call  # invalid after IPython's transform too: the syntax error stays
    return "pass"


def _automagic(line: str) -> str:
    """A single-line cell such as `pip install x` runs as a line magic when it is not Python."""
    match = _USER_INPUT.match(line)
    if match is None or match.group(2):
        return line
    prefix, _, name, rest = match.groups()
    # IPython's AssignmentChecker keeps `pip = 1` and `ls, x = 1, 2` Python; the user's own
    # variables could shadow a magic too, so a line that is valid Python stays Python.
    if name.strip() not in LINE_MAGICS or rest.lstrip()[:1] in ("=", ","):
        return line
    try:
        compile(line + "\n", "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
        return prefix + "pass"
    return line
