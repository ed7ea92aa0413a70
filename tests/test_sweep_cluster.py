"""``scaffold run --grid ... --cluster`` on a real Dask cluster on 127.0.0.1: a ``dask
scheduler`` and two ``dask worker`` processes (one thread each, with their nannies),
started and stopped by this module, in the project's .venv (installed with its ``cluster``
extra, as the docs say a worker's environment must be).

Fault cases: a failing parameter set, a worker that dies mid-run (retried once, then
failed), Ctrl-C (the runs on the workers stop), an unreachable scheduler.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import new_project, run_scaffold
from tests.helpers import add_notebook_with_cells as add
from tests.helpers import cmdline as _cmdline
from tests.helpers import descendants as _descendants
from tests.helpers import free_port, set_metrics, summary, sweep_folder
from tests.helpers import wait_for as _wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``scaffold new "Cluster Lab"`` (no git, no DVC) with the dev and cluster extras."""
    yield new_project(
        tmp_path_factory, "cluster-lab", "Cluster Lab", "--no-git", "--no-dvc", extras="dev,cluster"
    )


@pytest.fixture(scope="module")
def cluster(cluster_lab: Path) -> Iterator[dict[str, object]]:
    """``dask scheduler`` + 2 ``dask worker`` on 127.0.0.1, each in its own process group."""
    dask = str(cluster_lab / ".venv" / "bin" / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = cluster_lab.parent / "dask-logs"
    logs.mkdir()
    scratch = cluster_lab.parent / "worker-tmp"  # the workers' TMPDIR
    scratch.mkdir()
    common = ["--no-dashboard"]
    commands = [
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), *common],
        *(
            [dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", *common]
            for _ in range(2)
        ),
    ]
    processes = []
    try:
        for number, command in enumerate(commands):
            log = (logs / f"{number}.log").open("w")
            processes.append(
                subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "TMPDIR": str(scratch)},
                )
            )
            if number == 0:
                assert _wait_for(lambda: _listening(port), 120), "the scheduler did not start"
        assert _wait_for(lambda: _workers(cluster_lab, address) == 2, 180), (
            "the workers did not join"
        )
        yield {"address": address, "processes": processes, "tmp": scratch}
    finally:
        for process in reversed(processes):
            for pid in [*_descendants(process.pid), process.pid]:
                with contextlib_suppress():
                    os.kill(pid, signal.SIGKILL)
            with contextlib_suppress():
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def contextlib_suppress():  # type: ignore[no-untyped-def]
    import contextlib

    return contextlib.suppress(OSError)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _workers(lab: Path, address: str) -> int:
    probe = (
        "from distributed import Client\n"
        f"with Client({address!r}, timeout='10s') as c:\n"
        "    print(len(c.scheduler_info()['workers']))"
    )
    result = subprocess.run(
        [str(lab / ".venv" / "bin" / "python"), "-c", probe], capture_output=True, text=True
    )
    return int(result.stdout.strip() or 0) if result.returncode == 0 else 0


def _worker_kernels(cluster: dict[str, object]) -> list[int]:
    processes = cluster["processes"]
    assert isinstance(processes, list)
    return [
        pid
        for process in processes[1:]
        for pid in _descendants(process.pid)
        if "ipykernel_launcher" in _cmdline(pid)
    ]


def test_a_grid_runs_on_the_cluster_and_the_notebooks_come_back(cluster_lab: Path, cluster: dict):
    stem = add(
        cluster_lab,
        "on the cluster",
        ("work", "import os\nscore = seed * 2\nassert seed != 3, 'bad seed'\nhere = os.getcwd()"),
    )
    set_metrics(cluster_lab, stem, 'metrics = {"score": score}\nmetrics')
    result = run_scaffold(
        "run",
        stem,
        "--grid",
        "seed=1,2,3",
        "--cluster",
        str(cluster["address"]),
        cwd=cluster_lab,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert f"3 runs (3 seed) on the Dask scheduler at {cluster['address']}" in out
    assert "connected to " in out and "2 workers, 2 threads" in out
    assert "failed seed=3: cell 6 (id 'work', `import os`): AssertionError: bad seed" in out
    folder = sweep_folder(cluster_lab, stem)
    rows = {row["run"]: row for row in summary(folder)}
    assert {run: row["status"] for run, row in rows.items()} == {
        "seed=1": "done",
        "seed=2": "done",
        "seed=3": "failed",
    }
    assert rows["seed=2"]["score"] == "4"
    executed = json.loads((folder / "seed=2.ipynb").read_text())
    assert any("seed = 2" in "".join(c["source"]) for c in executed["cells"])


CRASH = """import os, signal
from pathlib import Path

def parent(pid):
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])

marker = Path(marker_dir) / f"{mode}.started"
first = not marker.exists()
marker.write_text("started")
if mode == "always" or first:
    os.kill(parent(os.getppid()), signal.SIGKILL)  # the worker process (kernel -> driver -> worker)
"""


def test_a_worker_dying_mid_run_is_retried_once_then_reported(
    cluster_lab: Path, cluster: dict, tmp_path: Path
):
    declared = f'mode: str = "once"\nmarker_dir: str = "{tmp_path}"'
    stem = add(cluster_lab, "worker killer", ("crash", CRASH), parameters=declared)
    result = run_scaffold(
        "run",
        stem,
        "--grid",
        "mode=once,always",
        "--cluster",
        str(cluster["address"]),
        cwd=cluster_lab,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {row["run"]: row for row in summary(sweep_folder(cluster_lab, stem))}
    assert rows["mode=once"]["status"] == "done"
    assert rows["mode=always"]["status"] == "failed"
    assert (
        "mode=always (retried after its worker died): WorkerDied: its worker died twice"
        in result.stdout
    )
    # the nannies bring the workers back for the next test
    assert _wait_for(lambda: _workers(cluster_lab, str(cluster["address"])) == 2, 120)
    # and Dask removes the dead workers' folders, with the runs' scratch folders in them
    tmp = cluster["tmp"]
    assert isinstance(tmp, Path)
    assert _wait_for(lambda: not list(tmp.rglob("scaffold-run-*")), 30), list(tmp.rglob("*"))


def test_ctrl_c_cancels_the_runs_on_the_cluster(cluster_lab: Path, cluster: dict):
    stem = add(cluster_lab, "sleepy cluster", ("nap", "import time\ntime.sleep(300)"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scaffold",
            "run",
            stem,
            "--grid",
            "seed=1,2,3,4",
            "--cluster",
            str(cluster["address"]),
        ],
        cwd=cluster_lab,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert _wait_for(lambda: len(_worker_kernels(cluster)) == 2, 240)
        time.sleep(3)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "Interrupted."
    assert "Traceback" not in err
    # the kernels on the workers stop, and the queued runs never start
    assert _wait_for(lambda: not _worker_kernels(cluster), 60)
    time.sleep(5)
    assert not _worker_kernels(cluster)
    assert not (cluster_lab / "reports" / "sweeps" / stem).exists()


def test_an_unreachable_scheduler_is_one_sentence(cluster_lab: Path):
    stem = add(cluster_lab, "nowhere")
    address = f"tcp://127.0.0.1:{free_port()}"
    result = run_scaffold(
        "run", stem, "--grid", "seed=1,2", "--cluster", address, cwd=cluster_lab, check=False
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot reach the Dask scheduler at {address} (")
    assert last.endswith("start one (dask scheduler) or check the address.")
    assert "Traceback" not in result.stderr
    assert not (cluster_lab / "reports" / "sweeps" / stem).exists()


@pytest.fixture()
def impostor() -> Iterator[dict[str, str]]:
    """Two endpoints that are not Dask schedulers, on 127.0.0.1: one that greets every
    connection with an SSH banner (its bytes read as a 3 EiB frame length) and one that
    accepts and stays silent (an HTTP server waiting for a request)."""
    servers = {"banner": b"SSH-2.0-OpenSSH_9.6\r\n" * 4, "silent": b""}
    sockets, addresses, stop = [], {}, False

    def serve(sock: socket.socket, greeting: bytes) -> None:
        held = []
        while not stop:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            if greeting:
                conn.sendall(greeting)
            held.append(conn)

    import threading

    for name, greeting in servers.items():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sockets.append(sock)
        addresses[name] = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
        threading.Thread(target=serve, args=(sock, greeting), daemon=True).start()
    yield addresses
    stop = True
    for sock in sockets:
        sock.close()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("banner", "answers, but not as a Dask scheduler; give the address dask scheduler prints"),
        ("silent", "(no answer within 5 s); start one (dask scheduler) or check the address."),
        ("tcp://127.0.0.1:99999", "is not a Dask address (port 99999 is not between 1 and 65535)."),
    ],
)
def test_a_bad_cluster_is_one_sentence_before_the_plan(
    cluster_lab: Path, impostor: dict[str, str], kind: str, message: str
):
    """Dask's own parser checks the address; a short connect and handshake check the peer,
    before the plan is printed: one sentence, no traceback, nothing written."""
    stem = add(cluster_lab, f"impostor {'port' if ':' in kind else kind}")
    address = impostor.get(kind, kind)
    started = time.monotonic()
    result = run_scaffold(
        "run", stem, "--grid", "seed=1,2", "--cluster", address, cwd=cluster_lab, check=False
    )
    assert time.monotonic() - started < 90
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {result.stderr.strip()[7:]}"]
    assert message in result.stderr and address in result.stderr
    assert "Traceback" not in result.stderr and "sweep " not in result.stdout
    assert not (cluster_lab / "reports" / "sweeps" / stem).exists()
