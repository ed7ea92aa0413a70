"""Render a template into a new project, all or nothing (``scaffold new`` and the renders
that ``update`` and ``adopt`` compare with).

The project is rendered (and git/DVC/pre-commit set up by the post-generation hook) inside a
hidden staging folder next to its destination, then moved into place in one rename. If any
step fails, or the user interrupts, the staging folder is removed and nothing else changed.

For the packaged template, the hooks' programs run in this process (the rules of
hooks/pre_gen_project.py, ``finish`` of hooks/post_gen_project.py) rather than as the two
Python processes each that cookiecutter starts; another template (``--template``) keeps
cookiecutter's hooks, whatever its programs are.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from scaffold.errors import ScaffoldError
from scaffold.options import template_config
from scaffold.resources import PACKAGED_TEMPLATE, Template
from scaffold.sources import Source, packaged_source

STEPS = ("git", "dvc", "pre-commit")
"""Post-generation steps that ``skip`` may name."""


def _nearest_existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


@contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """Point ``tempfile`` at ``folder`` inside this block.

    cookiecutter renders each hook into a ``NamedTemporaryFile(delete=False)`` holding the whole
    answer context and never removes it; inside the staging folder it goes away with the rest.
    """
    folder.mkdir(mode=0o700)
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _remove_bytecode(project: Path) -> None:
    """Drop ``__pycache__`` folders: pip compiles the installed template, cookiecutter copies
    the bytecode along with the sources."""
    for folder in sorted(project.rglob("__pycache__"), reverse=True):
        if ".git" not in folder.relative_to(project).parts and folder.is_dir():
            shutil.rmtree(folder)


def destination(answers: Mapping[str, str], output_dir: Path) -> Path:
    """The project folder these answers create; refuse one that already exists."""
    target = output_dir.resolve() / answers["repo_name"]
    if target.exists() or target.is_symlink():
        raise ScaffoldError(
            f"{target} already exists; choose another repo_name or output directory "
            "(scaffold never overwrites a folder)."
        )
    existing = _nearest_existing(output_dir.resolve())
    if not existing.is_dir():
        raise ScaffoldError(f"output directory {output_dir} is not a folder.")
    return target


def build_context(
    answers: Mapping[str, str],
    output_dir: Path,
    skip: Collection[str] = (),
    source: Source | None = None,
    template: Template = PACKAGED_TEMPLATE,
) -> dict[str, dict[str, object]]:
    """The cookiecutter context, as ``cookiecutter`` itself would build it for these answers
    of ``template``, plus what the project records about its template (``source``, default:
    the packaged one).
    """
    recorded = source or packaged_source()
    private = {
        key: value
        for key, value in template_config(template).items()
        if key.startswith("_") and not key.startswith("__")
    }
    template_path = str(template.template_dir)
    return {
        "cookiecutter": {
            **answers,
            **private,
            "_template": template_path,
            "_output_dir": str(output_dir.resolve()),
            "_repo_dir": template_path,
            "_checkout": None,
            "_scaffold_skip": sorted(skip),
            "_src_path": recorded.src_path,
            "_commit": recorded.commit,
        },
        "_cookiecutter": {k: v for k, v in answers.items() if not k.startswith("_")},
    }


def new_project(
    answers: Mapping[str, str],
    output_dir: Path,
    skip: Collection[str] = (),
    finish: Callable[[Path], object] | None = None,
    source: Source | None = None,
    template: Template = PACKAGED_TEMPLATE,
) -> Path:
    """Create the project for checked answers of ``template`` in ``output_dir``; return its
    folder.

    ``skip`` names post-generation steps not to run (see ``STEPS``). ``finish`` is called
    with the finished project while it is still in the staging folder (e.g. to write
    per-user settings that must never pass through the template context); if it raises,
    no project is created. ``source`` is the template's recorded source and version (see
    scaffold.sources; default: the template packaged with scaffold).
    """
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.generate import generate_files

    # cookiecutter logs a hook failure with a traceback; scaffold reports it in one sentence.
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)
    unknown = set(skip) - set(STEPS)
    if unknown:
        raise ScaffoldError(f"unknown post-generation step {sorted(unknown)[0]!r}.")
    target = destination(answers, output_dir)
    staging = Path(tempfile.mkdtemp(prefix=".scaffold-", dir=_nearest_existing(target.parent)))
    try:
        context = build_context(answers, target.parent, skip, source, template)
        own_hooks = template.is_packaged
        if own_hooks:
            _check_rules(context, template)
        try:
            with _temporary_files_in(staging / ".tmp"):
                rendered = Path(
                    generate_files(
                        repo_dir=str(template.template_dir),
                        context=context,
                        output_dir=str(staging),
                        accept_hooks=not own_hooks,
                    )
                )
                if own_hooks:
                    _post_generation(rendered, context["cookiecutter"], template)
        except FailedHookException as error:
            raise ScaffoldError(
                f"a {_failed_step(error)} step failed (see above); no project was created."
            ) from error
        except CookiecutterException as error:
            raise ScaffoldError(f"the template could not be rendered: {error}.") from error
        _remove_bytecode(rendered)
        if finish is not None:
            finish(rendered)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise ScaffoldError(
                f"{target} appeared while the project was being made; left it alone."
            )
        os.rename(rendered, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_rules(context: dict[str, dict[str, object]], template: Template) -> None:
    """What the template's pre-generation hook checks, as it gets it from cookiecutter."""
    from scaffold.options import problems

    found = problems({**context["cookiecutter"], "_unrendered": context["_cookiecutter"]}, template)
    if found:
        raise ScaffoldError(next(iter(found.values())))


def _post_generation(project: Path, answers: dict[str, object], template: Template) -> None:
    """The post-generation program's steps, in the project folder as cookiecutter runs its
    hook, with the answers as the hook gets them (JSON)."""
    from cookiecutter.utils import work_in

    program = template.post_generation
    with work_in(project):
        status = program.finish(project, json.loads(json.dumps(answers)))
    if status == 130:  # finish swallowed a KeyboardInterrupt (without scaffold's handler)
        raise KeyboardInterrupt
    if status != 0:
        raise ScaffoldError("a post-generation step failed (see above); no project was created.")


def _failed_step(error: BaseException) -> str:
    """Which hook failed: cookiecutter's exception does not say, its frames do."""
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_locals.get("hook_name") == "pre_gen_project":
            return "pre-generation"
        trace = trace.tb_next
    return "post-generation"
