"""The offline export's pieces that need no kernel and no browser."""

from transformer_course.export import math_to_mathml, plotly_inline


def test_display_and_inline_maths_become_mathml():
    text = "A score $q_i \\cdot k_j$ and\n$$\\text{softmax}(x)_j =\n \\frac{e^{x_j}}{\\sum_m e^{x_m}}$$\nend"
    out = math_to_mathml(text)
    assert "$" not in out
    assert out.count("<math") == 2
    assert 'display="block"' in out and 'display="inline"' in out and "<mfrac>" in out


def test_text_without_maths_is_untouched():
    text = "No maths here: costs 5 dollars, `x_i` in code."
    assert math_to_mathml(text) == text


def test_plotly_is_inlined_as_a_global():
    script = plotly_inline()
    assert len(script) > 1_000_000 and script.rstrip().endswith("})();")
    assert "window.Plotly = module.exports" in script
