"""``papermill`` for DVC's queue workers during ``scaffold run --grid``: run the project's own
papermill with the same arguments, then copy the executed notebook into the sweep's folder.

The queue runs each experiment in a copy of the repository that DVC deletes afterwards, and
the stage's executed notebook is neither committed nor cached: this copy is the only one.
``SCAFFOLD_SWEEP`` (JSON) names the sweep's ``folder``, the stage's ``params`` file and the
``runs`` as ``[parameters, name]``; the run is the one whose parameters the experiment's
parameters file holds. Standard library, PyYAML and papermill only; Python 3.8 or newer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any


def _run_name(sweep: dict[str, Any], parameters: dict[str, Any]) -> str | None:
    for wanted, name in sweep["runs"]:
        if all(key in parameters and parameters[key] == value for key, value in wanted.items()):
            return str(name)
    return None


def main(argv: list[str]) -> int:
    """Run papermill with ``argv``; copy its output notebook; papermill's exit code."""
    code = subprocess.call([sys.executable, "-m", "papermill", *argv])
    try:
        sweep = json.loads(os.environ["SCAFFOLD_SWEEP"])
        notebooks = [arg for arg in argv if arg.endswith(".ipynb")]
        import yaml

        with open(sweep["params"], encoding="utf-8") as handle:
            parameters = yaml.safe_load(handle) or {}
        name = _run_name(sweep, parameters)
        if name is not None and len(notebooks) >= 2 and os.path.isfile(notebooks[1]):
            os.makedirs(sweep["folder"], exist_ok=True)
            shutil.copyfile(notebooks[1], os.path.join(sweep["folder"], name + ".ipynb"))
    except (KeyError, OSError, ValueError) as error:
        sys.stderr.write(f"scaffold: the executed notebook was not collected: {error}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
