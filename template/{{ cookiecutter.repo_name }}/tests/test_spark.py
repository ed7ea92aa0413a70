"""The Spark session helper: settings from the environment, a real local session."""

import shutil

import pytest

from {{ cookiecutter.module_name }}.spark import APP_NAME, spark_settings


def test_spark_settings_come_from_the_environment():
    environ = {"spark.driver.memory": "4g", "SPARK_MASTER": "local[2]", "HOME": "/home/me"}
    settings = spark_settings(environ)
    assert settings["spark.driver.memory"] == "4g"
    assert "SPARK_MASTER" not in settings and "HOME" not in settings
    assert spark_settings({"spark.ui.showConsoleProgress": "true"}) == {
        "spark.ui.showConsoleProgress": "true"
    }


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java (java on PATH)")
def test_get_spark_runs_a_job_on_the_master_from_the_environment(monkeypatch):
    pytest.importorskip("pyspark")
    from {{ cookiecutter.module_name }}.spark import get_spark

    monkeypatch.setenv("SPARK_MASTER", "local[1]")
    monkeypatch.setenv("spark.sql.shuffle.partitions", "3")
    spark = get_spark()
    try:
        assert spark.sparkContext.master == "local[1]"
        assert spark.conf.get("spark.app.name") == APP_NAME
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert spark.range(100).selectExpr("sum(id) AS total").first()["total"] == 4950
    finally:
        spark.stop()
