"""scaffold's own code is typed and lint-clean: mypy --strict and ruff, as CI sees them, and
no function is more complex than radon's cyclomatic complexity 15."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_the_package_passes_mypy_strict(tmp_path):
    # The settings (strict, the untyped libraries) are in pyproject.toml's [tool.mypy].
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_repository_is_ruff_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


MAX_COMPLEXITY = 15
MEASURED = ["scaffold", "hooks", "template/scaffold_jinja.py", "benchmarks/bench.py"]


def test_no_function_is_above_complexity_15():
    from radon.complexity import cc_visit

    too_complex = []
    for measured in MEASURED:
        path = REPO_ROOT / measured
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            for block in cc_visit(source.read_text(encoding="utf-8")):
                if block.complexity > MAX_COMPLEXITY:
                    where = Path(source).relative_to(REPO_ROOT)
                    too_complex.append(f"{where}:{block.lineno} {block.name} {block.complexity}")
    assert not too_complex, "\n".join(too_complex)
