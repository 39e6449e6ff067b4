"""Export page: write the bundle for a variant and a device, list the files, and run the bundle's self-test.

The bundle is written by the worker's ``export`` job. The self-test is the worker's ``bundle_selftest`` job
(:func:`studio.core.bundle_check.check_bundle`): for Linux / phone bundles the bundle's own ``run_model.py
--selftest``; for microcontrollers the golden check in the TFLite-Micro interpreter (and ``main.cc`` compiled
against TFLite-Micro when a compiler and a host build are present). The page shows its two answers separately,
*reproduces Studio's answers* and *correct on N of M examples*, and which checks ran.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.widgets import dialogs
from studio.gui.widgets.shrink import shown_accuracy
from studio.gui.widgets.target_combo import TargetCombo
from studio.gui.widgets.verdict import NotReadyBanner

LINUX_NOTE = ("The self-test runs the bundle's own program on recorded examples and checks that it gives the same "
              "answers as Studio did. Run the same check on the device: python3 run_model.py --selftest")
MCU_NOTE = ("The self-test runs the bundle's recorded examples in TFLite-Micro on this PC (and compiles main.cc "
            "when a C++ compiler and a TFLite-Micro build are found). On the device, build and flash main.cc: it "
            "runs the same check at start-up (see README.md in the bundle).")


class ExportPage(Page):
    step = "export"
    title = "Export"
    subtitle = "Write everything the device needs into one folder, then prove it works with the self-test."

    selftest_finished = Signal(bool)
    variants_shown = Signal()  # the variant list was refreshed from the worker's answer

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.not_ready = NotReadyBanner(state)
        self.body.addWidget(self.not_ready)
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        self.variant_combo = QComboBox()
        self.variant_combo.setObjectName("variantCombo")
        self.variant_combo.currentIndexChanged.connect(self._update_out)
        self.variant_combo.currentIndexChanged.connect(self._choice_changed)
        form.addRow("Variant:", self.variant_combo)
        self.target_combo = TargetCombo()
        self.target_combo.currentIndexChanged.connect(self._target_changed)
        form.addRow("Device:", self.target_combo)
        row = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("outEdit")
        self.out_edit.textEdited.connect(self._out_touched)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_out)
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        form.addRow("Folder:", row)
        self.body.addLayout(form)
        self.export_button, self.task = self.add_action_row("Export", self.export)

        self.body.addWidget(self.section("Files written"))
        self.files = QListWidget()
        self.files.setObjectName("filesList")
        self.files.setMinimumHeight(160)
        self.body.addWidget(self.files)
        row = QHBoxLayout()
        box, actions = self.guarded_row(add=False)
        self.open_button = QPushButton("Open the folder")
        self.open_button.clicked.connect(self._open_folder)
        self.report_button = QPushButton("Open report")
        self.report_button.setObjectName("openReportButton")
        self.report_button.setToolTip("The bundle's report.html: the model, its accuracy and mistakes, in a browser.")
        self.report_button.clicked.connect(self._open_report)
        self.selftest_button = QPushButton("Run self-test")
        self.selftest_button.setObjectName("selftestButton")
        self.selftest_button.clicked.connect(self.run_selftest)
        actions.addWidget(self.selftest_button)
        row.addWidget(box)
        row.addWidget(self.open_button)
        row.addWidget(self.report_button)
        row.addStretch(1)
        self.body.addLayout(row)
        self.selftest_label = QLabel()
        self.selftest_label.setObjectName("selftestLabel")
        self.selftest_label.setWordWrap(True)
        self.body.addWidget(self.selftest_label)
        self.correct_label = QLabel()
        self.correct_label.setObjectName("correctLabel")
        self.correct_label.setWordWrap(True)
        self.body.addWidget(self.correct_label)
        self.selftest_note = self.note(LINUX_NOTE)
        self.body.addWidget(self.selftest_note)
        self.output = QPlainTextEdit()
        self.output.setObjectName("selftestOutput")
        self.output.setReadOnly(True)
        self.output.setMaximumHeight(180)
        self.body.addWidget(self.output)
        self.body.addStretch(1)
        self.bundle: Path | None = None
        self.selftest_running = False
        self.selftest_passed: bool | None = None
        self.selftest_result: dict[str, Any] | None = None
        self._out_custom = False
        self._loading = False
        self._variants_job: Any = None
        self._set_bundle(None)

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        self.not_ready.refresh()
        if self.bundle is not None and not self._bundle_is_current():
            self._set_bundle(None)  # another project, variant or device since it was written
        with self._quietly():
            self.target_combo.set_target(project.settings.get("target"))
        self._variants_job = self.state.query("variants", {"target": project.settings.get("target")},
                                              succeeded=self._show_variants, failed=self._variants_failed)

    @Slot(object)
    def _variants_failed(self, exc: BaseException) -> None:
        project = self.state.project
        self._fill_variants([{"name": n} for n in (project.list_variants() if project else [])])

    @Slot(object)
    def _show_variants(self, result: dict[str, Any]) -> None:
        if self.sender() is self._variants_job:
            self._fill_variants(list(result.get("variants") or []))

    def _fill_variants(self, variants: list[dict[str, Any]]) -> None:
        project = self.state.project
        if project is None:
            return
        with self._quietly():
            current = self.variant_combo.currentData()
            self.variant_combo.clear()
            for v in variants:
                name = str(v.get("name"))
                acc = shown_accuracy(v)[0]
                label = name + (f"   ({100 * float(acc):.1f} % accuracy)" if acc is not None else "")
                if v.get("run_id") and v["run_id"] != project.data.get("active_run"):
                    label += "   (from an earlier model)"
                self.variant_combo.addItem(label, name)
                if v.get("run_id"):
                    self.variant_combo.setItemData(self.variant_combo.count() - 1, f"Built from run {v['run_id']}",
                                                   Qt.ItemDataRole.ToolTipRole)
            preferred = current or project.data.get("active_variant")
            index = self.variant_combo.findData(preferred)
            self.variant_combo.setCurrentIndex(index if index >= 0 else self.variant_combo.count() - 1)
        self._update_out()
        self.variants_shown.emit()

    def forget(self) -> None:
        super().forget()
        self._set_bundle(None)
        self._out_custom = False
        self._exported_for = None
        # another project's variants must not stay listed (nor be exported) until this one's arrive
        with self._quietly():
            self.variant_combo.clear()
        self._update_out()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Fill the combo boxes without their change signals counting as the user's choice."""
        self._loading = True
        try:
            yield
        finally:
            self._loading = False

    def _bundle_is_current(self) -> bool:
        project = self.state.project
        return project is not None and getattr(self, "_exported_for", None) == (
            str(project.path), self.variant_combo.currentData(), self.target_combo.currentData())

    @Slot()
    def _choice_changed(self) -> None:
        """Another variant or device: the bundle shown (and its self-test) is not the one these make."""
        if not self._loading and self.bundle is not None and not self._bundle_is_current():
            self._set_bundle(None)
            self.task.set_idle("")

    def default_out(self) -> Path | None:
        project = self.state.project
        variant = self.variant_combo.currentData()
        if project is None or not variant:
            return None
        return project.exports_dir / project.safe_name(f"{variant}-{self.target_combo.currentData()}")

    @Slot()
    def _update_out(self) -> None:
        if not self._out_custom:
            out = self.default_out()
            self.out_edit.setText(str(out) if out else "")

    @Slot()
    def _out_touched(self) -> None:
        self._out_custom = True

    @Slot()
    def _target_changed(self) -> None:
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("target", self.target_combo.currentData())
        self._update_out()
        self._choice_changed()

    @Slot()
    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where should the bundle go?")
        if folder:
            self.out_edit.setText(folder)
            self._out_custom = True

    # ------------------------------------------------------------------------------------------ export
    @Slot()
    def export(self) -> None:
        project = self.state.project
        if project is None or self.is_busy():
            return
        variant = self.variant_combo.currentData()
        out = self.out_edit.text().strip()
        target = self.target_combo.currentData()
        if not variant or not out:
            dialogs.info(self, "Export", "Build a variant on the Optimize page first.")
            return

        self._set_bundle(None)
        self.job = self.state.run("export", {"out": out, "variant": variant, "target": target},
                                  succeeded=self._exported, failed=self._failed, task=self.task, owner=self)
        self.task.on_status("Writing the bundle…" if self.state.tf_ready else "Loading TensorFlow…")

    @Slot(object)
    def _exported(self, result: dict[str, Any]) -> None:
        out = Path(result.get("out") or result.get("path") or self.out_edit.text().strip())
        self._set_bundle(out)
        try:
            from studio.core.targets import get_target

            self.selftest_note.setText(MCU_NOTE if get_target(result.get("target")).mcu else LINUX_NOTE)
        except Exception:  # noqa: BLE001 - an unknown target keeps the general note
            self.selftest_note.setText(LINUX_NOTE)
        project = self.state.project
        self._exported_for = (str(project.path) if project else None, self.variant_combo.currentData(),
                              self.target_combo.currentData())
        files = result.get("files") or sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        self.files.clear()
        for f in files:
            if isinstance(f, dict):
                f = f.get("path") or f.get("name")
            self.files.addItem(str(f))
        run = result.get("run_id")
        self.task.set_idle(f"Exported to {out}" + (f" (the model of run {run})" if run else ""))
        self.state.mark_done("export")

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.task.set_idle("Nothing was exported.")
        dialogs.show_error(self, exc, "Could not export")

    def _set_bundle(self, path: Path | None) -> None:
        self.bundle = path
        script = self.harness()
        self.selftest_button.setEnabled(script is not None)
        self.open_button.setEnabled(path is not None)
        has_report = path is not None and (path / "report.html").exists()
        self.report_button.setEnabled(has_report)
        self.report_button.setToolTip("The bundle's report.html: the model, its accuracy and mistakes, in a browser."
                                      if has_report else "Export a bundle first: the report is written with it.")
        self.selftest_passed = None
        self.selftest_result = None
        self.selftest_label.setText("")
        self.correct_label.setText("")
        self.output.setVisible(False)
        self.output.clear()
        if path is None:
            self.files.clear()

    def harness(self) -> Path | None:
        if self.bundle is None:
            return None
        for candidate in (self.bundle / "run_model.py", self.bundle / "python" / "run_model.py"):
            if candidate.exists():
                return candidate
        return None

    @Slot()
    def _open_report(self) -> None:
        if self.bundle is not None and (self.bundle / "report.html").exists():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.bundle / "report.html")))

    @Slot()
    def _open_folder(self) -> None:
        if self.bundle is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.bundle)))

    # ------------------------------------------------------------------------------------------ self-test
    def shutdown(self) -> None:
        """Nothing to stop here: the self-test is a worker job."""

    @Slot()
    def run_selftest(self) -> None:
        bundle = self.bundle
        if self.harness() is None or bundle is None or self.selftest_running or self.is_busy():
            return
        self.selftest_running = True
        self.selftest_button.setEnabled(False)
        self.selftest_label.setObjectName("")
        self.selftest_label.setText("Running the self-test…")
        self.correct_label.setText("")
        self.output.clear()
        self.output.setVisible(True)
        self.job = self.state.run("bundle_selftest", {"bundle": str(bundle)}, project=False,
                                  succeeded=self._selftest_done, failed=self._selftest_failed,
                                  done=self._selftest_job_ended, owner=self)

    @Slot()
    def _selftest_job_ended(self, *_: Any) -> None:
        self.selftest_running = False
        self.selftest_button.setEnabled(self.harness() is not None)

    @Slot(object)
    def _selftest_done(self, result: dict[str, Any]) -> None:
        self.selftest_result = result
        lines = []
        for check in result.get("checks", []):
            state = ("passed" if check.get("ok") else "FAILED") if check.get("ran") else "not run"
            extra = check.get("detail") if check.get("ran") else check.get("reason")
            lines.append(f"{check.get('title')}: {state}" + (f" ({extra})" if extra else ""))
        for item in result.get("items", []):
            mark = {True: "✔", False: "✘"}.get(item.get("correct"), "·")
            truth = item.get("label") if item.get("label") is not None else "(boundary blend)"
            lines.append(f"{mark} {item.get('name')}: true {truth}, predicted {item.get('predicted')}")
        self.output.setPlainText("\n".join(lines))
        self._show_selftest(bool(result.get("ok")), result)

    @Slot(object)
    def _selftest_failed(self, exc: BaseException) -> None:
        self.output.setPlainText(f"The self-test could not run: {exc}")
        self._show_selftest(False, None)

    def _show_selftest(self, ok: bool, result: dict[str, Any] | None) -> None:
        self.selftest_passed = ok
        summary = (result or {}).get("summary") or ["The self-test could not run: see below.", ""]
        self.selftest_label.setObjectName("okText" if ok else "badText")
        self.selftest_label.setText(("✔ " if ok else "✘ ") + summary[0])
        correct = (result or {}).get("correct") or {}
        self.correct_label.setObjectName("okText" if correct.get("all") else "badText")
        self.correct_label.setText(summary[1] if len(summary) > 1 else "")
        for label in (self.selftest_label, self.correct_label):
            label.style().unpolish(label)
            label.style().polish(label)
        self.selftest_finished.emit(ok)
