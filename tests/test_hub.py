"""Team notebook servers: `scaffold share jupyterhub`, `make hub-setup` (cloud/setup-env.sh),
the SageMaker and Vertex start scripts, and a real JupyterHub on 127.0.0.1 pulling a project
through the nbgitpuller link."""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import UV_CACHE_DIR, git, scaffold_in_process

SHELL_SCRIPTS = (
    "cloud/setup-env.sh",
    "cloud/sagemaker/on-start.sh",
    "cloud/vertex/post-startup.sh",
)
HUB_PACKAGES = ("jupyterhub==6.1.1", "nbgitpuller==1.3.0", "jupyterlab==4.6.6")


def make_project(folder: Path, *settings: str) -> Path:
    """A fresh project in ``folder`` made in-process; ``settings`` are ``--set`` values."""
    sets = [arg for value in settings for arg in ("--set", value)]
    folder.mkdir(parents=True, exist_ok=True)
    scaffold_in_process("new", "Hub Demo", "--no-input", *sets, cwd=folder)
    return folder / "hub-demo"


@pytest.fixture
def cloud_project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "cloud", "sagemaker=yes", "vertex=yes", "github_repo=acme/hub-demo"
    )


def test_cloud_files_follow_the_options(tmp_path: Path, cloud_project: Path) -> None:
    plain = make_project(tmp_path / "plain")
    assert (plain / "cloud" / "setup-env.sh").is_file()
    assert not (plain / "cloud" / "sagemaker").exists()
    assert not (plain / "cloud" / "vertex").exists()
    assert "studiolab" not in (plain / "README.md").read_text()
    for script in SHELL_SCRIPTS:
        path = cloud_project / script
        assert path.stat().st_mode & 0o111, f"{script} is not executable"
    answers = (cloud_project / ".copier-answers.yml").read_text()
    assert (
        "sagemaker: 'yes'" in answers
        or 'sagemaker: "yes"' in answers
        or "sagemaker: yes" in answers
    )


def test_studio_lab_badge_has_the_documented_form(cloud_project: Path) -> None:
    # https://studiolab.sagemaker.aws/import/github/<owner>/<repo>/blob/<branch>/<path>
    readme = (cloud_project / "README.md").read_text()
    first = next((cloud_project / "notebooks").glob("1.0-*.ipynb")).name
    assert (
        "[![Open In SageMaker Studio Lab](https://studiolab.sagemaker.aws/studiolab.svg)]"
        f"(https://studiolab.sagemaker.aws/import/github/acme/hub-demo/blob/main/notebooks/{first})"
    ) in readme


def test_scripts_are_shellcheck_clean(cloud_project: Path) -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    result = subprocess.run(
        [shellcheck, *SHELL_SCRIPTS], cwd=cloud_project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_share_prints_nbgitpuller_link(cloud_project: Path) -> None:
    result = scaffold_in_process(
        "share",
        "jupyterhub",
        "--hub",
        "https://hub.example.org/hub/",
        "--notebook",
        "1.0",
        cwd=cloud_project,
    )
    link = result.stdout.strip()
    parts = urlsplit(link)
    # nbgitpuller's documented form: <hub>/hub/user-redirect/git-pull?repo=&branch=&urlpath=
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://hub.example.org/hub/user-redirect/git-pull"
    )
    query = parse_qs(parts.query)
    first = next((cloud_project / "notebooks").glob("1.0-*.ipynb")).name
    assert query == {
        "repo": ["https://github.com/acme/hub-demo"],
        "branch": ["main"],
        "targetpath": ["hub-demo"],
        "urlpath": [f"lab/tree/hub-demo/notebooks/{first}"],
    }
    assert not git("status", "--porcelain", cwd=cloud_project)  # nothing written without --badge


def test_share_uses_origin_and_badge_is_idempotent(cloud_project: Path) -> None:
    git("remote", "add", "origin", "git@github.com:team/other.git", cwd=cloud_project)
    first = scaffold_in_process(
        "share", "jupyterhub", "--hub", "http://127.0.0.1:8000", "--badge", cwd=cloud_project
    )
    assert "repo=https%3A%2F%2Fgithub.com%2Fteam%2Fother.git" in first.stdout
    readme = (cloud_project / "README.md").read_text()
    assert readme.count("[![Open in JupyterHub]") == 1
    badges = [line for line in readme.splitlines()[:8] if line.startswith("[![")]
    assert badges[-1].startswith("[![Open in JupyterHub]")  # among the badges under the title
    scaffold_in_process(
        "share", "jupyterhub", "--hub", "http://127.0.0.1:8000", "--badge", cwd=cloud_project
    )
    assert (cloud_project / "README.md").read_text() == readme


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hub", "hub.example.org"], "is not an http(s) URL"),
        (["--hub", "javascript:alert(1)"], "is not an http(s) URL"),
        (["--hub", "https://hub.example.org/?x=1"], "query or fragment"),
        (["--hub", "https://hub.example.org", "--notebook", "9.9"], "no notebook '9.9'"),
        (["--hub", "https://hub.example.org", "--notebook", "../../etc/passwd"], "no notebook"),
    ],
)
def test_share_refuses_bad_input(cloud_project: Path, args: list[str], message: str) -> None:
    result = scaffold_in_process("share", "jupyterhub", *args, cwd=cloud_project, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not git("status", "--porcelain", cwd=cloud_project)


def _server_env(home: Path) -> dict[str, str]:
    """A container-like user: its own HOME, uv (from scaffold's venv) on PATH, the shared cache."""
    return {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "UV_CACHE_DIR": UV_CACHE_DIR,
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
    }


def _kernelspec(home: Path, name: str) -> dict[str, object]:
    spec = home / ".local" / "share" / "jupyter" / "kernels" / name / "kernel.json"
    loaded: dict[str, object] = json.loads(spec.read_text())
    return loaded


@pytest.mark.slow
def test_lifecycle_scripts_set_the_project_up(tmp_path: Path, cloud_project: Path) -> None:
    """SageMaker's on-start and Vertex's post-startup, run for real in a temp HOME: they clone
    the project, create its environment, register the kernel and install the hooks."""
    remote = tmp_path / "remote" / "hub-demo.git"
    git("clone", "--quiet", "--bare", str(cloud_project), str(remote), cwd=tmp_path)
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    for platform, script in (("sagemaker", "on-start.sh"), ("vertex", "post-startup.sh")):
        home = tmp_path / f"home-{platform}"
        home.mkdir()
        project = home / "work" / "hub-demo"
        env = {
            **_server_env(home),
            "NOTEBOOK_USER": user,
            "PROJECT_DIR": str(project),
            "REPO_URL": str(remote),
            "SETUP_IN_BACKGROUND": "0",
            "PYTHON": sys.executable,
        }
        result = subprocess.run(
            [str(cloud_project / "cloud" / platform / script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        python = project / ".venv" / "bin" / "python"
        check = subprocess.run(
            [str(python), "-c", "import hub_demo, papermill, ipykernel"], capture_output=True
        )
        assert check.returncode == 0, check.stderr
        spec = _kernelspec(home, "hub-demo")
        assert spec["argv"][0] == str(python)  # type: ignore[index]
        assert (project / ".git" / "hooks" / "pre-commit").is_file()
        assert "git-nbdiffdriver" in git("config", "diff.jupyternotebook.command", cwd=project)


# --- a real JupyterHub -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def hub_tools(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """JupyterHub, nbgitpuller and JupyterLab in one venv; configurable-http-proxy from npm."""
    if shutil.which("npm") is None:
        pytest.skip("npm is needed for JupyterHub's proxy (configurable-http-proxy)")
    root = tmp_path_factory.mktemp("hub-tools")
    env = {**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR}
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "--quiet", str(root / "venv")], check=True, env=env)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(root / "venv" / "bin" / "python"),
            *HUB_PACKAGES,
        ],
        check=True,
        env=env,
    )
    subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(root / "npm"),
            "configurable-http-proxy@4",
        ],
        check=True,
        env=env,
    )
    return root / "venv" / "bin", root / "npm" / "node_modules" / ".bin" / "configurable-http-proxy"


class Hub:
    """A JupyterHub on 127.0.0.1 with DummyAuthenticator and local-process servers."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = None,
        timeout: float = 60,
    ) -> tuple[int, str, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {token or self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode(), response.geturl()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.geturl()


@pytest.fixture
def hub(tmp_path: Path, hub_tools: tuple[Path, Path]) -> Iterator[tuple[Hub, Path]]:
    bin_dir, proxy = hub_tools
    home = tmp_path / "home" / "ana"
    home.mkdir(parents=True)
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    token = "a" * 32
    path = f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c = get_config()  # noqa\n"
        "c.JupyterHub.authenticator_class = 'dummy'\n"
        "c.JupyterHub.spawner_class = 'simple'\n"
        f"c.JupyterHub.bind_url = 'http://127.0.0.1:{port}'\n"
        f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{hub_port}'\n"
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{api_port}'\n"
        f"c.ConfigurableHTTPProxy.command = [{str(proxy)!r}]\n"
        f"c.JupyterHub.db_url = 'sqlite:///{tmp_path}/hub.sqlite'\n"
        f"c.JupyterHub.cookie_secret_file = '{tmp_path}/cookie_secret'\n"
        f"c.SimpleLocalProcessSpawner.home_dir_template = '{tmp_path}/home/{{username}}'\n"
        f"c.Spawner.cmd = [{str(bin_dir / 'jupyterhub-singleuser')!r}]\n"
        "c.Spawner.args = ['--allow-root']\n"
        "c.Spawner.http_timeout = 120\n"
        "c.Spawner.start_timeout = 120\n"
        f"c.Spawner.environment = {{'PATH': {path!r}}}\n"
        "c.Authenticator.allow_all = True\n"
        f"c.JupyterHub.services = [{{'name': 'tests', 'api_token': {token!r}}}]\n"
        "c.JupyterHub.load_roles = [{'name': 'tests', 'services': ['tests'], 'scopes': "
        "['admin:users', 'admin:servers', 'tokens', 'access:servers']}]\n"
    )
    process = subprocess.Popen(
        [str(bin_dir / "jupyterhub"), "-f", str(config)],
        cwd=tmp_path,
        stdout=(tmp_path / "hub.log").open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        start_new_session=True,
    )
    the_hub = Hub(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if the_hub.call("GET", "/hub/api/", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, (tmp_path / "hub.log").read_text()
            time.sleep(0.5)
        else:
            raise AssertionError("the hub did not start:\n" + (tmp_path / "hub.log").read_text())
        yield the_hub, tmp_path
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        # the single-user servers run in their own sessions: stop what is left of them
        subprocess.run(["pkill", "-f", f"{tmp_path}/home"], check=False)


def _execute(bin_dir: Path, base: str, token: str, kernel: str, code: str) -> str:
    """Start ``kernel`` through the server's REST API and run ``code`` over its websocket."""
    client = Path(__file__).with_name("hub_client.py")
    result = subprocess.run(
        [str(bin_dir / "python"), str(client), base, token, kernel, code],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _login(url: str, user: str) -> urllib.request.OpenerDirector:
    """A browser-like session logged into the hub (DummyAuthenticator takes any password)."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(f"{url}/hub/login", timeout=30).read()
    xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")
    form = urllib.parse.urlencode({"username": user, "password": "x", "_xsrf": xsrf}).encode()
    with browser.open(f"{url}/hub/login?next=", data=form, timeout=120) as response:
        assert response.status == 200
    return browser


@pytest.mark.slow
def test_jupyterhub_pulls_the_project_and_runs_its_kernel(
    hub: tuple[Hub, Path], hub_tools: tuple[Path, Path], tmp_path: Path
) -> None:
    the_hub, folder = hub
    bin_dir = hub_tools[0]
    project = make_project(tmp_path / "made")
    remote = tmp_path / "remote" / "hub-demo.git"
    git("clone", "--quiet", "--bare", str(project), str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=project)

    link = scaffold_in_process(
        "share", "jupyterhub", "--hub", the_hub.url, cwd=project
    ).stdout.strip()

    assert the_hub.call("POST", "/hub/api/users/ana")[0] == 201
    status, body, _ = the_hub.call("POST", "/hub/api/users/ana/tokens", {"note": "tests"})
    assert status == 201, body
    user_token = json.loads(body)["token"]
    status, body, _ = the_hub.call("POST", "/hub/api/users/ana/server", timeout=180)
    assert status in (201, 202), body
    deadline = time.monotonic() + 180
    while (
        json.loads(the_hub.call("GET", "/hub/api/users/ana")[1])["servers"].get("", {}).get("ready")
        is not True
    ):
        assert time.monotonic() < deadline, (folder / "hub.log").read_text()
        time.sleep(1)

    browser = _login(the_hub.url, "ana")

    def click() -> None:
        # The user's click, in a logged-in browser session: the hub redirects to the user's
        # server, whose page then calls nbgitpuller's API with the same query (done here
        # directly, as the page's JavaScript does).
        with browser.open(link, timeout=60) as response:
            landed = response.geturl()
            assert response.status == 200
        assert "/user/ana/git-pull?" in landed, landed
        api = landed.replace("/git-pull?", "/git-pull/api?").removeprefix(the_hub.url)
        status, events, _ = the_hub.call("GET", api, token=user_token, timeout=180)
        assert status == 200 and '"phase": "finished"' in events, events

    click()
    home = folder / "home" / "ana"
    clone = home / "hub-demo"
    assert (clone / "notebooks").is_dir(), sorted(str(p) for p in folder.rglob("*.ipynb"))
    first = next((clone / "notebooks").glob("1.0-*.ipynb"))
    assert first.is_file()
    status, body, _ = the_hub.call(
        "GET", f"/user/ana/api/contents/hub-demo/notebooks/{first.name}", token=user_token
    )
    assert status == 200 and json.loads(body)["type"] == "notebook"

    # The user's terminal, once: make hub-setup; then a kernel of that name runs the project.
    setup = subprocess.run(
        ["make", "hub-setup"],
        cwd=clone,
        env=_server_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    printed = _execute(
        bin_dir,
        f"{the_hub.url}/user/ana",
        user_token,
        "hub-demo",
        "import sys, hub_demo.config as c; print(sys.prefix); print(c.PROJ_ROOT)",
    )
    assert printed.splitlines() == [str(clone / ".venv"), str(clone)], printed

    # A second click after the user edited a notebook and the team pushed a change: the edit
    # stays, the change arrives.
    edited = json.loads(first.read_text())
    edited["cells"].append(
        {"cell_type": "markdown", "id": "ana-note", "metadata": {}, "source": "my own note"}
    )
    first.write_text(json.dumps(edited, indent=1))
    (project / "references" / "glossary.md").write_text("# Glossary\n")
    git("add", "references/glossary.md", cwd=project)
    git(
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.com",
        "commit",
        "--no-verify",
        "-qm",
        "glossary",
        cwd=project,
    )
    git("push", "--quiet", "origin", "HEAD:main", cwd=project)
    click()
    assert "my own note" in first.read_text()
    assert (clone / "references" / "glossary.md").read_text() == "# Glossary\n"


def test_share_reads_the_notebook_as_run_does(tmp_path: Path) -> None:
    from scaffold.errors import ScaffoldError
    from scaffold.share import notebook_path

    root = tmp_path.resolve()
    (root / "notebooks").mkdir()
    (root / "reports").mkdir()
    for name in ("2.0-yn-train.ipynb", "1.1-yn-clean.ipynb", "explore.ipynb"):
        (root / "notebooks" / name).write_text("{}")
    (root / "reports" / "1.1-yn-clean.ipynb").write_text("{}")
    assert notebook_path(root, None) == "notebooks/1.1-yn-clean.ipynb"
    assert notebook_path(root, "2.0") == "notebooks/2.0-yn-train.ipynb"
    assert notebook_path(root, "explore") == "notebooks/explore.ipynb"
    # a path starts where the user is, as with scaffold run
    assert notebook_path(root, "explore.ipynb", root / "notebooks") == "notebooks/explore.ipynb"
    with pytest.raises(ScaffoldError, match="is an executed copy"):
        notebook_path(root, "reports/1.1-yn-clean.ipynb")
    with pytest.raises(ScaffoldError, match=r"no notebook '3\.0'"):
        notebook_path(root, "3.0")
