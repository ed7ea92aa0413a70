"""``scaffold adopt``: bring an existing notebook repository into the scaffold layout, in place.

``plan_adopt`` surveys the repository and decides everything (``survey``: what each file is;
``code``: the paths and imports in the notebooks; ``deps``: the dependencies; ``plan``: moves,
rewrites, template files, the pipeline); ``describe`` prints that plan; ``apply`` carries it
out as one commit, all or nothing; ``prove`` runs every notebook before and after.
"""

from __future__ import annotations

from scaffold.adopt.apply import apply
from scaffold.adopt.plan import COMMIT_MESSAGE, NothingToAdopt, Plan, plan_adopt
from scaffold.adopt.report import describe

__all__ = ["COMMIT_MESSAGE", "NothingToAdopt", "Plan", "apply", "describe", "plan_adopt"]
