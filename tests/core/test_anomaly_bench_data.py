"""The anomaly bench's folders with known defects imported (``--defects K``): defects come from the training
split only, never from the test folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bench import anomaly_data as A


def _dataset(root: Path) -> Path:
    for split, n in (("train", 5), ("test", 4)):
        for cls in ("a", "b", "c"):
            d = root / "Toy" / split / cls
            d.mkdir(parents=True)
            for i in range(n):
                (d / f"{split}{cls}{i}.csv").write_text("c0\n" + "\n".join(str(v) for v in np.arange(8) * i))
    return root


def _names(folder: Path) -> dict[str, set[str]]:
    return {d.name: {f.name for f in d.iterdir()} for d in sorted(folder.iterdir())}


def _listed(splits) -> list[tuple[str, dict[str, set[str]], dict[str, set[str]]]]:
    """(normal, train listing, test listing) per split; the generator's temporary folders removed."""
    out = []
    for normal, train, test in splits:
        out.append((normal, _names(train), _names(test)))
        shutil.rmtree(train.parent, ignore_errors=True)
    return out


def test_sensor_oneclass_defects_from_train_split_only(tmp_path, monkeypatch):
    monkeypatch.setattr(A, "DEVDATA", _dataset(tmp_path))
    plain = _listed(A.sensor_oneclass("Toy"))
    assert all(set(tr) == {"normal"} for _, tr, _ in plain)
    picked = _listed(A.sensor_oneclass("Toy", defects=2))
    for (normal, tr, te), (_, _, te0) in zip(picked, plain):
        assert te == te0  # the test folder is unchanged
        assert set(tr) == {"normal"} | {f"c{c}" for c in "abc" if c != normal}
        for cls, files in tr.items():
            if cls != "normal":
                assert len(files) == 2 and all(f.startswith(f"train{cls[1:]}") for f in files)
        assert not set().union(*tr.values()) & set().union(*te.values())
    assert picked == _listed(A.sensor_oneclass("Toy", defects=2))  # the same recordings on every run


def test_vibration_oneclass_defects_never_in_test(tmp_path):
    for s in ("normal", "worn"):
        (tmp_path / s).mkdir()
        for i in range(6):
            (tmp_path / s / f"{s}{i}.csv").write_text("c0\n1\n2\n")
    for normal, tr, te in _listed(A.vibration_oneclass(tmp_path, defects=2)):
        other = "worn" if normal == "normal" else "normal_state"
        assert len(tr[other]) == 2 and len(tr["normal"]) == 3
        assert not tr[other] & set().union(*te.values())
        assert not tr[other] & tr["normal"]


def test_texture_defect_set_has_every_class_in_colour_and_is_deterministic(tmp_path):
    from PIL import Image

    a = A.write_texture_defects(tmp_path / "a", per_class=2, size=32)
    b = A.write_texture_defects(tmp_path / "b", per_class=2, size=32)
    c = A.write_texture_defects(tmp_path / "c", per_class=2, size=32, seed=1)
    assert _names(a) == {k: {"0000.png", "0001.png"} for k in ("good", "scratch", "hole", "stain", "crack")}
    im = Image.open(a / "stain" / "0001.png")
    assert im.mode == "RGB" and im.size == (32, 32)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)


def test_labelled_series_pairs_are_deterministic_and_hold_their_anomalies(tmp_path):
    from bench import anomaly_series as S

    for source in S.SYNTHETIC:
        for seed in (0, 1, 2):
            train, test = S.make_pair(source, seed)
            again_train, again = S.make_pair(source, seed)
            assert np.array_equal(train, again_train) and np.array_equal(test.values, again.values)
            assert 1 <= len(test.anomalies) <= 3 and np.isfinite(test.values).all()
            for a, b, kind in test.anomalies:
                assert kind in S.KINDS and S.WINDOW <= a and b <= len(test.values) - S.WINDOW
                assert 0.2 * S.WINDOW - 1 <= b - a <= 3 * S.WINDOW + 1
            assert test.labels().sum() == sum(b - a for a, b, _ in test.anomalies)
    facts = S.write_pair(tmp_path / "ecg", "ecg", 0)
    head = (tmp_path / "ecg" / "test.csv").read_text().splitlines()
    assert head[0] == "value,label" and len(head) == facts["test_rows"] + 1
    assert sum(line.endswith(",anomaly") for line in head) == sum(a["stop"] - a["start"] for a in facts["anomalies"])
    assert (tmp_path / "ecg" / "train_nolabel.csv").read_text().splitlines()[0] == "value"
