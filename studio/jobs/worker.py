"""The worker process: ``studio --worker`` (``python -m studio --worker`` from source, ``<app> --worker`` frozen).

The window starts one at launch and talks to it in JSON lines (:mod:`studio.core.protocol`) on stdin/stdout;
everything TensorFlow does happens here, so a crash, a GC pause or a busy interpreter lock in TensorFlow never
reaches the window. Three threads:

- the **job thread** (the main thread) imports TensorFlow first (so the worker is warm when the user needs it,
  then says ``ready``) and runs ``run`` requests one at a time, holding the project's lock for writing jobs;
- the **reader** reads stdin: ``cancel`` reaches the running job's reporter at once (the core stops within a
  training batch), a queued job is dropped; end of input (the window is gone) or ``quit`` stops the worker;
- the **query thread** answers ``query`` requests (instant reads such as the Model page's choices, and the
  window's settings changes) while a long job runs.

Stray output of libraries (Python ``print`` or C ``printf``) goes to stderr: file descriptor 1 is pointed at
stderr and the protocol keeps a private duplicate, so nothing can corrupt the message stream. The worker
ignores Ctrl-C (a terminal's SIGINT reaches every process of the group): the window decides when it stops.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import signal
import sys
import threading
from typing import Any, BinaryIO

from studio import __version__
from studio.core.errors import Cancelled
from studio.core.protocol import PROTOCOL_VERSION, decode, encode, error_event
from studio.core.reporter import EventReporter

# The worker yields the CPU to the window (and to whatever else the user does): training a model is
# background work. ``STUDIO_WORKER_NICE`` overrides it (0: same priority as the window).
DEFAULT_NICENESS = 10

# Progress and batch metrics reach the window at most this often (it redraws its curves 4 times a second):
# fewer wake-ups and repaints for the GUI thread; epochs, status lines and results go at once.
EVENT_SECONDS = 0.25

# An orphaned worker (the window died without a word) that cannot stop its job within this long exits anyway.
QUIT_GRACE_SECONDS = 60.0


def protocol_channel() -> tuple[BinaryIO, BinaryIO]:
    """(input, output) binary streams of the protocol; afterwards fd 1 and ``sys.stdout`` are stderr."""
    if sys.stderr is None:  # a windowed frozen app: no console streams, but the pipes the window gave us exist
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    if sys.stdout is not None:
        sys.stdout.flush()
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return open(0, "rb", buffering=0, closefd=False), open(out_fd, "wb", buffering=0)  # noqa: SIM115


class Worker:
    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self._in = inp
        self._out = out
        self._out_lock = threading.Lock()
        self._jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._queries: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._state_lock = threading.Lock()
        self._queued: set[Any] = set()
        self._dropped: set[Any] = set()
        self._current: tuple[Any, EventReporter] | None = None
        self._stopping = threading.Event()
        self._warming = True
        self._query_thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ output
    def send(self, event: dict[str, Any]) -> None:
        data = (encode(event) + "\n").encode("utf-8")
        with self._out_lock:
            try:
                self._out.write(data)
            except (BrokenPipeError, OSError, ValueError):
                os._exit(0)  # the window is gone: nobody to work for

    # ------------------------------------------------------------------------------------------ main
    def run(self) -> int:
        from studio.jobs import describe_jobs

        self.send({"type": "hello", "protocol": PROTOCOL_VERSION, "pid": os.getpid(), "version": __version__,
                   "jobs": describe_jobs()})
        threading.Thread(target=self._read, name="protocol-reader", daemon=True).start()
        queries = self._query_thread = threading.Thread(target=self._serve, args=(self._queries,), name="queries",
                                                        daemon=True)
        queries.start()
        self._warm_up()
        self._warming = False
        self._serve(self._jobs)
        queries.join(10)  # let a settings change that arrived before "quit" reach the disk
        return 0

    def _warm_up(self) -> None:
        try:
            from studio.core.tfenv import load_tf

            tf, _keras = load_tf()
            gc.freeze()  # TensorFlow's ~1 M long-lived objects: out of every later collection
        except BaseException as exc:  # noqa: BLE001 - the window says TensorFlow failed; reads still work
            self.send({"type": "ready", "tensorflow": None, "error": f"{type(exc).__name__}: {exc}"})
        else:
            self.send({"type": "ready", "tensorflow": tf.__version__, "error": None})

    def _serve(self, requests: "queue.Queue[dict[str, Any] | None]") -> None:
        while True:
            msg = requests.get()
            if msg is None:
                return
            job_id = msg.get("id")
            with self._state_lock:
                self._queued.discard(job_id)
                dropped = job_id in self._dropped
                self._dropped.discard(job_id)
            if dropped or (self._stopping.is_set() and msg.get("type") == "run"):
                self.send(error_event(Cancelled("cancelled before it started"), job_id))
                continue
            self.execute(msg)

    def execute(self, msg: dict[str, Any]) -> None:
        """Run one ``run`` / ``query`` request and send its events, then exactly one result or error."""
        from studio.core.lock import project_lock
        from studio.core.project import Project
        from studio.jobs import get_job, run_job

        job_id = msg.get("id")
        reporter = EventReporter(self.send, job_id, progress_seconds=EVENT_SECONDS, batch_seconds=EVENT_SECONDS)
        is_job = msg.get("type") == "run"
        if is_job:
            with self._state_lock:
                self._current = (job_id, reporter)
        try:
            spec = get_job(str(msg.get("job")))
            project = Project.open(msg["project"]) if msg.get("project") else None
            guard = (project_lock(project.path, spec.title.lower()) if project is not None and spec.writes
                     and spec.lane == "job" else contextlib.nullcontext())
            with guard:
                value = run_job(spec.name, project, msg.get("request") or {}, reporter)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the window as an error event
            reporter.flush()
            self.send(error_event(exc, job_id))
        else:
            reporter.flush()
            self.send({"type": "result", "id": job_id, "value": value})
        finally:
            if is_job:
                with self._state_lock:
                    self._current = None

    # ------------------------------------------------------------------------------------------ input
    def _read(self) -> None:
        for raw in iter(self._in.readline, b""):
            try:
                msg = decode(raw)
            except ValueError as exc:
                self.send({"type": "status", "message": f"worker: ignored a malformed message ({exc})"})
                continue
            kind = msg["type"]
            if kind == "run":
                with self._state_lock:
                    self._queued.add(msg.get("id"))
                self._jobs.put(msg)
            elif kind == "query":
                self._queries.put(msg)
            elif kind == "cancel":
                self.cancel(msg.get("id"))
            elif kind == "quit":
                break
        self.stop()

    def cancel(self, job_id: Any) -> None:
        with self._state_lock:
            if self._current is not None and self._current[0] == job_id:
                self._current[1].cancel()
            elif job_id in self._queued:
                self._dropped.add(job_id)

    def stop(self) -> None:
        """The window said quit, or went away: cancel everything, let the running job end, then exit."""
        self._stopping.set()
        with self._state_lock:
            if self._current is not None:
                self._current[1].cancel()
            self._dropped.update(self._queued)
        self._jobs.put(None)
        self._queries.put(None)
        if self._warming:  # nothing to finish but the settings changes already sent: no need to wait for TF
            if self._query_thread is not None:
                self._query_thread.join(10)
            os._exit(0)
        timer = threading.Timer(QUIT_GRACE_SECONDS, os._exit, args=(3,))
        timer.daemon = True
        timer.start()


def lower_priority(niceness: int) -> None:
    """Run this whole process below normal priority (POSIX ``nice``; Windows BELOW_NORMAL_PRIORITY_CLASS), so
    a busy CPU serves the window first. Best effort: never fails."""
    if niceness <= 0:
        return
    try:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), 0x00004000)
        else:
            os.nice(niceness)
    except (OSError, AttributeError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``studio --worker``."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        niceness = int(os.environ.get("STUDIO_WORKER_NICE", DEFAULT_NICENESS))
    except ValueError:
        niceness = DEFAULT_NICENESS
    lower_priority(niceness)  # before TensorFlow starts its thread pools: they inherit it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    inp, out = protocol_channel()
    return Worker(inp, out).run()


if __name__ == "__main__":
    raise SystemExit(main())
