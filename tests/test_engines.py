"""One template, three engines: copier.yml asks the questions of template/cookiecutter.json, and
copier, plain cookiecutter and scaffold make the same project for the same answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jinja2
import pytest
import yaml

from scaffold.resources import load_hook
from tests.conftest import (
    REPO_ROOT,
    copy_template_repo,
    fixture_git,
    git,
    listing,
    run_cookiecutter,
    run_scaffold,
    tree,
)

COPIER = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
COOKIECUTTER = json.loads((REPO_ROOT / "template" / "cookiecutter.json").read_text())
QUESTIONS = {name: spec for name, spec in COPIER.items() if not name.startswith("_")}
OPTIONS = [name for name in COOKIECUTTER if not name.startswith("_")]
DERIVED = {
    name.removeprefix("__"): raw
    for name, raw in COOKIECUTTER.items()
    if name.startswith("__") and name != "__prompts__"
}


def load_hook_module(name: str) -> ModuleType:
    return load_hook(REPO_ROOT / "hooks" / f"{name}.py")


def in_copier_terms(default: str) -> str:
    """A cookiecutter.json default as copier.yml writes it: answers are top-level names."""
    return default.replace("cookiecutter.", "")


def test_copier_asks_the_cookiecutter_questions():
    visible = [name for name, spec in QUESTIONS.items() if spec.get("when") is not False]
    assert visible == OPTIONS  # same names, same order
    prompts = COOKIECUTTER["__prompts__"]
    for name in OPTIONS:
        raw, spec = COOKIECUTTER[name], QUESTIONS[name]
        assert spec["type"] == "str", name
        assert spec["help"] == prompts[name], name
        if isinstance(raw, list):
            assert (spec["choices"], spec["default"]) == (raw, raw[0]), name
        else:
            assert "choices" not in spec and spec["default"] == in_copier_terms(raw), name
        # The rules of hooks/pre_gen_project.py, as copier validators.
        assert spec["validator"] == f"{{{{ scaffold_problem(_copier_answers, '{name}', {name}) }}}}"


def test_derived_values_and_the_cookiecutter_mapping_are_hidden_questions():
    hidden = {name for name, spec in QUESTIONS.items() if spec.get("when") is False}
    assert hidden == {*DERIVED, "cookiecutter"}
    for name, raw in DERIVED.items():
        assert QUESTIONS[name]["default"] == in_copier_terms(raw)
    mapping = QUESTIONS["cookiecutter"]
    entries = [f"'{name}': {name}" for name in OPTIONS] + [
        f"'__{name}': {name}" for name in DERIVED
    ]
    assert mapping["type"] == "yaml"
    assert mapping["default"] == "{{ {" + ", ".join(entries) + "} | answer_json }}"


def defaults_with(option: str, value: str) -> dict[str, str]:
    answers = {
        name: raw[0] if isinstance(raw, list) else raw
        for name, raw in COOKIECUTTER.items()
        if not name.startswith("_")
    }
    return {**answers, option: value}


@pytest.mark.parametrize(
    ("option", "value"),
    [(option, value) for option, *_ in load_hook_module("post_gen_project").OPTIONAL_PATHS
     for value in COOKIECUTTER[option]],
)  # fmt: skip
def test_copier_excludes_what_the_hook_prunes(option: str, value: str):
    hook = load_hook_module("post_gen_project")
    answers = defaults_with(option, value)
    expected = {
        f"/{path.format_map(answers)}"
        for name, keep_when, paths in hook.OPTIONAL_PATHS
        if answers[name] not in keep_when
        for path in paths
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    excluded = {env.from_string(pattern).render(**answers) for pattern in COPIER["_exclude"]}
    assert excluded - {""} == expected


def test_post_generation_runs_on_copy_only():
    (task,) = COPIER["_tasks"]
    assert task["when"] == "{{ _copier_operation == 'copy' }}"
    assert task["command"][1] == "{{ _copier_conf.src_path }}/hooks/post_gen_project.py"


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("git+file:///srv/templates/scaffold.git", "/srv/templates/scaffold.git"),
        ("file:///srv/templates/scaffold", "/srv/templates/scaffold"),
        ("https://bot:s3cret@github.com/acme/scaffold.git", "https://github.com/acme/scaffold.git"),
        ("https://github.com/acme/scaffold.git", "https://github.com/acme/scaffold.git"),
        ("git@github.com:acme/scaffold.git", "git@github.com:acme/scaffold.git"),
        ("gh:acme/scaffold", "gh:acme/scaffold"),
    ],
)
def test_sources_are_recorded_as_copier_reads_them(given: str, recorded: str):
    assert load_hook_module("template_source").recorded_source(given) == recorded


def test_a_relative_local_source_is_recorded_as_an_absolute_path(tmp_path: Path, monkeypatch):
    (tmp_path / "templates" / "ours").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "templates")
    recorded = load_hook_module("template_source").recorded_source("ours")
    assert recorded == str((tmp_path / "templates" / "ours").resolve())


def test_a_checkout_with_unpushed_commits_records_itself(tmp_path: Path):
    import shutil

    describe = load_hook_module("template_source").describe
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "README").write_text("v1\n")
    fixture_git("init", "--quiet", cwd=origin)
    fixture_git("add", "README", cwd=origin)
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-m", "v1", cwd=origin)
    fixture_git("tag", "v1", cwd=origin)
    clone = tmp_path / "clone"
    fixture_git("clone", "--quiet", str(origin), str(clone), cwd=tmp_path)
    git_program = shutil.which("git")
    assert describe(git_program, clone) == {"_commit": "v1", "_src_path": str(origin)}

    (clone / "README").write_text("local\n")  # a commit origin does not have
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-am", "local", cwd=clone)
    recorded = describe(git_program, clone)
    assert recorded["_src_path"] == str(clone.resolve())
    assert recorded["_commit"].startswith("v1-1-g")


@pytest.fixture(scope="module")
def tagged_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_template_repo(tmp_path_factory.mktemp("tagged") / "template")
    fixture_git("tag", "v1.0.0", cwd=repo)
    return repo


def run_copier(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run plain copier (its own CLI) as users do."""
    result = subprocess.run(
        [sys.executable, "-m", "copier", *args], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"copier {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_copier_applies_the_answer_rules(tagged_template: Path, workdir: Path):
    result = run_copier("copy", "--trust", "--defaults", "--data", "module_name=class",
                        str(tagged_template), str(workdir / "lab"), check=False)  # fmt: skip
    assert result.returncode != 0
    assert "module_name 'class' is a Python keyword." in result.stderr
    assert listing(workdir) == []


OTHER_ANSWERS = {
    "project_name": "Sales Forecast",
    "author_name": "Grace Hopper",
    "author_email": "grace@example.com",
    "python_version": "3.12",
    "environment_manager": "conda",
    "open_source_license": "MIT",
    "dvc_remote": "s3",
    "dvc_remote_url": "s3://sales-bucket/dvc",
    "ci": "none",
    "docs": "none",
    # every sharing option the other way round from its default
    "binder": "no",
    "colab": "yes",
    "devcontainer": "no",
    "sagemaker": "yes",
    "vertex": "yes",
    "github_repo": "acme/sales-forecast",
    "app": "streamlit",
    "pre_commit_hooks": "github",
    "spark": "yes",  # with the example code: the Spark notebook, its params and stage
}


# cookiecutter-data-science's options: no example code, no pydata packages, docs README.
MINIMAL_ANSWERS = {
    "project_name": "Sales Forecast",
    "example_code": "no",
    "pydata_packages": "none",
    "app": "voila",  # the one app that needs no example code
    "spark": "yes",  # without the example code: spark.py, no Spark notebook
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "answers",
    [{"project_name": "My Project"}, OTHER_ANSWERS, MINIMAL_ANSWERS],
    ids=["defaults", "other", "minimal"],
)
def test_copier_cookiecutter_and_scaffold_make_the_same_project(
    tagged_template: Path, tmp_path: Path, answers: dict[str, str]
):
    made = {engine: tmp_path / engine for engine in ("copier", "cookiecutter", "scaffold")}
    for folder in made.values():
        folder.mkdir()
    repo_name = "my-project" if len(answers) == 1 else "sales-forecast"
    data = [arg for key, value in answers.items() for arg in ("--data", f"{key}={value}")]
    run_copier("copy", "--trust", "--defaults", "--quiet", *data, str(tagged_template),
               str(made["copier"] / repo_name))  # fmt: skip
    run_cookiecutter(f"git+file://{tagged_template}", "--no-input",
                     *[f"{key}={value}" for key, value in answers.items()],
                     cwd=made["cookiecutter"])  # fmt: skip
    sets = [arg for key, value in answers.items() for arg in ("--set", f"{key}={value}")]
    run_scaffold("new", "--no-input", *sets, "--template", str(tagged_template),
                 cwd=made["scaffold"])  # fmt: skip

    projects = {engine: folder / repo_name for engine, folder in made.items()}
    trees = {engine: tree(project) for engine, project in projects.items()}
    assert sorted(trees["copier"]) == sorted(trees["cookiecutter"]) == sorted(trees["scaffold"])
    for path in trees["scaffold"]:
        assert trees["copier"][path] == trees["cookiecutter"][path] == trees["scaffold"][path], path
    files = {engine: git("ls-files", cwd=project) for engine, project in projects.items()}
    assert files["copier"] == files["cookiecutter"] == files["scaffold"]
    for project in projects.values():  # one commit each: post-generation ran exactly once
        assert git("rev-list", "--count", "HEAD", cwd=project) == "1"

    recorded = yaml.safe_load(trees["scaffold"][".copier-answers.yml"])
    assert (recorded["_src_path"], recorded["_commit"]) == (str(tagged_template), "v1.0.0")
    assert {key: recorded[key] for key in answers} == answers


@pytest.mark.slow
def test_copier_recopy_keeps_the_repository_and_its_history(tagged_template: Path, workdir: Path):
    project = workdir / "lab"
    run_copier("copy", "--trust", "--defaults", "--quiet", str(tagged_template), str(project))
    dvc_config = (project / ".dvc" / "config").read_text()
    (project / "Makefile").write_text("# mine\n")
    git("commit", "--quiet", "--no-verify", "-am", "my edit", cwd=project)
    head = git("rev-parse", "HEAD", cwd=project)

    result = subprocess.run(
        [sys.executable, "-m", "copier", "recopy", "--trust", "--defaults", "--overwrite"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "kept the existing repository" in result.stdout + result.stderr
    assert git("rev-parse", "HEAD", cwd=project) == head  # history kept, nothing committed
    assert (project / ".dvc" / "config").read_text() == dvc_config
    assert git("status", "--porcelain", cwd=project) == "M Makefile"  # the template's again


def test_copier_takes_any_unicode_in_data(tagged_template: Path, workdir: Path):
    description = "Rocket 🚀 naïve \U0001d518\U0001d52b \u2028 end"  # emoji, Fraktur, LS
    run_copier("copy", "--trust", "--defaults", "--quiet", "--data", f"description={description}",
               str(tagged_template), str(workdir / "lab"))  # fmt: skip
    recorded = yaml.safe_load((workdir / "lab" / ".copier-answers.yml").read_text("utf-8"))
    assert recorded["description"] == description
