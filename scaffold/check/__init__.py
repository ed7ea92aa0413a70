"""``scaffold check``: static notebook health checks, and restart-and-run-all with ``--run``.

Modules: ``model`` (rules, findings, configuration), ``notebook`` (one notebook's facts),
``duplicates`` (copies across notebooks, reusable), ``imports`` (import names against the
declared dependencies), ``checker`` (the project-wide run), ``execute`` (``--run``),
``report`` (human, JSON and GitHub output). Nothing heavy is imported here.
"""
