"""``scaffold add notebook``: name, number, build and (optionally) register a notebook.

Names follow cookiecutter-data-science: ``<phase>.<seq>-<initials>-<kebab-description>.ipynb``.
The notebook is built as nbformat v4.5 JSON by ``build_notebook`` (the template's first notebook
has the same shape), or from the project's own template at ``.scaffold/templates/notebook.ipynb``
(read and checked with nbformat). The built notebook is plain JSON, written as Jupyter writes it,
without importing nbformat (its import, with jsonschema, would cost most of the command's time);
tests check that nbformat validates it and writes the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import parameters as params
from scaffold.errors import ScaffoldError
from scaffold.files import Change, Write, apply, changes, project_lock, relative
from scaffold.ipynb import KERNELSPEC, LANGUAGE_INFO, PARAMETERS_HEADER, code_deps
from scaffold.ipynb import next_number as next_number
from scaffold.layout import (
    NOTEBOOKS_DIR,
    PARAMS_DIR,
    REPORTS_DIR,
    Package,
    check_initials,
    default_initials,
    find_package,
)
from scaffold.parameters import Parameter
from scaffold.project import Project

OVERRIDE = Path(".scaffold", "templates", "notebook.ipynb")
"""A project's own notebook template, relative to its root."""

SLUG_MAX = 60
# The last cell of every notebook: scaffold run --grid reads the dict it shows (scaffold.sweep).
METRICS_TAG = "metrics"
METRICS_SOURCE = (
    "# Metrics: what this run measured, as name: number. `scaffold run --grid` collects them\n"
    '# into summary.csv, one row per parameter set. E.g. metrics = {"accuracy": accuracy}\n'
    "metrics = {}\n"
    "metrics"
)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


@dataclass(frozen=True)
class Cell:
    """A cell of a built notebook."""

    id: str
    kind: str  # "markdown" | "code"
    source: str


@dataclass(frozen=True)
class NotebookAdded:
    """What ``add_notebook`` did (or, for a dry run, would do)."""

    stem: str
    changes: list[Change]


# -- naming ---------------------------------------------------------------------------------


def check_description(description: str) -> tuple[str, str]:
    """The title and the kebab-case slug of a notebook description; refuse bad ones."""
    from slugify import slugify

    text = " ".join(description.split())
    if not text:
        raise ScaffoldError('a notebook needs a description, e.g. "clean data".')
    if (
        "/" in text
        or "\\" in text
        or text.startswith((".", "~"))
        or text.lower().endswith(".ipynb")
    ):
        raise ScaffoldError(
            f"{description!r} looks like a path; describe the notebook in words instead "
            '(e.g. "clean data"): scaffold names and places it.'
        )
    slug = slugify(text, max_length=SLUG_MAX, word_boundary=True)
    if not slug:
        raise ScaffoldError(f"{description!r} has no letters or digits to name a notebook with.")
    return text[0].upper() + text[1:], slug


# -- building -------------------------------------------------------------------------------


COLAB_BADGE = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/{repo}/blob/{branch}/{path})"
)
COLAB_SETUP = """\
# In Google Colab only (elsewhere this does nothing): Colab opens a notebook without its
# repository, so clone it and install the project; then the imports and paths below work.
import sys

if "google.colab" in sys.modules:
    import subprocess
    from pathlib import Path

    clone = Path("{name}")
    if not clone.is_dir():
        url = "https://github.com/{repo}.git"
        subprocess.run(["git", "clone", "--depth", "1", url, str(clone)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(clone)], check=True)
    # the editable install is seen from the next start of the kernel; until then:
    sys.path.insert(0, str(clone.resolve() / "src"))"""


@dataclass(frozen=True)
class Colab:
    """The "Open in Colab" badge and setup cell that start a project's notebooks
    (template option ``colab``), for the GitHub repository ``OWNER/NAME``."""

    repo: str
    branch: str = "main"

    def badge(self, path: str) -> str:
        """The badge (Markdown) that opens the notebook at ``path`` of the repository."""
        from urllib.parse import quote

        return COLAB_BADGE.format(repo=self.repo, branch=self.branch, path=quote(path))

    def setup(self) -> str:
        """The setup cell: in Colab only, clone the repository and install the project."""
        return COLAB_SETUP.format(repo=self.repo, name=self.repo.split("/", 1)[1])


def project_colab(project: Project) -> Colab | None:
    """The project's Colab cells, if it chose them (``colab: yes`` in its answers)."""
    if project.answers.get("colab") != "yes":
        return None
    from scaffold.resources import PACKAGED_TEMPLATE

    repo = project.answers.get("github_repo", "")
    problem = PACKAGED_TEMPLATE.rules.sharing_problems({"github_repo": repo})
    if "github_repo" in problem:
        raise ScaffoldError(f"{problem['github_repo'][:-1]}; fix it in .copier-answers.yml.")
    return Colab(repo)


def colab_cells(colab: Colab, path: str) -> list[dict[str, Any]]:
    """The two cells that start a notebook at ``path`` (relative to the project) for Colab."""
    return [
        markdown_cell("colab-badge", colab.badge(path)),
        code_cell("colab-setup", colab.setup()),
    ]


def build_notebook(
    stem: str,
    *,
    title: str,
    purpose: str,
    imports: Sequence[str],
    parameters: Sequence[Parameter],
    body: Sequence[Cell],
    code_folder: str | None,
    run_command: str,
    production: bool,
    colab: Colab | None = None,
) -> Any:
    """The notebook (nbformat v4.5 JSON as a dict): title, setup, parameters, ``body``, then
    metrics; first the Colab badge and setup cell with ``colab``.

    This is the one notebook shape: the template's first notebook is this function's output
    for its own title, imports, parameters and body (a test checks it).
    """
    runs = f"`{run_command}` or `dvc repro` runs" if production else f"`{run_command}` runs"
    with_params = f" and `params/{stem}.yaml`" if production else ""
    code = (
        f"Move code you repeat into `{code_folder}` (`scaffold add module NAME` starts a module): "
        "the setup cell reloads it automatically."
        if code_folder
        else "Move code you repeat into the project's package: the setup cell reloads it "
        "automatically."
    )
    intro = "\n\n".join(
        [
            f"# {title}",
            f"**Purpose:** {purpose}",
            "**Run it top to bottom** (*Restart kernel and run all*). The cell tagged "
            f"`parameters` holds the defaults; {runs} the notebook with papermill{with_params}, "
            "writing the executed copy to `reports/`.",
            code,
        ]
    )
    # `%matplotlib inline` registers IPython's figure formatter, so a bare ``Figure`` (plots.py
    # builds them without pyplot) renders as an image, not as its repr.
    setup = "\n".join(["%load_ext autoreload", "%autoreload 2", "%matplotlib inline", "", *imports])
    parameter_source = "\n".join(
        [PARAMETERS_HEADER.format(stem=stem), *(parameter.line() for parameter in parameters)]
    )
    cells = [
        *(colab_cells(colab, f"{NOTEBOOKS_DIR}/{stem}.ipynb") if colab else []),
        markdown_cell("title", intro),
        code_cell("setup", setup),
        code_cell("parameters", parameter_source, {"tags": [params.TAG]}),
    ]
    cells += [
        markdown_cell(cell.id, cell.source)
        if cell.kind == "markdown"
        else code_cell(cell.id, cell.source)
        for cell in body
    ]
    cells.append(code_cell(METRICS_TAG, METRICS_SOURCE, {"tags": [METRICS_TAG]}))
    return {
        "cells": cells,
        "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def markdown_cell(cell_id: str, source: str) -> dict[str, Any]:
    """A markdown cell as ``nbformat.v4.new_markdown_cell`` makes it."""
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def code_cell(cell_id: str, source: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A code cell as ``nbformat.v4.new_code_cell`` makes it: no outputs, never run."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": metadata or {},
        "outputs": [],
        "source": source,
    }


GENERIC_PARAMETERS = (
    Parameter("input_file", "str", "dataset.csv", "a file under data/raw/"),
    Parameter("seed", "int", 42, "random seed: the same seed gives the same results"),
)
GENERIC_PURPOSE = "TODO: the question this notebook answers, and what it produces."
GENERIC_BODY = (
    Cell(
        "inputs",
        "code",
        "input_path = RAW_DATA_DIR / input_file\n"
        "output_dir = PROCESSED_DATA_DIR  # results go here; figures go to reports/figures/\n"
        'print(f"input:  {input_path} (exists: {input_path.exists()})")\n'
        'print(f"output: {output_dir}")',
    ),
    Cell(
        "analysis",
        "markdown",
        "## Analysis\n\nWork top to bottom from here: read from `input_path`, write to "
        "`output_dir` (never into `notebooks/`).",
    ),
)
PATHS = ("PROCESSED_DATA_DIR", "RAW_DATA_DIR")


def generic_imports(package: Package | None) -> list[str]:
    """The setup cell's imports: the project's paths from ``<package>.config`` if it has them."""
    if package is not None and set(PATHS) <= package.defines("config"):
        return [f"from {package.name}.config import {', '.join(PATHS)}"]
    return [
        "from pathlib import Path",
        "",
        "# Project paths: notebooks run from notebooks/ (Jupyter, and papermill --cwd notebooks).",
        'RAW_DATA_DIR = Path("..", "data", "raw").resolve()',
        'PROCESSED_DATA_DIR = Path("..", "data", "processed").resolve()',
    ]


def notebook_text(nb: Any) -> str:
    """The notebook as Jupyter writes it (nbformat's JSON writer: sources split into lines,
    sorted keys, one-space indent, Unicode as itself), with a final newline."""
    if any(cell.get("attachments") or cell.get("outputs") for cell in nb["cells"]):
        import nbformat  # mimebundles have more rules; only a project's own template has them

        return str(nbformat.writes(nbformat.from_dict(nb))) + "\n"
    cells = [
        {**cell, "source": cell["source"].splitlines(True)}
        if isinstance(cell["source"], str)
        else cell
        for cell in nb["cells"]
    ]
    text = json.dumps(
        {**nb, "cells": cells},
        sort_keys=True,
        indent=1,
        separators=(",", ": "),
        ensure_ascii=False,
    )
    return text + "\n"


# -- project template override --------------------------------------------------------------


def from_override(path: Path, values: dict[str, str], where: str = OVERRIDE.as_posix()) -> Any:
    """The project's notebook template with ``{{ name }}`` placeholders filled in."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for a bad file
        raise ScaffoldError(f"{where} is not a readable notebook ({error}).") from None

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                known = ", ".join(sorted(values))
                raise ScaffoldError(
                    f"{where} uses the unknown placeholder {{{{ {key} }}}}; known: {known}."
                )
            return values[key]

        return PLACEHOLDER.sub(one, text)

    nb.metadata.setdefault("kernelspec", dict(KERNELSPEC))
    nb.metadata.setdefault("language_info", dict(LANGUAGE_INFO))
    nb.nbformat_minor = max(int(nb.get("nbformat_minor", 5)), 5)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells, start=1):
        cell.source = fill(cell.source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            cell_id = f"cell-{index}"
        cell["id"] = cell_id
        seen.add(cell_id)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        raise ScaffoldError(f"{where} is not a valid notebook: {error.message}.") from None
    return nb


# -- the command ----------------------------------------------------------------------------


def run_command(root: Path, stem: str) -> str:
    """How the project's README says to run one notebook: its Makefile target, else scaffold."""
    makefile = root / "Makefile"
    try:
        has_target = re.search(r"^notebook:", makefile.read_text(encoding="utf-8"), re.MULTILINE)
    except OSError:
        has_target = None
    return f"make notebook NB={stem}" if has_target else f"scaffold run {stem}"


def add_notebook(
    project: Project,
    description: str,
    *,
    phase: int | None = None,
    author: str | None = None,
    production: bool = False,
    dry_run: bool = False,
) -> NotebookAdded:
    """Create the next notebook in ``notebooks/`` (and, for production, register it).

    Never overwrites: the number is chosen under a project lock and the file created
    exclusively. With ``dry_run`` nothing is written; the changes say what would be.
    """
    title, slug = check_description(description)
    initials = check_initials(author) if author is not None else default_initials(project)
    package = find_package(project)
    colab = project_colab(project)
    root = project.root
    with nullcontext() if dry_run else project_lock(root):
        number_phase, seq = next_number(root, phase)
        stem = f"{number_phase}.{seq}-{initials}-{slug}"
        override = root / OVERRIDE
        if override.is_file():
            values = {
                "stem": stem,
                "title": title,
                "description": description.strip(),
                "slug": slug,
                "initials": initials,
                "phase": str(number_phase),
                "seq": seq,
                "module": package.name if package else "",
                "params_file": f"{PARAMS_DIR}/{stem}.yaml",
                "report": f"{REPORTS_DIR}/{stem}.ipynb",
                "run_command": run_command(root, stem),
            }
            nb = from_override(override, values)
            if colab and not {"colab-badge", "colab-setup"} & {cell.get("id") for cell in nb.cells}:
                nb.cells[:0] = colab_cells(colab, f"{NOTEBOOKS_DIR}/{stem}.ipynb")
        else:
            nb = build_notebook(
                stem,
                title=title,
                purpose=GENERIC_PURPOSE,
                imports=generic_imports(package),
                parameters=GENERIC_PARAMETERS,
                body=GENERIC_BODY,
                code_folder=relative(package.folder, root) + "/" if package else None,
                run_command=run_command(root, stem),
                production=production,
                colab=colab,
            )
        writes = [Write(root / NOTEBOOKS_DIR / f"{stem}.ipynb", notebook_text(nb))]
        if production:
            from scaffold import pipeline

            source = params.cell_source(nb["cells"])
            if source is None:
                raise ScaffoldError(
                    f"{OVERRIDE.as_posix()} has no cell tagged 'parameters'; a production "
                    "notebook needs one (papermill injects the parameters after it)."
                )
            found = params.parse(source, f"the parameters cell of {OVERRIDE.as_posix()}")
            writes += pipeline.production_writes(root, stem, found, code_deps(root, package))
        if not dry_run:
            apply(writes)
    return NotebookAdded(stem, changes(writes, root))
