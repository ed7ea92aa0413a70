"""Run one notebook with papermill, inside the PROJECT's interpreter (never scaffold's).

scaffold (``scaffold.execution.DriverProcess``) runs this file's source as ``<project python>
-c <source> --serve``: one ``DriverSpec`` (JSON) per line of stdin, each answered on stdout by
``\0started`` (the kernel answered and the first cell begins) and ``\0done <exit code>``. papermill
is imported once per process; every notebook still gets a fresh kernel. ``-c <source> SPEC``
runs one spec (Dask workers, the DVC queue's ``papermill`` shim import ``main``). A spec:
``input``, ``output``, ``cwd``, ``parameters_file`` (YAML, read like papermill's ``-f``),
``parameters`` (overrides, applied after the file), ``progress`` and ``result`` (a file to
write the outcome to, as JSON). Failures are reported there, not as a traceback; a kernel that
never answered is ``"start_failed": true``.

Optional, for many kernels at once (``scaffold run --grid``): ``transport`` (``"ipc"``: the
kernel talks over Unix sockets in a private folder, so concurrent kernels never race for
TCP ports), ``start_timeout`` (seconds for the kernel to answer, longer under load) and
``start_attempts`` (a kernel that dies before it answers is started again, up to this many
times in all; nothing of the notebook ran yet, so a retry is safe). ``watch_parent``: stop
(and shut the kernel down) when the process that started this one dies, as a Dask worker
killed mid-run does (``--serve`` always watches its parent: a SIGKILLed scaffold leaves no
driver or kernel behind).

Optional, for many notebooks in turn in one process (``scaffold check --run``'s workers):
``warm`` (the driver starts the kernel itself, in a thread, while papermill is imported, and
hands it to papermill; the kernel is killed, not asked to stop, once the notebook ends) and
``prestart`` (also start the next notebook's kernel while this notebook runs, so the next
one finds a kernel that has answered already; it is used if the next spec is ``warm`` with
the same ``cwd``, ``kernel_name`` and ``transport``, and shut down otherwise or at exit).

Standard library plus papermill (and its PyYAML) only; keep it compatible with Python 3.8.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Any, TypedDict

# papermill reads notebooks with nbformat, which imports jsonschema, whose format checkers
# import rfc3987-syntax where it is installed (Jupyter's packages pull it in). That import
# builds Lark parsers: 0.7-1.5 s of every driver's start. nbformat never checks the "iri"
# formats it serves, so the driver does without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


class DriverSpec(TypedDict, total=False):
    """One notebook to run: what scaffold writes, one JSON object per line (see the module)."""

    input: str
    output: str
    cwd: str
    parameters_file: str | None
    parameters: dict[str, Any]
    progress: bool
    result: str
    kernel_name: str
    transport: str
    start_timeout: int
    start_attempts: int
    watch_parent: bool
    warm: bool
    prestart: bool


class Outcome(TypedDict, total=False):
    """What ``main`` writes to ``result``."""

    ok: bool
    error: str
    message: str
    executed: bool
    interrupted: bool
    restarts: int
    start_failed: bool
    kernel_log: str  # what the kernel wrote to stderr, when it died or never answered


PARENT_POLL = 0.5  # seconds between two looks at whether the parent is still there

STOP_SIGNALS = [
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
]


def _stop(signum: int, frame: object) -> None:
    """Stop the run quietly: papermill's cleanup shuts the kernel down as the interrupt unwinds,
    and asyncio's tracebacks about the cancelled run go nowhere (scaffold reports it)."""
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(devnull, sys.stderr.fileno())  # where _kernels_write_apart moved it
    raise KeyboardInterrupt


_KERNEL_LOG: list[int] = []  # the descriptor of the (unlinked) file kernels write stderr to
KERNEL_LOG_TAIL = 2000  # bytes of it kept in an outcome


def _kernels_write_apart() -> None:
    """Kernels inherit this process's standard error (fd 2): point it at an unlinked temporary
    file, so what ipykernel logs as it stops (a ZMQ traceback when a socket closes first)
    never reaches the user; ``sys.stderr`` (papermill's progress bar) stays where it was.
    The file's tail explains a kernel that died or never answered."""
    try:
        handle, path = tempfile.mkstemp(prefix="kernels-", suffix=".log")
        os.unlink(path)  # nothing to clean up, however this process ends
        original = os.dup(2)
        os.dup2(handle, 2)
    except OSError:
        return
    sys.stderr = os.fdopen(original, "w", buffering=1, encoding="utf-8", errors="replace")
    _KERNEL_LOG.append(handle)


def _kernel_log_size() -> int:
    return os.fstat(_KERNEL_LOG[0]).st_size if _KERNEL_LOG else 0


def _kernel_log_since(offset: int) -> str:
    """What kernels wrote to stderr after ``offset`` (its last ``KERNEL_LOG_TAIL`` bytes)."""
    end = _kernel_log_size()
    if end <= offset:
        return ""
    start = max(offset, end - KERNEL_LOG_TAIL)
    return os.pread(_KERNEL_LOG[0], end - start, start).decode("utf-8", "replace").strip()


# What a kernel that never came up looks like (jupyter_client / nbclient / ZMQ messages).
START_FAILURES = (
    "Kernel died before replying to kernel_info",
    "Kernel didn't respond",
    "Address already in use",
)


# ipykernel 7 warns at every start that its (127.0.0.1) TCP sockets are not encrypted; that
# line is noise on every run. Kernel errors still show. History off: kernels started together
# would all write IPython's one history database.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]


SOCKET_PATH_MAX = 100  # bytes of an AF_UNIX socket path (104 on macOS, 108 on Linux)


def _ipc_folder(spec: DriverSpec) -> str | None:
    """A private folder for the kernel's Unix sockets, or None for TCP: not asked for, or a
    TMPDIR so deep that the socket paths would be too long."""
    if spec.get("transport") != "ipc":
        return None
    folder = tempfile.mkdtemp(prefix="sk-")
    if len(os.path.join(folder, "kernel-65535").encode()) > SOCKET_PATH_MAX:
        os.rmdir(folder)
        return None
    return folder


def _ipc_config(ipc_folder: str) -> Any:
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"
    # the socket files: <folder>/kernel-<n>; a private folder per kernel, short (AF_UNIX
    # paths are limited to about 100 bytes)
    config.KernelManager.ip = os.path.join(ipc_folder, "kernel")
    return config


def _execute(
    spec: DriverSpec, parameters: dict[str, Any], ipc_folder: str | None, km: Any = None
) -> None:
    import papermill

    options: dict[str, Any] = {}
    if km is not None:  # started (and shut down) by the caller: papermill only runs the cells
        options["km"] = km
    elif ipc_folder is not None:
        options["config"] = _ipc_config(ipc_folder)
    try:
        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=parameters,
            cwd=spec["cwd"],
            kernel_name=spec.get("kernel_name") or "python3",  # this env's, not the saved one
            progress_bar=spec.get("progress", False),
            start_timeout=spec.get("start_timeout", 60),
            extra_arguments=KERNEL_ARGUMENTS,
            **options,
        )
    except Exception as error:
        if not (hasattr(error, "ename") and _only_expected_errors(spec["output"])):
            raise


def _only_expected_errors(output: str) -> bool:
    """True when every cell that raised is tagged ``raises-exception``: nbclient ran on past
    them, as Jupyter does, but papermill fails a notebook for any error output."""
    try:
        with open(output, encoding="utf-8") as handle:
            cells = json.load(handle).get("cells", [])
    except (OSError, ValueError):
        return False
    raised = [
        cell
        for cell in cells
        if any(out.get("output_type") == "error" for out in cell.get("outputs", []))
        or cell.get("metadata", {}).get("papermill", {}).get("exception")
    ]
    tagged = ["raises-exception" in cell.get("metadata", {}).get("tags", []) for cell in raised]
    return bool(raised) and all(tagged)


class _StartFailed(Exception):
    """A warm kernel never answered (what its start raised is the cause)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.cause = cause


def _never_started(error: BaseException) -> bool:
    """True when the kernel failed before the first cell ran (so a retry is safe)."""
    if isinstance(error, _StartFailed):
        return True
    text = str(error)
    return not hasattr(error, "ename") and any(failure in text for failure in START_FAILURES)


class _Kernel:
    """A kernel for one notebook, started and waited for in a thread (``warm`` specs), so its
    start-up overlaps papermill's import or the previous notebook's run."""

    def __init__(self, spec: DriverSpec) -> None:
        self.key = _kernel_key(spec)
        self.ipc_folder = _ipc_folder(spec)
        self.km: Any = None
        self.kc: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, args=(spec,), daemon=True)
        self.thread.start()

    def _start(self, spec: DriverSpec) -> None:
        try:
            from jupyter_client.manager import KernelManager

            config = _ipc_config(self.ipc_folder) if self.ipc_folder else None
            self.km = KernelManager(kernel_name=self.key[1], config=config)
            self.km.start_kernel(extra_arguments=KERNEL_ARGUMENTS, cwd=spec["cwd"])
            self.kc = self.km.client()
            self.kc.start_channels(hb=False)  # nbclient starts the heartbeat itself
            self.kc.wait_for_ready(timeout=spec.get("start_timeout", 60))
        except BaseException as error:  # raised in the notebook's thread, by ready()
            self.error = error

    def ready(self) -> Any:
        """The kernel's manager once the kernel has answered, for papermill's ``km``; what its
        start raised, if it never answered."""
        self.thread.join()
        if self.error is not None:
            raise _StartFailed(self.error)
        # nbclient runs cells with an asyncio loop: a blocking client would block that loop in
        # get_msg, so the check that the kernel is still alive (every second) would never run
        # and a dead kernel would look like a slow cell. nbclient makes its own async client
        # (one kernel_info round trip: this kernel has answered already).
        self.kc.stop_channels()
        self.kc = None
        self.km.client_class = "jupyter_client.asynchronous.AsyncKernelClient"
        return self.km

    def shutdown(self) -> None:
        """Kill the kernel (its notebook ran, or will not run) and remove its socket folder."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if self.thread.is_alive() and process is not None:
            process.kill()  # still starting: the thread then sees it died
        self.thread.join(timeout=10)
        try:
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km is not None and self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        finally:
            if self.ipc_folder is not None:
                shutil.rmtree(self.ipc_folder, ignore_errors=True)


def _kernel_key(spec: DriverSpec) -> tuple[str, str, str | None]:
    return spec["cwd"], spec.get("kernel_name") or "python3", spec.get("transport")


# warm specs: the kernel started ahead for the next notebook, and kernels being shut down
_SPARE: list[_Kernel] = []
_STOPPING: list[threading.Thread] = []


def _shut_down(kernel: _Kernel) -> None:
    """Shut ``kernel`` down in a thread: the notebook's outcome need not wait for it."""
    thread = threading.Thread(target=kernel.shutdown, daemon=True)
    thread.start()
    _STOPPING.append(thread)


@atexit.register
def _shut_down_all() -> None:
    while _SPARE:
        _SPARE.pop().shutdown()
    while _STOPPING:
        _STOPPING.pop().join(timeout=15)


def _take_kernel(spec: DriverSpec) -> _Kernel:
    """The kernel started ahead for ``spec`` if it fits, else one started now."""
    while _SPARE:
        spare = _SPARE.pop()
        if spare.key == _kernel_key(spec):
            return spare
        _shut_down(spare)
    return _Kernel(spec)


def _execute_warm(spec: DriverSpec, parameters: dict[str, Any]) -> None:
    kernel = _take_kernel(spec)
    try:
        km = kernel.ready()
        if spec.get("prestart"):
            _SPARE.append(_Kernel(spec))
        _execute(spec, parameters, None, km)
    finally:
        _shut_down(kernel)


def _parameters(spec: DriverSpec) -> dict[str, Any]:
    import yaml

    parameters: dict[str, Any] = {}
    path = spec.get("parameters_file")
    if path:
        with open(path, encoding="utf-8") as handle:
            parameters.update(yaml.safe_load(handle) or {})
    parameters.update(spec.get("parameters") or {})
    return parameters


def _attempts(spec: DriverSpec, parameters: dict[str, Any], result: Outcome) -> None:
    attempts = max(1, int(spec.get("start_attempts", 1)))
    for attempt in range(1, attempts + 1):
        cold = not spec.get("warm")
        ipc_folder = _ipc_folder(spec) if cold else None
        try:
            if cold:
                _execute(spec, parameters, ipc_folder)
            else:
                _execute_warm(spec, parameters)
            result["ok"] = True
            return
        except Exception as error:
            if attempt < attempts and _never_started(error):
                result["restarts"] = attempt
                time.sleep(0.5 * attempt)
                continue
            raise
        finally:
            if ipc_folder is not None:
                shutil.rmtree(ipc_folder, ignore_errors=True)


_WATCHING: list[int] = []


def _watch_parent() -> None:
    """SIGTERM this process (``_stop`` then ends the run) once its parent is gone: a parent
    that is SIGKILLed cannot stop its children, and an orphaned kernel would run on."""
    if _WATCHING:
        return
    parent = os.getppid()
    _WATCHING.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def main(spec: DriverSpec) -> int:
    """Execute the notebook; write ``{"ok": ...}`` to ``spec["result"]``; return the exit code."""
    result: Outcome = {"ok": False}
    if spec.get("watch_parent"):
        _watch_parent()
    logged = _kernel_log_size()
    try:
        _attempts(spec, _parameters(spec), result)
    except KeyboardInterrupt:
        result["error"] = "Interrupted"
        result["interrupted"] = True
    except Exception as error:
        cause = error.cause if isinstance(error, _StartFailed) else error
        result["error"] = getattr(cause, "ename", None) or type(cause).__name__
        result["message"] = str(getattr(cause, "evalue", None) or cause).strip()
        result["executed"] = hasattr(cause, "ename")  # a cell failed (PapermillExecutionError)
        if _never_started(error):
            result["start_failed"] = True
        if result.get("start_failed") or result["error"] == "DeadKernelError":
            result["kernel_log"] = _kernel_log_since(logged)
    with open(spec["result"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    if result.get("interrupted"):
        return 130
    return 0 if result["ok"] else 1


def _announce_started() -> bool:
    """Make papermill say ``\\0started`` on stdout as a notebook's first cell begins; False if
    this papermill has no hook for it (then the start is announced before the kernel's)."""
    try:
        from papermill.engines import NotebookExecutionManager as manager
    except Exception:
        return False
    cell_start = manager.cell_start

    def announced(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self, "_scaffold_started", False):
            self._scaffold_started = True
            _say("started")
        return cell_start(self, *args, **kwargs)

    manager.cell_start = announced
    return True


def _say(word: str) -> None:
    sys.stdout.write("\0" + word + "\n")
    sys.stdout.flush()


def serve(lines: Any = None) -> None:
    """Run one spec per line of ``lines`` (stdin), answering ``\\0done <exit code>`` each."""
    hooked = _announce_started()
    for line in sys.stdin if lines is None else lines:
        if not hooked:
            _say("started")
        status = main(json.loads(line))
        _say(f"done {status}")
        if status == 130:  # stopped by a signal: no more notebooks
            break


if __name__ == "__main__":
    _kernels_write_apart()
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop)
    if sys.argv[1:] == ["--serve"]:
        _watch_parent()
        serve()
    else:
        sys.exit(main(json.loads(sys.argv[1])))
