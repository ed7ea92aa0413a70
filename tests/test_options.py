"""The option list, answers as data, derived names and the shared rules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scaffold.errors import ScaffoldError
from scaffold.options import (
    load_answers_file,
    load_options,
    parse_assignments,
    problems,
    resolve_answers,
)

ISSUE_OPTIONS = {
    "project_name",
    "repo_name",
    "module_name",
    "author_name",
    "author_email",
    "description",
    "python_version",
    "environment_manager",
    "open_source_license",
    "dvc_remote",
    "dvc_remote_url",
    "ci",
    "docs",
}


def test_the_template_offers_every_option_of_the_issue():
    options = {option.name: option for option in load_options()}
    assert set(options) >= ISSUE_OPTIONS
    assert options["environment_manager"].choices == (
        "pip",
        "uv",
        "conda",
        "poetry",
        "pipenv",
        "virtualenv",
        "none",
    )
    assert set(options["open_source_license"].choices) == {
        "MIT",
        "BSD-3-Clause",
        "Apache-2.0",
        "none",
    }
    assert set(options["dvc_remote"].choices) == {"local", "s3", "gcs", "azure", "ssh", "none"}
    assert all(option.prompt != option.name for option in options.values())


def test_defaults_derive_names_and_use_the_running_python():
    answers = resolve_answers({"project_name": "Churn Model 2"})
    assert answers["repo_name"] == "churn-model-2"
    assert answers["module_name"] == "churn_model_2"
    assert answers["python_version"] == "{}.{}".format(*sys.version_info[:2])
    assert answers["dvc_remote"] == "local"
    assert answers["dvc_remote_url"] == "../churn-model-2-dvc-storage"
    assert answers["__initials"] == "yn"


def test_remote_url_default_follows_the_remote_type():
    answers = resolve_answers({"project_name": "P", "dvc_remote": "s3"})
    assert answers["dvc_remote_url"] == "s3://p-data/dvc"
    assert resolve_answers({"project_name": "P", "dvc_remote": "none"})["dvc_remote_url"] == ""


def test_given_values_are_data_never_jinja():
    answers = resolve_answers(
        {"project_name": "Lab", "description": "{{ 7*7 }} {% if x %}", "author_name": "{{ 1 }}"}
    )
    assert answers["description"] == "{{ 7*7 }} {% if x %}"
    assert answers["author_name"] == "{{ 1 }}"
    # derived defaults render the value as text, they do not evaluate it
    assert (
        resolve_answers({"project_name": "{{ 7*7 }}", "module_name": "lab"})["repo_name"] == "7-7"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"project_name": "  "}, "project_name must not be empty"),
        ({"project_name": "x", "module_name": "class"}, "is a Python keyword"),
        ({"project_name": "x", "module_name": "my-mod"}, "not a valid Python identifier"),
        ({"project_name": "x", "module_name": "json"}, "shadow the standard-library"),
        ({"project_name": "x", "repo_name": "../x"}, "single folder name"),
        ({"project_name": "x", "repo_name": "a\\b"}, "single folder name"),
        ({"project_name": "x", "repo_name": "-x"}, "must start with a letter or digit"),
        ({"project_name": "x", "python_version": "2.7"}, "3.9 or newer"),
        ({"project_name": "x", "author_email": "nobody"}, "not an email address"),
        ({"project_name": "x", "description": "two\nlines"}, "single line"),
        (
            {"project_name": "x", "dvc_remote": "s3", "dvc_remote_url": "gs://b"},
            "must start with s3://",
        ),
        ({"project_name": "x", "dvc_remote": "gcs", "dvc_remote_url": "gs://"}, "bucket or host"),
        ({"project_name": "x", "dvc_remote": "local", "dvc_remote_url": "s3://b"}, "folder path"),
        ({"project_name": "x", "dvc_remote": "none", "dvc_remote_url": "/x"}, "must be empty"),
        ({"project_name": "x", "bogus": "1"}, "unknown option 'bogus'"),
        ({"project_name": "x", "ci": "gitlab"}, "not a choice for ci"),
    ],
)
def test_bad_answers_are_refused_with_one_sentence(given, message):
    with pytest.raises(ScaffoldError, match=message) as error:
        resolve_answers(given)
    assert str(error.value).endswith(".") and "\n" not in str(error.value)


def test_problems_are_keyed_by_option():
    found = problems({"project_name": "", "repo_name": "ok", "module_name": "ok"})
    assert "project_name" in found and "repo_name" not in found and "module_name" not in found


def test_assignments_split_on_the_first_equals():
    assert parse_assignments(["a=b=c", "d="]) == {"a": "b=c", "d": ""}
    with pytest.raises(ScaffoldError, match="KEY=VALUE"):
        parse_assignments(["novalue"])


def test_answers_file_reads_values_and_ignores_private_keys(tmp_path: Path):
    path = tmp_path / "a.yml"
    path.write_text("_src_path: x\nproject_name: Lab\npython_version: 3.12\nci: none\n")
    assert load_answers_file(path) == {
        "project_name": "Lab",
        "python_version": "3.12",
        "ci": "none",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("project_name: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("project_name:\n  nested: 1\n", "must be a single value"),
    ],
)
def test_malformed_answers_files_are_refused(tmp_path: Path, content, message):
    path = tmp_path / "a.yml"
    path.write_text(content)
    with pytest.raises(ScaffoldError, match=message):
        load_answers_file(path)
