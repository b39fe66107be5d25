"""Chapter 01's exercise: the cosine-similarity checker passes the reference, names each mistake."""

import pytest
import torch
import torch.nn.functional as F
from transformer_course.checks import ERROR, NOT_ATTEMPTED, PASSED, WRONG, check_cosine_similarity
from transformer_course.embeddings import similarity_matrix


def test_reference_and_lib_pass():
    def mine(v):
        unit = F.normalize(v, dim=-1)
        return unit @ unit.T

    assert check_cosine_similarity(mine).status == PASSED
    assert check_cosine_similarity(lambda v: similarity_matrix(v, "cosine")).passed


def test_unattempted_is_reported_not_raised():
    def learner(v):
        raise NotImplementedError

    assert check_cosine_similarity(learner).status == NOT_ATTEMPTED


MISTAKES = {
    "raw dot product": (lambda v: v @ v.T, "raw dot product"),
    "wrong dim": (lambda v: F.normalize(v, dim=0) @ F.normalize(v, dim=0).T, "wrong dimension"),
    "divided once": (lambda v: (v @ v.T) / v.norm(dim=1, keepdim=True), "divided only once"),
    "squared lengths": (
        lambda v: (v @ v.T) / (v.norm(dim=1, keepdim=True) ** 2 * v.norm(dim=1) ** 2),
        "squared lengths",
    ),
    "features not tokens": (lambda v: F.normalize(v.T, dim=-1) @ F.normalize(v.T, dim=-1).T, "(d, d)"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_gets_its_own_hint(name):
    fn, words = MISTAKES[name]
    result = check_cosine_similarity(fn)
    assert result.status == WRONG and words in result.message, result.message
    others = [w for n, (_, w) in MISTAKES.items() if n != name]
    assert not any(w in result.message for w in others)


def test_unknown_mistake_and_crash():
    assert (
        "differs from the reference"
        in check_cosine_similarity(lambda v: similarity_matrix(v, "cosine") * 0.5).message
    )
    assert check_cosine_similarity(lambda v: v @ torch.ones(99)).status == ERROR
