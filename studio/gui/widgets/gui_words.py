"""The core's "what to do" hints name command-line flags (``--pretrained none``); a window user has buttons.

:func:`gui_hint` rewrites a hint in the window's words before a dialog shows it: each known flag (with its
value) becomes the control that does the same thing, and ``'studio <command>'`` the page that runs it. An
unknown flag is left as it is (still true, only less friendly).
"""

from __future__ import annotations

import re

# (pattern, replacement): the more specific first
FLAG_WORDS: tuple[tuple[str, str], ...] = (
    # the window has no weights-file picker: the file goes into the folder Studio searches, or no pretraining
    (r",? (?:or )?pass --pretrained PATH, or use --pretrained none",
     ", or untick 'Start from a network pre-trained on everyday photos' on the Train page"),
    (r"use --pretrained none, or --arch mobilenetv2",
     "untick 'Start from a network pre-trained on everyday photos' on the Train page, or pick MobileNetV2 on "
     "the Model page"),
    (r"(?:use )?--pretrained none", "untick 'Start from a network pre-trained on everyday photos' on the Train page"),
    (r"--method occlusion with --variant", "the occlusion why-map of a variant"),
    (r"name the column holding the class with --label-column \(or call it 'label'\)",
     "type the name of the column holding the class in the Data page's 'Class column' box (or call it 'label')"),
    (r"evaluate on another split \(--split\) or on a labelled folder \(--data\)",
     "choose other examples in 'Check on', or another labelled folder, on the Evaluate page"),
    (r"use --input-size between (\d+) and (\d+)", r"choose an image size between \1 and \2 on the Model page"),
    (r"use --distribute none", "train on this computer alone"),
    (r"choose --quantize int8 with --qat", "choose 'Full int8' for quantization-aware training"),
    (r"set --finetune-epochs", "set 'Fine-tuning after pruning' to some epochs"),
    (r"import the data again with --val-split 0\.2",
     "import the data again on the Data page with 20 % for validation"),
    (r"optimize it with --quantize int8 alone", "build it with 'Full int8' and no pruning"),
    (r"use --prune-kind weights meanwhile", "use weight pruning (the Optimize page's slider) meanwhile"),
    (r"'studio evaluate --data'", "the Evaluate page's 'another labelled folder'"),
    (r"'studio new'", "the start page's New project"),
    (r"'studio import'", "the Data page"),
    (r"'studio train'", "the Train page"),
    (r"'studio optimize'", "the Optimize page"),
)


def gui_hint(hint: str | None) -> str | None:
    """``hint`` in the window's words (None stays None)."""
    if not hint:
        return hint
    text = hint
    for pattern, words in FLAG_WORDS:
        text = re.sub(pattern, words, text)
    return text
