"""The benchmarks import and run end to end at tiny sizes (no timing is asserted)."""

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import __main__ as cli  # noqa: E402
from bench import attention, course, gpt, memory, training  # noqa: E402
from bench._common import Row, Section, compare, speedup_row  # noqa: E402


def test_compare_alternates_and_keeps_every_sample():
    calls = []
    samples = compare({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=1)
    assert {k: len(v) for k, v in samples.items()} == {"a": 3, "b": 3}
    assert calls[2:] == ["a", "b", "b", "a", "a", "b"]  # warm-up, then rotated order


def test_attention_tiny():
    section = attention.run(batch=1, d_model=16, heads=2, lengths=(8,), rounds=1)
    assert len(section.rows) == 4 and all(r.value.endswith("×") for r in section.rows)


def test_attention_goals_apply_at_length_512_only():
    section = attention.run(batch=1, d_model=16, heads=2, lengths=(8,), rounds=1)
    assert all(r.met is None for r in section.rows)


def test_memory_child_measures_one_forward():
    result = memory.child(32, "explicit", 1, 16, 2)
    assert result["weights"] == (1, 2, 32, 32) and result["growth"] >= 0
    assert memory.child(32, "fused", 1, 16, 2)["weights"] is None


def test_training_tiny():
    size = training.Size(vocab=20, length=6, batch=2, d_model=16, heads=2, layers=1, d_ff=32)
    section = training.run(size=size, rounds=1)
    (row,) = section.rows
    assert row.goal == "≤ 1.00×" and (row.value.endswith("×") or row.value == "not yet available")


def test_torch_baseline_learns_shapes():
    size = training.Size(vocab=20, length=6, batch=2, d_model=16, heads=2, layers=1, d_ff=32)
    model = training.TorchSeq2Seq(size)
    src, tgt = training.torch.randint(0, 20, (2, 6)), training.torch.randint(0, 20, (2, 5))
    assert model(src, tgt).shape == (2, 5, 20)


TINY_GPT = gpt.Size(vocab=20, length=6, batch=2, d_model=16, heads=2, layers=2, d_ff=64)


def test_gpt_training_tiny():
    narrow = gpt.Size(vocab=20, length=6, batch=2, d_model=16, heads=4, layers=1, d_ff=32)
    section = gpt.run_training(size=TINY_GPT, narrow=narrow, rounds=1)
    row, narrow_row = section.rows
    assert section.name == "gpt" and row.goal == narrow_row.goal == "≤ 1.00×"
    assert row.value.endswith("×") and narrow_row.value.endswith("×")
    assert "4 heads of 4" in narrow_row.item
    assert "nanoGPT" in section.notes[0] and "d_model 16" in section.notes[0]
    assert "narrow_heads" in section.notes[0]


def test_the_reference_gpt_is_lib_gpt_sized_and_causal():
    lib, ref = gpt.lib_model(TINY_GPT), gpt.ReferenceGPT(TINY_GPT)
    assert sum(p.numel() for p in lib.parameters()) == sum(p.numel() for p in ref.parameters())
    assert ref.lm_head.weight is ref.wte.weight  # tied, as lib's output layer is
    ids = gpt.torch.randint(0, 20, (2, 6))
    later = ids.clone()
    later[:, 4:] = (later[:, 4:] + 1) % 20
    with gpt.torch.no_grad():
        logits = ref(ids)
        assert logits.shape == lib(ids).shape == (2, 6, 20)
        assert gpt.torch.allclose(ref(later)[:, :4], logits[:, :4])  # earlier positions never see later ones


def test_kv_cache_bench_tiny():
    section = gpt.run_generation(size=TINY_GPT, what=gpt.Generation(prompt=3, new=5, max_len=8), rounds=1)
    rates, cached_rate, speedup, through_generate, same = section.rows
    assert section.name == "kv_cache" and rates.value.endswith("tokens/s") and "cached" in cached_rate.item
    assert speedup.goal == "≥ 5.00×" and speedup.value.endswith("×") and speedup.met in (True, False)
    assert through_generate.goal == "" and same.value == "yes" and same.met is True


def test_speedup_row_is_the_median_of_per_round_ratios():
    row = speedup_row("x", [4.0, 6.0, 9.0], [1.0, 1.0, 1.0], goal=5.0)
    assert row.value == "6.00×" and row.goal == "≥ 5.00×" and row.met is True
    assert speedup_row("x", [4.0], [1.0], goal=5.0).met is False
    assert speedup_row("x", [4.0], [2.0]).met is None


def test_gpt_benchmarks_are_registered():
    assert cli.BENCHES["gpt"] is gpt.run_training and cli.BENCHES["kv_cache"] is gpt.run_generation


def test_every_explorer_is_built_and_updated():
    section = course.run_widgets_section(rounds=1)
    names = {cls.__name__ for cls in course.explorer_classes()}
    assert len(section.rows) == len(names) >= 4
    unbuilt = [r.item + ": " + r.spread for r in section.rows if r.value == "not measured"]
    assert not unbuilt, "add a constructor to bench/course.py CONSTRUCTORS for: " + "; ".join(unbuilt)


def test_other_value_changes_each_kind_of_control():
    import ipywidgets as w

    assert course.other_value(w.IntSlider(value=5, min=0, max=5)) == 4
    assert course.other_value(w.Checkbox(value=False)) is True
    assert course.other_value(w.Dropdown(options=["a", "b"], value="a")) == "b"
    assert course.other_value(w.Text(value="the cat sat")) == "sat cat the"
    assert course.other_value(w.SelectMultiple(options=["a", "b", "c"], value=("a", "c"))) == ("a",)
    assert course.other_value(w.SelectMultiple(options=["a", "b", "c"], value=("a",))) == ("a", "b")


def test_chapter_run_and_accuracy_probe(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "class History:\n    steps = [1, 2, 3, 4]\n    seconds = 4.0\n    evals = {}\n"
            "history = History()\naccuracy = 0.995\ntrain_seconds = 4.5"
        )
    ]
    path = tmp_path / "08_training_and_generation.ipynb"
    nbformat.write(nb, path)
    section = course.run_chapters_section(notebooks=[path])
    chapter, accuracy = section.rows
    assert chapter.met is True and chapter.value.endswith(" s")
    assert accuracy.value == "4.5 s" and accuracy.met is True and "99.5%" in accuracy.spread


def test_time_to_accuracy_from_evals_and_absence():
    assert course.time_to_accuracy({})[0] is None
    history = {
        "name": "history",
        "seconds": 10.0,
        "steps": 100,
        "evals": {"accuracy": [[50, 0.8], [80, 0.995]]},
    }
    assert course.time_to_accuracy({"histories": [history], "numbers": {}})[0] == 8.0
    low = {"histories": [dict(history, evals={})], "numbers": {"accuracy": 0.5}}
    assert course.time_to_accuracy(low)[0] is None


def test_results_file_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "HERE", tmp_path)
    monkeypatch.setitem(
        cli.BENCHES,
        "attention",
        lambda: Section("attention", "title", [Row("x / y", "0.50×", "1 vs 2", "≤ 0.65×", True)], ["a note"]),
    )
    assert cli.main(["--only", "attention"]) == 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| x / y | **0.50×** | 1 vs 2 | ≤ 0.65× | ✅ met |" in text and "torch" in text
    assert json.loads((tmp_path / "results.json").read_text())["attention"]["rows"][0]["met"]


def test_unknown_benchmark_is_refused():
    with pytest.raises(SystemExit):
        cli.main(["--only", "nonsense", "--no-write"])


def test_chapter_09_has_its_own_time_goal(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "09_a_gpt_that_writes.ipynb"
    nbformat.write(nb, path)
    section = course.run_chapters_section(notebooks=[path])
    assert section.rows[0].goal == f"≤ {course.GOAL_CHAPTER_09_S:.0f} s" == "≤ 45 s"
