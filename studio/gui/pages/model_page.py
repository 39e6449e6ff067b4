"""Model page: one card per architecture with its cost, and whether it fits the chosen device.

The architectures and the core's defaults for this data come from the worker's instant ``train_choices`` query
(this process never imports the model code, which needs TensorFlow). Estimates (parameters, MACs, float32/int8
size) come from the worker's ``estimate`` job, which builds each model: debounced so dragging a control does
not queue dozens of builds, remembered per choice, and postponed while another job (a training) has the
worker. The choice is saved in ``project.settings["train"]`` (arch, input_size, width) and
``project.settings["target"]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.widgets import anomaly_panels
from studio.gui.widgets import dialogs

DEBOUNCE_MS = 300
KNOBS = {"width": "Width:", "features": "Features:"}  # registry parameter -> the card's label for it
POLICY_WORDS = {"resample": "whole recordings, resampled to {window:,} rows",
                "pad": "whole recordings, padded to {window:,} rows",
                "windows": "windows of {window:,} rows (a new one every {stride:,})"}


@dataclass(frozen=True)
class ArchInfo:
    """One architecture as the worker describes it (``ArchSpec.to_json()`` of the core's registry)."""

    id: str
    title: str
    task: str
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)
    allowed: dict[str, Any] = field(default_factory=dict)
    input_sizes: tuple[int, int] | None = None
    pretrained: tuple[str, ...] = ("none",)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ArchInfo":
        allowed = {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(d.get("allowed") or {}).items()}
        sizes = d.get("input_sizes")
        return cls(id=str(d["id"]), title=str(d["title"]), task=str(d["task"]), summary=str(d.get("summary") or ""),
                   defaults=dict(d.get("defaults") or {}), allowed=allowed,
                   input_sizes=(int(sizes[0]), int(sizes[1])) if sizes else None,
                   pretrained=tuple(d.get("pretrained") or ("none",)))


def human_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    if n < 1024:
        return f"{n:.0f} B"
    if n < 1024**2:
        return f"{n / 1024:.0f} KB" if n >= 10 * 1024 else f"{n / 1024:.1f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.1f} GB"


def human_count(n: float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit, div in (("billion", 1e9), ("million", 1e6), ("thousand", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n:.0f}"


def fit_verdict(est: dict[str, Any], target: Any) -> tuple[bool, str]:
    """(fits, sentence) for an estimate on a target, before any variant exists (so: an estimate too)."""
    from studio.core.targets import MCU_CODE_RESERVE, MCU_RAM_RESERVE

    if target.mcu:
        flash = int(est["int8_bytes"]) + MCU_CODE_RESERVE
        ram = int(est.get("activation_bytes") or 0) + MCU_RAM_RESERVE
        ok_flash = flash <= target.flash_bytes
        ok_ram = ram <= target.ram_bytes
        if ok_flash and ok_ram:
            return True, (f"Likely fits as int8: about {human_bytes(flash)} of {human_bytes(target.flash_bytes)} "
                          f"flash, at least {human_bytes(ram)} of {human_bytes(target.ram_bytes)} RAM (with the "
                          "runtime). The Optimize step measures the real figure.")
        parts = []
        if not ok_flash:
            parts.append(f"needs about {human_bytes(flash)} flash, the device has {human_bytes(target.flash_bytes)}")
        if not ok_ram:
            parts.append(f"needs at least {human_bytes(ram)} RAM, the device has {human_bytes(target.ram_bytes)}")
        return False, "Too big: " + "; ".join(parts) + "."
    size = int(est["float32_bytes"])
    if size <= target.flash_bytes:
        return True, f"Fits easily ({human_bytes(size)} as float32, less after optimizing)."
    return False, f"Too big: {human_bytes(size)} as float32, the device allows {human_bytes(target.flash_bytes)}."


class ArchCard(QFrame):
    """One architecture: summary, width choice, estimates, fits verdict, and a "Use this model" button."""

    def __init__(self, spec: ArchInfo, page: "ModelPage", imagenet: dict[str, bool] | None = None) -> None:
        super().__init__()
        self.setObjectName("archCard")
        self.spec = spec
        self.setProperty("selected", False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(8)
        head = QHBoxLayout()
        title = QLabel(spec.title)
        title.setObjectName("cardTitle")
        head.addWidget(title)
        head.addStretch(1)
        self.use_button = QPushButton("Use this model")
        self.use_button.setObjectName(f"use_{spec.id}")
        self.use_button.clicked.connect(page.select_from_card)
        self.use_button.setProperty("arch", spec.id)
        head.addWidget(self.use_button)
        layout.addLayout(head)
        summary = QLabel(spec.summary)
        summary.setObjectName("note")
        summary.setWordWrap(True)
        layout.addWidget(summary)
        if "imagenet" in spec.pretrained:
            if not (imagenet or {}).get(str(float(spec.defaults.get("width", 0.35)))):
                # The known trap: from scratch on a few hundred images this network learns slowly.
                warn = QLabel("No ImageNet weights on this computer: it would train from scratch, which needs "
                              "many more images. The Compact CNN is the better choice here.")
                warn.setObjectName("cardWarning")
                warn.setWordWrap(True)
                layout.addWidget(warn)
        row = QHBoxLayout()
        # the one size control of this architecture: its width multiplier, or MiniRocket's feature count
        self.knob = next((k for k in KNOBS if isinstance(spec.allowed.get(k), tuple)), None)
        self.width_combo = QComboBox()
        choices = spec.allowed.get(self.knob) or () if self.knob else ()
        for w in choices:
            self.width_combo.addItem(f"{w:g}×" if self.knob == "width" else f"{w:,}", w)
        default = spec.defaults.get(self.knob) if self.knob else None
        if default in choices:
            self.width_combo.setCurrentIndex(list(choices).index(default))
        self.width_combo.currentIndexChanged.connect(page.schedule_estimates)
        if self.knob:
            row.addWidget(QLabel(KNOBS[self.knob]))
            row.addWidget(self.width_combo)
        row.addStretch(1)
        layout.addLayout(row)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        self.values: dict[str, QLabel] = {}
        for i, (key, label) in enumerate((("params", "Parameters"), ("macs", "Multiply-adds per sample"),
                                          ("float32_bytes", "Size (float32)"), ("int8_bytes", "Size (int8)"))):
            name = QLabel(label)
            name.setObjectName("note")
            value = QLabel("—")
            value.setObjectName("cardMetric")
            self.values[key] = value
            grid.addWidget(name, i // 2 * 2, i % 2)
            grid.addWidget(value, i // 2 * 2 + 1, i % 2)
        layout.addLayout(grid)
        self.fits = QLabel("Estimating…")
        self.fits.setWordWrap(True)
        layout.addWidget(self.fits)

    @property
    def width(self) -> float | None:
        return self.width_combo.currentData() if self.knob == "width" else None

    def knob_values(self) -> dict[str, Any]:
        """The card's size choice as training settings: every knob named, the ones this card lacks as None (a
        width saved for another card must not reach this one)."""
        values: dict[str, Any] = {k: None for k in KNOBS}
        if self.knob:
            values[self.knob] = self.width_combo.currentData()
        return values

    def restore(self, saved: dict[str, Any]) -> None:
        if self.knob and saved.get(self.knob) is not None:
            idx = self.width_combo.findData(saved[self.knob])
            if idx >= 0:
                self.width_combo.setCurrentIndex(idx)

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", selected)
        self.use_button.setText("Selected" if selected else "Use this model")
        self.use_button.setObjectName("primaryButton" if selected else f"use_{self.spec.id}")
        for w in (self, self.use_button):
            w.style().unpolish(w)
            w.style().polish(w)

    def show_estimate(self, est: dict[str, Any] | None, target: Any, error: str = "") -> None:
        if est is None:
            for v in self.values.values():
                v.setText("—")
            self.fits.setObjectName("fitsNo")
            self.fits.setText(error or "Estimating…")
        else:
            self.values["params"].setText(human_count(est["params"]))
            self.values["macs"].setText(human_count(est["macs"]))
            self.values["float32_bytes"].setText(human_bytes(est["float32_bytes"]))
            self.values["int8_bytes"].setText(human_bytes(est["int8_bytes"]))
            ok, text = fit_verdict(est, target)
            self.fits.setObjectName("fitsYes" if ok else "fitsNo")
            self.fits.setText(("✔ " if ok else "✘ ") + text)
        self.fits.style().unpolish(self.fits)
        self.fits.style().polish(self.fits)


class ModelPage(Page):
    step = "model"
    title = "Model"
    subtitle = "Pick the network to train. Smaller is faster and fits smaller devices; larger can be more accurate."
    choices_shown = Signal()  # the cards were (re)built from the worker's answer

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        from studio.core.targets import TARGETS

        row = QHBoxLayout()
        row.addWidget(QLabel("Device it will run on:"))
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("targetCombo")
        for target in TARGETS.values():
            self.target_combo.addItem(target.title, target.id)
        self.target_combo.currentIndexChanged.connect(self._target_changed)
        self.target_combo.setMinimumWidth(380)
        row.addWidget(self.target_combo)
        row.addSpacing(20)
        self.size_label = QLabel("Image size:")
        row.addWidget(self.size_label)
        self.size_spin = QSpinBox()
        self.size_spin.setObjectName("inputSize")
        self.size_spin.setRange(16, 224)
        self.size_spin.setSingleStep(16)
        self.size_spin.setSuffix(" px")
        self.size_spin.valueChanged.connect(self.schedule_estimates)
        row.addWidget(self.size_spin)
        row.addStretch(1)
        self.body.addLayout(row)
        self.device_row = row  # kept on anomaly projects (widgets.anomaly_panels)
        self.input_note = self.note()
        self.body.addWidget(self.input_note)
        self.choose_check = QCheckBox("Let Studio choose: score the models and the ways of reading the "
                                      "recordings on my data, and train the best (recommended)")
        self.choose_check.setObjectName("chooseForMe")
        self.choose_check.toggled.connect(self._choose_toggled)
        self.choose_check.setVisible(False)
        self.body.addWidget(self.choose_check)
        self.cards_box = QGridLayout()
        self.cards_box.setSpacing(14)
        self.body.addLayout(self.cards_box)
        self.status = self.note("")
        self.body.addWidget(self.status)
        self.body.addStretch(1)
        self.cards: list[ArchCard] = []
        self._task: str | None = None
        self._choices_job: Any = None
        self._estimate_cache: dict[str, dict[str, Any]] = {}
        self.state.busy.changed.connect(self._busy_changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_estimates)
        self._pending = False
        self._loading = False
        self.estimates: dict[str, dict[str, Any]] = {}
        self._requested: list[tuple[str, tuple[int, ...], int, dict[str, Any]]] = []
        self._sensor_input: dict[str, Any] | None = None  # the worker's train_choices["sensor_input"]
        self._n_classes = 0

    # ------------------------------------------------------------------------------------------ state
    def _build_cards(self, modality: str, archs: list[dict[str, Any]], imagenet: dict[str, bool]) -> None:
        for card in self.cards:
            card.deleteLater()
        specs = [ArchInfo.from_json(a) for a in archs if a.get("task") == modality]
        self.cards = [ArchCard(spec, self, imagenet) for spec in specs]
        for i, card in enumerate(self.cards):
            self.cards_box.addWidget(card, i // 2, i % 2)
        self._task = modality

    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        self._loading = True
        target = project.settings.get("target") or "linux"
        index = self.target_combo.findData(target)
        self.target_combo.setCurrentIndex(max(index, 0))
        if anomaly_panels.take_over(self, "model", keep=(self.device_row,)):  # a detector: nothing to pick
            self.size_label.setVisible(False)
            self.size_spin.setVisible(False)
            self._loading = False
            return
        image = project.modality == "image"
        self.size_label.setVisible(image)
        self.size_spin.setVisible(image)
        self.choose_check.setVisible(not image)
        self._sensor_input = None
        try:
            manifest = project.load_manifest()
        except Exception:  # noqa: BLE001 - the page is unreachable without data anyway
            manifest = None
        if manifest is not None:
            n = self._n_classes = len(manifest["classes"])
            if image:
                self.input_note.setText(f"{n} classes; images are resized to the image size before training.")
            else:
                self.input_note.setText(f"{n} classes, {len(manifest['channels'])} channels.")
        self._loading = False
        self._choices_job = self.state.query("train_choices", {}, succeeded=self._show_choices)

    @Slot(object)
    def _show_choices(self, choices: dict[str, Any]) -> None:
        """The worker's answer: the architectures and the core's defaults (the same the CLI uses: e.g. no
        MobileNetV2 from scratch)."""
        project = self.state.project
        if project is None or self.sender() is not self._choices_job:
            return
        self._loading = True
        if self._task != project.modality or not self.cards:
            self._build_cards(project.modality, choices.get("archs") or [], choices.get("imagenet") or {})
        saved = self.state.page_settings("train")
        defaults = choices.get("defaults") or {}
        arch = saved.get("arch") or defaults.get("arch")
        arch = arch or (self.cards[0].spec.id if self.cards else None)
        for card in self.cards:
            if card.spec.id == arch:
                card.restore(saved)
        self._sensor_input = choices.get("sensor_input")
        select = saved.get("select") if saved.get("select") is not None else defaults.get("select")
        self.choose_check.setChecked(bool(select) and project.modality == "sensor")
        self._show_input_note()
        default_size = defaults.get("input_size") if defaults.get("arch") == arch else None
        self.size_spin.setValue(int(saved.get("input_size") or default_size or self._default_size(arch)))
        self._loading = False
        self._show_selection(arch)
        if not saved.get("arch") and arch:
            # sensors: the core's default is "choose by measurement" (select); picking a card turns it off
            self.state.save_settings("train", {"arch": arch, "select": bool(defaults.get("select", False))})
            self.state.refresh_steps()
        self.choices_shown.emit()
        self.schedule_estimates()

    def _default_size(self, arch: str | None) -> int:
        return 96 if arch == "mobilenetv2" else 64

    def _show_selection(self, arch: str | None) -> None:
        choosing = self.choose_check.isVisible() and self.choose_check.isChecked()
        for card in self.cards:
            card.set_selected(card.spec.id == arch and not choosing)

    def _show_input_note(self) -> None:
        """Sensors: what the model will read, in words, from the worker's answer (the same shaping training
        uses), and who chooses it."""
        project, info = self.state.project, self._sensor_input
        if project is None or project.modality != "sensor" or not info:
            return
        manifest_classes = f"{self._n_classes} classes"
        lengths = (f"recordings of {info['shortest']:,} rows" if info["shortest"] == info["longest"] else
                   f"recordings of {info['shortest']:,} to {info['longest']:,} rows")
        reads = POLICY_WORDS.get(info["policy"], "{window:,} rows").format(**info)
        if info["policy"] == "resample" and info["shortest"] == info["longest"] == info["window"]:
            reads = f"whole recordings ({info['window']:,} rows)"
        if self.choose_check.isChecked():
            text = (f"{manifest_classes}, {info['channels']} channels, {lengths}. When you train, Studio scores "
                    "MiniRocket and the 1-D CNN on whole recordings and on windows by cross-validation and trains "
                    f"the best; the sizes below are for {reads}. Pick a card to decide yourself.")
        else:
            text = f"{manifest_classes}, {info['channels']} channels, {lengths}; the model reads {reads}."
        self.input_note.setText(text)

    @Slot(bool)
    def _choose_toggled(self, checked: bool) -> None:
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("train", {"select": checked})
        self._show_selection(self.selected_arch())
        self._show_input_note()
        self.state.refresh_steps()

    def selected_arch(self) -> str | None:
        return self.state.page_settings("train").get("arch")

    # ------------------------------------------------------------------------------------------ choices
    @Slot()
    def select_from_card(self) -> None:
        button = self.sender()
        arch = button.property("arch") if button is not None else None
        if arch:
            self.select(arch)

    def select(self, arch: str) -> None:
        card = next(c for c in self.cards if c.spec.id == arch)
        values: dict[str, Any] = {"arch": arch, **card.knob_values(), "select": False}
        self._loading = True
        self.choose_check.setChecked(False)
        self._loading = False
        if self.state.project is not None and self.state.project.modality == "image":
            values["input_size"] = self.size_spin.value()
        self.state.save_settings("train", values)
        self._show_selection(arch)
        self._show_input_note()
        self.state.refresh_steps()

    @Slot()
    def _target_changed(self) -> None:
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("target", self.target_combo.currentData())
        self._show_estimates()

    def current_target(self) -> Any:
        from studio.core.targets import get_target

        return get_target(self.target_combo.currentData())

    # ------------------------------------------------------------------------------------------ estimates
    @Slot()
    def schedule_estimates(self) -> None:
        if self._loading or self.state.project is None:
            return
        arch = self.selected_arch()
        if arch:  # the selected card's controls are part of the saved choice
            card = next((c for c in self.cards if c.spec.id == arch), None)
            if card is not None:
                values: dict[str, Any] = card.knob_values()
                if self.state.project.modality == "image":
                    values["input_size"] = self.size_spin.value()
                self.state.save_settings("train", values)
        for card in self.cards:
            card.show_estimate(None, None, "Estimating…" if self.state.tf_ready else
                               "Estimating… (waiting for TensorFlow to load)")
        self._debounce.start()

    def _requests(self) -> list[tuple[str, tuple[int, ...], int, dict[str, Any]]]:
        project = self.state.project
        manifest = project.load_manifest()
        n_classes = len(manifest["classes"])
        out = []
        for card in self.cards:
            spec = card.spec
            if project.modality == "image":
                lo, hi = spec.input_sizes or (16, 224)
                size = min(max(self.size_spin.value(), lo), hi)
                shape: tuple[int, ...] = (size, size, int(manifest.get("channels") or 3))
            else:
                window = (self._sensor_input or {}).get("window") or manifest["window"]
                shape = (int(window), len(manifest["channels"]))
            out.append((spec.id, shape, n_classes, {k: v for k, v in card.knob_values().items() if v is not None}))
        return out

    @staticmethod
    def _key(item: tuple[str, tuple[int, ...], int, dict[str, Any]]) -> str:
        return json.dumps([item[0], list(item[1]), item[2], item[3]], sort_keys=True)

    @Slot()
    def run_estimates(self) -> None:
        if self.state.project is None or not self.isVisible():
            return  # a closed window or another page: estimate again when the page is shown
        if self.is_busy():
            self._pending = True
            return
        try:
            requests = self._requests()
        except Exception as exc:  # noqa: BLE001
            dialogs.show_error(self, exc, "Could not read the imported data")
            return
        self._requested = requests
        missing = [r for r in requests if self._key(r) not in self._estimate_cache]
        self.estimates = {r[0]: self._estimate_cache[self._key(r)] for r in requests if r not in missing}
        self._show_estimates()
        if not missing:
            self._pending = False
            return
        running = self.state.busy.running_job()
        if running is not None:  # the worker is busy (a training): an estimate would wait behind it
            self._pending = True
            for card in self.cards:
                if card.spec.id not in self.estimates:
                    card.show_estimate(None, None, f"Sizes are estimated when {running.title.lower()} has finished.")
            return
        self._pending = False
        self.status.setText("")
        self.job = self.state.run("estimate", {"items": missing}, succeeded=self._estimated,
                                  failed=self._estimate_failed, done=self._estimate_done, exclusive=False,
                                  owner=self)

    @Slot(object)
    def _estimated(self, result: dict[str, Any]) -> None:
        for item in self._requested:
            if item[0] in result:
                self._estimate_cache.setdefault(self._key(item), result[item[0]])
        self.estimates = {r[0]: self._estimate_cache[self._key(r)] for r in self._requested
                          if self._key(r) in self._estimate_cache}
        self._show_estimates()

    @Slot()
    def _busy_changed(self) -> None:
        if self._pending and not self.state.busy.busy:
            self.run_estimates()

    def _show_estimates(self) -> None:
        target = self.current_target()
        for card in self.cards:
            est = self.estimates.get(card.spec.id)
            if est is None:
                continue
            if "error" in est:
                card.show_estimate(None, target, est["error"])
            else:
                card.show_estimate(est, target)

    @Slot(object)
    def _estimate_failed(self, exc: BaseException) -> None:
        self.status.setText(f"Could not estimate the model sizes: {exc}")

    @Slot()
    def _estimate_done(self) -> None:
        if self._pending:
            self.run_estimates()
