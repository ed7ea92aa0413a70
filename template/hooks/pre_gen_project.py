"""Cookiecutter entry point: hand the answers to hooks/pre_gen_project.py of the template repo.

The logic lives once, in the repo's top-level hooks/ folder, so that cookiecutter, cruft, copier
and scaffold all run the same program. Cookiecutter renders this file with Jinja first. The
answers go to the program on its standard input, never as a command-line argument (a long
answer would exceed the argument limit, and arguments are visible to other users).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

# cookiecutter (and cruft through it) runs a rendered copy of this file from TMPDIR and never
# removes it; the copy holds the answers. Python has read it, so it goes now.
HERE = Path(__file__).resolve()
if HERE.parent == Path(tempfile.gettempdir()).resolve() and HERE.name.startswith("tmp"):
    HERE.unlink(missing_ok=True)

# _unrendered: the answers as typed, before cookiecutter rendered them (see problems()).
CONTEXT = {{dict(cookiecutter, _unrendered=_cookiecutter | default({})) | jsonify | tojson}}
# cookiecutter sets _repo_dir; tools that call its generate_files (cruft) may not
{% set folder = cookiecutter._repo_dir if cookiecutter._repo_dir is defined else scaffold_template_dir %}
TEMPLATE_DIR = {{folder | tojson}}
PROGRAM = Path(TEMPLATE_DIR).resolve().parent / "hooks" / "pre_gen_project.py"

try:
    status = subprocess.run([sys.executable, str(PROGRAM), "-"], input=CONTEXT.encode())
    sys.exit(status.returncode)
except KeyboardInterrupt:  # the program got the same Ctrl-C and reports it
    sys.exit(130)
