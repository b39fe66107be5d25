"""The explorers write d_k as the prose does, d<sub>k</sub>, not "d_k".

Chapter 04's prose writes d<sub>k</sub> and asks the learner to "untick **divide by
√d<sub>k</sub>** and raise **d<sub>k</sub>**". Plotly draws <sub> in a figure's title, so the
titles carry the markup. A control's label cannot: JupyterLab's widget labels keep only a few
tags (``inline_sanitize`` in @jupyter-widgets/jupyterlab-manager drops <sub>, leaving "dk"), a
checkbox shows its raw label as its tooltip, and the export writes a label as text. The labels
say "dₖ", a Unicode subscript k, which reads the same everywhere. The keys that code addresses a
control by stay "d_k" and "scaled".
"""

import re

import pytest
from test_widgets_fuzz import EXPLORERS, VOCAB, text_of
from traitlets import TraitError
from transformer_course.embeddings import TokenEmbedding
from transformer_course.export.snapshot import snapshot_html
from transformer_course.widgets import ScalingExplorer

# d_k written as plain text, with an underscore: what the learner should not read.
UNDERSCORE_D_K = re.compile(r"\bd_k\b")


def scaling():
    return ScalingExplorer(VOCAB, TokenEmbedding(len(VOCAB), 32, scale=False))


def test_the_scaling_controls_say_d_k_with_a_subscript():
    """Before: "d_k" and "divide by √d_k"."""
    explorer = scaling()
    d_k, scaled = explorer.controls["d_k"], explorer.controls["scaled"]
    assert (d_k.description, scaled.description) == ("dₖ", "divide by √dₖ")
    # No markup a label would show as text (or, allowed as HTML, lose in JupyterLab).
    assert not d_k.description_allow_html and not scaled.description_allow_html
    d_k.value = 512  # still addressed by its key
    assert explorer.value("d_k") == 512 and "(dₖ = 512)" in text_of(explorer)


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_no_label_title_or_message_writes_d_k_with_an_underscore(name):
    explorer = EXPLORERS[name]()
    shown = [c.description for c in explorer.controls.values()]
    shown += [f.layout.title.text or "" for f in explorer.figures.values()]
    shown.append(text_of(explorer))
    assert not [s for s in shown if UNDERSCORE_D_K.search(s)], shown


def test_the_scaling_titles_write_d_k_with_a_subscript():
    """Before: "softmax(QKᵀ / √d_k / T), d_k = 64" over the heatmap."""
    explorer = scaling()
    title = explorer.figures["weights"].layout.title.text
    assert title == "softmax(QKᵀ / √d<sub>k</sub> / T), d<sub>k</sub> = 64"
    explorer.controls["scaled"].value = False
    explorer.controls["d_k"].value = 8
    assert explorer.figures["weights"].layout.title.text == "softmax(QKᵀ / T), d<sub>k</sub> = 8"


def test_the_qkv_title_writes_d_k_with_a_subscript():
    """Before: "Q, K, V: 5 tokens × d_k = 4"."""
    explorer = EXPLORERS["QKVExplorer"]()
    assert explorer.figures["qkv"].layout.title.text == "Q, K, V: 5 tokens × d<sub>k</sub> = 4"
    explorer.controls["text"].value = "the cat"
    assert explorer.figures["qkv"].layout.title.text == "Q, K, V: 2 tokens × d<sub>k</sub> = 4"


def test_a_typed_tag_in_a_title_still_shows_as_typed():
    """The titles that now carry markup hold no typed word: a sentence with "<sub>" in it is
    still shown literally on the axes (figures escape it), never drawn as a subscript."""
    explorer = EXPLORERS["QKVExplorer"]()
    explorer.controls["text"].value = "the <sub>cat</sub>"
    figure = explorer.figures["qkv"]
    assert figure.layout.title.text.endswith("× d<sub>k</sub> = 4")
    ticks = list(figure.layout.yaxis.ticktext or ())
    assert "&lt;sub>" in ticks and "<sub>" not in ticks, ticks


def test_the_export_shows_the_labels_as_the_page_does():
    page = snapshot_html(scaling())
    assert "<b>dₖ</b> 64" in page and "<b>divide by √dₖ</b> on" in page
    assert "&lt;sub" not in page


def test_a_selection_slider_refusing_none_names_itself_as_labelled():
    slider = scaling().controls["d_k"]
    with pytest.raises(TraitError, match="'dₖ' always points at one of its options"):
        slider.value = None
    assert slider.value == 64
