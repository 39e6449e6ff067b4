"""The worker protocol without a window: plain data, errors that keep their type, throttled events, --events."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from studio.core.errors import Cancelled, DatasetError, ProjectBusyError, StudioError
from studio.core.protocol import RemoteError, decode, encode, error_event, error_from_event, to_plain
from studio.core.reporter import EventReporter


def test_to_plain_accepts_data_and_refuses_objects() -> None:
    value = {"a": np.float32(0.5), "b": np.arange(3), "c": (1, Path("/x")), "nan": math.nan, "ok": True}
    assert to_plain(value) == {"a": 0.5, "b": [0, 1, 2], "c": [1, "/x"], "nan": None, "ok": True}

    class Model:  # what a Keras model would be: not data
        pass

    with pytest.raises(TypeError, match="not plain data"):
        to_plain({"model": Model()})
    line = encode({"type": "metrics", "values": {"val_loss": float("inf")}})
    assert "\n" not in line and decode(line)["values"]["val_loss"] is None
    with pytest.raises(ValueError):
        decode("[1, 2]")


def test_studio_errors_cross_with_their_type_and_fields() -> None:
    original = DatasetError("bad row", path="/d/x.csv", line=4, hint="fix the row")
    event = decode(encode(error_event(original, job_id=7)))
    assert event["id"] == 7 and event["studio"] is True and event["traceback"] is None
    again = error_from_event(event)
    assert type(again) is DatasetError
    assert (again.message, again.path, again.line, again.hint) == ("bad row", "/d/x.csv", 4, "fix the row")
    assert str(again) == str(original)
    busy = error_from_event(error_event(ProjectBusyError("in use", path="/p", holder={"pid": 3})))
    assert isinstance(busy, ProjectBusyError) and busy.holder == {"pid": 3}
    assert isinstance(error_from_event(error_event(Cancelled())), Cancelled)


def test_a_bug_crosses_as_a_remote_error_with_its_traceback() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        event = error_event(exc)
    again = error_from_event(decode(encode(event)))
    assert isinstance(again, RemoteError) and not isinstance(again, StudioError)
    assert again.kind == "KeyError" and "Traceback" in again.traceback_text


def test_event_reporter_groups_batches_and_throttles_progress() -> None:
    events: list[dict] = []
    rep = EventReporter(events.append, job_id=1, batch_seconds=0.01)
    for i in range(2000):
        rep.metrics("batch", {"batch": i})
        rep.progress(i / 2000)
        if i % 500 == 0:
            time.sleep(0.012)  # let a group close
    rep.metrics("epoch", {"epoch": 1})
    rep.flush()
    batches = [b["batch"] for e in events if e["type"] == "batches" for b in e["values"]]
    assert batches == list(range(2000))  # none lost, in order, before the epoch
    assert [e["type"] for e in events if e["type"] in ("batches", "metrics")][-1] == "metrics"
    assert len([e for e in events if e["type"] == "batches"]) < 50
    assert len([e for e in events if e["type"] == "progress"]) <= 101
    assert all(e["id"] == 1 for e in events)
    assert not rep.cancel_requested()
    rep.cancel()
    assert rep.cancel_requested()


def test_cli_events_are_the_worker_protocol(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("STUDIO_QUIET", None)
    proc = subprocess.run([sys.executable, "-m", "studio", "new", str(tmp_path / "p"), "--task", "image", "--events"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert events and events[0]["type"] == "status" and "Created image project" in events[0]["message"]
    proc = subprocess.run([sys.executable, "-m", "studio", "train", str(tmp_path / "p"), "--events"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    error = json.loads(proc.stderr.strip().splitlines()[-1])
    assert error["type"] == "error" and error["error"] == "ProjectError" and error["hint"]
