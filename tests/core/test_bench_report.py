"""The benchmark report keeps what was written by hand when a run (or ``--render``) rewrites it."""

from __future__ import annotations

from bench.run import KEEP_BEGIN, KEEP_END, SECTIONS, TITLES, kept_blocks, render_markdown


def _results() -> dict:
    key = SECTIONS[0]
    return {"date": "2026-12-02", "machine": {}, "versions": {},
            "sections": {key: {"date": "2026-12-02", "seconds": 1.0, "rows": []}}}


def test_a_rerender_keeps_hand_written_parts_in_their_section() -> None:
    first = render_markdown(_results())
    title = TITLES[SECTIONS[0]]
    mine = f"{KEEP_BEGIN}\n**Paired runs.** c50 within 1 point on 8 of 8.\n{KEEP_END}"
    edited = first.replace(f"### {title}\n", f"### {title}\n\n{mine}\n", 1)
    again = render_markdown(_results(), edited)
    assert mine in again
    section = again.split(f"### {title}", 1)[1].split("\n### ", 1)[0]
    assert "c50 within 1 point on 8 of 8" in section
    assert render_markdown(_results(), again).count("c50 within 1 point") == 1  # not doubled by a second render


def test_parts_of_a_section_no_longer_run_and_unclosed_parts_are_not_dropped() -> None:
    text = f"### Gone section\n\n{KEEP_BEGIN}\nold paired table\n{KEEP_END}\n\n### Other\n{KEEP_BEGIN}\nunclosed note"
    assert kept_blocks(text)["Other"] == [f"{KEEP_BEGIN}\nunclosed note\n{KEEP_END}"]
    out = render_markdown(_results(), text)
    assert "### Gone section" in out and "old paired table" in out
    assert "unclosed note" in out
    assert "plain text outside the markers" not in render_markdown(_results(), "### Other\nplain text outside the markers")
