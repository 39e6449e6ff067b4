"""Start page: a data folder opened as if it were a project gets an offer to make a project from it.

People pick the folder of their pictures or recordings with **Open a project…**. Instead of "no project here",
Studio says what it sees (class folders of images, or CSV files) and offers to create a project beside the data
and import it (:func:`offer_project_for_data`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.gui.widgets import dialogs

MAX_LOOK = 2000  # files looked at to decide (a huge folder answers as fast as a small one)


def data_kind(folder: str | Path) -> str | None:
    """"image" when the folder's sub-folders (classes) hold pictures, "sensor" when it holds CSV files (itself
    or its sub-folders), None otherwise (or when it is a project)."""
    from studio.core.data.image import IMAGE_EXTENSIONS

    folder = Path(folder)
    if not folder.is_dir() or (folder / "project.json").exists():
        return None
    images = csvs = 0
    for k, path in enumerate(folder.rglob("*")):
        if k >= MAX_LOOK:
            break
        suffix = path.suffix.lower()
        if suffix in IMAGE_EXTENSIONS and path.parent != folder:
            images += 1
        elif suffix == ".csv":
            csvs += 1
    if images >= csvs and images:
        return "image"
    return "sensor" if csvs else None


def project_folder_for(data: Path) -> Path:
    """A new folder beside the data: ``<data> project``, ``<data> project 2``, ..."""
    base = data.parent / f"{data.name} project"
    candidate, n = base, 2
    while candidate.exists():
        candidate = data.parent / f"{base.name} {n}"
        n += 1
    return candidate


def offer_project_for_data(parent: Any, state: Any, folder: str | Path) -> bool:
    """When ``folder`` holds data (not a project), offer to create a project for it; on yes the project is
    created beside the data, opened, and the Data page shows the folder ready to import. Returns True when the
    offer was made (accepted or not), False when the folder is not data (the caller shows its error)."""
    from studio.core.project import Project

    folder = Path(folder).expanduser().absolute()
    kind = data_kind(folder)
    if kind is None:
        return False
    what = "class folders of images" if kind == "image" else "CSV recordings"
    target = project_folder_for(folder)
    question = (f"{folder} is not a Studio project: it holds {what}.\n\nCreate a project for it? The project "
                f"goes in {target} (your data stays where it is) and its Data page imports this folder.")
    if not dialogs.ask(parent, "Create a project from this data?", question, yes="Create the project",
                       no="Cancel"):
        return True
    try:
        project = Project.create(target, kind, name=folder.name)
    except Exception as exc:  # noqa: BLE001 - shown as a dialog
        dialogs.show_error(parent, exc, "Could not create the project")
        return True
    state.project = project  # current for a moment without the signal: the source is saved first, so the
    state.save_settings("data", {"source": str(folder)})  # Data page shows it when the project opens
    state.set_project(project)
    return True
