"""JUnit XML for CI dashboards: a test suite per file, a failing test case per finding.

A file with no findings is one passing test case, so dashboards count the files checked. Control
characters, which XML 1.0 cannot carry, are written escaped (`\\x1b`) in names and messages.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from torchlint.output import location_text, printable
from torchlint.output.notebook_lines import file_span


def render(results, stream, options) -> None:
    root = ET.Element("testsuites", name="torchlint")
    total = failures = 0
    for result in results:
        path = printable(result.path)
        suite = ET.SubElement(root, "testsuite", name=path)
        cases = failing = 0
        for diagnostic in result.diagnostics:
            cases += 1
            failing += 1
            start = diagnostic.span.start
            cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
            # `line` is a line of the file: in a notebook, the `.ipynb` line storing the source line.
            line = (file_span(result, diagnostic.cell, diagnostic.span) or diagnostic.span).start.row
            case = ET.SubElement(
                suite, "testcase", name=f"{diagnostic.code} {diagnostic.name} at {cell}{start.row}:{start.column}",
                classname=path, file=path, line=str(line),
            )
            message = printable(diagnostic.message)
            failure = ET.SubElement(case, "failure", message=message, type=diagnostic.code)
            failure.text = f"{location_text(diagnostic)}: {diagnostic.code} {message}" + (
                f"\nhelp: {printable(diagnostic.help)}" if diagnostic.help else ""
            )
        if not cases:
            ET.SubElement(suite, "testcase", name="no findings", classname=path, file=path)
            cases = 1
        suite.set("tests", str(cases))
        suite.set("failures", str(failing))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total += cases
        failures += failing
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")
