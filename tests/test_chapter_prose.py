"""What the chapters' prose says about their own code agrees with the code.

A learner reads the prose next to the code it describes: a count, a module list or an
instruction that disagrees with the code sends them looking for what is not there.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import transformer_course

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))
LIB = Path(transformer_course.__file__).parent
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


def chapter(prefix: str) -> str:
    (path,) = CHAPTERS.glob(f"{prefix}_*.py")
    return path.read_text(encoding="utf-8")


def test_welcome_module_table_names_every_module_of_the_course_and_only_real_ones():
    table = re.search(r"## Where the code lives(.*?)# %%", chapter("00"), re.S).group(1)
    named = set(re.findall(r"`(\w+)`", table))
    core = {
        "recurrence",
        "tokenizer",
        "embeddings",
        "positional",
        "attention",
        "softmax",
        "masks",
        "layers",
        "model",
        "data",
        "training",
        "generation",
        "stories",
        "lm_training",
        "kv_cache",
        "pronoun_heads",
    }
    assert core <= named, f"the table of chapter 00 leaves out {sorted(core - named)}"
    missing = sorted(n for n in named if not (LIB / f"{n}.py").exists() and not (LIB / n).is_dir())
    assert not missing, f"the table of chapter 00 names modules lib does not have: {missing}"


def test_deep_stack_prose_counts_the_designs_the_code_runs():
    text = chapter("07")
    said = re.search(r"for (\w+) designs", text)
    assert said, "chapter 07 no longer says how many designs it compares"
    designs = next(
        node.value
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "designs"
    )
    assert NUMBERS[said.group(1)] == len(designs.elts)


def test_chapter_07_counts_heads_from_zero_like_its_indices():
    text = chapter("07")
    assert "head 1 for the first sentence pair" not in text and "# layer 1, head 1" not in text


def test_masks_exercise_tells_to_compare_with_pad_id_since_a_checker_batch_pads_with_1():
    instructions = re.search(r"### Your turn: causal and padding masks(.*?)# %%", chapter("06"), re.S).group(
        1
    )
    assert "pad_id" in instructions and "not with 0" in instructions


def test_pointer_to_greedy_decoding_names_the_section_that_teaches_it():
    text = chapter("08")
    assert "(next section)" not in text
    assert "## Generation: one token at a time" in text and '"Generation: one token at a time"' in text


def test_not_shifted_prose_names_the_function_the_code_calls():
    section = re.search(
        r"### What if the targets are not shifted\?(.*?)# %% \[markdown\]", chapter("08"), re.S
    )
    words = re.findall(r"`(\w+)`", section.group(1).split("# %%")[0])
    calls = set(re.findall(r"(\w+)\(", section.group(1)))
    assert all(w in calls or w.startswith("my_") or not w.startswith("train_step") for w in words), words


def cells(prefix: str) -> list[str]:
    """The chapter's cells, each with its ``# %%`` header line."""
    return ["# %%" + c for c in chapter(prefix).split("# %%")[1:]]


def markdown(prefix: str) -> str:
    return "\n".join(c for c in cells(prefix) if c.startswith("# %% [markdown]"))


def test_chapter_09_counts_the_gradient_blocks_from_zero_like_heads_and_layers():
    section = re.search(r"### Why the norm moved(.*?)## The next-token loss", chapter("09"), re.S).group(1)
    named = {int(n) for n in re.findall(r"\bblock (\d+)", section)}
    assert named and min(named) == 0 and max(named) == 7, f"blocks named: {sorted(named)} (8 blocks: 0 … 7)"
    assert "range(len(pre))" in section, "the printed block numbers no longer come from the list's indices"


def test_chapter_09_explains_why_the_untrained_loss_is_worse_than_uniform():
    chunks = cells("09")
    (at,) = [i for i, c in enumerate(chunks) if "untrained loss" in c and "print(" in c]
    following = chunks[at + 1]
    assert following.startswith("# %% [markdown]"), "no explanation follows the untrained loss"
    assert "tied" in following and "repeats itself" in following
    assert "repeats > 0.9" in chunks[at], "the chapter no longer checks that it bets on repeats"


def test_chapter_09_draws_the_live_curve_on_the_slide_where_training_runs():
    (training,) = [c for c in cells("09") if "history = train(" in c]
    assert "display(curve)" in training, "the loss curve is displayed on another slide than the training"


def test_chapter_09_defines_the_query_row_before_a_print_names_it():
    text = chapter("09")
    defined, printed = text.find("**query row**"), text.find("{single.at} row")
    assert 0 <= defined < printed, "'query row' is printed before the prose says what it is"


def test_chapter_09_points_at_earlier_content_by_name_not_above():
    found = re.findall(r"\b(?:solution|line|tables?|heads) (?:above|chosen above)\b", markdown("09"))
    assert not found, f"on a slide, 'above' is a previous or hidden slide: {found}"
    assert "`gpt_forward_solution`" in markdown("09")


def test_chapter_09_quotes_the_line_whose_ranges_it_compares():
    quoted = re.search(r'Compare the two ranges on the line that\s+#\s+begins "([^"]+)"', chapter("09"))
    assert quoted, "the prose does not say which printed line holds the two ranges"
    assert f'print(f"{quoted.group(1)}' in chapter("09")


def test_chapter_09_quotes_chapter_00s_sentence_it_reuses():
    said = re.search(r'Chapter 00\'s sentence, "([^"…]+) …"', chapter("09"))
    assert said, "the pronoun section does not say which sentence it reuses"
    assert said.group(1) in chapter("00")


def test_chapter_09_says_top_p_is_new_since_chapter_08_teaches_only_temperature_and_top_k():
    assert "top-p" not in chapter("08") and "top_p" not in chapter("08")
    intro = re.search(r"### Temperature, top-k, top-p\n(.*?)# %%", chapter("09"), re.S).group(1)
    assert "Chapter 08's" in intro and re.search(r"new knob,? top-p", intro)


def test_chapter_09_prints_each_line_of_percentages_with_one_precision():
    mixed = []
    for node in ast.walk(ast.parse(chapter("09"))):
        if isinstance(node, ast.JoinedStr):
            specs = [v.format_spec for v in node.values if isinstance(v, ast.FormattedValue)]
            texts = ["".join(c.value for c in s.values if isinstance(c, ast.Constant)) for s in specs if s]
            digits = {m.group(1) for t in texts if (m := re.search(r"\.(\d+)%$", t))}
            if len(digits) > 1:
                mixed.append((node.lineno, sorted(digits)))
    assert not mixed, f"lines that print percentages with different decimals: {mixed}"


def test_chapter_09_recap_names_every_exercise_the_learner_wrote():
    recap = chapter("09").split("## Recap")[1]
    exercises = re.findall(r"^def my_\w+", chapter("09"), re.M)
    assert recap.count("you wrote") == len(exercises) == 3


def test_chapter_09_explorer_prose_names_its_controls_by_their_labels():
    from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
    from transformer_course.stories import story_vocab
    from transformer_course.widgets import StoryExplorer

    vocab = story_vocab()
    config = TransformerConfig(
        vocab_size=len(vocab), d_model=8, num_heads=2, num_decoder_layers=1, d_ff=16, max_len=64
    )
    labels = [c.description for c in StoryExplorer(DecoderOnlyTransformer(config), vocab).controls.values()]
    prose = re.search(r"## Explore: the model writing(.*?)# %%", chapter("09"), re.S).group(1)
    named = re.findall(r"\*\*(.+?)\*\*", prose.replace("\n# ", " "))
    unknown = [n for n in named if not any(label.startswith(n) for label in labels)]
    assert named and not unknown, f"the prose names controls the explorer does not label so: {unknown}"
