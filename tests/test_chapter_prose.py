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
