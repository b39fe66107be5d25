import math

import pytest
import torch
from transformer_course.embeddings import TokenEmbedding, one_hot_embed, similarity_matrix
from transformer_course.tokenizer import SPECIAL_TOKENS, Vocab, course_vocab, tokenize


def test_tokenize_words_and_punctuation():
    assert tokenize("I'm playing with a cat!") == ["i'm", "playing", "with", "a", "cat", "!"]
    assert tokenize("  ") == []


def test_vocab_specials_encode_decode_roundtrip():
    vocab = course_vocab()
    assert vocab.itos[:4] == list(SPECIAL_TOKENS)
    ids = vocab.encode("Tell me about pizza.", add_bos=True, add_eos=True)
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id and ids.dtype == torch.long
    assert vocab.decode(ids) == "tell me about pizza."
    assert vocab.encode("zyzzyva")[0] == vocab.unk_id
    assert vocab.unknown("tell me about zyzzyva") == ["zyzzyva"]


def test_vocab_covers_the_course_examples():
    vocab = course_vocab()
    for text in [
        "tell me about pizza",
        "squatch eats pizza",
        "I love deep learning",
        "the pizza came out of the oven and it tasted good",
        "I'm playing with a cat",
        "movie reviews",
    ]:
        assert vocab.unknown(text) == [], text


def test_batch_encode_pads_on_the_right():
    vocab = Vocab.from_texts(["a b c", "a b"])
    batch = vocab.encode_batch(["a b c", "b"])
    assert batch.shape == (2, 3)
    assert batch[1, 1:].tolist() == [vocab.pad_id, vocab.pad_id]
    assert vocab.decode(batch[1]) == "b"


def test_from_texts_orders_by_frequency():
    vocab = Vocab.from_texts(["b a b", "c b a"], min_freq=2)
    assert vocab.itos[4:] == ["b", "a"]


def test_embedding_is_one_hot_times_matrix_and_scaled():
    emb = TokenEmbedding(10, 4, scale=True)
    ids = torch.tensor([[1, 5, 5, 9]])
    out = emb(ids)
    assert out.shape == (1, 4, 4)
    torch.testing.assert_close(out, one_hot_embed(ids, emb.weight) * math.sqrt(4))
    torch.testing.assert_close(TokenEmbedding(10, 4, scale=False)(ids).shape, out.shape)


def test_similarity_matrix():
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    torch.testing.assert_close(similarity_matrix(x, "dot"), x @ x.T)
    cos = similarity_matrix(x, "cosine")
    torch.testing.assert_close(cos.diagonal(), torch.ones(3))
    assert cos[0, 1] == pytest.approx(1.0) and cos[0, 2] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: tokenize(3), "text"),
        (lambda: TokenEmbedding(0, 4), "vocab_size"),
        (lambda: TokenEmbedding(10, 4)(torch.tensor([11])), "ids"),
        (lambda: TokenEmbedding(10, 4)(torch.tensor([1.0])), "ids"),
        (lambda: one_hot_embed(torch.tensor([1]), torch.randn(4)), "weight"),
        (lambda: similarity_matrix(torch.randn(3, 2), "euclid"), "kind"),
        (lambda: course_vocab().tokens([10**6]), "ids"),
        (lambda: course_vocab().encode_batch([]), "texts"),
        (lambda: Vocab.from_texts(["a"], min_freq=0), "min_freq"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call()
