"""The README's snippets do what it says: the quick start prints what is shown, the Python
examples run (doctest), the Makefile snippet passes as pasted, the Action and hook snippets
name what action.yml and .pre-commit-hooks.yaml declare."""
from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(r"```%s\n(.*?)```" % lang, README, flags=re.S)


def test_quick_start_is_on_the_first_screen_and_prints_what_is_shown() -> None:
    assert README.index("## Quick start") < 600  # the first lines after the title
    commands = _blocks("")[0].splitlines()
    assert commands[0].startswith("pip install .")
    argv = commands[1].split()
    assert argv[0] == "memscan"
    proc = run_cli(*argv[1:], env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    shown = README.split("<!-- quick-start:output")[1].split("```\n", 1)[1].split("```")[0]
    assert proc.stdout == shown


def test_python_examples_run(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False)
    assert result.attempted >= 6 and result.failed == 0


def test_makefile_snippet_passes_as_pasted(tmp_path) -> None:
    (snippet,) = _blocks("make")
    makefile = tmp_path / "Makefile"
    makefile.write_text(snippet)
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    proc = subprocess.run(["make", "-s", "-f", str(makefile), "audit"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "passes" in proc.stdout and "unusable" not in proc.stdout


def test_ci_snippets_use_what_the_action_and_the_hook_declare() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    step, hook = (yaml.safe_load(b) for b in _blocks("yaml")[:2])
    assert set(step[1]["with"]) <= set(action["inputs"])
    assert hook["repos"][0]["hooks"][0]["id"] in {h["id"] for h in hooks}
    (toml,) = _blocks("toml")
    assert "[tool.memscan]" in toml
