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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.files import Write, read_text
from scaffold.layout import NOTEBOOKS_DIR, PARAMS_DIR, REPORTS_DIR
from scaffold.parameters import Parameter

DVC_YAML = "dvc.yaml"
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
    old = read_text(dvc_yaml, root) if dvc_yaml.is_file() else None
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
    path = root / DVC_YAML
    if not path.is_file():
        return []
    stages = _dvc_stages(path, root)
    found = (_pipeline_notebook(str(name), stage) for name, stage in (stages or {}).items())
    return [notebook for notebook in found if notebook is not None]


def _dvc_stages(path: Path, root: Path) -> Any:
    """What ``stages:`` of the ``dvc.yaml`` at ``path`` holds (None when it has no such key)."""
    import yaml

    try:
        data = yaml.safe_load(read_text(path, root)) or {}
    except yaml.YAMLError as error:
        raise ScaffoldError(f"dvc.yaml is not valid YAML ({_problem(error)}); fix it.") from None
    return data.get("stages") if isinstance(data, dict) else None


def _pipeline_notebook(name: str, stage: Any) -> PipelineNotebook | None:
    """The notebook that a stage runs with papermill, or None for any other stage."""
    command = stage.get("cmd") if isinstance(stage, dict) else None
    if isinstance(command, list):
        command = " && ".join(str(part) for part in command)
    if not isinstance(command, str) or "papermill" not in command:
        return None
    try:
        words = shlex.split(command.split("papermill", 1)[1])
    except ValueError:
        return None
    notebooks = [word for word in words if word.endswith(".ipynb")]
    if len(notebooks) < 2:
        return None
    flags = ("-f", "--parameters_file")
    params = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in flags), None)
    return PipelineNotebook(name, notebooks[0], notebooks[1], params)


# -- the whole pipeline, for exporters: every stage, its papermill call, its deps and outs ----


@dataclass(frozen=True)
class PapermillCall:
    """What a ``papermill`` stage command asks for; paths relative to the project root."""

    notebook: str
    report: str
    params: str | None  # -f
    cwd: str  # --cwd (the stage's wdir when not given)
    kernel: str | None  # -k (None: the notebook's own kernelspec)
    language: str | None  # -l
    inline: dict[str, Any]  # -y, -p, -r, merged in papermill's order


@dataclass(frozen=True)
class Stage:
    """One ``dvc.yaml`` stage; paths relative to the project root, with forward slashes."""

    name: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    papermill: PapermillCall | None  # None: not a single papermill command


# papermill options that take a value and change nothing a run depends on.
_IGNORED_VALUE_OPTIONS = {"--log-level", "--autosave-cell-every", "--start-timeout"}
_IGNORED_VALUE_OPTIONS |= {"--start_timeout", "--execution-timeout"}
_IGNORED_FLAGS = {
    "--progress-bar",
    "--no-progress-bar",
    "--log-output",
    "--no-log-output",
    "--report-mode",
    "--no-report-mode",
    "--request-save-on-cell-execute",
    "--no-request-save-on-cell-execute",
    "--prepare-execute",
}
# papermill options with one value that a run keeps (-f, --cwd, -k, -l), and their short forms
_VALUE_OPTIONS = ("-f", "--parameters_file", "--cwd", "-k", "--kernel", "-l", "--language")
_SHORT = {"--parameters_file": "-f", "--kernel": "-k", "--language": "-l"}
_VALUE_COUNTS = {
    **dict.fromkeys(_IGNORED_VALUE_OPTIONS, 1),
    **dict.fromkeys(_VALUE_OPTIONS, 1),
    **dict.fromkeys(("-y", "--parameters_yaml"), 1),
    **dict.fromkeys(("-p", "--parameters", "-r", "--parameters_raw"), 2),
}
_SHELL_WORDS = {"&&", "||", ";", "|", "&", ">", ">>", "<", "2>", "2>&1"}


def pipeline_stages(root: Path) -> list[Stage]:
    """Every stage of ``root/dvc.yaml`` in file order; raise ScaffoldError for what cannot be
    read (no file, bad YAML, templated stages, paths outside the project)."""
    path = root / DVC_YAML
    if not path.is_file():
        raise ScaffoldError(
            "no dvc.yaml in the project; register a notebook with "
            "scaffold add notebook --production DESCRIPTION."
        )
    stages = _dvc_stages(path, root)
    if not isinstance(stages, dict) or not stages:
        raise ScaffoldError("dvc.yaml has no stages; nothing to export.")
    return [_read_stage(str(name), stage) for name, stage in stages.items()]


def _read_stage(name: str, stage: Any) -> Stage:
    if not isinstance(stage, dict):
        raise ScaffoldError(f"stage {name} in dvc.yaml is not a mapping; fix it.")
    if "foreach" in stage or "matrix" in stage:
        raise ScaffoldError(
            f"stage {name} uses foreach/matrix, which scaffold cannot export; write it out as "
            "plain stages."
        )
    command = stage.get("cmd")
    if isinstance(command, list) and len(command) == 1:
        command = command[0]
    if isinstance(command, list):
        command = " && ".join(str(part) for part in command)
    if not isinstance(command, str) or not command.strip():
        raise ScaffoldError(f"stage {name} in dvc.yaml has no cmd; fix it.")
    if "${" in command:
        raise ScaffoldError(
            f"stage {name} uses ${{...}} templating in its cmd, which scaffold cannot export."
        )
    wdir = _inside(".", str(stage.get("wdir", ".")), name)
    deps = tuple(_inside(wdir, dep, name) for dep in _paths(stage.get("deps"), name, "deps"))
    outs = tuple(_inside(wdir, out, name) for out in _paths(stage.get("outs"), name, "outs"))
    call = _papermill_call(name, command, wdir)
    return Stage(name, command.strip(), wdir, deps, outs, call)


def _paths(entries: Any, name: str, key: str) -> list[str]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ScaffoldError(f"`{key}:` of stage {name} in dvc.yaml must be a list; fix it.")
    found = []
    for entry in entries:
        if isinstance(entry, dict) and len(entry) == 1:  # - path: {cache: false}
            entry = next(iter(entry))
        if not isinstance(entry, str):
            raise ScaffoldError(f"`{key}:` of stage {name} in dvc.yaml lists {entry!r}; fix it.")
        found.append(entry)
    return found


def _inside(wdir: str, path: str, stage: str) -> str:
    import posixpath

    joined = posixpath.normpath(posixpath.join(wdir, path.replace("\\", "/")))
    if posixpath.isabs(path) or joined == ".." or joined.startswith("../"):
        raise ScaffoldError(f"stage {stage} names {path!r}, which is outside the project.")
    return joined


def _papermill_call(name: str, command: str, wdir: str) -> PapermillCall | None:
    """What a stage's ``cmd`` asks papermill for; None when it is not one papermill command."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if any(word in _SHELL_WORDS for word in words):
        return None
    start = _papermill_start(words)
    if start is None:
        return None
    args = _read_papermill_args(name, words[start:])
    if len(args.positional) != 2:
        raise ScaffoldError(
            f"stage {name}: expected `papermill INPUT.ipynb OUTPUT.ipynb ...`, got {command!r}."
        )
    merged: dict[str, Any] = {}
    for text in args.yaml_texts:
        merged.update(_yaml_mapping(text, name))
    merged.update(args.inline)
    params = args.values.get("-f")
    return PapermillCall(
        notebook=_inside(wdir, args.positional[0], name),
        report=_inside(wdir, args.positional[1], name),
        params=_inside(wdir, params, name) if params else None,
        cwd=_inside(wdir, args.values.get("--cwd", "."), name),
        kernel=args.values.get("-k"),
        language=args.values.get("-l"),
        inline=merged,
    )


def _papermill_start(words: Sequence[str]) -> int | None:
    """Where papermill's arguments start: after ``papermill`` (or a path to it) as the command,
    or after ``-m``, ``run`` or ``exec`` (``python -m papermill``, ``uv run papermill``)."""
    return next(
        (
            i + 1
            for i, word in enumerate(words[:4])
            if word.rsplit("/", 1)[-1] == "papermill"
            and (i == 0 or words[i - 1] in ("-m", "run", "exec"))
        ),
        None,
    )


@dataclass
class _PapermillArgs:
    """papermill's command line, read: the paths, the one-value options, the parameters."""

    positional: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # -f, --cwd, -k, -l
    inline: dict[str, Any] = field(default_factory=dict)  # -p and -r, in order
    yaml_texts: list[str] = field(default_factory=list)  # -y

    def add(self, name: str, word: str, option: str, taken: list[str]) -> None:
        """Take one word of the command line, with the values its option ``taken``."""
        if not word.startswith("-") or word == "-":
            self.positional.append(word)
        elif option in _VALUE_OPTIONS:
            self.values[_SHORT.get(option, option)] = taken[0]
        elif option in ("-y", "--parameters_yaml"):
            self.yaml_texts.append(taken[0])
        elif option in ("-p", "--parameters"):
            self.inline[taken[0]] = _papermill_type(taken[1])
        elif option in ("-r", "--parameters_raw"):
            self.inline[taken[0]] = taken[1]
        elif option not in _IGNORED_VALUE_OPTIONS and option not in _IGNORED_FLAGS:
            raise ScaffoldError(
                f"stage {name}: scaffold cannot export papermill's {option} option; run that "
                "stage another way or drop the option."
            )


def _read_papermill_args(name: str, args: Sequence[str]) -> _PapermillArgs:
    """Read papermill's arguments as its command line does (``--option=value`` too)."""
    read = _PapermillArgs()
    index = 0
    while index < len(args):
        word = args[index]
        option, equals, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        given = [attached] if equals else []
        count = _VALUE_COUNTS.get(option, 0)
        taken = given + list(args[index + 1 : index + 1 + count - len(given)])
        if len(taken) < count:
            raise ScaffoldError(f"stage {name}: papermill {option} lacks its value.")
        index += 1 + count - len(given)
        read.add(name, word, option, taken)
    return read


def _papermill_type(raw: str) -> Any:
    """A ``-p`` value the way papermill's command line reads it."""
    constants: dict[str, Any] = {"True": True, "False": False, "None": None}
    if raw in constants:
        return constants[raw]
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _yaml_mapping(text: str, name: str) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None
    if not isinstance(loaded, dict):
        raise ScaffoldError(f"stage {name}: papermill -y must be a YAML mapping.")
    return {str(key): value for key, value in loaded.items()}
