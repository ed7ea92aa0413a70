"""DVC remotes: the template's default remote, `scaffold add remote`, credentials kept out of
git, and real round trips (dvc add / push / pull) to a local folder and to S3 served by moto."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from scaffold.resources import load_hook
from tests.conftest import (
    BIN,
    REPO_ROOT,
    copy_project,
    git,
    isolated_environment,
    listing,
    run_scaffold,
    scaffold_in_process,
)
from tests.helpers import dvc

DVC = str(BIN / "dvc")

QUIET = ("--no-input", "--no-pre-commit")
BUCKET = "scaffold-test-bucket"
# Fake credentials for moto; each must end up in .dvc/config.local and nowhere in git.
KEY_ID = "AKIAFAKEKEYID4SCAFFOLD"
SECRET = "fake/Secret+Key=4scaffold-never-in-git"
OTHER_SECRET = "second-fake-secret-0123456789"


def hook_module(name: str) -> ModuleType:
    """A stdlib module of the template's hooks/ folder."""
    return load_hook(REPO_ROOT / "hooks" / f"{name}.py")


def dvc_settings(project: Path) -> dict[str, tuple[str, str]]:
    """Every setting DVC reads, after DVC's own schema accepted every file: key -> (value, file)."""
    from dvc.config import Config

    Config(dvc_dir=str(project / ".dvc"))  # raises ConfigError unless DVC accepts the files
    out = dvc("config", "--list", "--show-origin", cwd=project).stdout
    settings = {}
    for line in out.splitlines():
        origin, _, setting = line.partition("\t")
        key, _, value = setting.partition("=")
        settings[key] = (value, origin)
    return settings


def new_project(workdir: Path, *args: str, name: str = "Lab") -> Path:
    scaffold_in_process("new", name, *QUIET, *args, cwd=workdir)
    return workdir / name.lower().replace(" ", "-")


def snapshot(project: Path) -> dict[str, bytes]:
    """Bytes of every file outside .git and DVC's scratch space."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.parts and "tmp" not in path.parts
    }


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials from the developer's environment: only what scaffold configures."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "AZURE_", "GOOGLE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- an S3 server on 127.0.0.1 (moto) ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port, with BUCKET created; stopped afterwards."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.name}") from None
                time.sleep(0.2)
        _s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def bucket_keys(endpoint: str, prefix: str) -> list[str]:
    listed = _s3_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


# --- round trips ------------------------------------------------------------------------------


def write_data(project: Path) -> bytes:
    content = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(500))
    (project / "data" / "raw" / "measurements.csv").write_bytes(content)
    return content


def assert_pull_restores(project: Path, content: bytes, remote: str, *pull: str) -> None:
    """Delete the data and the cache, pull, and get the same bytes back, in sync."""
    data = project / "data" / "raw" / "measurements.csv"
    data.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    # --allow-missing: the template's notebook stage has not run, so its output has no hash
    # yet; a plain `dvc pull` would fail on it ("Checkout failed"). `make data-pull` does this.
    command = list(pull) or [DVC, "pull", "--allow-missing"]
    pulled = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert data.read_bytes() == content
    status = dvc("status", "-c", cwd=project).stdout
    assert f"Cache and remote '{remote}' are in sync" in status, status


@pytest.mark.slow
def test_round_trip_through_the_default_local_remote(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")  # dvc for make
    project = new_project(workdir)
    content = write_data(project)

    make = ["make", "--no-print-directory"]
    out = subprocess.run(
        [*make, "data-add", "FILE=data/raw/measurements.csv"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Staged data/raw/measurements.csv.dvc" in out
    staged = git("diff", "--cached", "--name-only", cwd=project).splitlines()
    assert staged == ["data/raw/measurements.csv.dvc"]
    git("commit", "--quiet", "-m", "Add measurements", cwd=project)
    subprocess.run([*make, "data-push"], cwd=project, capture_output=True, check=True)

    # The remote is the folder the answers named, relative to the project folder.
    store = workdir / "lab-dvc-storage"
    assert any(path.is_file() for path in store.rglob("*"))
    assert_pull_restores(project, content, "storage", *make, "data-pull")
    status = subprocess.run(
        [*make, "data-status"], cwd=project, capture_output=True, text=True, check=True
    )
    assert "in sync" in status.stdout
    assert git("status", "--porcelain", cwd=project) == ""


@pytest.mark.slow
def test_round_trip_through_s3_configured_by_scaffold_new(workdir: Path, s3_endpoint: str):
    project = new_project(
        workdir,
        "--set",
        "dvc_remote=s3",
        "--set",
        f"dvc_remote_url=s3://{BUCKET}/lab",
        "--set",
        f"dvc_remote_endpoint_url={s3_endpoint}",
        "--remote-access-key-id",
        KEY_ID,
        "--remote-secret-access-key",
        SECRET,
    )
    settings = dvc_settings(project)
    assert settings["remote.storage.endpointurl"] == (s3_endpoint, ".dvc/config")
    assert settings["remote.storage.secret_access_key"] == (SECRET, ".dvc/config.local")

    content = write_data(project)
    dvc("add", "data/raw/measurements.csv", cwd=project)
    git("add", "data/raw/measurements.csv.dvc", cwd=project)
    git("commit", "--quiet", "-m", "Add measurements", cwd=project)
    dvc("push", cwd=project)
    assert bucket_keys(s3_endpoint, "lab/files/md5/")  # the data really is in the bucket
    assert_pull_restores(project, content, "storage")


@pytest.mark.slow
def test_add_remote_s3_credentials_by_profile_and_by_file_are_used(
    workdir: Path, s3_endpoint: str, isolated_home: Path
):
    project = new_project(workdir)
    aws = isolated_home / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[moto]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
    )
    keys = workdir / "team-keys.ini"
    keys.write_text(
        f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {OTHER_SECRET}\n"
    )
    for name, extra in [
        ("viaprofile", ["--profile", "moto"]),
        ("viafile", ["--credentials-file", "../team-keys.ini"]),
        ("nocreds", []),
    ]:
        run_scaffold(
            "add",
            "remote",
            name,
            f"s3://{BUCKET}/{name}",
            "--endpoint-url",
            s3_endpoint,
            *extra,
            cwd=project,
        )
    settings = dvc_settings(project)
    assert settings["remote.viaprofile.profile"] == ("moto", ".dvc/config.local")
    assert settings["remote.viafile.credentialpath"] == (str(keys), ".dvc/config.local")

    content = write_data(project)
    dvc("add", "data/raw/measurements.csv", cwd=project)
    for name in ("viaprofile", "viafile"):
        dvc("push", "-r", name, cwd=project)
        assert bucket_keys(s3_endpoint, f"{name}/files/md5/"), name
    # Without credentials the same store refuses: the ones scaffold configured were used.
    assert dvc("push", "-r", "nocreds", cwd=project, check=False).returncode != 0
    assert not bucket_keys(s3_endpoint, "nocreds/")
    assert (project / "data" / "raw" / "measurements.csv").read_bytes() == content


@pytest.mark.slow  # quick: no data in git (test_new.py), make data-add/push/pull (test_day_thirty)
def test_dvc_add_tracks_pointer_files_and_never_the_data(git_dvc_lab: Path):
    project = git_dvc_lab
    (project / "data" / "raw" / "a.csv").write_text("a\n1\n")
    (project / "data" / "raw" / "nested").mkdir()
    (project / "data" / "raw" / "nested" / "b.csv").write_text("b\n2\n")
    (project / "data" / "external" / "c.csv").write_text("c\n3\n")
    dvc("add", "data/raw", cwd=project)  # a folder: data/raw.dvc and data/.gitignore
    dvc("add", "data/external/c.csv", cwd=project)  # a file: data/external/c.csv.dvc

    untracked = git("status", "--porcelain", "--untracked-files=all", cwd=project)
    assert sorted(line[3:] for line in untracked.splitlines()) == [
        "data/.gitignore",
        "data/external/c.csv.dvc",
        "data/raw.dvc",
    ]
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "-m", "Add data", cwd=project)
    tracked = git("ls-files", "data", cwd=project).splitlines()
    assert tracked == ["data/.gitignore", "data/external/c.csv.dvc", "data/raw.dvc"]
    assert "nfiles: 2" in (project / "data" / "raw.dvc").read_text()  # .gitkeep is dvcignored


# --- configuration written by the template's hook --------------------------------------------


@pytest.mark.slow  # quick: DVC reads the hook's files back (the two tests below)
def test_hook_writes_the_config_dvc_itself_would_write(workdir: Path, tmp_path: Path):
    endpoint = "https://minio.example.com:9000"
    project = new_project(
        workdir,
        "--set",
        "dvc_remote=s3",
        "--set",
        "dvc_remote_url=s3://team-data/lab",
        "--set",
        f"dvc_remote_endpoint_url={endpoint}",
        "--set",
        "dvc_remote_profile=research",
    )
    reference = tmp_path / "reference"
    reference.mkdir()
    git("init", "--quiet", cwd=reference)
    dvc("init", "--quiet", cwd=reference)
    dvc("config", "core.analytics", "false", cwd=reference)
    dvc("remote", "add", "-d", "storage", "s3://team-data/lab", cwd=reference)
    dvc("remote", "modify", "storage", "endpointurl", endpoint, cwd=reference)
    dvc("remote", "modify", "--local", "storage", "profile", "research", cwd=reference)
    for name in ("config", "config.local"):
        assert (project / ".dvc" / name).read_text() == (reference / ".dvc" / name).read_text()
    assert git("check-ignore", ".dvc/config.local", cwd=project) == ".dvc/config.local"
    answers = (project / ".copier-answers.yml").read_text()
    assert f'dvc_remote_endpoint_url: "{endpoint}"' in answers


def test_config_writer_keeps_values_dvc_reads_back(tmp_path: Path):
    dvc_remote = hook_module("dvc_remote")
    project = tmp_path / "p"
    (project / "notebooks").mkdir(parents=True)
    git("init", "--quiet", cwd=project)
    dvc("init", "--quiet", cwd=project)
    dvc_dir = project / ".dvc"
    cwd = project / "notebooks"
    (dvc_dir / "config").write_text(
        "# kept: a comment written by hand\n[core]\n    autostage = true\n"
    )
    cases = {
        "rel": ("../../store", str(tmp_path / "store")),
        "dot": ("./here", str(cwd / "here")),
        "spaces": ("../my store, v2 #1", str(project / "my store, v2 #1")),
        "quotes": ("../it's", str(project / "it's")),
        "dquote": ('../say "hi"', str(project / 'say "hi"')),
        "absolute": (str(tmp_path / "abs"), str(tmp_path / "abs")),
        "home": ("~/dvc-store", str(Path.home() / "dvc-store")),
        "s3": ("s3://bucket-name/a/b", "s3://bucket-name/a/b"),
    }
    for name, (url, _) in cases.items():
        stored = dvc_remote.stored_url(url, cwd, dvc_dir)
        dvc_remote.write_remote(dvc_dir, name, stored, default=name == "rel")
    dvc_remote.write_local(dvc_dir, "s3", {"secret_access_key": "a/b+c,d#e' x", "profile": "p"})
    settings = dvc_settings(project)
    for name, (_, expected) in cases.items():
        assert settings[f"remote.{name}.url"] == (expected, ".dvc/config"), name
    assert settings["core.remote"] == ("rel", ".dvc/config")
    assert settings["core.autostage"] == ("true", ".dvc/config")
    assert settings["remote.s3.secret_access_key"] == ("a/b+c,d#e' x", ".dvc/config.local")
    assert (dvc_dir / "config").read_text().startswith("# kept: a comment written by hand\n")
    assert (dvc_dir / "config.local").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        dvc_remote.quote("both ' and \"")


@pytest.mark.parametrize(
    ("remote", "url", "local_key"),
    [
        ("gcs", "gs://team-data/lab", "credentialpath"),
        ("azure", "azure://team-data/lab", None),
        ("ssh", "ssh://alice@dvc.example.com:2222/srv/dvc/lab", "keyfile"),
    ],
)
def test_other_remote_types_pass_dvcs_schema(
    workdir: Path, remote: str, url: str, local_key: str | None
):
    key_file = workdir / "secret-key-file"
    key_file.write_text("not a real key\n")
    credentials = ["--remote-credentials-file", "secret-key-file"] if local_key else []
    project = new_project(
        workdir, "--set", f"dvc_remote={remote}", "--set", f"dvc_remote_url={url}", *credentials
    )
    settings = dvc_settings(project)  # fails unless DVC's schema accepts every file
    assert settings["remote.storage.url"] == (url, ".dvc/config")
    assert settings["core.remote"] == ("storage", ".dvc/config")
    if local_key:
        assert settings[f"remote.storage.{local_key}"] == (str(key_file), ".dvc/config.local")
    assert git_grep(project, "secret-key-file") == ""


def git_grep(project: Path, text: str) -> str:
    """Where ``text`` occurs in any commit of the project (empty: nowhere)."""
    revisions = git("rev-list", "--all", cwd=project).split()
    found = subprocess.run(
        ["git", "grep", "-I", "-F", "-e", text, *revisions],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode in (0, 1), found.stderr
    return found.stdout


def test_add_remote_config_for_gcs_azure_and_ssh(workdir: Path):
    project = new_project(workdir, "--no-git", "--set", "dvc_remote=none")
    git("init", "--quiet", cwd=project)
    dvc("init", "--quiet", cwd=project)
    key = workdir / "gcs-key.json"
    key.write_text("{}")
    for args in [
        ["gcsr", "gs://team-data/lab", "--credentials-file", str(key)],
        ["azr", "azure://team-data/lab", "--default"],
        ["sshr", "ssh://alice@dvc.example.com/srv/dvc", "--credentials-file", str(key)],
    ]:
        result = scaffold_in_process("add", "remote", *args, cwd=project)
        assert "dvc remote" in result.stdout
    settings = dvc_settings(project)
    assert settings["remote.gcsr.credentialpath"] == (str(key), ".dvc/config.local")
    assert settings["remote.sshr.keyfile"] == (str(key), ".dvc/config.local")
    assert settings["remote.azr.url"] == ("azure://team-data/lab", ".dvc/config")
    assert settings["core.remote"] == ("azr", ".dvc/config")
    # The project was made for no remote: scaffold says which DVC extra it now needs.
    result = scaffold_in_process("add", "remote", "more", "gs://more-data/x", cwd=project)
    assert "Add dvc[gs] to the project's dependencies" in result.stdout


def test_relative_local_paths_resolve_where_the_user_meant(workdir: Path, git_dvc_lab: Path):
    project = git_dvc_lab
    # The template's answer is relative to the project folder.
    storage = dvc_settings(project)["remote.storage.url"]
    assert storage == (str(workdir / "lab-dvc-storage"), ".dvc/config")
    # scaffold add remote: relative to the folder the user is in, like dvc itself.
    result = scaffold_in_process(
        "add", "remote", "backup", "../../backups", cwd=project / "notebooks"
    )
    assert f"backup -> {workdir / 'backups'}" in result.stdout
    settings = dvc_settings(project)
    assert settings["remote.backup.url"] == (str(workdir / "backups"), ".dvc/config")
    assert "url = ../../backups" in (project / ".dvc" / "config").read_text()


def test_default_and_force(workdir: Path, git_dvc_lab: Path):
    project = git_dvc_lab
    scaffold_in_process(
        "add", "remote", "team", "s3://team-data/x", "--profile", "dev", cwd=project
    )
    again = scaffold_in_process("add", "remote", "team", "../other", cwd=project, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    result = scaffold_in_process("add", "remote", "team", "../other", "--force", "-d", cwd=project)
    assert "(default)" in result.stdout
    assert dvc("remote", "default", cwd=project).stdout.strip() == "team"
    settings = dvc_settings(project)
    assert settings["remote.team.url"] == (str(workdir / "other"), ".dvc/config")
    assert "remote.team.profile" not in settings  # the replaced remote's settings are gone


def test_local_overrides_the_committed_remote_for_this_clone_only(workdir: Path, git_dvc_lab: Path):
    project = git_dvc_lab
    committed = (project / ".dvc" / "config").read_bytes()
    mine = workdir / "my-copy-of-storage"
    result = scaffold_in_process("add", "remote", "storage", str(mine), "--local", cwd=project)
    assert (project / ".dvc" / "config").read_bytes() == committed  # nothing for everyone
    assert "\t" not in result.stdout
    assert ".dvc/config.local: url (this clone only)" in result.stdout
    assert "shared" not in result.stdout and "Next: dvc pull -r storage" in result.stdout
    settings = dvc_settings(project)  # DVC merges the files: the local url wins
    assert settings["remote.storage.url"] == (str(mine), ".dvc/config.local")
    assert dvc("remote", "default", cwd=project).stdout.strip() == "storage"
    assert git("status", "--porcelain", cwd=project) == ""  # config.local is git-ignored
    again = scaffold_in_process("add", "remote", "storage", "../x", "--local", cwd=project,
                                check=False)  # fmt: skip
    assert again.returncode == 1 and "already exists in .dvc/config.local" in again.stderr
    scaffold_in_process("add", "remote", "storage", "../x", "--local", "--force", cwd=project)
    assert dvc_settings(project)["remote.storage.url"] == (str(workdir / "x"), ".dvc/config.local")


# --- secrets ---------------------------------------------------------------------------------


def test_no_credential_given_to_scaffold_reaches_git(workdir: Path, tmp_path: Path):
    scratch = tmp_path / "scaffold-tmp"  # where cookiecutter leaves its rendered hooks
    scratch.mkdir()
    key_file = workdir / "aws-credentials"
    key_file.write_text("[default]\n")
    created = run_scaffold(
        "new",
        "Lab",
        "--no-input",
        "--set",
        "dvc_remote=s3",
        "--set",
        "dvc_remote_profile=research",
        "--remote-access-key-id",
        KEY_ID,
        "--remote-secret-access-key",
        SECRET,
        "--remote-credentials-file",
        str(key_file),
        cwd=workdir,
        env={"TMPDIR": str(scratch)},
    )
    project = workdir / "lab"
    added = run_scaffold(
        "add",
        "remote",
        "backup",
        "s3://backup-data/lab",
        "--access-key-id",
        "AKIASECONDKEY",
        "--secret-access-key",
        OTHER_SECRET,
        cwd=project / "notebooks",
    )
    # A user commits everything git lets them commit.
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--no-verify", "-m", "Everything", cwd=project)

    local = (project / ".dvc" / "config.local").read_text()
    for secret in (KEY_ID, SECRET, "AKIASECONDKEY", OTHER_SECRET, str(key_file)):
        assert secret in local  # the credentials were stored: the checks below mean something
        assert git_grep(project, secret) == "", secret
        assert secret not in git("log", "--all", "-p", "--format=%B", cwd=project)
        assert secret not in created.stdout + created.stderr + added.stdout + added.stderr
        leftovers = [p for p in scratch.rglob("*") if p.is_file() and secret in p.read_text()]
        assert leftovers == [], secret
    assert "research" in local and "research" not in (project / ".dvc" / "config").read_text()
    assert ".dvc/config.local" not in git("ls-files", cwd=project).splitlines()
    assert (project / ".dvc" / "config.local").stat().st_mode & 0o777 == 0o600
    assert "secret_access_key" in created.stdout  # the key names are reported, not the values


# --- bad input -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_input_project(rendered_git_dvc_lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project for the refusals (each test checks that it did not change)."""
    project = copy_project(rendered_git_dvc_lab, tmp_path_factory.mktemp("bad-input") / "lab")
    (project / "key.json").write_text("{}")
    with isolated_environment(tmp_path_factory):
        scaffold_in_process(
            "add", "remote", "taken", "s3://taken-data/x", "--profile", "dev", cwd=project
        )
    return project


ADD_REMOTE_REFUSALS = [
    (["web", "http://example.com/dvc"], "unknown remote scheme 'http'"),
    (["h", "hdfs://namenode/dvc"], "unknown remote scheme 'hdfs'"),
    (["g", "gcs://team-data/x"], "write it as gs://bucket/path"),
    (["s", "s3:/team-data/x"], "write it as s3://bucket/path"),
    (["s", "s3://"], "must name a bucket or host after s3://"),
    (["s", "s3:///x"], "must name a bucket or host"),
    (["s", "s3://team data/x"], "without spaces"),
    (["s", "s3://Team_Data/x"], "invalid bucket name 'Team_Data'"),
    (["a", "azure://ab/x"], "invalid container name 'ab'"),
    (["h", "ssh://:22/x"], "ssh://[user@]host[:port]/path"),
    (["h", "ssh://host:99999/x"], "ssh://[user@]host[:port]/path"),
    (["l", " ../padded"], "without leading or trailing spaces"),
    (["bad name", "../x"], "remote name 'bad name'"),
    (["taken", "../x"], "remote 'taken' already exists in .dvc/config"),
    (["g", "gs://team-data/x", "--endpoint-url", "http://x:1"], "only for s3 remotes"),
    (["s", "s3://team-data/x", "--endpoint-url", "ftp://x"], "must be an http:// or https://"),
    (["s", "s3://team-data/x", "--endpoint-url", "http://"], "must be an http:// or https://"),
    (["l", "../x", "--profile", "dev"], "only for s3 remotes"),
    (["s", "s3://team-data/x", "--profile", "a b"], "must be a profile name"),
    (["s", "s3://team-data/x", "--access-key-id", "A"], "give both the access key id"),
    (["g", "gs://team-data/x", "--access-key-id", "A", "--secret-access-key", "B"], "for s3"),
    (["l", "../x", "--credentials-file", "key.json"], "a local remote takes no credentials"),
    (["a", "azure://team-data/x", "--credentials-file", "key.json"], "azure remotes take"),
    (["s", "s3://team-data/x", "--credentials-file", "nope.json"], "nope.json does not exist"),
]


@pytest.mark.parametrize(
    ("args", "message"), ADD_REMOTE_REFUSALS, ids=[m for _, m in ADD_REMOTE_REFUSALS]
)
def test_add_remote_refuses_bad_input_and_changes_nothing(
    bad_input_project: Path, args: list[str], message: str
):
    before = snapshot(bad_input_project)
    result = scaffold_in_process("add", "remote", *args, cwd=bad_input_project, check=False)
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert snapshot(bad_input_project) == before


def test_add_remote_outside_a_project_or_dvc_repo(tmp_path: Path, workdir: Path):
    result = scaffold_in_process("add", "remote", "x", "../x", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "is not inside a project" in result.stderr
    project = new_project(workdir, "--no-dvc")
    result = scaffold_in_process("add", "remote", "x", "../x", cwd=project, check=False)
    assert result.returncode == 1 and "run `dvc init` there" in result.stderr
    assert not (project / ".dvc").exists()


def test_when_dvc_rejects_the_result_both_files_are_restored(git_dvc_lab: Path):
    project = git_dvc_lab
    config = project / ".dvc" / "config"
    # A hand-edited setting DVC does not know: any change must leave both files as they were.
    config.write_text(config.read_text() + "['remote \"old\"']\n    url = /x\n    colour = red\n")
    before = snapshot(project)
    assert not (project / ".dvc" / "config.local").exists()
    result = scaffold_in_process(
        "add",
        "remote",
        "team",
        "s3://team-data/x",
        "--access-key-id",
        KEY_ID,
        "--secret-access-key",
        SECRET,
        cwd=project,
        check=False,
    )
    assert result.returncode == 1 and "dvc rejected the remote settings" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(project) == before
    assert not (project / ".dvc" / "config.local").exists()


NEW_REFUSALS = [
    (["--set", "dvc_remote=gcs", "--set", "dvc_remote_endpoint_url=http://x:9"], "only for s3"),
    (["--set", "dvc_remote=s3", "--set", "dvc_remote_endpoint_url=minio:9000"], "http://"),
    (["--set", "dvc_remote=s3", "--set", "dvc_remote_profile=a b"], "must be a profile name"),
    (["--set", "dvc_remote_profile=dev"], "only for s3 remotes"),
    (["--set", "dvc_remote=s3", "--set", "dvc_remote_url=s3://A_B/x"], "invalid bucket name"),
    (["--remote-access-key-id", "A", "--remote-secret-access-key", "B"], "local remote takes"),
    (["--set", "dvc_remote=s3", "--remote-access-key-id", "A"], "give both"),
    (
        [
            *("--set", "dvc_remote=s3", "--no-dvc"),
            *("--remote-access-key-id", "A", "--remote-secret-access-key", "B"),
        ],
        "need DVC set up",
    ),
    (["--set", "dvc_remote=gcs", "--remote-credentials-file", "missing.json"], "does not exist"),
    (["--set", "dvc_remote=none", "--remote-credentials-file", "x"], "no remote for the"),
]


@pytest.mark.parametrize(("args", "message"), NEW_REFUSALS, ids=[m for _, m in NEW_REFUSALS])
def test_new_refuses_bad_remote_settings_and_creates_nothing(
    workdir: Path, args: list[str], message: str
):
    before = listing(workdir)
    result = scaffold_in_process("new", "Lab", "--no-input", *args, cwd=workdir, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "Creating" not in result.stdout
    assert listing(workdir) == before


# --- the shared rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("s3://b/x", "s3"),
        ("gs://b/x", "gcs"),
        ("azure://c/x", "azure"),
        ("ssh://h/x", "ssh"),
        ("../store", "local"),
        ("/srv/dvc", "local"),
        ("~/dvc", "local"),
        ("C:\\dvc", "local"),
        ("https://x/y", None),
        ("s3:/b", None),
    ],
)
def test_remote_type_follows_the_scheme(url: str, remote: str | None):
    assert hook_module("pre_gen_project").remote_type(url) == remote


def test_template_rules_accept_good_remote_answers():
    from scaffold.options import resolve_answers

    answers = resolve_answers(
        {
            "project_name": "Lab",
            "dvc_remote": "s3",
            "dvc_remote_url": "s3://lab-data/dvc",
            "dvc_remote_endpoint_url": "https://abc.r2.cloudflarestorage.com",
            "dvc_remote_profile": "team.research-1",
        }
    )
    assert answers["dvc_remote_endpoint_url"] == "https://abc.r2.cloudflarestorage.com"
    for remote in ("gcs", "azure", "ssh", "local", "none"):
        assert resolve_answers({"project_name": "Lab", "dvc_remote": remote})
