"""Prove an adoption: run every notebook top to bottom before (the old commit, in a scratch
copy) and after (the adopted project), in the same fresh environment, with ``scaffold check
--run``'s runner (``scaffold.check.execute.run_notebooks``), and say why each failure failed."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scaffold import processes
from scaffold.adopt.code import RAISES
from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import Failure, Outcome, failures
from scaffold.errors import ScaffoldError
from scaffold.files import scratch_folder
from scaffold.project import Project

if TYPE_CHECKING:
    from scaffold.adopt.pins import Pinned
    from scaffold.adopt.raises import Tagged


def environment(plan: Plan, python: Path | None, echo: Callable[[str], object]) -> Path:
    """The Python to run the notebooks: ``python``, else the project's ``.venv`` made with uv
    (the project, papermill and ipykernel installed)."""
    if python is not None:
        return python
    root = plan.root
    venv = root / ".venv"
    uv = processes.find_tool("uv")
    if uv is None:
        raise ScaffoldError(
            "adopt runs the notebooks in a fresh .venv made with uv, which is not installed; "
            "install uv, or pass --python PATH, or --no-run."
        )
    if not (venv / "bin" / "python").exists():
        echo("making .venv (uv venv) and installing the project, papermill, ipykernel")
        processes.run([uv, "venv", "--quiet", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    processes.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "-e",
            ".",
            "papermill",
            "ipykernel",
        ],
        cwd=root,
    )
    return python


def _old_tree(plan: Plan, head: str, into: Path) -> None:
    """The repository as it was at ``head`` (git archive), in ``into``."""
    data = processes.git("archive", "--format=tar", head, cwd=plan.root).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")


@contextlib.contextmanager
def _python_path(folder: Path) -> Iterator[None]:
    """``folder`` first on PYTHONPATH for the processes started inside."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), *([saved] if saved else [])])
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@dataclass(frozen=True)
class Proof:
    """Every notebook's runs, and the pins that made some run (None: nothing pinned)."""

    outcomes: list[Outcome]
    pinned: Pinned | None = None
    tagged: list[Tagged] = field(default_factory=list)  # cells tagged raises-exception


def prove(
    plan: Plan,
    *,
    python: Path | None = None,
    timeout: float = 600,
    echo: Callable[[str], object] = print,
    before: bool = True,
    pin: bool = True,
) -> Proof:
    """Run every notebook before and after adoption; pin older versions when the newest
    break notebooks that older ones run (a second commit)."""
    from scaffold.adopt import pins

    interpreter = environment(plan, python, echo)
    outcomes = _outcomes(plan, interpreter, timeout, echo, before)
    found = pins.find_pins(plan, outcomes, interpreter, timeout, echo) if pin else None
    if found is not None:
        commit = pins.write_pins(plan, found)
        echo(f"committed {commit[:10]} {pins.PIN_MESSAGE!r}")
        if python is None:
            environment(plan, None, echo)  # the project's .venv gets the pinned versions
        outcomes = _recheck(plan, outcomes, found, interpreter, timeout, echo)
    if not pin:  # a cell is tagged only once no version adopt tried runs its notebook
        return Proof(outcomes, found)
    from scaffold.adopt import callsites

    outcomes = callsites.rewrite(plan, outcomes, interpreter, timeout, echo)
    return _tagged(plan, Proof(outcomes, found), interpreter, timeout, echo)


def _tagged(
    plan: Plan, proof: Proof, interpreter: Path, timeout: float, echo: Callable[[str], object]
) -> Proof:
    """The proof with the cells that raise on purpose tagged, their notebooks running."""
    from scaffold.adopt import raises

    found = raises.tag(plan, proof.outcomes, interpreter, timeout, echo)
    if not found:
        return proof
    echo(f"committed {raises.TAG_MESSAGE!r}")
    outcomes = []
    for o in proof.outcomes:
        cells = tuple(str(cell) for cell in found if cell.notebook == o.notebook)
        outcomes.append(replace(o, now=True, why="", tagged=cells) if cells else o)
    return Proof(outcomes, proof.pinned, found)


def _recheck(
    plan: Plan,
    outcomes: list[Outcome],
    found: Pinned,
    interpreter: Path,
    timeout: float,
    echo: Callable[[str], object],
) -> list[Outcome]:
    """Every notebook said to run, run again in the environment with the pins: the table
    says what runs there, not what ran in the search's scratch environment."""
    claimed = [o.notebook for o in outcomes if o.now or o.notebook in found.fixed]
    echo(f"running {len(claimed)} notebooks again with the pinned versions")
    project = Project(plan.root, plan.answers)
    still = failures(project, [plan.root / name for name in claimed], interpreter, timeout)
    checked = []
    for o in outcomes:
        if o.notebook in still:
            failure = still[o.notebook]
            why = f"{failure.why} with the pinned versions"
            checked.append(Outcome(o.notebook, o.before, False, why, o.why_before,
                                   trace=failure.trace))  # fmt: skip
        elif o.notebook in found.fixed:
            checked.append(Outcome(o.notebook, o.before, True, "", o.why_before, pinned=True))
        else:
            checked.append(o)
    return checked


def _outcomes(
    plan: Plan, interpreter: Path, timeout: float, echo: Callable[[str], object], before: bool
) -> list[Outcome]:
    """Run every notebook as it was and as adopted."""
    notebooks = plan.notebooks
    old_failures: dict[str, Failure] | None = None
    if before and plan.is_git:
        head = plan.head
        with scratch_folder("scaffold-adopt-before-") as scratch:
            old = Path(scratch)
            _old_tree(plan, head, old)
            echo(f"running {len(notebooks)} notebooks as they were")
            try:  # the old modules import from the repository's top, as when run from there
                with _python_path(old):
                    old_failures = failures(
                        Project(old), [old / e.path for e in notebooks], interpreter, timeout
                    )
            except ScaffoldError as error:
                echo(f"could not run them as they were: {error}")
    echo(f"running {len(notebooks)} notebooks as adopted")
    project = Project(plan.root, plan.answers)
    new_failures = failures(
        project, [plan.root / e.target for e in notebooks], interpreter, timeout
    )
    outcomes = []
    for entry in notebooks:
        ran = None if old_failures is None else entry.path not in old_failures
        was = (old_failures or {}).get(entry.path)
        new = new_failures.get(entry.target)
        outcomes.append(
            Outcome(
                entry.target,
                ran,
                new is None,
                new.why if new else "",
                was.why if was else "",
                trace=new.trace if new else "",
            )
        )
    return outcomes


def _why(outcome: Outcome) -> str:
    """The table's last column for one notebook."""
    changes = [*outcome.rewritten, *outcome.tagged]
    if changes and outcome.now:
        pinned = " with the pinned versions" if outcome.pinned else ""
        return f"runs{pinned}; {'; '.join(changes)}"
    if changes:
        return f"{outcome.why}; {'; '.join(changes)}"
    if outcome.pinned:
        return "with the pinned versions"
    return outcome.why or (f"(before: {outcome.why_before})" if outcome.why_before else "")


def table(proof: Proof) -> list[str]:
    """The outcomes as a table, then the totals and the pins."""
    outcomes = proof.outcomes
    mark = {True: "yes", False: "no", None: "-"}
    width = max([len(o.notebook) for o in outcomes] + [8])
    lines = [f"{'notebook':<{width}}  before  now  why not"]
    for o in outcomes:
        lines.append(f"{o.notebook:<{width}}  {mark[o.before]:<6}  {mark[o.now]:<3}  {_why(o)}")
    return lines + _totals(proof)


def _totals(proof: Proof) -> list[str]:
    """The counts under the table, what got worse, and the pins."""
    outcomes = proof.outcomes
    lines = []
    offline = [o for o in outcomes if not o.network]
    runs = sum(o.now for o in offline)
    ran = sum(bool(o.before) for o in offline)
    lines.append(
        f"{runs} of {len(offline)} notebooks that need no network run now (before: {ran}); "
        f"{len(outcomes) - len(offline)} need the network"
    )
    tagged = sum(bool(o.tagged) for o in offline)
    if tagged:
        lines.append(
            f"{tagged} of them with cells adopt tagged {RAISES!r} "
            "([tool.scaffold.adopt.raises] in pyproject.toml lists them: review)"
        )
    worse = [o.notebook for o in outcomes if o.before and not o.now]
    if worse:
        lines.append(f"ran before but not now: {', '.join(worse)}")
    if proof.pinned:
        lines.append(
            f"pinned (the newest break {', '.join(proof.pinned.fixed)}; [tool.scaffold.adopt] "
            "in pyproject.toml says why: modernise, then unpin):"
        )
        lines += _pin_lines(proof.pinned)
    return lines


def _pin_lines(pinned: Pinned) -> list[str]:
    """Each pin and its reason; pins that share a reason (a date's) on one line."""
    groups: dict[str, list[str]] = {}
    for pin in pinned.pins:
        held = f"{pin.name}=={pin.version}" if pin.version else f"{pin.name} (added)"
        groups.setdefault(pin.why, []).append(held)
    return [f"  {', '.join(held)}: {why}" for why, held in groups.items()]
