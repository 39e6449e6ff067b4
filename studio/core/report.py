"""A self-contained HTML report that travels with an export: dataset, training curves, confusion matrix, variants.

One file, no scripts, no external assets (curves are inline SVG, the confusion matrix a coloured table), so it
opens offline on any machine and can be attached to a ticket or a quality record.
"""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

from studio.core.fsutil import read_json
from studio.core.project import modality_of

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:70em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.chosen{background:#eef6ff;font-weight:600}
.cm td{min-width:2.4em;text-align:center}.note{color:#666;font-size:.9em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _pct(v: Any) -> str:
    return "–" if v is None else f"{float(v) * 100:.1f}%"


def _kb(v: Any) -> str:
    return "–" if v is None else f"{float(v) / 1024:.1f} KB"


def svg_curves(series: dict[str, list[float]], title: str, width: int = 420, height: int = 240,
               percent: bool = False) -> str:
    """A line chart of ``series`` (name -> values per epoch) as inline SVG: round ticks, whole epochs, the legend
    under the chart (never over a curve); ``percent``: fractions drawn on a 0-100 % axis."""
    from studio.core.units import linear_ticks, tick_text

    scale = 100.0 if percent else 1.0
    series = {k: [float(v) * scale for v in vals if v is not None] for k, vals in series.items() if vals}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return f"<p class='note'>No {title.lower()} recorded.</p>"
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    pad_l, pad_r, pad_t, pad_b = 48, 12, 22, 52
    n = max(len(v) for v in series.values())
    lo, hi = (0.0, 100.0) if percent else (min(min(v) for v in series.values()), max(max(v) for v in series.values()))
    if hi - lo < 1e-9:
        hi = lo + 1.0
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def px(i: int) -> float:  # epoch i + 1
        return pad_l + (w * i / max(1, n - 1)) if n > 1 else pad_l + w / 2

    def py(v: float) -> float:
        return pad_t + h * (1 - (v - lo) / (hi - lo))

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>",
             f"<text x='{width / 2}' y='14' text-anchor='middle' font-size='12'>{_e(title)}</text>",
             f"<rect x='{pad_l}' y='{pad_t}' width='{w}' height='{h}' fill='none' stroke='#bbb'/>"]
    for v in linear_ticks(lo, hi, 6):
        label = f"{tick_text(v)} %" if percent else tick_text(v)
        parts.append(f"<line x1='{pad_l}' x2='{pad_l + w}' y1='{py(v):.1f}' y2='{py(v):.1f}' stroke='#eee'/>"
                     f"<text x='{pad_l - 4}' y='{py(v) + 4:.1f}' text-anchor='end' font-size='10'>{label}</text>")
    for e in linear_ticks(1, n, 8, integer=True) if n > 1 else [1]:
        parts.append(f"<text x='{px(int(e) - 1):.1f}' y='{pad_t + h + 13}' text-anchor='middle' "
                     f"font-size='10'>{int(e)}</text>")
    parts.append(f"<text x='{pad_l + w / 2}' y='{pad_t + h + 26}' text-anchor='middle' font-size='10'>epoch</text>")
    x_legend = pad_l
    for k, (name, vals) in enumerate(series.items()):
        c = colours[k % len(colours)]
        pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(vals))
        shown = "validation" if str(name).startswith("val_") else ("training" if name in ("loss", "accuracy")
                                                                    else str(name))
        parts.append(f"<polyline fill='none' stroke='{c}' stroke-width='2' points='{pts}'/>")
        parts.append(f"<rect x='{x_legend}' y='{height - 14}' width='12' height='3' fill='{c}'/>"
                     f"<text x='{x_legend + 16}' y='{height - 9}' font-size='11' fill='{c}'>{_e(shown)}</text>")
        x_legend += 26 + 7 * len(shown)
    parts.append("</svg>")
    return "".join(parts)


def confusion_html(labels: list[str], matrix: list[list[int]]) -> str:
    """Rows = true class, columns = predicted; cell shade by the row's share (a heat map that reads as text)."""
    if not matrix:
        return "<p class='note'>No confusion matrix.</p>"
    rows = ["<table class='cm'><tr><th class='l'>true \\ predicted</th>"
            + "".join(f"<th>{_e(l)}</th>" for l in labels) + "</tr>"]
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        cells = []
        for j, v in enumerate(row):
            share = v / total
            colour = f"rgba(31,119,180,{share:.2f})" if i == j else f"rgba(214,39,40,{min(1.0, share * 1.5):.2f})"
            fg = "#fff" if share > 0.6 else "#222"
            cells.append(f"<td style='background:{colour};color:{fg}'>{v}</td>")
        rows.append(f"<tr><th class='l'>{_e(labels[i])}</th>{''.join(cells)}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _recording_headline(variant: dict[str, Any]) -> str:
    """Sensor variants: the per-recording figure (the mean of a recording's window probabilities) first."""
    if variant.get("recording_accuracy") is None:
        return ""
    test = variant.get("test_recording_accuracy")
    return (f"<p>Validation accuracy <b>per recording</b> (the mean of its windows' probabilities) through LiteRT: "
            f"<b>{_pct(variant.get('recording_accuracy'))}</b> on {variant.get('recordings')} recordings "
            f"(trained Keras model: {_pct(variant.get('keras_recording_accuracy'))}"
            f"{'; test ' + _pct(test) if test is not None else ''}).</p>")


def _ratio(v: dict[str, Any], key: str) -> str:
    r = (v.get("vs_int8") or {}).get(key)
    return "" if r is None else f"<br><small>{r:.2f}×</small>"


def _kind(v: dict[str, Any]) -> str:
    if v.get("search"):
        return "searched" + (f", {_pct(v.get('prune'))} channels" if v.get("prune") else "")
    if not v.get("prune"):
        return "–"
    return f"{_pct(v.get('prune'))} {'channels' if v.get('prune_kind') == 'channels' else 'weights'}"


def variants_table(variants: list[dict[str, Any]], chosen: str | None, target: str | None) -> str:
    """Every variant's measured sizes side by side; pruned and searched ones also as a ratio (×) of the
    unpruned int8 model of the same run, measured with them."""
    head = ("<table><tr><th class='l'>variant</th><th>quantization</th><th>pruning</th><th>file</th>"
            "<th>flash (C array)</th><th>gzip</th><th>TFLM arena</th><th>MACs</th><th>sparsity</th>"
            "<th>accuracy (LiteRT)</th><th>Keras</th><th>agreement</th><th>latency median / p95</th>"
            + (f"<th>fits {_e(target)}</th>" if target else "") + "</tr>")
    rows = [head]
    for v in variants:
        arena = (v.get("arena") or {}).get("min_bytes")
        fits = ""
        if target:
            ok = (v.get("fits") or {}).get(target)
            why = ((v.get("fit_detail") or {}).get(target) or {}).get("reason", "")
            fits = f"<td title='{_e(why)}'>{'yes' if ok else 'no'}</td>"
        cls = " class='chosen'" if v.get("name") == chosen else ""
        # median and p95 of the same timings (an older variant has only the mean: said so, never "0.000")
        lat, p95 = v.get("latency_median_ms"), v.get("latency_p95_ms")
        mean_only = lat is None and v.get("latency_ms") is not None
        lat = v.get("latency_ms") if mean_only else lat
        lat_text = "–" if lat is None else (f"{lat:.3f}{' (mean)' if mean_only else ''} / "
                                            f"{'–' if p95 is None else f'{p95:.3f}'} ms")
        acc_pts = (v.get("vs_int8") or {}).get("accuracy_points")
        macs = v.get("macs")
        rows.append(
            f"<tr{cls}><td class='l'>{_e(v.get('name'))}</td><td>{_e(v.get('quantize'))}"
            f"{' + QAT' if v.get('qat') else ''}</td><td>{_e(_kind(v))}</td>"
            f"<td>{_kb(v.get('bytes'))}{_ratio(v, 'bytes')}</td><td>{_kb(v.get('flash_bytes'))}</td>"
            f"<td>{_kb(v.get('gzip_bytes'))}{_ratio(v, 'gzip_bytes')}</td><td>{_kb(arena)}{_ratio(v, 'arena_bytes')}</td>"
            f"<td>{'–' if macs is None else f'{macs / 1e6:.2f} M'}{_ratio(v, 'macs')}</td>"
            f"<td>{_pct(v.get('sparsity'))}</td><td>{_pct(v.get('accuracy'))}"
            f"{'' if acc_pts is None else f'<br><small>{acc_pts:+.1f} pts</small>'}</td>"
            f"<td>{_pct(v.get('keras_accuracy'))}</td><td>{_pct(v.get('agreement'))}</td>"
            f"<td>{lat_text}{_ratio(v, 'latency_median_ms')}</td>{fits}</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _run_curves(project: Any, run_id: str | None) -> dict[str, dict[str, list[float]]]:
    """Training curves from runs/<id>/metrics.json, tolerant of its two plausible shapes."""
    if not run_id:
        return {}
    try:
        metrics = read_json(project.runs_dir / run_id / "metrics.json")
    except (OSError, ValueError):
        return {}
    hist: dict[str, list[float]] = {}
    source = metrics.get("history") if isinstance(metrics, dict) else None
    if isinstance(source, dict):
        hist = {k: list(v) for k, v in source.items() if isinstance(v, list)}
    else:
        epochs = metrics.get("epochs") if isinstance(metrics, dict) else metrics
        if isinstance(epochs, list):
            for e in epochs:
                if isinstance(e, dict):
                    for k, v in e.items():
                        if isinstance(v, (int, float)) and k not in ("epoch", "epochs", "seconds"):
                            hist.setdefault(k, []).append(float(v))
    loss = {k: v for k, v in hist.items() if k in ("loss", "val_loss")}
    acc = {k: v for k, v in hist.items() if k in ("accuracy", "val_accuracy")}
    return {"Loss": loss, "Accuracy": acc}


def dataset_summary(manifest: dict[str, Any]) -> str:
    classes = manifest.get("classes", [])
    splits = manifest.get("split_counts", {})
    rows = ["<table><tr><th class='l'>class</th>" + "".join(f"<th>{_e(s)}</th>" for s in splits) + "</tr>"]
    for c in classes:
        rows.append(f"<tr><td class='l'>{_e(c)}</td>"
                    + "".join(f"<td>{splits[s].get(c, 0)}</td>" for s in splits) + "</tr>")
    rows.append("</table>")
    extra = []
    if modality_of(manifest.get("task")) == "sensor":
        extra.append(f"Channels: {_e(', '.join(manifest.get('channels', [])))}; window {manifest.get('window')} "
                     f"rows, stride {manifest.get('stride')}; split by recording.")
    if manifest.get("skipped"):
        extra.append(f"{len(manifest['skipped'])} file(s) skipped at import.")
    for w in manifest.get("warnings", []):
        extra.append("Warning: " + _e(w))
    return "".join(rows) + "".join(f"<p class='note'>{x}</p>" for x in extra)


def render_report(
    *,
    title: str,
    variant: dict[str, Any],
    variants: list[dict[str, Any]],
    target: str | None,
    manifest: dict[str, Any] | None = None,
    curves: dict[str, dict[str, list[float]]] | None = None,
    extra_notes: list[str] | None = None,
    sections: list[tuple[str, str]] | None = None,
) -> str:
    """The whole report as one HTML string. ``sections``: extra (title, HTML body) parts, placed before the
    notes (the why-maps of the mistakes and the mislabel list, :mod:`studio.core.trust_report`)."""
    classes = variant.get("classes") or (manifest or {}).get("classes", [])
    val = variant.get("val") or {}
    per_class = val.get("per_class") or {}
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1>",
             f"<p>Variant <b>{_e(variant.get('name'))}</b> ({_e(variant.get('quantize'))}"
             f"{', pruned ' + _pct(variant.get('prune')) if variant.get('prune') else ''}"
             f"{', QAT' if variant.get('qat') else ''}) of run {_e(variant.get('run_id'))} "
             f"({_e(variant.get('arch'))}), exported {now}"
             f"{' for target ' + _e(target) if target else ''}.</p>",
             _recording_headline(variant),
             f"<p>Validation accuracy{' per window' if variant.get('recording_accuracy') is not None else ''} "
             f"measured through LiteRT: <b>{_pct(variant.get('accuracy'))}</b> "
             f"(trained Keras model: {_pct(variant.get('keras_accuracy'))}; agreement "
             f"{_pct(variant.get('agreement'))}"
             f"{'; test ' + _pct(variant.get('test_accuracy')) if variant.get('test_accuracy') is not None else ''}"
             f").</p>"]
    if manifest:
        parts += ["<h2>Dataset</h2>", dataset_summary(manifest)]
    if curves:
        parts.append("<h2>Training curves</h2><div>")
        for name, series in curves.items():
            parts.append(svg_curves(series, name, percent=name == "Accuracy"))
        parts.append("</div>")
    parts += ["<h2>Confusion matrix (validation, LiteRT)</h2>",
              confusion_html(list(classes), val.get("confusion_matrix") or [])]
    if per_class:
        parts.append("<table><tr><th class='l'>class</th><th>precision</th><th>recall</th><th>F1</th>"
                     "<th>support</th></tr>")
        for c, m in per_class.items():
            parts.append(f"<tr><td class='l'>{_e(c)}</td><td>{_pct(m.get('precision'))}</td>"
                         f"<td>{_pct(m.get('recall'))}</td><td>{_pct(m.get('f1'))}</td><td>{m.get('support')}</td></tr>")
        parts.append("</table>")
    parts += ["<h2>Variants</h2>", variants_table(variants, variant.get("name"), target),
              "<p class='note'>Accuracy and latency are measured on the .tflite file with the LiteRT interpreter "
              "(host CPU, one thread, batch 1). Weight pruning shows in the gzip size only; channel pruning makes "
              "the model narrower, so the file, the arena, the MACs and the latency shrink. × is the ratio to "
              "the unpruned int8 model of the same run, measured with the variant. Flash is the file as the "
              "microcontroller bundle's C array. The TFLite-Micro arena is the smallest that allocated and "
              "invoked (the bundle adds headroom).</p>"]
    for heading, body in sections or []:
        parts += [f"<h2>{_e(heading)}</h2>", body]
    notes = list(variant.get("notes") or []) + list(extra_notes or [])
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def build_report(project: Any, variant: dict[str, Any], target: str | None, reporter: Any = None,
                 trust: bool = True) -> str:
    """The report for ``variant`` of ``project`` (reads the manifest, the run's curves and all variants);
    ``trust`` adds the why-maps of the variant's mistakes and the possibly mislabelled examples."""
    from studio.core.optimize import list_variants
    from studio.core.trust_report import trust_sections

    try:
        manifest = project.load_manifest()
    except Exception:  # noqa: BLE001 - a report without the dataset section is better than none
        manifest = None
    return render_report(
        title=f"{project.name} — Small Model Studio report",
        variant=variant,
        variants=list_variants(project, target=target),
        target=target,
        manifest=manifest,
        curves=_run_curves(project, variant.get("run_id")),
        sections=trust_sections(project, variant, reporter) if trust else None,
    )
