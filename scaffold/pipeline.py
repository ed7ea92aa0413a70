"""Production notebooks: one parameters file and one ``dvc.yaml`` stage each.

Conventions (the same as the template's first notebook, the Makefile and the README):

- parameters file ``params/<stem>.yaml`` (papermill ``-f``; exactly the notebook's parameters);
- stage ``<stem with . -> _>`` running ``papermill --no-progress-bar --cwd notebooks``
  into ``reports/<stem>.ipynb``, with the notebook and the project package as deps and the
  whole parameters file as params.

``dvc.yaml`` is edited as text: a new stage block is inserted at the end of ``stages:``, so
existing stages, comments and formatting stay exactly as they were. The result is parsed back
and checked (old stages unchanged, new stage as intended) before anything is written.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.files import Write
from scaffold.parameters import Parameter

DVC_YAML = "dvc.yaml"
PARAMS_DIR = "params"
REPORTS_DIR = "reports"
NOTEBOOKS_DIR = "notebooks"
RAW_DATA_DIR = "data/raw"
# The kernel every run uses: the ipykernel of the environment running papermill, whatever
# kernel the notebook was saved with (a `make kernel` name exists only where it was run).
KERNEL = "python3"

DVC_YAML_HEADER = """\
# Pipeline: each notebook stage runs a notebook top to bottom with papermill and its parameters
# file, writing the executed copy to reports/. `dvc repro` re-runs a stage only when its notebook,
# the project code, the raw data or its parameters changed. `-k python3` runs the notebook in the
# project's environment whatever kernel it was saved with; the executed copy is not cached or
# pushed (`cache: false`, git ignores it): `dvc repro` makes it again, and `dvc pull` skips it.
"""
_STAGES_LINE = re.compile(r"^stages:[ \t]*(?P<empty>\{[ \t]*\})?[ \t]*(?:#.*)?$", re.MULTILINE)
_TOP_LEVEL = re.compile(r"^[^\s#]")


def stage_name(stem: str) -> str:
    """The DVC stage of a notebook: its stem with ``.`` -> ``_`` (DVC allows letters, digits,
    ``_`` and ``-``)."""
    name = stem.replace(".", "_")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ScaffoldError(f"{stem!r} cannot name a DVC stage (letters, digits, _ and - only).")
    return name


def parameters_file_text(stem: str, parameters: Sequence[Parameter]) -> str:
    """The parameters file of notebook ``stem``: the notebook's defaults, with their comments."""
    lines = [
        f"# papermill parameters for notebooks/{stem}.ipynb",
        "# (papermill -f; tracked by the DVC stage in dvc.yaml). Keys must match the notebook's",
        "# `parameters` cell.",
    ]
    for parameter in parameters:
        comment = f"  # {parameter.comment}" if parameter.comment else ""
        lines.append(f"{parameter.name}: {yaml_value(parameter.value)}{comment}")
    text = "\n".join(lines) + "\n"
    _check_yaml(text, {parameter.name: parameter.value for parameter in parameters})
    return text


def yaml_value(value: Any) -> str:
    """A YAML scalar (or flow collection) that reads back as ``value``."""
    import yaml

    if isinstance(value, str):
        if value and value == value.strip() and "#" not in value and "\n" not in value:
            try:
                if yaml.safe_load(f"k: {value}") == {"k": value}:
                    return value
            except yaml.YAMLError:
                pass
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def _check_yaml(text: str, expected: dict[str, Any]) -> None:
    import yaml

    loaded = yaml.safe_load(text) or {}
    if loaded != expected:
        raise ScaffoldError("a parameter value cannot be written to YAML; use plain literals.")


def stage_block(stem: str, code_deps: Sequence[str], indent: int = 2) -> str:
    """The ``dvc.yaml`` stage (indented under ``stages:``) that runs notebook ``stem``."""
    notebook = f"{NOTEBOOKS_DIR}/{stem}.ipynb"
    report = f"{REPORTS_DIR}/{stem}.ipynb"
    params = f"{PARAMS_DIR}/{stem}.yaml"
    pad = " " * indent
    lines = [
        f"{stage_name(stem)}:",
        "  cmd: >-",
        f"    papermill --no-progress-bar -k {KERNEL} --cwd {NOTEBOOKS_DIR}",
        f"    {notebook}",
        f"    {report}",
        f"    -f {params}",
        "  deps:",
        f"    - {notebook}",
        *(f"    - {dep}" for dep in code_deps),
        "  params:",
        f"    - {params}:",
        "  outs:",
        f"    - {report}:",
        "        cache: false",
    ]
    return "".join(f"{pad}{line}\n" for line in lines)


def new_dvc_yaml(block: str) -> str:
    """A whole ``dvc.yaml`` holding one stage block."""
    return f"{DVC_YAML_HEADER}stages:\n{block}"


def add_stage(text: str | None, stem: str, code_deps: Sequence[str]) -> str:
    """``dvc.yaml`` text (None: no file yet) with the stage of notebook ``stem`` added."""
    import yaml

    name = stage_name(stem)
    if text is None or not text.strip():
        return new_dvc_yaml(stage_block(stem, code_deps))
    try:
        old = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScaffoldError(f"dvc.yaml is not valid YAML ({_problem(error)}); fix it.") from None
    old = {} if old is None else old
    if not isinstance(old, dict):
        raise ScaffoldError("dvc.yaml must be a mapping with a `stages:` key; fix it first.")
    stages = old.get("stages")
    if stages is not None and not isinstance(stages, dict):
        raise ScaffoldError("`stages:` in dvc.yaml must be a mapping; fix it first.")
    if name in (stages or {}):
        raise ScaffoldError(f"dvc.yaml already has a stage named {name!r}; left it alone.")

    new = _insert_stage(text, stem, code_deps, has_stages="stages" in old)
    wanted = yaml.safe_load(new_dvc_yaml(stage_block(stem, code_deps)))["stages"][name]
    try:
        result = yaml.safe_load(new)
    except yaml.YAMLError:
        result = None
    expected = {**old, "stages": {**(stages or {}), name: wanted}}
    if result != expected:
        raise ScaffoldError(
            "could not add the stage to dvc.yaml without changing what is there (unusual "
            "layout); add it by hand:\n" + stage_block(stem, code_deps)
        )
    return new


def _insert_stage(text: str, stem: str, code_deps: Sequence[str], has_stages: bool) -> str:
    if not text.endswith("\n"):
        text += "\n"
    match = _STAGES_LINE.search(text)
    if match is None:
        if has_stages:  # e.g. `stages: {a: ...}` in flow style: not ours to rewrite
            raise ScaffoldError(
                "dvc.yaml writes `stages:` in a style scaffold does not edit; add the stage "
                "by hand:\n" + stage_block(stem, code_deps)
            )
        return f"{text}stages:\n{stage_block(stem, code_deps)}"
    if match.group("empty"):  # `stages: {}` -> `stages:`
        line = match.group(0).replace(match.group("empty"), "", 1)
        text = text[: match.start()] + line + text[match.end() :]
        match = _STAGES_LINE.search(text)
        assert match is not None
    head, body = text[: match.end() + 1], text[match.end() + 1 :]
    lines = body.splitlines(keepends=True)
    end = len(lines)  # index of the next top-level key (or the end)
    for index, line in enumerate(lines):
        if _TOP_LEVEL.match(line):
            end = index
            break
    # Insert after the last indented line of the stages block; blank lines and top-level
    # comments just before the next key stay with that key.
    last = 0
    for index in range(end):
        if lines[index].strip() and lines[index][0] in " \t":
            last = index + 1
    if end == len(lines):
        last = end
    indent = _sibling_indent(lines[:end])
    block = stage_block(stem, code_deps, indent)
    return head + "".join(lines[:last]) + block + "".join(lines[last:])


def _sibling_indent(lines: Sequence[str]) -> int:
    for line in lines:
        stripped = line.lstrip(" ")
        if stripped.strip() and not stripped.startswith("#"):
            return len(line) - len(stripped)
    return 2


def _problem(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    return f"line {mark.line + 1}" if mark is not None else "parse error"


def production_writes(
    root: Path, stem: str, parameters: Sequence[Parameter], code_deps: Sequence[str]
) -> list[Write]:
    """The parameters file and the ``dvc.yaml`` change that register notebook ``stem``."""
    params_path = root / PARAMS_DIR / f"{stem}.yaml"
    if params_path.exists():
        raise ScaffoldError(f"{PARAMS_DIR}/{stem}.yaml already exists; left it alone.")
    dvc_yaml = root / DVC_YAML
    old = dvc_yaml.read_text(encoding="utf-8") if dvc_yaml.is_file() else None
    return [
        Write(params_path, parameters_file_text(stem, parameters)),
        Write(dvc_yaml, add_stage(old, stem, code_deps), create=old is None),
    ]


@dataclass(frozen=True)
class PipelineNotebook:
    """A notebook that a ``dvc.yaml`` stage runs with papermill."""

    stage: str
    notebook: str  # relative to the project root
    report: str
    params: str | None


def pipeline_notebooks(root: Path) -> list[PipelineNotebook]:
    """The papermill stages of ``dvc.yaml``, in file order (empty when there is none)."""
    import yaml

    path = root / DVC_YAML
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ScaffoldError(f"dvc.yaml is not valid YAML ({_problem(error)}); fix it.") from None
    stages = data.get("stages") if isinstance(data, dict) else None
    found = []
    for name, stage in (stages or {}).items():
        command = stage.get("cmd") if isinstance(stage, dict) else None
        if isinstance(command, list):
            command = " && ".join(str(part) for part in command)
        if not isinstance(command, str) or "papermill" not in command:
            continue
        try:
            words = shlex.split(command.split("papermill", 1)[1])
        except ValueError:
            continue
        notebooks = [word for word in words if word.endswith(".ipynb")]
        flags = ("-f", "--parameters_file")
        params = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in flags), None)
        if len(notebooks) >= 2:
            found.append(PipelineNotebook(str(name), notebooks[0], notebooks[1], params))
    return found
