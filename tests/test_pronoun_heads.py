"""The pronoun-head finder reads the real weights at the query, picks the right head, and scores stories."""

import pytest
import torch
from torch import nn
from transformer_course.model import DecoderOnlyTransformer, TransformerConfig
from transformer_course.pronoun_heads import (
    ROWS,
    PronounAttention,
    PronounHead,
    find_pronoun_head,
    find_pronoun_heads,
    pronoun_attention,
    pronoun_readings,
    stories_won,
)
from transformer_course.stories import StoryGenerator, encode, story_vocab

GEN = StoryGenerator()
STORIES = GEN.sample(40, seed=5)


class Planted(nn.Module):
    """A "model" with 2 layers × 3 heads whose weights in each pronoun's query row are planted:
    layer 1 head 2 looks at the referent's last mention, layer 0 head 1 at the first
    distractor's last mention, every other head spreads evenly over the positions so far.
    With ``miss``, head (1, 2) looks at the distractor at the second pronoun of story 0."""

    def __init__(self, stories, miss=False):
        super().__init__()
        self.by_tokens = {s.tokens: s for s in stories}
        self.miss = miss
        self.weights = None

    def forward(self, ids, need_weights=False):
        b, length = ids.shape
        w = torch.tril(torch.ones(length, length)) / torch.arange(1, length + 1)[:, None]
        w = w.expand(b, 2, 3, length, length).clone()  # (B, layers, heads, L, L)
        vocab = story_vocab()
        for i, row in enumerate(ids):
            tokens = tuple(t for t in vocab.tokens(row) if t != "<pad>")
            for k, link in enumerate(self.by_tokens[tokens].links):
                for layer, head, pos in ((1, 2, link.referent), (0, 1, link.distractors[0])):
                    if self.miss and i == 0 and k == 1 and (layer, head) == (1, 2):
                        pos = link.distractors[0]
                    w[i, layer, head, link.query] = 0.0
                    w[i, layer, head, link.query, pos] = 1.0
        self.weights = [w[:, 0], w[:, 1]]
        return torch.zeros(b, length, 5)

    def attention_weights(self):
        return {"decoder_self": self.weights}


def test_the_planted_head_is_found_and_wins_every_story():
    seen = pronoun_attention(Planted(STORIES), STORIES, batch_size=7)
    num_links = sum(len(s.links) for s in STORIES)
    assert seen.referent.shape == seen.distractor.shape == (2, 3, num_links)
    assert seen.story.tolist() == [i for i, s in enumerate(STORIES) for _ in s.links]
    rate = seen.story_rate()
    assert rate[1, 2] == 1.0 and rate[0, 1] == 0.0
    assert seen.pronoun_rate()[1, 2] == 1.0
    per_mention = torch.tensor([1 / len(link.referent_mentions) for s in STORIES for link in s.links])
    assert torch.allclose(seen.referent[1, 2], per_mention)  # all on the last mention, averaged
    head = find_pronoun_head(Planted(STORIES), STORIES)
    assert (head.layer, head.head, head.selection_rate, head.at) == (1, 2, 1.0, "query")
    assert set(seen.rate_by_word(1, 2).values()) == {1.0}


def test_a_head_per_pronoun_word_and_the_stories_they_win_together():
    heads = find_pronoun_heads(Planted(STORIES), STORIES)
    assert set(heads) == {link.word for s in STORIES for link in s.links}
    assert all((h.layer, h.head, h.selection_rate) == (1, 2, 1.0) for h in heads.values())
    seen = pronoun_attention(Planted(STORIES, miss=True), STORIES)
    assert seen.stories_won(heads) == pytest.approx(1 - 1 / len(STORIES))
    wrong = {w: PronounHead(0, 1, 0.0) for w in heads}  # the head that looks at the other noun
    assert seen.stories_won(wrong) == 0.0
    mixed = {**heads, STORIES[0].links[0].word: PronounHead(0, 1, 0.0)}
    assert seen.stories_won(mixed) < seen.stories_won(heads)
    with pytest.raises(ValueError, match="heads"):
        seen.stories_won({})


def test_the_pronouns_own_row_can_be_read_instead_of_the_query():
    stories = [s for s in STORIES if any(link.word == "it" for link in s.links)]
    # the planted head looks from the query ("was" for "it"): the row of "it" itself is even
    at_query = pronoun_attention(Planted(stories), stories)
    at_pronoun = pronoun_attention(Planted(stories), stories, at="pronoun")
    is_it = torch.tensor([w == "it" for w in at_query.words])
    assert at_query.wins[1, 2].all() and not at_pronoun.wins[1, 2][is_it].any()
    assert torch.equal(at_query.wins[1, 2][~is_it], at_pronoun.wins[1, 2][~is_it])  # he/she/they: same row


def test_the_selection_decides_which_row_each_words_head_reads():
    stories = [s for s in STORIES if {link.word for link in s.links} & {"it"}]
    heads = find_pronoun_heads(Planted(stories), stories, at=("pronoun", "query"))
    # he/she/they: the rows are one, the first listed is kept; "it": only the query row wins
    assert heads["it"].at == "query" and all(h.at == "pronoun" for w, h in heads.items() if w != "it")
    readings = {row: pronoun_attention(Planted(stories), stories, at=row) for row in ("pronoun", "query")}
    assert stories_won(readings, heads) == 1.0
    single = find_pronoun_head(Planted(stories), stories, at=("pronoun", "query"))
    assert (single.layer, single.head, single.at, single.selection_rate) == (1, 2, "query", 1.0)
    assert stories_won(readings, {w: PronounHead(1, 2, 1.0, "pronoun") for w in heads}) < 1.0
    with pytest.raises(ValueError, match="readings"):
        stories_won({"pronoun": readings["pronoun"]}, heads)


def test_one_lost_pronoun_loses_its_story():
    seen = pronoun_attention(Planted(STORIES, miss=True), STORIES)
    assert seen.pronoun_rate()[1, 2] == pytest.approx(1 - 1 / sum(len(s.links) for s in STORIES))
    assert seen.story_rate()[1, 2] == pytest.approx(1 - 1 / len(STORIES))


def test_story_rate_needs_every_pronoun_of_a_story():
    ones = torch.ones(1, 1, 4)
    seen = PronounAttention(
        referent=torch.tensor([[[0.6, 0.2, 0.7, 0.9]]]),
        distractor=0.5 * ones,
        story=torch.tensor([0, 0, 1, 1]),
        words=("he", "it", "she", "it"),
        num_stories=2,
    )
    assert seen.pronoun_rate().item() == 0.75 and seen.story_rate().item() == 0.5
    assert seen.rate_by_word(0, 0) == {"he": 1.0, "it": 0.5, "she": 1.0}


def test_a_real_models_weights_are_averaged_over_the_mentions():
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=len(story_vocab()), d_model=16, num_heads=2, num_decoder_layers=2,
                               d_ff=32, dropout=0.0, max_len=GEN.max_tokens(), norm_first=True,
                               positional="learned")  # fmt: skip
    model = DecoderOnlyTransformer(config).train()
    seen = pronoun_attention(model, STORIES[:5])
    assert model.training  # left as it was
    story = STORIES[3]
    with torch.no_grad():
        model.eval()(encode([story]), need_weights=True)
    weights = model.attention_weights()["decoder_self"]  # per layer (1, h, L, L)
    k = sum(len(s.links) for s in STORIES[:3])  # the story's first pronoun
    for j, link in enumerate(story.links):
        for layer in range(2):
            row = weights[layer][0, :, link.query]  # (h, L)
            want_ref = row[:, list(link.referent_mentions)].sum(-1) / len(link.referent_mentions)
            want_other = torch.stack(
                [row[:, list(m)].sum(-1) / len(m) for m in link.distractor_mentions]
            ).amax(0)
            assert torch.allclose(seen.referent[layer, :, k + j], want_ref, atol=1e-6)
            assert torch.allclose(seen.distractor[layer, :, k + j], want_other, atol=1e-6)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: pronoun_attention(Planted(STORIES), []), "stories"),
        (lambda: pronoun_attention(Planted(STORIES), STORIES, batch_size=0), "batch_size"),
        (lambda: pronoun_attention(nn.Linear(2, 2), STORIES), "model"),
        (lambda: pronoun_attention(Planted(STORIES), STORIES, at="it"), "at"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_readings_read_both_rows_from_one_run_of_the_model():
    stories = STORIES[:9]
    planted = Planted(stories)
    runs = []
    planted.register_forward_hook(lambda *_: runs.append(1))
    readings = pronoun_readings(planted, stories, batch_size=4)  # 3 batches
    assert len(runs) == 3 and set(readings) == set(ROWS)
    for row, seen in readings.items():
        alone = pronoun_attention(Planted(stories), stories, at=row)
        assert torch.equal(seen.referent, alone.referent) and torch.equal(seen.distractor, alone.distractor)
        assert seen.at == row and seen.words == alone.words and torch.equal(seen.story, alone.story)
    with pytest.raises(ValueError, match="at"):
        pronoun_readings(planted, stories, at=("query", "it"))


def test_readings_hand_what_they_freed_back_once_they_are_done(monkeypatch):
    import transformer_course.pronoun_heads as ph

    stories, calls = STORIES[:9], []
    planted = Planted(stories)
    planted.register_forward_hook(lambda *_: calls.append("batch"))
    monkeypatch.setattr(ph, "release_freed_memory", lambda: calls.append("freed") or True)
    pronoun_readings(planted, stories, batch_size=4)
    assert calls == ["batch", "batch", "batch", "freed"]
