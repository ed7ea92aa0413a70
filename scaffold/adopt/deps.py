"""Dependencies: every import of the notebooks and moved modules, mapped to distributions by
``scaffold check``'s machinery (scaffold.check.imports), merged with the old dependency files
(requirements*.txt, environment.yml, Pipfile, pyproject.toml) into pyproject.toml."""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from scaffold.adopt import code
from scaffold.adopt.survey import DATA, DEPENDENCIES, MODULE, PACKAGE

if TYPE_CHECKING:
    from scaffold.adopt.plan import Plan

# Names in old dependency files that are not the project's dependencies.
_NOT_DEPENDENCIES = {"python", "pip", "jupyter", "notebook", "jupyterlab", "ipykernel", "ipython"}
_CONDA_ONLY = {"nb_conda", "nb-conda", "conda", "anaconda", "mkl", "libgcc", "setuptools", "wheel"}


def old_requirements(root: Path, paths: list[str]) -> dict[str, str]:
    """Normalised name -> requirement, from the old dependency files (exact pins become
    lower bounds: the newest versions that satisfy them are tried first)."""
    from packaging.requirements import InvalidRequirement, Requirement

    from scaffold.check.imports import normalise

    found: dict[str, str] = {}
    for path in paths:
        for line in _lines(root / path):
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            name = normalise(requirement.name)
            if name in _NOT_DEPENDENCIES or name in _CONDA_ONLY:
                continue
            specifier = str(requirement.specifier).replace("==", ">=")
            if "*" in specifier:
                specifier = ""
            found.setdefault(name, f"{requirement.name}{specifier}")
    return found


def _lines(path: Path) -> list[str]:
    """Requirement strings of one dependency file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if path.name.startswith("requirements"):
        return [
            line.split("#", 1)[0].strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "-", "git+", "http"))
        ]
    if path.suffix in (".yml", ".yaml"):
        return _conda(text)
    if path.name in ("Pipfile", "pyproject.toml"):
        return _toml(path)
    return []


def _conda(text: str) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    out: list[str] = []
    for item in (data or {}).get("dependencies", []) if isinstance(data, dict) else []:
        if isinstance(item, dict):
            out.extend(str(entry) for entry in item.get("pip", []) or [])
        elif isinstance(item, str):
            name = item.split("::")[-1]
            match = re.match(r"^([A-Za-z0-9_.-]+)\s*=?=?\s*([0-9][^=\s]*)?", name)
            if match:
                out.append(match.group(1) + (f">={match.group(2)}" if match.group(2) else ""))
    return out


def _toml(path: Path) -> list[str]:
    from scaffold.check.model import read_toml

    data = read_toml(path)
    if path.name == "Pipfile":
        packages = data.get("packages", {})
        return [
            name + (version if isinstance(version, str) and version != "*" else "")
            for name, version in (packages.items() if isinstance(packages, dict) else [])
        ]
    project = data.get("project", {})
    listed = project.get("dependencies", []) if isinstance(project, dict) else []
    return [str(item) for item in listed] if isinstance(listed, list) else []


def imported_modules(plan: Plan, analysed: dict[str, code.Code]) -> set[str]:
    """Top-level import names of the notebooks and the moved modules."""
    names: set[str] = set()
    for found in analysed.values():
        names |= found.modules
    for entry in plan.entries:
        if entry.kind in (MODULE, PACKAGE) and entry.path.endswith(".py"):
            found = code.Code()
            try:
                code.analyse_source(found, 0, (plan.root / entry.path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
            names |= found.modules
    return names


def declare(plan: Plan, analysed: dict[str, code.Code]) -> None:
    """Fill ``plan.dependencies`` and write them into pyproject.toml (merged with the old one)."""
    from scaffold.check import imports

    local = {e.module for e in plan.entries if e.kind in (MODULE, PACKAGE)}
    local |= {plan.package, "src"}
    installed = imports.environment_map(imports.site_packages(Path(sys.executable)))
    wanted = old_requirements(plan.root, [e.path for e in plan.entries if e.kind == DEPENDENCIES])
    for module in sorted(imported_modules(plan, analysed)):
        candidates = imports.missing(module, set(), local, installed)
        if candidates == ():
            continue
        if candidates is None:  # no mapping knows it: the import name, which uv's resolution
            candidates = (module.split(".")[0],)  # below drops (and lists) when the index lacks it
        chosen = _choose(module, candidates, installed)
        if any(imports.normalise(c) in wanted for c in candidates):
            continue
        wanted[imports.normalise(chosen)] = chosen
    wanted.setdefault("python-dotenv", "python-dotenv")  # the package's config.py loads .env
    if "pandas" in wanted:
        _engines(plan, wanted)
    plan.dependencies = sorted(wanted.values(), key=str.lower)
    resolve(plan)
    plan.writes["pyproject.toml"] = merged_pyproject(plan)


# The libraries pandas reads (and writes) a file type with: imported by pandas, never by the
# notebook, so no import names them.
ENGINES = {
    ".xls": "xlrd python-calamine",  # pandas 3 reads .xls with calamine, older ones with xlrd
    ".xlsx": "openpyxl",
    ".xlsm": "openpyxl",
    ".ods": "odfpy",
    ".parquet": "pyarrow",
    ".pq": "pyarrow",
    ".feather": "pyarrow",
    ".arrow": "pyarrow",
    ".orc": "pyarrow",
    ".h5": "tables",
    ".hdf5": "tables",
    ".hdf": "tables",
}


def _engines(plan: Plan, wanted: dict[str, str]) -> None:
    """Add the engines pandas needs for the repository's data files."""
    for entry in plan.entries:
        if entry.kind != DATA:
            continue
        suffix = PurePosixPath(entry.path).suffix.lower()
        for engine in ENGINES.get(suffix, "").split():
            if engine not in wanted:
                wanted[engine] = engine
                plan.notes.append(f"{engine} declared: pandas reads the {suffix} files with it")


def _choose(module: str, candidates: tuple[str, ...], installed: dict[str, set[str]]) -> str:
    """The distribution for an import: a well-known alias, what provides it here, its name."""
    from scaffold.check.imports import ALIASES

    if module in ALIASES:
        return ALIASES[module][0]
    provided = sorted(installed.get(module, ()))
    return provided[0] if len(provided) == 1 else candidates[-1]


def merged_pyproject(plan: Plan) -> str:
    """The template's pyproject.toml with these dependencies, or the old one with the
    template's tables added where it has none (its own values are kept)."""
    import tomlkit

    assert plan.render is not None
    template: Any = tomlkit.parse((plan.render / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = tomlkit.array()
    dependencies.extend(plan.dependencies)
    dependencies.multiline(True)
    mine_path = plan.root / "pyproject.toml"
    if not mine_path.is_file():
        template["project"]["dependencies"] = dependencies
        plan.added.append("pyproject.toml")
        return tomlkit.dumps(template)
    mine: Any = tomlkit.parse(mine_path.read_text(encoding="utf-8"))
    changes = []
    for key in ("build-system", "project"):
        if key not in mine:
            mine[key] = template[key]
            changes.append(f"[{key}] added")
    project = mine["project"]
    project["dependencies"] = dependencies
    changes.append(f"dependencies set to {len(plan.dependencies)} requirements")
    extras = project.setdefault("optional-dependencies", tomlkit.table())
    if "dev" not in extras:
        extras["dev"] = template["project"]["optional-dependencies"]["dev"]
        changes.append("the dev extra added")
    tools = mine.setdefault("tool", tomlkit.table(is_super_table=True))
    for name, table in template.get("tool", {}).items():
        if name not in tools:
            tools[name] = table
            changes.append(f"[tool.{name}] added")
    plan.merged["pyproject.toml"] = "; ".join(changes)
    return tomlkit.dumps(mine)


_NOT_FOUND = re.compile(r"Because ([A-Za-z0-9._-]+) was not found in the package registry")


def resolve(plan: Plan, attempts: int = 10) -> None:
    """Resolve the dependencies as ``make requirements`` would install them (``uv pip
    compile``); a name the package index does not have is an unknown import, left out."""
    from scaffold import processes

    uv = processes.find_tool("uv")
    if uv is None:
        plan.notes.append("dependencies not resolved (uv is not installed)")
        return
    python = plan.answers.get("python_version", "")
    for _ in range(attempts):
        args = [uv, "pip", "compile", "--quiet", "--no-header", "-"]
        result = processes.run(
            [*args, *(["--python-version", python] if python else [])],
            input="\n".join(plan.dependencies) + "\n",
            cwd=plan.root,
            check=False,
        )
        if result.ok:
            return
        missing = _NOT_FOUND.search(result.stderr.decode("utf-8", "replace"))
        if not missing:
            plan.notes.append(f"dependencies do not resolve together: {result.message}")
            return
        name = missing.group(1).lower()
        kept = [r for r in plan.dependencies if not _same(r, name)]
        plan.unknown += [r for r in plan.dependencies if _same(r, name)]
        plan.dependencies = kept


def _same(requirement: str, name: str) -> bool:
    from scaffold.check.imports import normalise

    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return match is not None and normalise(match.group()) == normalise(name)
