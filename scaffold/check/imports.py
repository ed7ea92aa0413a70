"""Which distribution an import comes from, and whether the project declares it.

An import name is fine when it is

1. in the standard library (``sys.stdlib_module_names``), or ``__future__``;
2. the project's own package, a top-level module in ``src/``, or a ``.py`` file / package
   beside the notebook (local code);
3. provided by a declared distribution: ``[project] dependencies``, every
   ``[project.optional-dependencies]`` extra and ``[dependency-groups]`` of pyproject.toml, and
   ``requirements*.txt`` at the root, if any.

An import is also fine when the kernel provides it (``IPython``, ``ipykernel``...), when it
exists only in a hosted runtime (``google.colab``, ``kaggle_secrets``), when the notebook
writes the module itself, or reaches it through a ``sys.path`` edit, or when it is guarded
(``try``/``except ImportError``, ``if IN_COLAB:``); those are decided in ``notebook.py``.

"Provided by" is decided, first match wins, by the project's environment (the one
``scaffold run`` uses: ``importlib.metadata`` over its ``site-packages``, as
``packages_distributions()`` does, without starting it), then ``ALIASES`` (checked by hand),
then pipreqs' mapping (vendored in ``data/``). A name none of them knows is reported as
unknown: the import name is never taken for a distribution name, which could install a wrong
or squatted package. A project that declares nothing (no pyproject.toml dependencies, no
requirements file) is not checked.
"""

from __future__ import annotations

import functools
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scaffold.check.model import read_toml

# Import names whose distribution differs from them, checked by hand against each project's
# own docs; consulted before pipreqs' mapping (which lacks several of these). A dotted key is
# for namespace packages, where the top-level name says nothing (``google``).
ALIASES: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "sksurv": ("scikit-survival",),
    "imblearn": ("imbalanced-learn",),
    "surprise": ("scikit-surprise",),
    "autosklearn": ("auto-sklearn",),
    "grpc": ("grpcio",),
    "iris": ("scitools-iris",),
    "googleapiclient": ("google-api-python-client",),
    "tensorflow_serving": ("tensorflow-serving-api",),
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
    "PIL": ("pillow",),
    "yaml": ("pyyaml",),
    "pkg_resources": ("setuptools",),
    "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",),
    "dotenv": ("python-dotenv",),
    "jose": ("python-jose",),
    "attr": ("attrs",),
    "mpl_toolkits": ("matplotlib",),
    "pylab": ("matplotlib",),
    "Bio": ("biopython",),
    "OpenSSL": ("pyopenssl",),
    "serial": ("pyserial",),
    "slugify": ("python-slugify",),
    "magic": ("python-magic",),
    "jwt": ("pyjwt",),
    "git": ("gitpython",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "umap": ("umap-learn",),
    "Levenshtein": ("levenshtein", "python-levenshtein"),
    "docx": ("python-docx",),
    "pptx": ("python-pptx",),
    "fitz": ("pymupdf",),
    "zmq": ("pyzmq",),
    "osgeo": ("gdal",),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "tf_keras": ("tf-keras",),
    "keras_tuner": ("keras-tuner",),
    "gym": ("gym", "gymnasium"),
    "google.protobuf": ("protobuf",),
    "google.cloud.storage": ("google-cloud-storage",),
    "google.cloud.bigquery": ("google-cloud-bigquery",),
    "google.cloud.aiplatform": ("google-cloud-aiplatform",),
    "google.auth": ("google-auth",),
    "google.oauth2": ("google-auth",),
    "google.api_core": ("google-api-core",),
    "google.generativeai": ("google-generativeai",),
}
# Provided by the kernel that runs every notebook (ipykernel and what it imports).
KERNEL_PROVIDED = frozenset(
    {"IPython", "ipykernel", "comm", "traitlets", "jupyter_client", "jupyter_core",
     "matplotlib_inline"}
)  # fmt: skip
# Provided only by a hosted runtime, with no distribution to declare.
RUNTIME_ONLY = ("google.colab", "kaggle_secrets", "kaggle_datasets", "kaggle_web_client",
                "pyodide", "js", "micropip")  # fmt: skip
NAMESPACES = frozenset({"google", "azure", "jaraco", "backports", "zope", "sphinxcontrib"})
MAPPING_FILE = Path(__file__).parent / "data" / "pipreqs-mapping.txt"
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


@functools.cache
def pipreqs_mapping() -> dict[str, tuple[str, ...]]:
    """pipreqs' import-name -> distribution table (vendored; see the file's header)."""
    found: dict[str, list[str]] = defaultdict(list)
    try:
        lines = MAPPING_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in lines:
        name, _, distribution = line.partition(":")
        if distribution and not line.startswith("#"):
            found[name.strip()].append(normalise(distribution.strip()))
    return {name: tuple(dict.fromkeys(names)) for name, names in found.items()}


def provided(module: str) -> bool:
    """True for a module the kernel or a hosted runtime provides (never to declare)."""
    top = module.split(".")[0]
    return top in KERNEL_PROVIDED or any(
        module == name or module.startswith(name + ".") for name in RUNTIME_ONLY
    )


def distributions(module: str, installed: dict[str, set[str]] | None) -> tuple[str, ...]:
    """The distributions that provide ``module`` (dotted), best first; () when unknown.

    First the project's environment, then ALIASES, then pipreqs' mapping. Never a guess: the
    import name itself is not taken for a distribution name.
    """
    top = module.split(".")[0]
    if top in NAMESPACES:
        parts = module.split(".")
        keys = [".".join(parts[:n]) for n in range(len(parts), 1, -1)]
        return next((ALIASES[key] for key in keys if key in ALIASES), ())
    found = sorted((installed or {}).get(top, ()))
    found += ALIASES.get(top, ())
    found += pipreqs_mapping().get(top, ())
    return tuple(dict.fromkeys(normalise(name) for name in found))


def missing(
    module: str,
    wanted: set[str],
    local: set[str],
    installed: dict[str, set[str]] | None,
) -> tuple[str, ...] | None:
    """The distributions to declare for ``module`` (dotted); ``()`` when it is fine (stdlib,
    local, provided, declared); None when it is not declared and its distribution unknown."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__" or top in local:
        return ()
    if provided(module) or normalise(top) in wanted:
        return ()
    candidates = distributions(module, installed)
    if any(candidate in wanted for candidate in candidates):
        return ()
    return candidates or None
