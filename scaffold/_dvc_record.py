"""Record a sweep's runs as DVC experiments, in the project's interpreter (DVC imported once).

``python _dvc_record.py SPEC.json RESULTS``: SPEC names the ``stage``, its ``params`` file and
its ``output`` (the executed notebook); the runs come on stdin as they end, one JSON line
each, with its ``name``, the ``parameters`` it ran with (set in the params file on top of
what is there) and its ``executed`` notebook; it ends at the end of stdin. For each run: the
parameters go into the params file (DVC's own YAML round trip keeps its comments), the
executed notebook becomes the stage's output, and ``dvc exp save STAGE`` commits the stage
(``dvc.lock`` gets the run's params and output hashes) and saves the workspace as an
experiment of the last commit, named after the run (``x=1``) when that name is free and a
valid ref name, else by DVC. One JSON line per run in RESULTS: ``{"run": name,
"experiment": sha}`` or ``{"run": name, "error": sentence}``. scaffold puts the params
file, the output and ``dvc.lock`` back afterwards. Standard library and DVC only.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any

LOCK = "dvc.lock"


def _set_parameters(path: str, parameters: dict[str, Any]) -> None:
    from dvc.utils.serialize import modify_yaml

    with modify_yaml(path) as data:
        if isinstance(data, dict):
            data.update(parameters)
            return
    with open(path, "w", encoding="utf-8") as file:  # empty: JSON is YAML
        json.dump(parameters, file)


def _save(repo: Any, spec: dict[str, Any], run: dict[str, Any]) -> str:
    from dvc.exceptions import DvcException

    _set_parameters(spec["params"], run["parameters"])
    os.makedirs(os.path.dirname(spec["output"]) or ".", exist_ok=True)
    shutil.copyfile(run["executed"], spec["output"])
    # a dvc.lock that git does not track yet must go into the experiment too
    untracked = [LOCK] if not repo.scm.is_tracked(LOCK) else []
    message = f"scaffold sweep {run['name']}"
    target = [spec["stage"]]
    try:  # named after the run (dvc exp apply x=1) unless the name is taken or not a ref name
        saved = repo.experiments.save(
            targets=target, name=run["name"], include_untracked=untracked, message=message
        )
    except DvcException:
        saved = repo.experiments.save(targets=target, include_untracked=untracked, message=message)
    return str(saved)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    from dvc.repo import Repo

    repo = Repo(".")
    try:
        with open(argv[2], "a", encoding="utf-8") as results:
            for line in sys.stdin:
                if not line.strip():
                    continue
                run = json.loads(line)
                try:
                    result = {"run": run["name"], "experiment": _save(repo, spec, run)}
                except Exception as error:
                    result = {"run": run["name"], "error": str(error).strip() or repr(error)}
                results.write(json.dumps(result) + "\n")
                results.flush()
    finally:
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
