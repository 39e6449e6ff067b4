"""The window's side of the worker process: start it at launch, send requests, turn its events into signals.

:class:`WorkerClient` owns one ``QProcess`` running ``studio --worker`` (:mod:`studio.jobs.worker`; the same
executable in a frozen app) and speaks the JSON-lines protocol of :mod:`studio.core.protocol`. Everything runs
in the GUI thread: a line from the worker is read in ``readyReadStandardOutput`` and dispatched to its
:class:`RemoteJob`, whose signals are the ones a page connects (the same as a light :class:`~studio.gui.workers.Job`).

- **Warm**: the worker starts at launch and imports TensorFlow at once; ``tf_ready`` says when it has.
- **Cancel** asks the worker first (the core stops within a training batch and keeps the best weights); a job
  still running :data:`CANCEL_GRACE_MS` later is ended by killing the worker, which is then restarted.
- **Crash**: if the worker dies, every job it ran fails with :class:`WorkerDied` (a plain message, with the
  worker's last stderr lines as details), queries are sent again to a new worker, and ``died`` is emitted
  (the main window shows a dialog when no page already did). Restarts stop after
  :data:`MAX_CRASHES` crashes within :data:`CRASH_WINDOW_S` seconds.
"""

from __future__ import annotations

import collections
import itertools
import os
import sys
import time
import weakref
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from studio.core.errors import Cancelled, StudioError
from studio.core.protocol import decode, encode, error_from_event

CANCEL_GRACE_MS = 15_000
RESTART_DELAY_MS = 300
MAX_CRASHES = 3
CRASH_WINDOW_S = 120.0
STDERR_LINES = 200


class Hook:
    """A signal-like list of callbacks held *weakly*: the app-long client must not keep windows, states or
    pages alive, nor call them once Qt has deleted them (tests make many)."""

    def __init__(self) -> None:
        self._refs: list[weakref.WeakMethod] = []

    def connect(self, method: Any) -> None:
        self._refs.append(weakref.WeakMethod(method))

    def disconnect(self, method: Any) -> None:
        self._refs = [r for r in self._refs if r() != method]

    def emit(self, *args: Any) -> None:
        for ref in list(self._refs):
            method = ref()
            owner = getattr(method, "__self__", None)
            if method is None or (isinstance(owner, QObject) and not shiboken6.isValid(owner)):
                self._refs.remove(ref)
                continue
            method(*args)


class WorkerDied(StudioError):
    """The worker process stopped while it ran this job (a crash, or killed from outside)."""


def worker_command() -> tuple[str, list[str]]:
    """The program and arguments that start a worker: from source this Python with ``-m studio --worker``;
    frozen, the bundle's console executable ``studio`` beside this one (its standard streams are real pipes,
    which a windowed executable's may not be), else this executable, with ``--worker``."""
    if getattr(sys, "frozen", False):
        from pathlib import Path

        here = Path(sys.executable)
        console = here.with_name("studio.exe" if sys.platform == "win32" else "studio")
        return (str(console) if console.is_file() else sys.executable), ["--worker"]
    return sys.executable, ["-m", "studio", "--worker"]


def _no_console_window(args: Any) -> None:  # pragma: no cover - Windows only
    """QProcess creation hook: start the console executable without opening a console window."""
    args.flags |= 0x08000000  # CREATE_NO_WINDOW


class RemoteJob(QObject):
    """One request to the worker. Same signals as :class:`studio.gui.workers.Job`; exactly one of
    ``succeeded(result)`` / ``failed(exception)``, then ``done()``."""

    progress = Signal(float, str)
    status = Signal(str)
    metrics = Signal(str, dict)
    batch_metrics = Signal(list)
    succeeded = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(self, client: "WorkerClient", job_id: int, job: str, project: str | None,
                 request: dict[str, Any], lane: str, exclusive: bool, owner: QObject | None) -> None:
        super().__init__(client)
        self.setObjectName(job)
        self.client = client
        self.id = job_id
        self.job = job
        self.project = project
        self.request = request
        self.lane = lane
        self.exclusive = exclusive
        self.owner = owner
        self.sent = False
        self.finished_ = False
        self.cancel_requested = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.started_at = time.monotonic()

    @property
    def title(self) -> str:
        return self.client.job_title(self.job)

    @property
    def writes(self) -> bool:
        return bool(self.client.job_info(self.job).get("writes"))

    def message(self) -> dict[str, Any]:
        return {"type": "run" if self.lane == "job" else "query", "id": self.id, "job": self.job,
                "project": self.project, "request": self.request}

    # QThread-like API, so pages treat light and worker jobs alike
    def isRunning(self) -> bool:  # noqa: N802 - mirrors QThread
        return self.sent and not self.finished_

    def isFinished(self) -> bool:  # noqa: N802
        return self.finished_

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested

    def cancel(self) -> None:
        """Ask the worker to stop this job; it is killed if still running after the grace period."""
        if self.finished_ or self.cancel_requested:
            return
        self.cancel_requested = True
        self.client.cancel(self)

    def handle(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "progress":
            self.progress.emit(float(event["fraction"]), str(event.get("message") or ""))
        elif kind == "status":
            self.status.emit(str(event.get("message") or ""))
        elif kind == "metrics":
            self.metrics.emit(str(event.get("kind")), dict(event.get("values") or {}))
        elif kind == "batches":
            self.batch_metrics.emit(list(event.get("values") or []))
        elif kind == "result":
            self.finish(value=event.get("value"))
        elif kind == "error":
            self.finish(error=error_from_event(event))

    def finish(self, value: Any = None, error: BaseException | None = None) -> None:
        if self.finished_:
            return
        self.finished_ = True
        self.client.forget(self)
        if error is None:
            self.result = value
            self.succeeded.emit(value)
        else:
            self.error = error
            self.failed.emit(error)
        self.done.emit()


class WorkerClient(QObject):
    """The app's one worker process (see the module docstring). Use :func:`client`.

    Hooks (weakly held callbacks): ``state_changed()`` starting / ready (TensorFlow loaded or failed) / dead;
    ``jobs_changed()`` a job started or ended (the busy policy follows it); ``died(message, details)`` the
    worker stopped unexpectedly."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state_changed = Hook()
        self.jobs_changed = Hook()
        self.died = Hook()
        self.process: QProcess | None = None
        self.pid: int | None = None
        self.jobs_table: dict[str, dict[str, Any]] = {}
        self.tf_ready = False
        self.tf_version: str | None = None
        self.tf_error = ""
        self.state = "stopped"  # stopped | starting | running | ready | dead
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._ids = itertools.count(1)
        self._active: dict[int, RemoteJob] = {}
        self._outbox: list[dict[str, Any]] = []
        self._crashes: list[float] = []
        self._expected_exit = False
        self._killed_for_cancel = False
        self._shutting_down = False
        self._timers: dict[int, QTimer] = {}
        self._stdout_buffer = b""
        self._resend: list[dict[str, Any]] = []

    # ------------------------------------------------------------------------------------------ process
    def start(self) -> None:
        if self.process is not None:
            return
        program, args = worker_command()
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("TF_CPP_MIN_LOG_LEVEL", env.value("TF_CPP_MIN_LOG_LEVEL", "2"))
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        process.started.connect(self._on_started)
        if sys.platform == "win32" and hasattr(process, "setCreateProcessArgumentsModifier"):  # pragma: no cover
            process.setCreateProcessArgumentsModifier(_no_console_window)
        self.process = process
        self._outbox = self._resend + self._outbox  # queries the last worker did not answer
        self._resend = []
        self._stdout_buffer = b""
        self._expected_exit = False
        self._killed_for_cancel = False
        self.tf_ready = False
        self.state = "starting"
        self.state_changed.emit()
        process.start(program, args)

    @Slot()
    def _on_started(self) -> None:
        self.state = "running"
        if self.process is not None:
            self.pid = int(self.process.processId())
        outbox, self._outbox = self._outbox, []
        for msg in outbox:
            self._write(msg)

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop the worker (at exit): ask it to quit, wait ``wait_ms``, then kill it."""
        self._shutting_down = True
        process = self.process
        if process is None:
            return
        self._expected_exit = True
        if process.state() != QProcess.ProcessState.NotRunning:
            self._write({"type": "quit"})
            process.closeWriteChannel()
            if not process.waitForFinished(wait_ms):
                process.kill()
                process.waitForFinished(3000)
        self._fail_all(Cancelled("Studio is closing"))
        self.process = None
        self.state = "stopped"

    def kill(self) -> None:
        """End the worker at once (a cancel that ran out of time); it is restarted."""
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self._killed_for_cancel = True
            self.process.kill()

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process = self.sender()
        if process is not self.process:
            return
        self._read_stdout()
        self._read_stderr()
        self.process = None
        self.pid = None
        self.tf_ready = False
        if self._expected_exit or self._shutting_down:
            self.state = "stopped"
            self.state_changed.emit()
            return
        killed_for_cancel = self._killed_for_cancel
        how = (f"exit code {code}" if status == QProcess.ExitStatus.NormalExit
               else "it crashed or was killed")
        running = [j for j in self._active.values() if j.lane == "job" and j.sent]
        self._resend = [j.message() for j in self._active.values() if j.lane == "query"]
        details = "\n".join(self.stderr_tail)
        for job in list(self._active.values()):
            if job.lane == "query":
                continue  # sent again to the next worker: queries are idempotent reads and merges
            if job.cancel_requested:
                job.finish(error=Cancelled(f"stopped ({job.title.lower()} did not stop within "
                                           f"{CANCEL_GRACE_MS // 1000} s, so it was ended)"))
            else:
                exc = WorkerDied(
                    f"Studio's background process stopped unexpectedly ({how}) while {job.title.lower()}",
                    hint="Studio has restarted it. Your project keeps what was saved before: a training keeps "
                         "the best model found so far. Try again; if it happens again, report it with the "
                         "details")
                exc.details = details  # type: ignore[attr-defined]
                job.finish(error=exc)
        if not killed_for_cancel:
            now = time.monotonic()
            self._crashes = [t for t in self._crashes if now - t < CRASH_WINDOW_S] + [now]
            if len(self._crashes) >= MAX_CRASHES:
                self.state = "dead"
                self.state_changed.emit()
                self.died.emit("Studio's background process keeps stopping, so Studio stopped restarting it. "
                               "Close Studio and open it again.", details)
                return
            if not running:
                self.died.emit(f"Studio's background process stopped unexpectedly ({how}). Studio has "
                               "restarted it; nothing was running.", details)
        self.state = "starting"
        self.state_changed.emit()
        QTimer.singleShot(RESTART_DELAY_MS, self._restart)

    @Slot()
    def _restart(self) -> None:
        if not self._shutting_down and self.process is None and self.state != "dead":
            self.start()

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.process is not None:
            message = f"Studio could not start its background process ({self.process.errorString()})."
            self.process = None
            self.state = "dead"
            self._fail_all(WorkerDied(message, hint="reinstall Small Model Studio"))
            self.state_changed.emit()
            self.died.emit(message, "")

    # ------------------------------------------------------------------------------------------ messages
    def _write(self, msg: dict[str, Any]) -> None:
        process = self.process
        if process is None or process.state() != QProcess.ProcessState.Running:
            self._outbox.append(msg)
            return
        process.write((encode(msg) + "\n").encode("utf-8"))

    def _send_message(self, msg: dict[str, Any]) -> None:
        if self.process is None and self.state != "dead" and not self._shutting_down:
            self.start()
        self._write(msg)

    @Slot()
    def _read_stdout(self) -> None:
        process = self.process
        if process is None:
            return
        self._stdout_buffer += bytes(process.readAllStandardOutput())
        *lines, self._stdout_buffer = self._stdout_buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                event = decode(line)
            except ValueError:
                self.stderr_tail.append(line.decode("utf-8", "replace"))
                continue
            self._dispatch(event)

    @Slot()
    def _read_stderr(self) -> None:
        process = self.process
        if process is None:
            return
        text = bytes(process.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            self.stderr_tail.append(line)
        if os.environ.get("STUDIO_WORKER_ECHO"):
            sys.stderr.write(text)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "hello":
            self.jobs_table = dict(event.get("jobs") or {})
            self.pid = int(event.get("pid") or 0) or self.pid
            return
        if kind == "ready":
            self.tf_ready = event.get("error") is None
            self.tf_version = event.get("tensorflow")
            self.tf_error = str(event.get("error") or "")
            self.state = "ready"
            self.state_changed.emit()
            return
        job = self._active.get(event.get("id"))  # type: ignore[arg-type]
        if job is not None:
            job.handle(event)

    # ------------------------------------------------------------------------------------------ jobs
    def create(self, job: str, project: str | None, request: dict[str, Any] | None = None, *, lane: str = "job",
               exclusive: bool = True, owner: QObject | None = None) -> RemoteJob:
        """A job not yet sent: connect its signals, then :meth:`submit` it."""
        return RemoteJob(self, next(self._ids), job, project, dict(request or {}), lane, exclusive, owner)

    def submit(self, job: RemoteJob) -> RemoteJob:
        if job.sent:
            raise RuntimeError("a job is submitted once")
        job.sent = True
        if self.state == "dead":
            job.finish(error=WorkerDied("Studio's background process is not running",
                                        hint="close Studio and open it again"))
            return job
        self._active[job.id] = job
        self._send_message(job.message())
        if job.lane == "job":
            self.jobs_changed.emit()
        return job

    def cancel(self, job: RemoteJob) -> None:
        if job.id not in self._active:
            return
        self._write({"type": "cancel", "id": job.id})
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(CANCEL_GRACE_MS)
        timer.timeout.connect(self._cancel_timed_out)
        timer.setProperty("job_id", job.id)
        self._timers[job.id] = timer
        timer.start()

    @Slot()
    def _cancel_timed_out(self) -> None:
        timer = self.sender()
        job = self._active.get(int(timer.property("job_id"))) if timer is not None else None
        if job is not None and not job.finished_:
            self.kill()

    def forget(self, job: RemoteJob) -> None:
        self._active.pop(job.id, None)
        timer = self._timers.pop(job.id, None)
        if timer is not None:
            timer.stop()
            timer.deleteLater()
        if job.lane == "job":
            self.jobs_changed.emit()

    def _fail_all(self, exc: BaseException) -> None:
        for job in list(self._active.values()):
            job.finish(error=exc)

    def running(self, exclusive_only: bool = True) -> list[RemoteJob]:
        """Jobs sent to the worker and not finished (queries excluded)."""
        return [j for j in self._active.values() if j.lane == "job" and (j.exclusive or not exclusive_only)]

    def job_info(self, job: str) -> dict[str, Any]:
        return self.jobs_table.get(job) or {}

    def job_title(self, job: str) -> str:
        return str(self.job_info(job).get("title") or job.replace("_", " ").capitalize())

    def wait_ready(self, timeout_ms: int = 120_000) -> bool:
        """Run the event loop until TensorFlow is loaded in the worker (tests, benchmarks, scripts)."""
        from PySide6.QtCore import QEventLoop

        self.start()
        deadline = time.monotonic() + timeout_ms / 1000
        loop = QEventLoop()
        while self.state not in ("ready", "dead") and time.monotonic() < deadline:
            QTimer.singleShot(50, loop.quit)
            loop.exec()
        return self.tf_ready


_client: WorkerClient | None = None


def client() -> WorkerClient:
    """The application's worker client (created on first use, in the GUI thread; started by ``start()``)."""
    global _client
    if _client is None:
        _client = WorkerClient()
    return _client
