"""Which distribution an import comes from, and whether the project declares it.

An import name is fine when it is

1. in the standard library (``sys.stdlib_module_names``), or ``__future__``;
2. the project's own package, a top-level module in ``src/``, or a ``.py`` file / package
   beside the notebook (local code);
3. provided by a declared distribution: ``[project] dependencies``, every
   ``[project.optional-dependencies]`` extra and ``[dependency-groups]`` of pyproject.toml, and
   ``requirements*.txt`` at the root, if any.

"Provided by" is decided, first match wins, by the project's environment (the one
``scaffold run`` uses; its ``site-packages`` is read with ``importlib.metadata`` without
starting it), then a small table of well-known aliases (``sklearn`` -> ``scikit-learn``), then
the import name itself as a distribution name (normalised as pip does: ``a_b`` == ``a-b``).
A project that declares nothing (no pyproject.toml dependencies, no requirements file) is
not checked.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scaffold.check.model import read_toml

ALIASES: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
    "PIL": ("pillow",),
    "yaml": ("pyyaml",),
    "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",),
    "dotenv": ("python-dotenv",),
    "jose": ("python-jose",),
    "attr": ("attrs",),
    "google": ("google-cloud-storage", "protobuf", "google-api-core"),
    "mpl_toolkits": ("matplotlib",),
    "pylab": ("matplotlib",),
    "IPython": ("ipython", "ipykernel", "jupyter"),
    "ipywidgets": ("ipywidgets",),
    "Bio": ("biopython",),
    "OpenSSL": ("pyopenssl",),
    "serial": ("pyserial",),
    "slugify": ("python-slugify",),
    "magic": ("python-magic",),
    "jwt": ("pyjwt",),
    "git": ("gitpython",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "torch": ("torch",),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost",),
    "statsmodels": ("statsmodels",),
    "umap": ("umap-learn",),
    "Levenshtein": ("python-levenshtein", "levenshtein"),
    "docx": ("python-docx",),
    "pptx": ("python-pptx",),
    "fitz": ("pymupdf",),
    "zmq": ("pyzmq",),
    "osgeo": ("gdal",),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: Iterable[Any]) -> set[str]:
    found = set()
    for requirement in requirements:
        if isinstance(requirement, str):
            match = _REQUIREMENT.match(requirement)
            if match:
                found.add(normalise(match.group(1)))
    return found


def _groups(table: Any) -> list[Any]:
    """The requirement lists of a table of groups (extras, dependency groups)."""
    if not isinstance(table, dict):
        return []
    return [group if isinstance(group, list) else [] for group in table.values()]


def _pyproject_lists(data: dict[str, Any]) -> tuple[list[Any], set[str]]:
    """pyproject.toml's requirement lists (one per declaration), and the project's own name."""
    project = data.get("project", {})
    lists: list[Any] = []
    own: set[str] = set()
    if isinstance(project, dict):
        if "dependencies" in project:
            lists.append(project.get("dependencies") or [])
        lists.extend(_groups(project.get("optional-dependencies") or {}))
        if project.get("name"):
            own.add(normalise(str(project["name"])))
    lists.extend(_groups(data.get("dependency-groups") or {}))
    return lists, own


def declared(root: Path) -> set[str] | None:
    """The normalised distribution names the project declares (None: it declares nothing)."""
    lists: list[Any] = []
    names: set[str] = set()
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        lists, names = _pyproject_lists(read_toml(pyproject))
    for requirements in sorted(root.glob("requirements*.txt")):
        try:
            lists.append(requirements.read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError):
            lists.append([])  # declared, if unreadable
    for requirement_list in lists:
        names |= _names(requirement_list)
    return names if lists else None


def site_packages(python: Path) -> list[Path]:
    """The ``site-packages`` folders of the environment that ``python`` belongs to."""
    prefix = python.parent.parent
    return sorted([*prefix.glob("lib/python3*/site-packages"), *prefix.glob("Lib/site-packages")])


def environment_map(folders: Iterable[Path]) -> dict[str, set[str]]:
    """Import name -> normalised distribution names, as installed in ``folders``."""
    from importlib import metadata

    mapping: dict[str, set[str]] = defaultdict(set)
    for distribution in metadata.distributions(path=[str(folder) for folder in folders]):
        name = distribution.metadata["Name"]
        if not name:
            continue
        top = distribution.read_text("top_level.txt")
        if top:
            tops = {line.strip() for line in top.splitlines() if line.strip()}
        else:
            tops = {
                part.split("/")[0].removesuffix(".py")
                for part in (str(file) for file in distribution.files or [])
                if not part.startswith(("..", "__pycache__")) and ".dist-info" not in part
            }
        for top_name in tops:
            if top_name.isidentifier():
                mapping[top_name].add(normalise(name))
    return mapping


def local_modules(root: Path, folder: Path) -> set[str]:
    """Import names that are the project's own code (``src/``, the root, the notebook's folder)."""
    names = set()
    for place in (root / "src", root, folder):
        for child in place.glob("*.py"):
            names.add(child.stem)
        for child in place.glob("*/__init__.py"):
            names.add(child.parent.name)
    if (root / "src" / "__init__.py").is_file():
        names.add("src")
    return names


def missing(
    module: str,
    wanted: set[str],
    local: set[str],
    installed: dict[str, set[str]] | None,
) -> tuple[str, ...]:
    """The distributions to declare for ``module``; empty when it is stdlib, local or declared."""
    if module in sys.stdlib_module_names or module == "__future__" or module in local:
        return ()
    candidates = [
        *sorted((installed or {}).get(module, ())),
        *ALIASES.get(module, ()),
        normalise(module),
    ]
    if any(normalise(candidate) in wanted for candidate in candidates):
        return ()
    return tuple(dict.fromkeys(candidates))
