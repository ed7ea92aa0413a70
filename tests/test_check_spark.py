"""`scaffold check`'s Spark rules (NB411-NB415) on small notebooks written here, each the
minimal form of what real PySpark notebooks do (see docs/spark.md for the measured precision)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from scaffold.check.checker import check
from scaffold.check.model import Config
from scaffold.project import Project

WITH_EXTRA = """\
[project]
name = "lab"
version = "0.1.0"
dependencies = ["pandas"]

[project.optional-dependencies]
spark = ["pyspark[connect]==4.3.*"]
"""
NB = "1.0-ab-spark.ipynb"


@pytest.fixture
def minimal_spark_lab(tmp_path: Path) -> Path:
    """A minimal project laid out like ours with the spark extra: pyproject.toml, notebooks/,
    src/lab/spark.py."""
    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    (root / "src" / "lab").mkdir(parents=True)
    (root / "src" / "lab" / "__init__.py").write_text("")
    (root / "src" / "lab" / "spark.py").write_text("def get_spark(): ...\n")
    (root / "pyproject.toml").write_text(WITH_EXTRA)
    return root


def write(root: Path, *sources: str, name: str = NB) -> Path:
    path = root / "notebooks" / name
    nbformat.write(new_notebook(cells=[new_code_cell(source) for source in sources]), path)
    return path


def spark_findings(root: Path) -> list[str]:
    config = Config(select=("NB41",))
    result = check(Project(root), [], config, use_cache=False, cwd=root)
    return [f"{f.location()}: {f.code}" for f in result.findings]


def messages(root: Path) -> list[str]:
    result = check(Project(root), [], Config(select=("NB41",)), use_cache=False, cwd=root)
    return [f.message for f in result.findings]


# -- NB411 / NB412: pyspark declared through an extra -----------------------------------------


def test_pyspark_declared_in_an_extra_is_fine_and_nb404_leaves_it_alone(minimal_spark_lab: Path):
    write(
        minimal_spark_lab, "from pyspark.sql import SparkSession\nimport pyspark.sql.functions as F"
    )
    result = check(
        Project(minimal_spark_lab),
        [],
        Config(select=("NB4",)),
        use_cache=False,
        cwd=minimal_spark_lab,
    )
    assert result.findings == []


def test_undeclared_pyspark_is_one_finding_per_notebook_naming_the_extra(minimal_spark_lab: Path):
    without = WITH_EXTRA.replace('spark = ["pyspark[connect]==4.3.*"]', 'dev = ["pytest"]')
    (minimal_spark_lab / "pyproject.toml").write_text(without)
    write(minimal_spark_lab, "import os", "from pyspark.sql import functions as F\nimport pyspark")
    assert spark_findings(minimal_spark_lab) == [f"notebooks/{NB}:2:1: NB411"]
    assert "[project.optional-dependencies] spark = [" in messages(minimal_spark_lab)[0]
    result = check(
        Project(minimal_spark_lab),
        [],
        Config(select=("NB404",)),
        use_cache=False,
        cwd=minimal_spark_lab,
    )
    assert result.findings == []  # not twice


@pytest.mark.parametrize("provider", ["pyspark-client", "databricks-connect==15.4.*"])
def test_other_distributions_that_provide_pyspark_count(minimal_spark_lab: Path, provider: str):
    (minimal_spark_lab / "pyproject.toml").write_text(
        WITH_EXTRA.replace("pyspark[connect]==4.3.*", provider)
    )
    write(minimal_spark_lab, "from pyspark.sql import SparkSession")
    assert spark_findings(minimal_spark_lab) == []


def test_pyspark_in_the_main_dependencies_is_a_warning_on_pyproject(minimal_spark_lab: Path):
    (minimal_spark_lab / "pyproject.toml").write_text(
        WITH_EXTRA.replace('["pandas"]', '["pandas", "pyspark"]')
    )
    write(minimal_spark_lab, "import pyspark")
    assert spark_findings(minimal_spark_lab) == ["pyproject.toml:0:0: NB412"]
    write(minimal_spark_lab, "import pandas")  # no notebook uses Spark: nothing to say
    assert spark_findings(minimal_spark_lab) == []


# -- NB413: the master comes from the environment ---------------------------------------------


def test_hard_coded_masters_in_every_form(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'spark = SparkSession.builder.master("local[*]").appName("x").getOrCreate()',
        'spark = SparkSession.builder.remote("sc://cluster.example.com:15002").getOrCreate()',
        'sc = SparkContext("spark://10.0.0.5:7077", "app")\nconf = SparkConf().setMaster("yarn")',
        'b = SparkSession.builder.config("spark.master", "k8s://https://k8s:6443")',
        'os.environ["PYSPARK_SUBMIT_ARGS"] = "--master local[2] pyspark-shell"',
    )
    assert spark_findings(minimal_spark_lab) == [
        f"notebooks/{NB}:1:1: NB413",
        f"notebooks/{NB}:2:1: NB413",
        f"notebooks/{NB}:3:1: NB413",
        f"notebooks/{NB}:3:2: NB413",
        f"notebooks/{NB}:4:1: NB413",
        f"notebooks/{NB}:5:1: NB413",
    ]
    assert messages(minimal_spark_lab)[0] == (
        "Spark master 'local[*]' is written in the notebook; set SPARK_MASTER=local[*] in .env "
        "and take the session from lab.spark.get_spark()"
    )


def test_masters_from_the_environment_or_not_urls_are_fine(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'spark = SparkSession.builder.master(os.environ["SPARK_MASTER"]).getOrCreate()',
        "spark = get_spark()",
        'frame.groupBy("master").count()\nrepo.remote("origin")\nbranch.master("x")',
        'remote = ray.remote("worker")  # spark',
    )
    assert spark_findings(minimal_spark_lab) == []


# -- NB414: credentials come from the environment ---------------------------------------------


def test_credentials_in_settings_options_urls_and_environment(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'spark.conf.set("fs.s3a.secret.key", "abc123")  # spark',
        'b = builder.config("spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net", "k==")',
        'df = spark.read.format("jdbc").option("url", url).option("password", "hunter2").load()',
        'df = spark.read.jdbc("jdbc:postgresql://db:5432/x?user=a&password=b", "t")',
        'os.environ["AWS_SECRET_ACCESS_KEY"] = "wJalr"  # spark',
        'spark = SparkSession.builder.remote("sc://host:15002/;token=dapi123").getOrCreate()',
    )
    assert spark_findings(minimal_spark_lab) == [
        f"notebooks/{NB}:1:1: NB414",
        f"notebooks/{NB}:2:1: NB414",
        f"notebooks/{NB}:3:1: NB414",
        f"notebooks/{NB}:4:1: NB414",
        f"notebooks/{NB}:5:1: NB414",
        f"notebooks/{NB}:6:1: NB413",
        f"notebooks/{NB}:6:1: NB414",
    ]


def test_settings_that_name_no_secret_or_read_it_are_fine(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'b = builder.config("spark.hadoop.fs.s3a.aws.credentials.provider", "com.amazonaws.X")',
        'spark.conf.set("fs.s3a.secret.key", os.environ["S3_SECRET"])  # spark',
        'df = spark.read.option("header", "true").option("user", "analyst").csv("s3a://b/k")',
        'b = builder.config("google.cloud.auth.service.account.json.keyfile", "/k.json")',
        'os.environ["PYSPARK_PYTHON"] = "python3"  # spark',
        'spark.conf.set("fs.s3a.secret.key", "")  # spark',
    )
    assert spark_findings(minimal_spark_lab) == []


# -- NB415: toPandas / collect of frames nothing reduced --------------------------------------


def test_frames_read_from_storage_and_brought_back_whole(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'df = spark.read.csv("data/raw/big.csv", header=True)',
        'clean = df.filter(df.price > 0).withColumn("x", F.lit(1))\npdf = clean.toPandas()',
        'rows = spark.sql("SELECT * FROM sales").collect()',
        'lines = sc.textFile("logs/*.txt").map(lambda l: l.split()).collect()',
        'parquet = spark.read.format("parquet").option("mergeSchema", "true").load("p")\n'
        "parquet.select('a').rdd.flatMap(lambda r: r).collect()",
        "train, test = df.randomSplit([0.8, 0.2])\ntrain.toPandas()",
    )
    assert spark_findings(minimal_spark_lab) == [
        f"notebooks/{NB}:2:2: NB415",
        f"notebooks/{NB}:3:1: NB415",
        f"notebooks/{NB}:4:1: NB415",
        f"notebooks/{NB}:5:2: NB415",
        f"notebooks/{NB}:6:2: NB415",
    ]


def test_limited_aggregated_local_or_untraceable_frames_are_fine(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'df = spark.read.parquet("s3a://bucket/events")\ndf = df.filter(df.ok)',
        "df.limit(20).toPandas()\ndf.sample(fraction=0.01).toPandas()",
        'df.groupBy("country").agg(F.count("*").alias("n")).toPandas()',
        'df.groupBy("country").count().orderBy("count").collect()',
        'df.select(F.max("ts"), F.min("ts").alias("first")).collect()',
        'df.select("country").distinct().collect()\ndf.selectExpr("count(*) AS n").collect()',
        'spark.sql("SELECT country, count(*) FROM t GROUP BY country").toPandas()',
        'small = spark.createDataFrame([(1, "a")], ["id", "v"])\nsmall.collect()',
        "spark.range(100).collect()\nsc.parallelize([1, 2, 3]).collect()",
        "def show(frame):\n    return frame.toPandas()",
        "import gc\ngc.collect()\npl.scan_csv('x.csv').collect()\nunknown.toPandas()",
        "top = df.orderBy('x').limit(5)\ntop = top.withColumn('y', F.lit(1))\ntop.toPandas()",
    )
    assert spark_findings(minimal_spark_lab) == []


def test_a_name_is_traced_to_its_latest_assignment_in_notebook_order(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'df = spark.read.csv("x.csv")',
        "df = df.limit(10)",
        "df.toPandas()",
        'df = spark.table("events")',
        "df.toPandas()",
    )
    assert spark_findings(minimal_spark_lab) == [f"notebooks/{NB}:5:1: NB415"]


def test_noqa_and_select_turn_the_rules_off(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'spark = SparkSession.builder.master("local[2]").getOrCreate()  # scaffold: noqa',
    )
    assert spark_findings(minimal_spark_lab) == []
    write(minimal_spark_lab, 'spark = SparkSession.builder.master("local[2]").getOrCreate()')
    result = check(
        Project(minimal_spark_lab),
        [],
        Config(ignore=("NB41",)),
        use_cache=False,
        cwd=minimal_spark_lab,
    )
    assert [f.code for f in result.findings if f.code.startswith("NB41")] == []


def test_notebooks_without_spark_are_not_parsed_for_these_rules(minimal_spark_lab: Path):
    write(
        minimal_spark_lab, 'x = builder.master("local")'
    )  # no mention of Sp-ark: not a Spark notebook
    assert spark_findings(minimal_spark_lab) == []


def test_views_of_small_frames_catalog_statements_and_commit_logs_are_fine(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'rdd = sc.parallelize(["{\\"a\\": 1}"])\npeople = spark.read.json(rdd)',
        'people.createOrReplaceTempView("people")\nspark.sql("select * from people").collect()',
        'stream.foreachRDD(lambda r: r.toDF().limit(10).registerTempTable("top"))',
        'spark.sql("select tag, n from top").toPandas()',
        'spark.sql("SHOW TABLES").collect()\nspark.sql("describe history events").collect()',
        'spark.sql("select snapshot_id from cat.db.orders.snapshots").collect()',
    )
    assert spark_findings(minimal_spark_lab) == []
    write(minimal_spark_lab, 'big = spark.read.parquet("s3a://b/e")\nbig.createOrReplaceTempView("events")',
          'spark.sql("select * from events").toPandas()')  # fmt: skip
    assert spark_findings(minimal_spark_lab) == [f"notebooks/{NB}:2:1: NB415"]


def test_a_name_holding_a_literal_is_the_literal_reported_once_on_its_line(minimal_spark_lab: Path):
    write(
        minimal_spark_lab,
        'MASTER = "spark://10.1.2.3:7077"\nneo4j_password = "s3cret"',
        "spark = (\n    SparkSession.builder\n    .master(MASTER)\n    .getOrCreate()\n)",
        'df = spark.read.option("password", neo4j_password).load()',
        'df2 = spark.read.option("password", neo4j_password).load()',
    )
    assert spark_findings(minimal_spark_lab) == [
        f"notebooks/{NB}:2:3: NB413",
        f"notebooks/{NB}:3:1: NB414",
    ]
