"""The story corpus: seeded, fast, exact probabilities, a recogniser that rejects what it must,
and pronoun annotations that point at the right words."""

import math
import random
import time

import pytest
import torch
from transformer_course import story_world
from transformer_course.stories import StoryGenerator, decode, encode, split, story_vocab
from transformer_course.story_world import BY_KEY, CHARACTERS, FOODS

GEN = StoryGenerator()
STORIES = GEN.sample(400, seed=7)
PRONOUNS = {"he", "she", "they", "it"}


def test_sampling_is_seeded_and_leaves_the_global_generators_alone():
    py_state, torch_state = random.getstate(), torch.get_rng_state()
    a, b, c = GEN.sample(50, seed=1), GEN.sample(50, seed=1), GEN.sample(50, seed=2)
    assert [s.tokens for s in a] == [s.tokens for s in b]
    assert [s.tokens for s in a] != [s.tokens for s in c]
    assert random.getstate() == py_state and torch.equal(torch.get_rng_state(), torch_state)


def test_thousands_of_stories_take_well_under_a_second():
    # Cold caches, so building every table counts too; CPU time, so a busy machine does not
    # make the test flaky. Seen: about 0.2 s for 5000 stories.
    for table in (story_world.intro_table, story_world.food_table, story_world._event_table):
        table.cache_clear()
    start = time.process_time()
    stories = StoryGenerator(min_events=1, max_events=3).sample(5000, seed=0)
    assert time.process_time() - start < 2.0
    assert len({s.tokens for s in stories}) > 4900  # and they are not all alike


def test_every_sampled_story_is_recognised_with_its_own_probability_and_links():
    for story in STORIES:
        for form in (story.tokens, story.tokens[1:-1], story.text):
            parsed = GEN.parse(form)
            assert parsed is not None and parsed.tokens == story.tokens
            assert parsed.log_prob == pytest.approx(story.log_prob, abs=1e-12)
            assert parsed.links == story.links
        assert GEN.is_story(story.text) and GEN.log_prob(story.text) == pytest.approx(story.log_prob)


def test_the_chapters_sentence_is_a_story():
    text = (
        "squatch and lily were in the kitchen . lily made a pizza . "
        "the pizza came out of the oven and it was cheesy . squatch looked at lily and he roared ."
    )
    story = GEN.parse(text)
    assert story is not None
    # intro 1/(3·24·4), food 1/(3·2·4), events 1/8 · 1/2 and 1/8 · 1/2 · 1/2 · 1/2
    want = math.log(1 / 288) + math.log(1 / 24) + math.log(1 / 16) + math.log(1 / 64)
    assert story.log_prob == pytest.approx(want)
    it, he = story.links
    tok = story.tokens
    assert (tok[it.pronoun], tok[it.referent], tok[it.query], tok[it.query + 1]) == (
        "it",
        "pizza",
        "was",
        "cheesy",
    )
    assert [tok[d] for d in it.distractors] == ["kitchen", "oven"]
    assert (tok[he.pronoun], tok[he.referent], tok[he.query], tok[he.query + 1]) == (
        "he",
        "squatch",
        "he",
        "roared",
    )
    assert [tok[d] for d in he.distractors] == ["lily"] and he.distractors[0] > he.referent
    assert [tok[p] for p in it.referent_mentions] == ["pizza", "pizza"]
    assert [[tok[p] for p in m] for m in it.distractor_mentions] == [["kitchen"], ["oven"]]
    assert [tok[p] for p in he.referent_mentions] == ["squatch", "squatch"]
    assert he.distractor_mentions == ((3, 9, he.distractors[0]),)


def _swap(tokens, i, word):
    return tokens[:i] + (word,) + tokens[i + 1 :]


def test_perturbed_stories_are_rejected():
    single = [c.key for c in CHARACTERS if len(c.name) == 1]
    for story in STORIES[:100]:
        tok = story.tokens
        intro, food = story.sentences[:2]
        outsider = next(k for k in single if k not in intro.state)
        subject = 1 + len(intro.tokens) + food.mentions[0][0]  # who brought the food
        assert not GEN.is_story(_swap(tok, subject, outsider))  # someone not in the story
        for link in story.links:
            word = tok[link.query + 1]
            if link.word == "it":  # an adjective of another food
                food = tok[link.referent]
                other = next(adj for f, adjs in FOODS.items() if f != food for adj in adjs)
            else:  # an action of the other character: the wrong continuation for this pronoun
                other = BY_KEY[_key(tok, link.distractors[0])].actions[0]
            assert word != other and not GEN.is_story(_swap(tok, link.query + 1, other))
        assert not GEN.is_story(tok[:-3] + tok[-2:])  # a word dropped
        assert not GEN.is_story(tok[:-1] + tok[-10:])  # a sentence too many
        assert not GEN.is_story(tok[: len(tok) // 2])  # cut short


def _key(tokens, head: int) -> str:
    return "the " + tokens[head] if tokens[head] in ("kids", "cats") else tokens[head]


def test_a_word_the_grammar_forbids_at_its_place_is_rejected():
    vocab = story_vocab().itos[4:]
    rng = random.Random(0)
    for story in STORIES[:60]:
        tok = story.tokens
        i = rng.randrange(1, len(tok) - 1)
        allowed = GEN.next_token_probs(tok[:i])
        forbidden = [w for w in vocab if w not in allowed]
        assert tok[i] in allowed and forbidden
        assert not GEN.is_story(_swap(tok, i, rng.choice(forbidden)))


def test_first_mistake_points_at_the_token_a_perturbation_put_in():
    """At the token swapped in, with what the story had there among what is allowed; None for
    the story itself, and None exactly where is_story says yes, on random edits."""
    vocab = story_vocab().itos[4:]
    rng = random.Random(1)
    for story in STORIES[:60]:
        tok = story.tokens
        assert GEN.first_mistake(tok) is None and GEN.first_mistake(story.text) is None
        i = rng.randrange(1, len(tok) - 1)
        forbidden = [w for w in vocab if w not in GEN.next_token_probs(tok[:i])]
        wrong = rng.choice(forbidden)
        mistake = GEN.first_mistake(_swap(tok, i, wrong))
        assert (mistake.position, mistake.token) == (i, wrong)
        assert mistake.allowed == GEN.next_token_probs(tok[:i]) and tok[i] in mistake.allowed
        assert list(mistake.allowed.values()) == sorted(mistake.allowed.values(), reverse=True)
        assert f"{wrong!r} at token {i}" in str(mistake)
    words = [*vocab, "<eos>", "<pad>"]
    for story in STORIES[:200]:
        tok = list(story.tokens)
        for _ in range(rng.randrange(3)):
            i = rng.randrange(len(tok))
            edit = rng.choice(["swap", "drop", "insert"])
            if edit == "swap":
                tok[i] = rng.choice(words)
            elif edit == "drop" and len(tok) > 1:
                del tok[i]
            else:
                tok.insert(i, rng.choice(words))
        for form in (tok, " ".join(tok[1:])):
            assert (GEN.first_mistake(form) is None) == GEN.is_story(form), form
        full = tok if tok[:1] == ["<bos>"] else ["<bos>", *tok]  # positions count from <bos>
        mistake = GEN.first_mistake(tok)
        if mistake is not None and mistake.position < len(full):
            assert full[mistake.position] == mistake.token
            assert GEN.first_mistake(full[: mistake.position], finished=False) is None  # fine up to it


def test_first_mistake_at_the_end_of_a_story():
    tok = STORIES[0].tokens
    early = GEN.first_mistake(tok[:-3])  # cut short: the end comes where the story goes on
    assert (early.position, early.token) == (len(tok) - 3, "<eos>") and tok[-3] in early.allowed
    assert GEN.first_mistake(tok[:-3], finished=False) is None  # the start of a story
    assert GEN.first_mistake(tok[:-1]) is None  # the text's end counts as <eos>
    after = GEN.first_mistake([*tok, "tom"])  # nothing may follow <eos>
    assert (after.position, after.token, after.allowed) == (len(tok), "tom", {})
    assert "after the story's <eos>" in str(after)
    start = GEN.first_mistake("pizza")
    assert (start.position, start.token) == (1, "pizza") and set(start.allowed) >= {"one", "squatch"}
    assert GEN.first_mistake("", finished=False) is None and GEN.first_mistake("").token == "<eos>"


@pytest.mark.parametrize("text", ["", "hello", "squatch <unk> lily .", "<eos> squatch", "."])
def test_things_that_are_not_stories(text):
    assert not GEN.is_story(text) and GEN.log_prob(text) == -math.inf


def test_next_token_probabilities_sum_to_one_and_chain_to_the_story_probability():
    for story in STORIES[:40]:
        total = 0.0
        for i in range(1, len(story.tokens)):
            probs = GEN.next_token_probs(story.tokens[:i])
            assert sum(probs.values()) == pytest.approx(1.0)
            total += math.log(probs[story.tokens[i]])
        assert total == pytest.approx(story.log_prob, abs=1e-9)


def test_every_table_is_unambiguous_and_sums_to_one():
    # Table() refuses a sentence written two ways and probabilities that do not sum to 1.
    for a, b in story_world.cast_pairs():
        assert len(story_world.food_table(a.key, b.key).entries) == 24
        for food in FOODS:
            table = story_world.event_table(a.key, b.key, food)
            assert sum(e.prob for e in table.entries) == pytest.approx(1.0)
    with pytest.raises(RuntimeError, match="two ways"):
        entry = story_world.intro_table().entries[0]
        story_world.Table([entry, entry], "test")


@pytest.mark.parametrize("events", [(2, 2), (1, 3)])
def test_exact_entropy_matches_monte_carlo(events):
    gen = StoryGenerator(*events)
    stories = gen.sample(3000, seed=11)
    nll = [-s.log_prob for s in stories]
    mean = sum(nll) / len(nll)
    se = math.sqrt(sum((x - mean) ** 2 for x in nll) / (len(nll) - 1) / len(nll))
    assert abs(mean - gen.entropy()) < 4 * se
    tokens = sum(s.num_predicted for s in stories) / len(stories)
    assert tokens == pytest.approx(gen.mean_tokens(), rel=0.02)
    assert sum(nll) / sum(s.num_predicted for s in stories) == pytest.approx(
        gen.entropy_per_token(), rel=0.02
    )
    assert max(len(s.tokens) for s in stories) <= gen.max_tokens()


def test_the_sum_of_conditional_entropies_is_the_story_entropy():
    # E[Σ_i H(next | prefix_i)] = H(story) when the grammar is unambiguous; each term is
    # exact, so this average has a far smaller spread than the one of −log p.
    total = 0.0
    for story in STORIES[:150]:
        for i in range(1, len(story.tokens)):
            total -= sum(p * math.log(p) for p in GEN.next_token_probs(story.tokens[:i]).values())
    assert total / 150 == pytest.approx(GEN.entropy(), rel=0.02)


def test_pronoun_links_point_at_the_referent_and_the_query_needs_it():
    for story in STORIES:
        tok = story.tokens
        assert len(story.links) == sum(t in PRONOUNS for t in tok) == 2  # one per event
        for link in story.links:
            assert tok[link.pronoun] == link.word and link.referent < link.pronoun <= link.query
            assert tok[link.referent] not in tok[link.referent + 1 : link.pronoun]  # the last mention
            assert link.referent_mentions[-1] == link.referent
            assert [m[-1] for m in link.distractor_mentions] == list(link.distractors)
            for positions in (link.referent_mentions, *link.distractor_mentions):
                assert len({tok[p] for p in positions}) == 1 and positions == tuple(sorted(positions))
            assert tok.index(tok[link.referent], 1) == link.referent_mentions[0]  # the first one too
            assert link.distractors and all(d < link.pronoun and d != link.referent for d in link.distractors)
            if link.word == "it":
                assert tok[link.referent] in FOODS and tok[link.query] == "was"
                assert all(tok[d] in (*story_world.PLACES, *story_world.THINGS) for d in link.distractors)
                wanted = set(FOODS[tok[link.referent]])
            else:
                who = BY_KEY[_key(tok, link.referent)]
                other = BY_KEY[_key(tok, link.distractors[0])]
                assert who.pronoun == link.word != other.pronoun and link.query == link.pronoun
                wanted = set(who.actions)
            # the true next-token distribution at the query names only the referent's words
            assert set(GEN.next_token_probs(tok[: link.query + 1])) == wanted


def test_encode_decode_and_the_vocabulary():
    vocab = story_vocab()
    assert vocab.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert all(t in vocab for s in STORIES for t in s.tokens)
    ids = encode(STORIES[:5], length=GEN.max_tokens())
    assert ids.shape == (5, GEN.max_tokens()) and ids.dtype == torch.long
    for row, story in zip(ids, STORIES):
        assert tuple(decode(row)) == story.tokens
        assert (row[len(story.tokens) :] == vocab.pad_id).all()
    assert decode(torch.tensor([vocab.bos_id, vocab.eos_id, 9])) == ["<bos>", "<eos>"]


def test_split_is_disjoint_and_deterministic():
    train, test = split(GEN, 300, 100, seed=3)
    again, _ = split(GEN, 300, 100, seed=3)
    assert len(train) == 300 and len(test) == 100
    assert [s.tokens for s in train] == [s.tokens for s in again]
    assert not {s.tokens for s in train} & {s.tokens for s in test}


def test_next_token_tensor_is_the_exact_distribution_over_the_vocabulary():
    from transformer_course.tokenizer import Vocab

    prefix = (
        "squatch and lily were in the kitchen . lily made a pizza . the pizza came out of the oven and it was"
    )
    vocab = story_vocab()
    probs = GEN.next_token_tensor(prefix)  # (V,)
    assert probs.shape == (len(vocab),) and probs.sum().item() == pytest.approx(1.0)
    exact = GEN.next_token_probs(prefix)
    assert {vocab.itos[i]: p for i, p in enumerate(probs.tolist()) if p} == pytest.approx(exact)
    small = Vocab(["squatch", "cheesy"])  # crispy is not in it: its probability goes to <unk>
    out = GEN.next_token_tensor(prefix, small)
    assert out[small.stoi["cheesy"]] == pytest.approx(0.5) and out[small.unk_id] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: StoryGenerator(min_events=0), "min_events"),
        (lambda: StoryGenerator(min_events=3, max_events=2), "max_events"),
        (lambda: GEN.sample(0), "num_stories"),
        (lambda: GEN.parse(42), "story"),
        (lambda: GEN.first_mistake(42), "story"),
        (lambda: GEN.first_mistake("tom", finished="yes"), "finished"),
        (lambda: GEN.next_token_probs("squatch and squatch"), "prefix"),
        (lambda: GEN.next_token_probs(STORIES[0].tokens), "prefix"),
        (lambda: GEN.next_token_probs(STORIES[0].tokens[:-1] + ("squatch",)), "prefix"),
        (lambda: GEN.next_token_tensor("squatch and squatch"), "prefix"),
        (lambda: GEN.next_token_tensor("squatch and", vocab="words"), "vocab"),
        (lambda: encode([]), "stories"),
        (lambda: encode(STORIES[:2], length=5), "length"),
        (lambda: decode(torch.zeros(2, 3, dtype=torch.long)), "ids"),
        (lambda: split("stories", 10, 10), "generator"),
        (lambda: split(GEN, 10, 0), "num_test"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()
