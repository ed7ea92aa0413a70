"""The project's Spark session: ``spark = get_spark()`` in a notebook or a module.

Where Spark runs and how it is sized come from the environment (the git-ignored ``.env``,
see ``.env.example``; variables set in the shell win), never from code, so one notebook runs
unchanged on a laptop, on a cluster and under ``dvc repro``:

- ``SPARK_MASTER``: ``local[*]`` (the default: Spark inside this Python process's JVM, on
  every core), ``local[2]``, ``spark://HOST:7077`` (a standalone cluster; ``make spark-start``
  starts one on this machine), ``yarn``, ``k8s://https://HOST:6443``, or
  ``sc://HOST:15002`` for Spark Connect (a thin client: no JVM on this side).
- every variable named like a Spark setting, ``spark.driver.memory=4g``,
  ``spark.executor.memory=8g``, ``spark.sql.shuffle.partitions=64``: set on the session as is.

The application is named after the project (``APP_NAME``), to be found in a cluster's UI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from {{ cookiecutter.module_name }} import config  # noqa: F401  (loads .env into os.environ)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "{{ cookiecutter.repo_name }}"
DEFAULT_MASTER = "local[*]"
# Defaults for notebooks, which the environment overrides: no console progress bars (they
# fill executed notebooks and logs with redrawn lines).
DEFAULT_SETTINGS = {"spark.ui.showConsoleProgress": "false"}


def spark_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The session's settings: ``DEFAULT_SETTINGS``, then every ``spark.*`` variable."""
    environ = os.environ if environ is None else environ
    given = {key: value for key, value in environ.items() if key.startswith("spark.")}
    return {**DEFAULT_SETTINGS, **given}


def get_spark() -> SparkSession:
    """The Spark session on ``SPARK_MASTER`` (started once, then reused)."""
    from pyspark.sql import SparkSession

    master = os.environ.get("SPARK_MASTER", "").strip() or DEFAULT_MASTER
    builder = SparkSession.builder.appName(APP_NAME)
    if master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        if master.startswith("local"):
            # Python workers on this machine: this environment's Python, not the first
            # `python3` on PATH (a cluster's executors need PYSPARK_PYTHON set for them).
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.master(master)
    for key, value in spark_settings().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
