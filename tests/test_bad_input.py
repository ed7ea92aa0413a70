"""Bad input, run in-process (typer's CliRunner): one `error:` sentence naming the path and what
to do, exit 1, no traceback, nothing written outside the project and no user file changed."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.errors import describe_os_error
from tests.conftest import listing, new_project, tree

CHATTR = shutil.which("chattr") or "chattr"
CAN_CHATTR = shutil.which("chattr") is not None


@pytest.fixture(scope="module")
def made_bad_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project made by ``scaffold new "Bad Lab"`` (git and DVC, no hooks), copied by each
    test."""
    return new_project(tmp_path_factory, "bad-input", "Bad Lab", extras=None)


@pytest.fixture
def project(made_bad_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of the project, as the current folder; immutable flags cleared after."""
    copy = tmp_path / "bad-lab"
    shutil.copytree(made_bad_lab, copy, symlinks=True)
    monkeypatch.chdir(copy)
    yield copy
    if CAN_CHATTR:
        subprocess.run([CHATTR, "-R", "-i", str(copy)], capture_output=True, check=False)


def invoke(*args: str) -> tuple[int, str]:
    """Run scaffold in-process; return the exit code and stderr."""
    result = CliRunner().invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"unhandled: {result.exception!r}"
    return result.exit_code, result.stderr


def assert_one_sentence(code: int, err: str, *phrases: str) -> None:
    assert code == 1, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err


# --- item 4: writes never follow a link out of the project ----------------------------------


@pytest.mark.parametrize(
    ("folder", "args"),
    [
        ("notebooks", ("add", "notebook", "escape")),
        ("params", ("add", "notebook", "escape", "--production")),
        ("tests", ("add", "module", "escape")),
    ],
)
def test_a_folder_linked_outside_the_project_is_refused(
    project: Path, tmp_path: Path, folder: str, args: tuple[str, ...]
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copytree(project / folder, elsewhere, dirs_exist_ok=True)
    shutil.rmtree(project / folder)
    (project / folder).symlink_to(elsewhere)
    outside = listing(elsewhere)
    before = tree(project)
    code, err = invoke(*args)
    assert_one_sentence(code, err, "outside the project")
    assert listing(elsewhere) == outside
    assert tree(project) == before


def test_a_linked_dvc_yaml_stays_a_link(project: Path):
    (project / "pipeline").mkdir()
    shutil.move(project / "dvc.yaml", project / "pipeline" / "dvc.yaml")
    (project / "dvc.yaml").symlink_to(Path("pipeline") / "dvc.yaml")
    code, err = invoke("add", "notebook", "linked", "--production")
    assert code == 0, err
    assert (project / "dvc.yaml").is_symlink()
    assert "linked" in (project / "pipeline" / "dvc.yaml").read_text(encoding="utf-8")


def test_a_dvc_yaml_linked_outside_is_refused(project: Path, tmp_path: Path):
    outside = tmp_path / "shared-dvc.yaml"
    shutil.move(project / "dvc.yaml", outside)
    (project / "dvc.yaml").symlink_to(outside)
    content = outside.read_bytes()
    code, err = invoke("add", "notebook", "linked", "--production")
    assert_one_sentence(code, err, "dvc.yaml", "outside the project")
    assert outside.read_bytes() == content and (project / "dvc.yaml").is_symlink()
    assert not list((project / "notebooks").glob("*linked*"))


# --- item 8: operating-system errors are one sentence naming the path -----------------------


def test_notebooks_being_a_file(project: Path):
    shutil.rmtree(project / "notebooks")
    (project / "notebooks").write_text("not a folder")
    code, err = invoke("add", "notebook", "x")
    assert_one_sentence(code, err, "notebooks is a file, not a folder")
    assert (project / "notebooks").read_text() == "not a folder"


IMMUTABLE = [
    ("notebooks", ("add", "notebook", "x")),
    ("params", ("add", "notebook", "x", "--production")),
    ("dvc.yaml", ("add", "notebook", "x", "--production")),
    ("tests", ("add", "module", "x")),
    ("src/bad_lab", ("add", "module", "x")),
    (".dvc", ("add", "remote", "r", "s3://bucket-r/x")),
    (".dvc/config", ("add", "remote", "r", "s3://bucket-r/x")),
]


@pytest.mark.skipif(not CAN_CHATTR, reason="needs chattr (immutable files)")
@pytest.mark.parametrize(("path", "args"), IMMUTABLE, ids=[f"{p}" for p, _ in IMMUTABLE])
def test_an_immutable_file_or_folder(project: Path, path: str, args: tuple[str, ...]):
    made_immutable = subprocess.run(
        [CHATTR, "+i", str(project / path)], capture_output=True, check=False
    )
    if made_immutable.returncode != 0:
        pytest.skip("this file system does not support immutable files")
    before = tree(project)
    code, err = invoke(*args)
    assert_one_sentence(code, err)
    assert "not permitted" in err or "permission" in err, err
    subprocess.run([CHATTR, "-R", "-i", str(project)], capture_output=True, check=False)
    assert tree(project) == before


def test_a_name_too_long_for_the_file_system(project: Path):
    code, err = invoke("add", "module", "m" * 300)
    assert_one_sentence(code, err, "too long")
    assert not list((project / "tests").glob("test_mmm*"))


def test_new_with_a_repo_name_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    code, err = invoke("new", "x", "--no-input", "--set", "repo_name=" + "r" * 300)
    assert_one_sentence(code, err, "too long")
    assert os.listdir(tmp_path) == []


def test_a_read_only_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "locked"
    target.mkdir()
    if not CAN_CHATTR or subprocess.run([CHATTR, "+i", str(target)], check=False).returncode:
        pytest.skip("needs chattr (an immutable folder, which even root cannot write)")
    try:
        code, err = invoke("new", "x", "--no-input", "-o", str(target))
    finally:
        subprocess.run([CHATTR, "-i", str(target)], check=False)
    assert_one_sentence(code, err, "locked")
    assert os.listdir(target) == []


def test_a_full_disk_is_one_sentence():
    with pytest.raises(OSError) as caught, open("/dev/full", "w") as full:
        full.write("x")
        full.flush()
    assert caught.value.errno == errno.ENOSPC
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/notebooks/x.ipynb")
    assert describe_os_error(error) == (
        "/data/notebooks/x.ipynb: no space left on the device; free some space and retry."
    )


NOT_TEXT = b"\xff\xfe\x00binary\x80"


@pytest.mark.parametrize(
    ("path", "args", "named"),
    [
        (".dvc/config", ("add", "remote", "r", "s3://bucket-r/x"), ".dvc/config"),
        (".dvc/config.local", ("add", "remote", "r", "s3://bucket-r/x"), ".dvc/config.local"),
        ("answers.yml", ("new", "--no-input", "--answers-file", "answers.yml"), "answers.yml"),
        ("dvc.yaml", ("add", "notebook", "x", "--production"), "dvc.yaml"),
        (".copier-answers.yml", ("add", "notebook", "x"), ".copier-answers.yml"),
    ],
)
def test_files_that_are_not_text(project: Path, path: str, args: tuple[str, ...], named: str):
    (project / path).write_bytes(NOT_TEXT)
    before = tree(project)
    code, err = invoke(*args)
    assert_one_sentence(code, err, named, "not UTF-8 text")
    assert tree(project) == before


def test_a_derived_module_name_that_fails_says_how_to_choose_one(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = invoke("new", "123 Numbers", "--no-input", "--no-git")
    assert_one_sentence(code, err, "'123_numbers'", "--set module_name=VALUE")
    assert list(tmp_path.iterdir()) == []


def test_a_params_file_that_is_not_text(project: Path):
    code, err = invoke("add", "notebook", "prod", "--production")
    assert code == 0, err
    params = next((project / "params").glob("*prod.yaml"))
    params.write_bytes(NOT_TEXT)
    code, err = invoke("run", params.stem)
    assert_one_sentence(code, err, f"params/{params.name} is not UTF-8 text")


def test_update_without_git_on_path(project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(project / "no-such-bin"))
    code, err = invoke("update", "--check")
    assert_one_sentence(code, err, "git")
    assert "not a git repository" not in err


# --- item 12: messages that name the real problem ------------------------------------------


@pytest.mark.parametrize("cred", ["/etc", "."])
def test_a_folder_as_credentials_file(project: Path, cred: str):
    before = tree(project)
    code, err = invoke("add", "remote", "r", "s3://bucket-r/x", "--credentials-file", cred)
    assert_one_sentence(code, err, "is a folder")
    assert "does not exist" not in err
    assert tree(project) == before
