"""An existing project: find its root from any folder inside it and read its recorded answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scaffold.errors import ScaffoldError
from scaffold.files import read_text
from scaffold.layout import DATA_DIR, NOTEBOOKS_DIR

ANSWERS_FILE = ".copier-answers.yml"
# Any of these at a folder's top level marks a project root (recorded answers first).
ROOT_MARKERS = (ANSWERS_FILE, "pyproject.toml", "setup.py", "setup.cfg")
CCDS_FOLDERS = (NOTEBOOKS_DIR, DATA_DIR)


@dataclass(frozen=True)
class Project:
    """A project made from our template (or one laid out like cookiecutter-data-science)."""

    root: Path
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def recorded(self) -> bool:
        """True when the project has scaffold's recorded answers."""
        return bool(self.answers)


def find_root(start: Path | None = None) -> Path:
    """Walk up from ``start`` (default: cwd) to the nearest project root."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ANSWERS_FILE).is_file():
            return folder
        if any((folder / marker).is_file() for marker in ROOT_MARKERS) and any(
            (folder / name).is_dir() for name in CCDS_FOLDERS
        ):
            return folder
    raise ScaffoldError(
        f"{here} is not inside a project (no {ANSWERS_FILE}, or pyproject.toml beside "
        "notebooks/ or data/, in it or any parent folder)."
    )


def read_answers(root: Path) -> dict[str, str]:
    """The answers recorded in ``root`` (empty when the project has none)."""
    path = root / ANSWERS_FILE
    if not path.is_file():
        return {}
    text = read_text(path, root)
    data = _scalar_lines(text)
    if data is None:
        import yaml  # a file copier or a person wrote; 70 ms of import, so only then

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ScaffoldError(f"{path} is not valid YAML; fix or remove it.") from error
    if not isinstance(data, dict):
        raise ScaffoldError(f"{path} must be a mapping of option: value.")
    return {
        str(key): "" if value is None else join_surrogates(str(value))
        for key, value in data.items()
    }


def _scalar_lines(text: str) -> dict[str, object] | None:
    """The answers of a file in the format scaffold's hook writes when every one is a JSON
    string (YAML reads those as the same strings); None for any other YAML, numbers included
    (YAML 1.1 reads some of them differently)."""
    from scaffold.resources import PACKAGED_TEMPLATE

    data = PACKAGED_TEMPLATE.template_source.read_answers(text)
    if not data or not all(isinstance(value, str) for value in data.values()):
        return None
    return data


def join_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined into the characters they stand for.

    Answers files written before scaffold wrote emoji as themselves hold ``"\\ud83d\\ude80"``,
    which YAML reads as two lone surrogates; a lone surrogate left over becomes U+FFFD."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def open_project(start: Path | None = None) -> Project:
    """The project containing ``start`` (default: cwd), with its recorded answers."""
    root = find_root(start)
    return Project(root=root, answers=read_answers(root))
