"""The finding catalogue (analyzer/findings.py) is the one list of finding codes: every code
the code base emits is in it, is emitted where it says, and the README and the JSON Schema
list exactly its codes."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Iterator

from conftest import ROOT

from analyzer.findings import CATALOGUE, Code, Severity

ANALYZER = ROOT / "analyzer"


def _finding_calls() -> Iterator[tuple[str, ast.Call]]:
    """(module path relative to the checkout, call) for every Finding(...)/ReaderFinding(...)."""
    for py in sorted(ANALYZER.rglob("*.py")):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("Finding", "ReaderFinding"):
                    yield str(py.relative_to(ROOT)), node


def _code_arg(call: ast.Call) -> ast.expr:
    if call.args:
        return call.args[0]
    return next(k.value for k in call.keywords if k.arg == "code")


def _codes(expr: ast.expr, where: str) -> Iterator[str]:
    """The catalogue codes an argument names; AssertionError for anything that is not a
    ``Code.X`` (a copied ``f.code`` passes through)."""
    if isinstance(expr, ast.IfExp):
        yield from _codes(expr.body, where)
        yield from _codes(expr.orelse, where)
    elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
            and expr.value.id == "Code":
        assert expr.attr in Code.__members__, f"{where}: Code.{expr.attr} is not catalogued"
        yield Code[expr.attr].value
    elif isinstance(expr, ast.Attribute) and expr.attr == "code":
        return  # a finding copied from another (checks.py re-wraps reader findings)
    else:
        raise AssertionError(f"{where}: finding code {ast.unparse(expr)} is not a Code member "
                             "of analyzer/findings.py")


def _emitted() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module, call in _finding_calls():
        for code in _codes(_code_arg(call), f"{module}:{call.lineno}"):
            found.setdefault(code, set()).add(module)
    return found


def test_every_emitted_code_is_catalogued_and_emitted_where_the_catalogue_says() -> None:
    emitted = _emitted()
    assert set(emitted) == set(CATALOGUE)  # none emitted outside it, none declared unused
    for code, entry in CATALOGUE.items():
        assert entry.emitted_by in emitted[code], (code, entry.emitted_by, emitted[code])
        assert isinstance(entry.severity, Severity) and entry.meaning
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", code)


def test_codes_and_enums_serialise_as_their_plain_strings() -> None:
    assert json.dumps([Code.SHAPE_ERROR, Severity.ERROR]) == '["shape-error", "error"]'
    assert f"{Code.NO_WEIGHTS}|{Severity.INFO:>6}" == "no-weights|  info"
    assert Code.WEIGHTS_MISMATCH == "weights-mismatch" and str(Severity.WARNING) == "warning"


def test_docs_list_every_code() -> None:
    """The full list lives in docs/figures.md (the README names a few and links there)."""
    text = (ROOT / "docs" / "figures.md").read_text(encoding="utf-8")
    listed = re.search(r"Findings carry a stable `code`(.*?)\n\n", text, re.S)
    assert listed, "docs/figures.md's list of finding codes moved"
    assert sorted(re.findall(r"`([a-z0-9-]+)`", listed.group(1))) == sorted(CATALOGUE)


def test_json_schema_enum_is_the_catalogue() -> None:
    schema = json.loads((ROOT / "schema" / "memscan-1.schema.json").read_text())
    code = schema["$defs"]["finding"]["properties"]["code"]
    assert sorted(code["enum"]) == sorted(CATALOGUE)
