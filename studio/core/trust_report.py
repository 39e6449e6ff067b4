"""The report's trust sections: why-maps of the variant's mistakes, and the possibly mislabelled examples.

:func:`trust_sections` returns ``[(title, html)]`` for :func:`studio.core.report.render_report`. Pictures are
inline PNGs (``data:`` URIs), so the report stays one self-contained file. Anything that cannot be computed
(no run, no validation data) becomes a one-line note instead of failing the export.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np

from studio.core.errors import StudioError
from studio.core.reporter import NullReporter, Reporter, check_cancel

MAX_MISTAKES = 12
MAX_SUSPECTS = 25
REPORT_SIDE = 256  # pixels of each why-map picture in the report
SPLIT_WORDS = {"val": "validation", "test": "test", "train": "training"}


def _e(x: Any) -> str:
    return html.escape(str(x))


def _img(picture: Any, alt: str) -> str:
    from studio.core.overlay import png_bytes

    data = base64.b64encode(png_bytes(picture)).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{_e(alt)}' style='max-width:100%'>"


def _split_inputs(project: Any, backend: Any, split: str) -> list[tuple[str, str, Any]]:
    """(name, true label, ModelInput) of every sample of ``split``; sensors: one input per recording."""
    from studio.core.inference import image_input, signal_input

    manifest = project.load_manifest()
    out = []
    if backend.spec.kind == "image":
        from studio.core.data import sample_path
        from studio.core.data.curation import entry_name

        for s in manifest["samples"]:
            if s["split"] == split and not s.get("excluded"):
                out.append((entry_name(manifest, s), s["label"], lambda s=s: image_input(
                    sample_path(project, manifest, s), backend.spec)))
        return out
    from studio.core.data.sensor import load_recordings

    recordings = load_recordings(project)
    for r in manifest["recordings"]:
        if r["split"] == split and not r.get("excluded") and r["length"] >= backend.spec.window:
            out.append((r["source"], r["label"], lambda r=r: signal_input(recordings[r["id"]], backend.spec,
                                                                          r["source"])))
    return out


def mistakes_section(project: Any, variant: str | None, reporter: Reporter) -> str:
    """Why-maps of the variant's mistakes on the test split (else validation), through LiteRT."""
    from studio.core.evaluate import default_split
    from studio.core.explain import explain_input
    from studio.core.inference import litert_backend
    from studio.core.overlay import overlay_image

    backend = litert_backend(project, variant)
    split = default_split(project.load_manifest())
    wrong = []
    items = _split_inputs(project, backend, split)
    for k, (name, label, make) in enumerate(items):
        check_cancel(reporter)
        inp = make()
        probs = backend.predict(inp.x).mean(axis=0)
        said = backend.classes[int(np.argmax(probs))]
        if said != label:
            wrong.append((float(probs.max()), name, label, inp))
        reporter.progress(0.5 * (k + 1) / max(1, len(items)), "finding the mistakes")
    if not wrong:
        return f"<p>No mistakes on the {SPLIT_WORDS[split]} examples ({len(items)}) through LiteRT.</p>"
    wrong.sort(key=lambda w: -w[0])  # the most confident mistakes first: the ones to look at
    cells = []
    for k, (_, name, label, inp) in enumerate(wrong[:MAX_MISTAKES]):
        check_cancel(reporter)
        result = explain_input(backend, inp)
        source = inp.signal if inp.kind == "sensor" else None
        picture = overlay_image(dict(result, path=inp.source), source, max_side=REPORT_SIDE)
        cells.append(f"<figure style='display:inline-block;vertical-align:top;width:{picture.width}px;"
                     f"margin:0 1em 1em 0'>{_img(picture, name)}<figcaption class='note'>{_e(name)}: true "
                     f"class <b>{_e(label)}</b>, the variant said <b>{_e(result['label'])}</b></figcaption>"
                     "</figure>")
        reporter.progress(0.5 + 0.5 * (k + 1) / min(len(wrong), MAX_MISTAKES), "why-maps of the mistakes")
    more = len(wrong) - len(cells)
    return (f"<p>{len(wrong)} of {len(items)} {SPLIT_WORDS[split]} examples are answered wrongly by the variant "
            f"(LiteRT); the {len(cells)} it was surest about, with what decided its answer:</p>"
            + "".join(cells) + (f"<p class='note'>…and {more} more.</p>" if more > 0 else ""))


def suspects_section(project: Any, run_id: str | None, reporter: Reporter) -> str:
    from studio.core.suspects import find_suspects

    found = find_suspects(project, run_id, reporter, top=MAX_SUSPECTS)
    if not found["suspects"]:
        return (f"<p>None of the {found['n_ranked']} training and validation examples looks mislabelled to "
                "the model.</p>")
    rows = ["<table><tr><th class='l'>example</th><th class='l'>split</th><th class='l'>labelled</th>"
            "<th class='l'>looks like</th><th>disagreement</th></tr>"]
    for s in found["suspects"]:
        rows.append(f"<tr><td class='l'>{_e(s['name'])}</td><td class='l'>{_e(s['split'])}</td>"
                    f"<td class='l'>{_e(s['label'])}</td><td class='l'>{_e(s['suggested'])}</td>"
                    f"<td>{s['score']:.2f}</td></tr>")
    rows.append("</table>")
    return (f"<p>{found['n_flagged']} of {found['n_ranked']} training and validation examples are possibly "
            "mislabelled: the model and the examples most like them say another class. Check them, then relabel "
            "or exclude them on the Data page (or with <code>studio relabel</code> / <code>studio exclude</code>; "
            f"both can be undone).</p>{''.join(rows)}"
            + (f"<p class='note'>Showing the first {len(found['suspects'])}.</p>"
               if found["n_flagged"] > len(found["suspects"]) else ""))


def trust_sections(project: Any, variant: dict[str, Any], reporter: Reporter | None = None) -> list[tuple[str, str]]:
    """The two trust sections for ``variant`` (a variant.json dict); each is a note if it cannot be made."""
    reporter = reporter or NullReporter()
    out = []
    for title, build in (
        ("Why the model got these wrong", lambda: mistakes_section(project, variant.get("name"), reporter)),
        ("Possibly mislabelled examples", lambda: suspects_section(project, variant.get("run_id"), reporter)),
    ):
        try:
            out.append((title, build()))
        except StudioError as exc:
            out.append((title, f"<p class='note'>Not available: {_e(exc)}</p>"))
    return out
