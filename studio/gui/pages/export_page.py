"""Export page: write the bundle for a variant and a device, list the files, and run the bundle's self-test.

The bundle is written by the worker's ``export`` job. The self-test runs the bundle's own ``run_model.py
--selftest`` — the very script the device will run — in a separate process (``QProcess`` with this Python; it
needs LiteRT only). In a frozen app there is no separate Python to call, so the worker runs it in-process
(``bundle_selftest`` job).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QUrl, Signal, Slot
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
from studio.gui.widgets.target_combo import TargetCombo

SELFTEST_TIMEOUT_MS = 120_000


class ExportPage(Page):
    step = "export"
    title = "Export"
    subtitle = "Write everything the device needs into one folder, then prove it works with the self-test."

    selftest_finished = Signal(bool)
    variants_shown = Signal()  # the variant list was refreshed from the worker's answer

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        self.variant_combo = QComboBox()
        self.variant_combo.setObjectName("variantCombo")
        self.variant_combo.currentIndexChanged.connect(self._update_out)
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
        self.selftest_button = QPushButton("Run self-test")
        self.selftest_button.setObjectName("selftestButton")
        self.selftest_button.clicked.connect(self.run_selftest)
        actions.addWidget(self.selftest_button)
        row.addWidget(box)
        row.addWidget(self.open_button)
        self.selftest_label = QLabel()
        row.addWidget(self.selftest_label, 1)
        self.body.addLayout(row)
        self.selftest_note = self.note(
            "The self-test runs the bundle's own program on recorded examples and checks that it gives the same "
            "answers as Studio did. Run the same command on the device: python3 run_model.py --selftest")
        self.body.addWidget(self.selftest_note)
        self.output = QPlainTextEdit()
        self.output.setObjectName("selftestOutput")
        self.output.setReadOnly(True)
        self.output.setMaximumHeight(180)
        self.body.addWidget(self.output)
        self.body.addStretch(1)
        self.bundle: Path | None = None
        self.process: QProcess | None = None
        self.selftest_passed: bool | None = None
        self._out_custom = False
        self._loading = False
        self._variants_job: Any = None
        self._set_bundle(None)

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        self._loading = True
        try:
            self.target_combo.set_target(project.settings.get("target"))
        finally:
            self._loading = False
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
        self._loading = True
        try:
            current = self.variant_combo.currentData()
            self.variant_combo.clear()
            for v in variants:
                name = str(v.get("name"))
                acc = v.get("accuracy")
                label = name + (f"   ({100 * float(acc):.1f} % accuracy)" if acc is not None else "")
                self.variant_combo.addItem(label, name)
            preferred = current or project.data.get("active_variant")
            index = self.variant_combo.findData(preferred)
            self.variant_combo.setCurrentIndex(index if index >= 0 else self.variant_combo.count() - 1)
        finally:
            self._loading = False
        self._update_out()
        self.variants_shown.emit()

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
        files = result.get("files") or sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        self.files.clear()
        for f in files:
            if isinstance(f, dict):
                f = f.get("path") or f.get("name")
            self.files.addItem(str(f))
        self.task.set_idle(f"Exported to {out}")
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
        self.selftest_passed = None
        self.selftest_label.setText("")
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
    def _open_folder(self) -> None:
        if self.bundle is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.bundle)))

    # ------------------------------------------------------------------------------------------ self-test
    def shutdown(self) -> None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(3000)

    @Slot()
    def run_selftest(self) -> None:
        script = self.harness()
        if script is None or (self.process is not None) or self.is_busy():
            return
        self.selftest_button.setEnabled(False)
        self.selftest_label.setObjectName("")
        self.selftest_label.setText("Running the self-test…")
        self.output.clear()
        self.output.setVisible(True)
        if getattr(sys, "frozen", False):  # no other Python to call: the worker runs the script in-process
            self.job = self.state.run("bundle_selftest", {"bundle": str(script.parent)}, project=False,
                                      succeeded=self._selftest_in_process_done, failed=self._selftest_failed,
                                      owner=self)
            return
        self.process = QProcess(self)
        self.process.setWorkingDirectory(str(script.parent))
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._selftest_output)
        self.process.finished.connect(self._selftest_finished)
        self.process.errorOccurred.connect(self._selftest_error)
        self.process.start(sys.executable, [str(script), "--selftest"])

    @Slot()
    def _selftest_output(self) -> None:
        if self.process is not None:
            text = bytes(self.process.readAllStandardOutput()).decode(errors="replace")
            cursor = self.output.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(text)
            self.output.setTextCursor(cursor)
            self.output.ensureCursorVisible()

    @Slot(int, QProcess.ExitStatus)
    def _selftest_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._selftest_output()
        ok = status == QProcess.ExitStatus.NormalExit and code == 0
        self.process.deleteLater()
        self.process = None
        self._show_selftest(ok)

    @Slot(QProcess.ProcessError)
    def _selftest_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.process is not None:
            self.output.appendPlainText(f"Could not start Python: {self.process.errorString()}")
            self.process.deleteLater()
            self.process = None
            self._show_selftest(False)

    @Slot(object)
    def _selftest_in_process_done(self, result: dict[str, Any]) -> None:
        self.output.appendPlainText(str(result.get("output") or "").rstrip())
        self._show_selftest(int(result.get("code", 1)) == 0)

    @Slot(object)
    def _selftest_failed(self, exc: BaseException) -> None:
        self.output.appendPlainText(str(exc))
        self._show_selftest(False)

    def _show_selftest(self, ok: bool) -> None:
        self.selftest_passed = ok
        self.selftest_button.setEnabled(True)
        self.selftest_label.setObjectName("okText" if ok else "badText")
        self.selftest_label.setText("✔ Self-test passed: the bundle reproduces Studio's answers." if ok else
                                    "✘ Self-test failed: see the output below.")
        self.selftest_label.style().unpolish(self.selftest_label)
        self.selftest_label.style().polish(self.selftest_label)
        self.selftest_finished.emit(ok)
