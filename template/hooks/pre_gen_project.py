"""Cookiecutter entry point: hand the answers to hooks/pre_gen_project.py of the template repo.

The logic lives once, in the repo's top-level hooks/ folder, so that cookiecutter, copier and
scaffold all run the same program. Cookiecutter renders this file with Jinja first.
"""

import subprocess
import sys
from pathlib import Path

# _unrendered: the answers as typed, before cookiecutter rendered them (see problems()).
CONTEXT = {{dict(cookiecutter, _unrendered=_cookiecutter | default({})) | jsonify | tojson}}
PROGRAM = (
    Path({{cookiecutter._repo_dir | tojson}}).resolve().parent / "hooks" / "pre_gen_project.py"
)

sys.exit(subprocess.call([sys.executable, str(PROGRAM), CONTEXT]))
