"""List what scaffold check's Spark rules (NB411-NB415) find in folders of real notebooks, with
the line each finding points at, to judge each one by hand (docs/spark.md, Precision).

    python benchmarks/spark_precision.py CORPUS_DIR

CORPUS_DIR holds one folder per repository (e.g. checkouts of the repositories that
docs/spark.md names, fetched with git). Each folder is taken as a project root. Prints one
line per finding, then the count per rule, the notebooks that mention Spark, their
``.toPandas()`` / ``.collect()`` calls, and the time the rules took. Not a test.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from scaffold.check import checker, spark
from scaffold.check.model import Config, Finding
from scaffold.project import Project

ACTION = re.compile(r"\.(?:toPandas|collect)\(\s*\)")


def source_line(root: Path, finding: Finding) -> str:
    """The text of the line a finding points at ('' for whole-file findings)."""
    if not finding.path.endswith(".ipynb") or not finding.cell:
        return ""
    cells = json.loads((root / finding.path).read_text(encoding="utf-8"))["cells"]
    source = cells[finding.cell - 1]["source"]
    lines = ("".join(source) if isinstance(source, list) else source).split("\n")
    return lines[finding.line - 1].strip() if 0 < finding.line <= len(lines) else ""


def code_text(text: str) -> str:
    """The code cells' source of a notebook's JSON text ('' if it is not JSON)."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return ""
    sources = [cell.get("source", "") for cell in cells if cell.get("cell_type") == "code"]
    return "\n".join("".join(s) if isinstance(s, list) else str(s) for s in sources)


def main(corpus: Path) -> None:
    """Run the Spark rules on every repository folder of ``corpus`` and print the findings."""
    counts: Counter[str] = Counter()
    notebooks = actions = 0
    took = 0.0
    for root in sorted(path for path in corpus.iterdir() if path.is_dir()):
        paths = sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        start = time.perf_counter()
        config = Config(select=("NB41",))
        chosen = checker.summaries(root, paths, use_cache=False)
        findings = spark.rules(Project(root), chosen, config)
        took += time.perf_counter() - start
        for finding in findings:
            counts[finding.code] += 1
            print(f"{root.name}/{finding.location()} {finding.code} | "
                  f"{source_line(root, finding)[:150]}")  # fmt: skip
        for path in paths:
            text = path.read_text(encoding="utf-8", errors="replace")
            if "spark" in text.lower():
                notebooks += 1
                actions += len(ACTION.findall(code_text(text)))
    print(dict(sorted(counts.items())))
    print(f"{notebooks} notebooks mention Spark; {actions} .toPandas()/.collect() calls; "
          f"rules took {took:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]))
