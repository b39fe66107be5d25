"""Round 49: chapters 07, 08 and 09 read as a learner; the prose now says what the chapter shows.

- 07: the Add & Norm exercise says the checker fails a `block.eval()` (it does); the
  cross-attention heatmap numbers its sentence from 0, as its index does; the recap's He
  initialisation claim is the end-to-end one the chapter asserts.
- 08: the pronoun corpus's predicate goes with one noun group *in this corpus* (a train can be
  broken too, but the corpus never says so).
- 09: the training time is "under a minute", as the recap says; the recap's "before training"
  claim allows the head that starts high.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from transformer_course import data
from transformer_course.checks import WRONG, exercise

CHAPTERS = Path(os.environ.get("TC_CHAPTERS_DIR", Path(__file__).resolve().parents[1] / "chapters"))
CHAPTER_07 = CHAPTERS / "07_full_transformer.py"
CHAPTER_08 = CHAPTERS / "08_training_and_generation.py"
CHAPTER_09 = CHAPTERS / "09_a_gpt_that_writes.py"


def prose(path: Path) -> str:
    """The chapter's text with comment marks and line breaks folded into single spaces."""
    return " ".join(path.read_text().replace("#", " ").split())


def recap(path: Path) -> str:
    """The recap slide's text, folded as prose() folds it."""
    return " ".join(path.read_text().split("# ## Recap")[1].replace("#", " ").split())


# --- chapter 07 ---


def add_norm_switching_to_eval(block, x, sublayer):
    """The slip the exercise's prose describes: a block.eval() inside the learner's function."""
    block.eval()
    return exercise("add_norm").solution(block, x, sublayer)


def test_add_norm_prose_says_the_checker_fails_a_mode_switch_and_it_does():
    text = prose(CHAPTER_07)
    assert "(the checker warns)" not in text
    assert "dropout off for the rest of training (the checker fails it and says why)" in text
    result = exercise("add_norm").check(add_norm_switching_to_eval)
    assert result.status == WRONG, result
    assert "Leave the mode to the caller" in result.message


def test_cross_attention_title_numbers_the_sentence_it_draws_from_zero():
    text = CHAPTER_07.read_text()
    drawn = re.search(r"cross_attn_weights\[(\d+), (\d+)\]", text)
    title = re.search(r'title="Cross-attention \(untrained\), head (\d+), sentence (\d+):', text)
    assert drawn and title, "the heatmap cell or its title moved"
    sentence, head = drawn.groups()
    assert title.groups() == (head, sentence)  # [sentence, head]: the title counts from 0 too
    assert "vocab.tokens(src[" + sentence + "])" in text
    assert f"Below, head {head} for sentence pair {sentence}, the first" in prose(CHAPTER_07)


def test_recap_he_init_claim_is_the_end_to_end_one_the_chapter_asserts():
    text, summary = CHAPTER_07.read_text(), recap(CHAPTER_07)
    assert "keeps a plain stack within a factor of ten" not in summary
    assert "block 0 gets more than a tenth of block 29's gradient, though it wanders in between" in summary
    assert "assert 1 / 10 < he[0] / he[-1] < 10" in text  # block 0 against block 29, end to end
    assert 'assert grads["plain, He init"].max() > 2 * grads["plain, He init"].min()' in text


# --- chapter 08 ---


def _group_of(noun: str) -> str:
    return next(group for group, nouns in data.NOUNS.items() if noun in nouns)


def test_pronoun_predicates_belong_to_one_group_in_the_corpus_not_in_english():
    text = prose(CHAPTER_08)
    assert "a predicate that fits only one of them" not in text
    assert "a predicate that, in this corpus, goes with only one of the two groups" in text
    assert 'a train can be broken too, but here "was broken" always means a household thing' in text
    broken_distractors = set()
    for sentence, _, referent, distractor in data.pronoun_sentences():
        words = sentence.split()
        predicate = " ".join(words[words.index("it") + 1 :])
        assert predicate in data.PREDICATES[_group_of(words[referent])], sentence
        if predicate == "was broken":
            assert _group_of(words[referent]) == "appliance", sentence
            broken_distractors.add(words[distractor])
    assert "train" in broken_distractors  # the learner's example: a train that "cannot" be broken


# --- chapter 09 ---


def test_training_time_is_under_a_minute_in_the_body_and_the_recap():
    text = prose(CHAPTER_09)
    assert "half a minute" not in text
    assert "We have under a minute of one CPU thread to train it." in text
    assert "In under a minute of training" in recap(CHAPTER_09)


def test_recap_before_training_claim_allows_a_head_that_starts_high():
    summary = recap(CHAPTER_09)
    assert "before training the same heads did so far less often" not in summary
    assert "resolved far fewer whole stories, though one of them could already start high" in summary
    body = prose(CHAPTER_09)
    assert "a chosen head may even start high" in body  # the body's word for it
    assert "assert won >= 0.9 and won > won_before + 0.2" in CHAPTER_09.read_text()  # "far fewer"
