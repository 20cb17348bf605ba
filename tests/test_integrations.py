"""The GitHub Action (action.yml + action/run.sh) and the pre-commit hook
(.pre-commit-hooks.yaml), run as their hosts run them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, NO_COMPILE, ROOT

VGG16 = FIXTURES / "keras3" / "vgg16.h5"
BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMSCAN_", "GITHUB_"))}
    env["PATH"] = str(BIN) + os.pathsep + env["PATH"]  # the memscan command of this venv
    env.pop("COLUMNS", None)  # output as to a pipe, whatever the test runner's terminal
    env.update(extra)
    return env


def test_action_declares_the_inputs_and_runs_the_script() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert list(action["inputs"]) == ["paths", "input", "budget", "fail-on", "format"]
    assert action["runs"]["using"] == "composite"
    run = action["runs"]["steps"][-1]
    assert run["run"] == 'bash "${{ github.action_path }}/action/run.sh"'
    for name in action["inputs"]:
        key = "MEMSCAN_" + name.upper().replace("-", "_")
        assert run["env"][key] == "${{ inputs.%s }}" % name


def _action(tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess, str, str]:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = _env(GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(output),
               **{"MEMSCAN_" + k.upper(): v for k, v in inputs.items()})
    proc = subprocess.run(["bash", str(ROOT / "action" / "run.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, summary.read_text(), output.read_text()


def test_action_script_fails_the_step_over_budget_and_writes_the_summary(tmp_path) -> None:
    proc, summary, output = _action(tmp_path, paths=str(VGG16), input="1024,1024,3",
                                    budget="8GiB", fail_on="int32-param-overflow",
                                    format="summary")
    assert proc.returncode == 1, proc.stderr
    assert output == "exit-code=1\n"
    assert summary.startswith("## memscan report") and "FAILED: over budget, fail-on" in summary
    assert "2,183,080,744" in summary and "<details><summary>Per-layer table" in summary
    assert "FAILED: over budget, fail-on" in proc.stdout and "## memscan" not in proc.stdout
    assert "over budget" in proc.stderr


def test_action_script_passes_within_budget(tmp_path) -> None:
    proc, summary, output = _action(tmp_path, paths=f"{VGG16} {FIXTURES / 'keras3' / 'resnet50.h5'}",
                                    budget="8GiB", format="markdown")
    assert proc.returncode == 0, proc.stderr
    assert output == "exit-code=0\n" and "passes" in summary and proc.stdout == summary


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True)


def _snapshot(src: Path, dest: Path) -> str:
    """A one-commit repository of ``src``'s working tree (tracked files as they are now, and
    untracked ones git does not ignore), as pre-commit try-repo makes of a checkout with
    uncommitted changes; returns the commit id."""
    dest.mkdir(parents=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=src, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (src / rel).is_file():  # a tracked file deleted in the working tree is listed too
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest / rel)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "snapshot of the working tree")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=dest, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def hook_config(tmp_path_factory) -> tuple[Path, dict]:
    """A .pre-commit-config.yaml naming this checkout's hook, and the environment to run
    pre-commit in. pre-commit installs the hook's environment (a virtualenv, memscan
    pip-installed from the repository with its dependencies) on the first run and reuses it
    after: try-repo would install it afresh on every call (minutes of the suite)."""
    base = tmp_path_factory.mktemp("hook")
    rev = _snapshot(ROOT, base / "memscan")
    config = base / "pre-commit-config.yaml"
    config.write_text(yaml.safe_dump({"repos": [{"repo": str(base / "memscan"), "rev": rev,
                                                 "hooks": [{"id": "memscan"}]}]}))
    return config, _env(PRE_COMMIT_HOME=str(base / "store"), **NO_COMPILE)


def test_pre_commit_hook_checks_changed_models_with_tool_memscan_settings(tmp_path,
                                                                          hook_config) -> None:
    config, env = hook_config
    repo = tmp_path / "project"
    (repo / "models").mkdir(parents=True)
    shutil.copy(VGG16, repo / "models" / "vgg16.h5")
    (repo / "notes.txt").write_text("not a model\n")
    (repo / "pyproject.toml").write_text(
        '[tool.memscan]\ninput = "1024,1024,3"\nbudget = "8GiB"\n')
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    run = [str(BIN / "pre-commit"), "run", "--config", str(config)]
    proc = subprocess.run([*run, "--verbose"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "memscan (model memory and int32 checks)" in out and "Failed" in out
    assert "models/vgg16.h5: over budget: total 9.32 GiB" in out  # the 1024 input applied
    assert "notes.txt" not in out
    (repo / "pyproject.toml").write_text('[tool.memscan]\nbudget = "8GiB"\n')  # at 224
    _git(repo, "add", ".")
    proc = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout
