"""The main window: a step list on the left, the current page on the right, Back / Next below.

Deliberately thin: it lays pages out and moves between them. Each page owns its own controls and jobs; the
shared state (project, steps done, TensorFlow readiness) lives in :class:`~studio.gui.state.AppState`.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.state import STEPS, AppState
from studio.gui.widgets import dialogs
from studio.gui.widgets.icons import icon
from studio.gui.workers import registry


# (step, module, class) in wizard order. Pages are built the first time they are shown: the step pages pull in
# numpy and pyqtgraph (~1 s on a busy 2-core machine), which must not delay the first window.
PAGE_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("", "studio.gui.pages.start_page", "StartPage"),
    ("data", "studio.gui.pages.data_page", "DataPage"),
    ("model", "studio.gui.pages.model_page", "ModelPage"),
    ("train", "studio.gui.pages.train_page", "TrainPage"),
    ("evaluate", "studio.gui.pages.evaluate_page", "EvaluatePage"),
    ("optimize", "studio.gui.pages.optimize_page", "OptimizePage"),
    ("export", "studio.gui.pages.export_page", "ExportPage"),
    ("tryit", "studio.gui.pages.tryit_page", "TryItPage"),
)
PAGE_TITLES = {"": "Welcome", **{step: title for step, title in STEPS}}


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None) -> None:
        super().__init__()
        self.state = state or AppState(self)
        self.setWindowTitle("Small Model Studio")
        self.setWindowIcon(icon("app"))
        self.resize(1240, 820)
        self.setMinimumSize(960, 640)

        # --- sidebar: project name and the step list
        self.steps = QListWidget()
        self.steps.setObjectName("stepList")
        self.steps.setIconSize(QSize(18, 18))
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        home = QListWidgetItem(icon("home"), "Project")
        self.steps.addItem(home)
        for number, (_step, title) in enumerate(STEPS, start=1):
            self.steps.addItem(QListWidgetItem(f"{number}  {title}"))
        self.steps.currentRowChanged.connect(self._on_step_clicked)
        self.project_label = QLabel("No project open")
        self.project_label.setObjectName("projectLabel")
        self.project_label.setWordWrap(True)
        brand = QLabel("Small Model Studio")
        brand.setObjectName("brand")
        sidebar = QFrame()
        sidebar.setObjectName("sidebar")
        sidebar.setFixedWidth(210)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(14, 18, 14, 14)
        side.setSpacing(10)
        side.addWidget(brand)
        side.addWidget(self.project_label)
        side.addWidget(self.steps, 1)

        # --- page area: header, pages, navigation
        self.page_title = QLabel()
        self.page_title.setObjectName("pageTitle")
        self.page_subtitle = QLabel()
        self.page_subtitle.setObjectName("pageSubtitle")
        self.page_subtitle.setWordWrap(True)
        self.stack = QStackedWidget()
        self._pages: list[Page | None] = [None] * len(PAGE_CLASSES)
        for _ in PAGE_CLASSES:
            self.stack.addWidget(QWidget())  # placeholder until the page is first shown
        self.back_button = QPushButton("Back")
        self.back_button.setObjectName("backButton")
        self.back_button.clicked.connect(self.go_back)
        self.next_button = QPushButton("Next")
        self.next_button.setObjectName("nextButton")
        self.next_button.clicked.connect(self.go_next)
        nav = QHBoxLayout()
        nav.setContentsMargins(24, 8, 24, 16)
        nav.addWidget(self.back_button)
        nav.addStretch(1)
        nav.addWidget(self.next_button)
        header = QVBoxLayout()
        header.setContentsMargins(24, 20, 24, 4)
        header.setSpacing(2)
        header.addWidget(self.page_title)
        header.addWidget(self.page_subtitle)
        main = QVBoxLayout()
        main.setContentsMargins(0, 0, 0, 0)
        main.setSpacing(0)
        main.addLayout(header)
        main.addWidget(self.stack, 1)
        main.addLayout(nav)

        central = QWidget()
        central.setObjectName("central")
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(sidebar)
        layout.addLayout(main, 1)
        self.setCentralWidget(central)

        self.tf_label = QLabel("Loading TensorFlow…")
        self.tf_label.setObjectName("tfLabel")
        self.statusBar().addPermanentWidget(self.tf_label)

        self.state.project_changed.connect(self._on_project_changed)
        self.state.steps_changed.connect(self._refresh_steps)
        self.state.tf_ready_changed.connect(self._on_tf_ready)
        self.state.message.connect(self._show_message)
        self.state.worker.died.connect(self._worker_died)
        self._closing = False
        self._on_tf_ready(self.state.tf_ready)
        self.show_page(0)

    # ------------------------------------------------------------------------------------------ pages
    def page_at(self, index: int) -> Page:
        """The page at ``index`` in wizard order, built on first use."""
        page = self._pages[index]
        if page is None:
            import importlib

            _step, module, name = PAGE_CLASSES[index]
            page = getattr(importlib.import_module(module), name)(self.state)
            placeholder = self.stack.widget(index)
            self.stack.insertWidget(index, page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self._pages[index] = page
        return page

    def page(self, step: str) -> Page:
        """The page of ``step`` ("" for the start page), built on first use."""
        return self.page_at(self.step_index(step))

    @staticmethod
    def step_index(step: str) -> int:
        for index, (name, _module, _cls) in enumerate(PAGE_CLASSES):
            if name == step:
                return index
        raise KeyError(step)

    @property
    def pages(self) -> list[Page]:
        """The pages built so far."""
        return [p for p in self._pages if p is not None]

    def show_page(self, index: int) -> None:
        index = max(0, min(index, len(PAGE_CLASSES) - 1))
        step = PAGE_CLASSES[index][0]
        if step and not self.state.is_reachable(step):
            self._refresh_steps()
            return
        page = self.page_at(index)
        self.stack.setCurrentIndex(index)
        page.entered()  # first: a page may adapt its subtitle to the project
        self.page_title.setText(page.title)
        self.page_subtitle.setText(page.subtitle)
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        self.steps.blockSignals(False)
        self._refresh_steps()

    def show_step(self, step: str) -> None:
        self.show_page(self.step_index(step))

    @Slot(int)
    def _on_step_clicked(self, row: int) -> None:
        if row >= 0 and row != self.stack.currentIndex():
            self.show_page(row)

    @Slot()
    def go_back(self) -> None:
        self.show_page(self.stack.currentIndex() - 1)

    @Slot()
    def go_next(self) -> None:
        self.show_page(self.stack.currentIndex() + 1)

    # ------------------------------------------------------------------------------------------ state
    @Slot()
    def _on_project_changed(self) -> None:
        project = self.state.project
        if project is None:
            self.project_label.setText("No project open")
            self.setWindowTitle("Small Model Studio")
            self.show_page(0)
            return
        kind = "images" if project.modality == "image" else "sensor recordings"
        kind += ", anomaly detection" if project.is_anomaly else ""
        self.project_label.setText(f"<b>{project.name}</b><br><span>{kind}</span>")
        self.project_label.setToolTip(str(project.path))
        self.setWindowTitle(f"{project.name} — Small Model Studio")
        self.statusBar().showMessage(f"Opened {project.path}", 5000)
        # go to the first step that is not done yet
        for step, _title in STEPS:
            if step != "tryit" and not self.state.is_done(step) and self.state.is_reachable(step):
                self.show_step(step)
                return
        self.show_step("export")

    @Slot()
    def _refresh_steps(self) -> None:
        for row, (step, _title) in enumerate(STEPS, start=1):
            item = self.steps.item(row)
            reachable = self.state.is_reachable(step)
            done = self.state.is_done(step)
            item.setIcon(icon("done" if done else ("todo" if reachable else "locked")))
            flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags if reachable else Qt.ItemFlag.NoItemFlags)
            item.setToolTip("Done" if done else ("" if reachable else "Finish the earlier steps first"))
        index = self.stack.currentIndex()
        self.back_button.setEnabled(index > 0)
        nxt = index + 1
        can_next = nxt < len(PAGE_CLASSES) and self.state.is_reachable(PAGE_CLASSES[nxt][0])
        self.next_button.setEnabled(can_next)
        self.next_button.setVisible(nxt < len(PAGE_CLASSES))
        if nxt < len(PAGE_CLASSES):
            self.next_button.setText(f"Next: {PAGE_TITLES[PAGE_CLASSES[nxt][0]]}")
        else:
            self.next_button.setText("Next")

    @Slot(bool)
    def _on_tf_ready(self, ready: bool) -> None:
        worker = self.state.worker
        if worker.state == "ready":
            self.tf_label.setText("TensorFlow ready" if ready else "TensorFlow failed to load")
            self.tf_label.setToolTip(worker.tf_error or f"TensorFlow {worker.tf_version} in process {worker.pid}")
        elif worker.state == "dead":
            self.tf_label.setText("Background process stopped")
        else:
            self.tf_label.setText("Loading TensorFlow…")

    @Slot(str, str)
    def _worker_died(self, message: str, details: str) -> None:
        """The worker stopped while no page was waiting for it (a page shows its own job's failure)."""
        if self._closing or not shiboken6.isValid(self) or not self.isVisible():
            return
        dialogs.show_message(self, "Background process stopped", message, details)

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # ------------------------------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        """Ask before stopping work; then stop it (training keeps its best model) and close once it ended."""
        worker = self.state.worker
        running = worker.running(exclusive_only=True)
        if running and not self._closing:
            names = ", ".join(sorted({job.title.lower() for job in running}))
            if not dialogs.ask(
                self,
                "Work in progress",
                f"Studio is still working ({names}). Stop it and close? A training run keeps the best "
                "model found so far.",
                yes="Stop and close",
                no="Keep working",
            ):
                event.ignore()
                return
            self._stop_then_close(running)
            event.ignore()  # closed by _close_when_stopped once the worker has stopped (or was ended)
            return
        if worker.running(exclusive_only=True):
            event.ignore()  # still stopping
            return
        self._closing = True
        for job in worker.running(exclusive_only=False):
            job.cancel()
        registry().cancel_all()  # light threads (thumbnails) end in a moment
        for page in self.pages:
            page.shutdown()
        event.accept()

    def _stop_then_close(self, running: list[Any]) -> None:
        self._closing = True
        self.statusBar().showMessage("Stopping…")
        for job in running:
            job.done.connect(self._close_when_stopped)
            job.cancel()

    @Slot()
    def close_without_asking(self) -> None:
        """Close as after "Stop and close" (the system asked: SIGTERM at log-out, Ctrl-C in the terminal): work
        in progress stops at its next safe point, a training run keeps its best model, then the window closes."""
        running = self.state.worker.running(exclusive_only=True)
        if running and not self._closing:
            self._stop_then_close(running)
        elif not running:
            self.close()

    @Slot()
    def _close_when_stopped(self) -> None:
        if not self.state.worker.running(exclusive_only=True):
            self.close()
