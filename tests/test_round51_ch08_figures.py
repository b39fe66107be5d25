"""Review 51 (R2), chapter 08's figures and explorers as an instructor sees them on a projector.

H2: the explorer's pointer chart left a full bar's value no room under its plot's top on a slide;
M1: the race table's header wrapped at 1280 × 720; M6: "sample" at T = 1 wrote the greedy answer
and said nothing; M5: the StoryExplorer's words under its bars touched ("clapped played").
"""

import ast
import contextlib
import io
from pathlib import Path

import pytest
import torch
from transformer_course import stories
from transformer_course.data import pronoun_task, sequence_task
from transformer_course.model import DecoderOnlyTransformer, Transformer, TransformerConfig
from transformer_course.pointer import PronounPointer, pointer_loss, snapshot
from transformer_course.training import seq2seq_loss, split_batch_fn, train
from transformer_course.widgets import AttentionHistoryExplorer, GenerationExplorer, StoryExplorer

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "08_training_and_generation.py"
# A printed line at 16 px on a 1280 px slide: the race header wrapped at 112 characters.
SLIDE_LINE = 100


@pytest.fixture(scope="module")
def history():
    pt = pronoun_task(num_train=200, num_test=50, seed=0)
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(pt.vocab), d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=32, dropout=0.0, max_len=16,
    )  # fmt: skip
    model = PronounPointer(config)
    shown = pt.test[:2]
    h = train(
        model, pointer_loss, lambda idx: pt.train[idx], len(pt.train), steps=4, batch_size=32, lr=1e-2,
        progress=False, snapshot_fn=lambda m: snapshot(m, shown, pt.test), snapshot_steps=[0, 4],
    )  # fmt: skip
    return AttentionHistoryExplorer(
        h.snapshots,
        [pt.tokens(shown, i) for i in range(2)],
        shown.it_pos.tolist(),
        shown.referent_pos.tolist(),
        shown.distractor_pos.tolist(),
    )


def test_pointer_chart_leaves_a_full_bars_value_room_on_a_slide(history):
    # On a slide the plot is about 105 px tall and the value 16 px type: a 1.00 bar needs about
    # a fifth of the axis above it (1.12 left it 11 px: drawn 7 px past the plot).
    axis = history.figures["pointer"].layout.yaxis
    low, high = axis.range
    assert low == 0 and (high - 1) / high * 105 >= 24
    assert max(axis.tickvals) == 1  # no tick label out in the headroom ("1.2")


def _race_header() -> str:
    """The line chapter 08 prints above its race table, printed as the chapter prints it."""
    tree = ast.parse(CHAPTER.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "print"
            and "loss < 0.5" in ast.unparse(node)
        ):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(ast.Expression(node), str(CHAPTER), "eval"), {})
            return out.getvalue().rstrip("\n")
    raise AssertionError("chapter 08 prints no race header")


def test_race_header_fits_a_slide_line():
    header = _race_header()
    assert len(header) <= SLIDE_LINE, f"{len(header)} characters: {header!r}"
    names = [
        "tutorial: shared W, ÷√embed_size",
        "(a) fixed: full W",
        "(b) fixed: ÷√head_dim",
        "both fixed (the paper)",
    ]
    # the name column still holds the chapter's longest contestant's name
    width = len(header) - len(header.lstrip())
    assert all(name in CHAPTER.read_text() for name in names) and width >= max(map(len, names))


@pytest.fixture(scope="module")
def reverse_model():
    task = sequence_task("reverse", num_symbols=6, min_len=2, max_len=5, num_train=200, num_test=20)
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(task.vocab), d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1,
        d_ff=32, dropout=0.0, max_len=16,
    )  # fmt: skip
    model = Transformer(config)
    train(
        model, seq2seq_loss, split_batch_fn(task.train), len(task.train), steps=120, batch_size=64,
        lr=1e-2, progress=False,
    )  # fmt: skip
    return model.eval(), task


def _greedy_ids(ex):
    ex.controls["strategy"].value = "greedy"
    ids = ex.generation.ids.tolist()
    ex.controls["strategy"].value = "sample"
    return ids


def test_a_sample_that_is_the_greedy_answer_says_so(reverse_model):
    ex = GenerationExplorer(*reverse_model, text="3 1 4 2")
    greedy = _greedy_ids(ex)
    ex.controls["temperature"].value = 0.3  # sharp: the draw takes the likeliest token
    assert ex.generation.ids.tolist() == greedy
    assert "is the greedy answer" in ex.message.value and "Raise the temperature" in ex.message.value
    # a draw that writes something else does not say so
    ex.controls["temperature"].value = 3.0
    for seed in range(21):
        ex.controls["seed"].value = seed
        if ex.generation.ids.tolist() != greedy:
            break
    assert ex.generation.ids.tolist() != greedy
    assert "is the greedy answer" not in ex.message.value


def test_greedy_says_the_sampling_knobs_do_nothing(reverse_model):
    ex = GenerationExplorer(*reverse_model, text="3 1 4 2")
    assert "change nothing" in ex.message.value and "is the greedy answer" not in ex.message.value


def test_story_bars_words_have_room_between_them():
    generator, vocab = stories.StoryGenerator(), stories.story_vocab()
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=16, num_heads=2, num_decoder_layers=1, d_ff=32,
        max_len=generator.max_tokens(), dropout=0.0, norm_first=True, positional="learned",
    )  # fmt: skip
    ex = StoryExplorer(DecoderOnlyTransformer(config).eval(), vocab, generator=generator, max_new_tokens=3)
    fig = ex.figures["distribution"]
    words = list(fig.data[0].customdata)
    text = list(fig.layout.xaxis.ticktext)
    # Plotly keeps touching words upright: each carries a no-break space either side, so that two
    # words with less than two spaces between them count as overlapping and slant.
    assert [t.strip("\u00a0") for t in text] == words
    assert all(t.startswith("\u00a0") and t.endswith("\u00a0") for t in text)


def test_trained_encoder_grid_outlines_the_row_of_it():
    # The prose says "look at the row of "it"" (review 51 L5): each head's panel outlines that row.
    source = CHAPTER.read_text()
    cell = source[source.index("encoder_heads = pointer.encoder_attention()") :].split("# %%")[0]
    sentence = "the pizza came out of the oven and it tasted good".split()
    assert f'sentence = "{" ".join(sentence)}".split()' in source
    row = sentence.index("it")
    assert "add_shape" in cell and f"y0={row - 0.5}, y1={row + 0.5}" in cell


def test_pointer_figure_takes_its_headroom_by_name():
    """The explorer asks pointer_figure for its taller axis (it patched the figure after), and a
    bad ``top`` is refused by name."""
    import pytest
    from transformer_course import figures

    fig = figures.pointer_figure(torch.tensor([0.5, 0.5]), ["a", "b"], top=1.35)
    assert tuple(fig.layout.yaxis.range) == (0, 1.35) and tuple(fig.layout.yaxis.tickvals) == (0, 0.5, 1)
    assert tuple(figures.pointer_figure(torch.tensor([1.0, 0.0]), ["a", "b"]).layout.yaxis.range) == (0, 1.12)
    with pytest.raises(ValueError, match="top"):
        figures.pointer_figure(torch.tensor([1.0, 0.0]), ["a", "b"], top=0.5)
