"""Chapter 08's widgets: every control changes the figures it drives; bad input is a message."""

import pytest
import torch
from transformer_course import figures
from transformer_course.data import pronoun_task, sequence_task
from transformer_course.figures.panels import head_of_grid
from transformer_course.model import Transformer, TransformerConfig
from transformer_course.pointer import PronounPointer, pointer_loss, snapshot
from transformer_course.training import History, seq2seq_loss, split_batch_fn, train
from transformer_course.widgets import AttentionHistoryExplorer, GenerationExplorer, LiveLossCurve
from widget_state import changed


def snap(explorer):
    return {name: fig.to_json() for name, fig in explorer.figures.items()}


# --- LiveLossCurve ---


def fake_history(n=50):
    return History(steps=list(range(1, n + 1)), losses=[3.0 / (1 + 0.2 * s) for s in range(n)])


def test_live_loss_curve_redraws_on_update():
    curve = LiveLossCurve(total_steps=100)
    assert "Waiting" in curve.message.value
    empty = snap(curve)
    curve.update(fake_history(20))
    assert changed(empty, snap(curve)) == {"loss"}
    assert len(curve.figures["loss"].data[0].x) == 20 and "step 20" in curve.message.value
    before = snap(curve)
    curve.update(fake_history(50))
    assert changed(before, snap(curve)) == {"loss"} and "step 50" in curve.message.value
    assert list(curve.figures["loss"].layout.xaxis.range) == [0, 100]


def test_live_loss_curve_shows_the_floor_and_the_held_out_losses():
    curve = LiveLossCurve(total_steps=100, floor=0.5, floor_label="generator")
    assert curve.figures["loss"].layout.shapes[0].y0 == 0.5  # there from the start
    history = fake_history(20)
    history.add_eval("held-out", 10, 1.2)
    history.add_eval("held-out", 20, 0.9)
    curve.update(history)
    held = curve.figures["loss"].data[-1]
    assert held.name == "held-out" and list(held.y) == [1.2, 0.9]
    assert curve.figures["loss"].layout.annotations[0].text == "generator 0.500"


@pytest.mark.parametrize("control, value", [("smoothing", 3), ("log", True)])
def test_live_loss_curve_controls(control, value):
    curve = LiveLossCurve()
    curve.update(fake_history())
    before = snap(curve)
    curve.controls[control].value = value
    assert changed(before, snap(curve)) == {"loss"}
    if control == "log":
        assert curve.figures["loss"].layout.yaxis.type == "log"


def test_live_loss_curve_is_a_training_callback():
    calls = []
    curve = LiveLossCurve(total_steps=6)
    model = torch.nn.Linear(2, 1)
    data = torch.randn(16, 2)
    loss_fn = lambda m, x: (m(x) - 1).pow(2).mean()
    train(
        model,
        loss_fn,
        lambda idx: data[idx],
        16,
        steps=6,
        batch_size=4,
        progress=False,
        callback=lambda h: (calls.append(len(h)), curve.update(h)),
        callback_every=3,
    )
    assert calls == [3, 6] and len(curve.figures["loss"].data[0].x) == 6


# --- AttentionHistoryExplorer ---


@pytest.fixture(scope="module")
def pronoun_history():
    pt = pronoun_task(num_train=600, num_test=100, seed=0)
    torch.manual_seed(0)
    model = PronounPointer(
        TransformerConfig(
            vocab_size=len(pt.vocab),
            d_model=16,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            d_ff=32,
            dropout=0.0,
            max_len=16,
        )
    )
    shown = pt.test[:3]
    h = train(
        model,
        pointer_loss,
        lambda idx: pt.train[idx],
        len(pt.train),
        steps=20,
        batch_size=64,
        lr=1e-2,
        progress=False,
        snapshot_fn=lambda m: snapshot(m, shown, pt.test),
        snapshot_steps=[0, 10, 20],
    )
    return pt, shown, h


def history_explorer(pronoun_history):
    pt, shown, h = pronoun_history
    return AttentionHistoryExplorer(
        h.snapshots,
        [pt.tokens(shown, i) for i in range(3)],
        shown.it_pos.tolist(),
        shown.referent_pos.tolist(),
        shown.distractor_pos.tolist(),
    )


def test_history_explorer_step_and_sentence(pronoun_history):
    ex = history_explorer(pronoun_history)
    assert ex.controls["step"].options == (0, 10, 20)
    assert "Step 0" in ex.message.value and "referent" in ex.message.value
    before = snap(ex)
    ex.controls["step"].value = 20
    assert changed(before, snap(ex)) == {"pointer", "encoder", "predicate", "wins"}
    assert "Step 20" in ex.message.value and "words after it" in ex.message.value
    before = snap(ex)
    ex.controls["sentence"].value = 2
    assert changed(before, snap(ex)) == {"pointer", "encoder"}
    pt, shown, h = pronoun_history
    assert list(ex.figures["pointer"].layout.xaxis.ticktext) == pt.tokens(shown, 2)


def test_history_explorer_shows_each_encoder_head(pronoun_history):
    ex = history_explorer(pronoun_history)
    ex.controls["step"].value = 20
    pt, shown, h = pronoun_history
    n = len(pt.tokens(shown, 0))
    encoder = ex.figures["encoder"]
    assert [t[0] for t in encoder.layout.meta["tiles"]] == [0, 1]  # each head, not their mean
    for head in (0, 1):
        torch.testing.assert_close(
            torch.tensor(head_of_grid(encoder, head), dtype=torch.float32),
            h.snapshots[20]["encoder"][0, head, :n, :n],
        )
    curves = ex.figures["predicate"]
    assert [t.name for t in curves.data] == ["head 0", "head 1"]
    assert list(curves.data[1].y) == pytest.approx(
        [100 * float(h.snapshots[s]["predicate"][1]) for s in (0, 10, 20)]
    )
    assert curves.layout.shapes[0].x0 == 20


def test_history_explorer_bad_arguments(pronoun_history):
    pt, shown, h = pronoun_history
    with pytest.raises(ValueError, match="snapshots"):
        AttentionHistoryExplorer({}, [["it"]], [0], [0], [0])
    with pytest.raises(ValueError, match="same"):
        AttentionHistoryExplorer(h.snapshots, [pt.tokens(shown, 0)], [1, 2], [0], [0])
    without = {s: {k: v for k, v in snap.items() if k != "predicate"} for s, snap in h.snapshots.items()}
    with pytest.raises(ValueError, match="predicate"):
        AttentionHistoryExplorer(without, [pt.tokens(shown, 0)], [1], [0], [0])


# --- GenerationExplorer ---


@pytest.fixture(scope="module")
def reverse_model():
    task = sequence_task("reverse", num_symbols=6, min_len=2, max_len=5, num_train=200, num_test=20)
    torch.manual_seed(0)
    model = Transformer(
        TransformerConfig(
            vocab_size=len(task.vocab),
            d_model=16,
            num_heads=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            d_ff=32,
            dropout=0.0,
            max_len=16,
        )
    )
    train(
        model,
        seq2seq_loss,
        split_batch_fn(task.train),
        len(task.train),
        steps=40,
        batch_size=64,
        lr=1e-2,
        progress=False,
    )  # a little training: outputs depend on the source
    return model.eval(), task


@pytest.mark.parametrize(
    "control, value, views",
    [
        ("text", "1 2 3", {"steps", "distribution"}),
        ("strategy", "sample", {"steps", "distribution"}),
        ("step", 2, {"distribution"}),
    ],
)
def test_generation_explorer_controls(reverse_model, control, value, views):
    ex = GenerationExplorer(*reverse_model, text="5 4 3 2")
    ex.controls["temperature"].value = 2.0  # greedy ignores it; sampling then spreads out
    before = snap(ex)
    ex.controls[control].value = value
    assert changed(before, snap(ex)) == views
    assert "Output:" in ex.message.value


@pytest.mark.parametrize("control, value", [("temperature", 2.5), ("top_k", 3), ("seed", 5)])
def test_sampling_controls_change_the_distribution(reverse_model, control, value):
    ex = GenerationExplorer(*reverse_model, text="5 4 3 2")
    ex.controls["strategy"].value = "sample"
    ex.controls["temperature"].value = 1.5
    before = snap(ex)
    ex.controls[control].value = value
    after = snap(ex)
    if control == "seed":  # another seed, another draw: some seed soon writes something else
        for seed in range(6, 20):
            if after != before:
                break
            ex.controls["seed"].value = seed
            after = snap(ex)
        assert after != before
    else:
        assert changed(before, after) >= {"distribution"}
    if control == "top_k":
        for step in ex.generation.steps:
            assert int((step.probs > 0).sum()) <= 3


def test_greedy_ignores_temperature_and_matches_the_trace(reverse_model):
    ex = GenerationExplorer(*reverse_model, text="5 4 3 2")
    before = snap(ex)
    ex.controls["temperature"].value = 2.5
    assert snap(ex) == before
    gen = ex.generation
    assert list(ex.figures["steps"].data[1].x) == [s.chosen for s in gen.steps]


@pytest.mark.parametrize(
    "text, words", [("", "at least one"), ("1 9 x", "symbols"), ("1 2 3 4 5 1 2", "rows of 2 to 5")]
)
def test_bad_source_is_a_message(reverse_model, text, words):
    ex = GenerationExplorer(*reverse_model, text="5 4 3 2")
    before = snap(ex)
    ex.controls["text"].value = text
    assert words in ex.message.value and "⚠" in ex.message.value
    assert snap(ex) == before


def test_a_source_shorter_than_any_training_row_gets_a_note(reverse_model):
    model, task = reverse_model
    assert (task.min_len, task.max_len) == (2, 5)
    ex = GenerationExplorer(model, task, text="5 4 3 2")
    assert "trained on rows" not in ex.message.value
    before = snap(ex)
    ex.controls["text"].value = "3"
    assert changed(before, snap(ex)) == {"steps", "distribution"}  # it still answers…
    message = ex.message.value
    assert "2 to 5" in message and "shorter" in message and "⚠" not in message  # …and says why to doubt it
    assert "Output:" in message


def test_figures_check_their_arguments():
    with pytest.raises(ValueError, match="losses"):
        figures.loss_curve_figure([1, 2], [1.0])
    with pytest.raises(ValueError, match="referent"):
        figures.pointer_figure(torch.ones(3) / 3, ["a", "b", "c"], referent=5)
    with pytest.raises(ValueError, match="chosen"):
        figures.next_token_figure(torch.ones(3) / 3, ["a", "b", "c"], chosen=3)
    with pytest.raises(ValueError, match="chosen"):
        figures.generation_figure(torch.ones(2, 3) / 3, ["1", "2"], ["a", "b", "c"], [0])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_generation_explorer_refuses_a_bad_max_new_tokens_by_name(reverse_model, bad):
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationExplorer(*reverse_model, max_new_tokens=bad)


def test_generation_explorer_writes_no_more_than_the_model_has_positions_for(reverse_model):
    """Asked for more new tokens than the target's max_len holds after <bos>, the explorer
    writes as many as fit (its step slider says how many) instead of failing."""
    model, task = reverse_model
    ex = GenerationExplorer(model, task, text="5 4 3 2", max_new_tokens=100)
    assert ex.max_new_tokens == model.config.max_len - 1
    assert ex.controls["step"].max == model.config.max_len - 1
    assert "⚠" not in ex.message.value


def test_live_loss_curve_keeps_steps_past_the_plan_on_screen():
    curve = LiveLossCurve(total_steps=100)
    curve.update(fake_history(150))  # training went on, train(..., history=h)
    assert list(curve.figures["loss"].layout.xaxis.range) == [0, 150]
    curve.controls["smoothing"].value = 1
    assert "(not smoothed)" in curve.message.value


def test_history_explorer_labels_cut_whole_words_and_shares_say_they_are_averages(pronoun_history):
    from transformer_course.widgets.attention_history import _opening

    words = "the dog chased the cat because it was hungry and then it slept for hours".split()
    assert _opening(words, 9, limit=20) == "the dog chased the …"  # never "the dog chased the c"
    assert _opening(words[:3], 9) == "the dog chased"  # the whole sentence: nothing left out
    ex = history_explorer(pronoun_history)
    for label, _ in ex.controls["sentence"].options:
        assert len(label) <= 48
    assert "averaged over the held-out sentences" in ex.message.value


def test_generation_explorer_says_which_knobs_do_nothing(reverse_model):
    ex = GenerationExplorer(*reverse_model, text="5 4 3 2")
    assert "temperature, top-k and the seed change nothing" in ex.message.value
    ex.controls["strategy"].value = "sample"
    assert "change nothing" not in ex.message.value
    ex.controls["temperature"].value = 0.0
    assert "top-k and the seed change nothing" in ex.message.value
    ex.controls["temperature"].value = 1.0
    ex.controls["top_k"].value = 1
    assert "the seed changes nothing" in ex.message.value


def test_generation_explorer_counts_steps_and_marks_only_a_cut_prefix(reverse_model):
    ex = GenerationExplorer(*reverse_model, text="5 4 3 2")
    ex.controls["step"].value = 1
    assert ex.figures["distribution"].layout.title.text == "Step 1 after <bos>"
    n = len(ex.generation.steps)
    assert f"{n} step{'' if n == 1 else 's'}, each one a run of the decoder" in ex.message.value
    ex.controls["step"].value = n
    title = ex.figures["distribution"].layout.title.text
    # the prefix of step n holds n tokens: more than 4 are cut to the last 4, after "…"
    assert title.startswith(f"Step {n} after " + ("…" if n > 4 else ""))
    assert title.count("…") == (n > 4)
