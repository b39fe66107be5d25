"""tokenize() beyond ASCII: accents, typographic apostrophes, CJK, other scripts, emoji;
and ASCII text cut exactly as before (the chapters' sentences depend on it)."""

import random
import re
from pathlib import Path

import pytest
from transformer_course.tokenizer import COURSE_WORDS, course_vocab, tokenize

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"
# The pattern tokenize() used before it knew Unicode: the reference for ASCII text.
ASCII_RE = re.compile(r"<[a-z]+>|[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def ascii_tokens(text: str) -> list[str]:
    return ASCII_RE.findall(text.lower())


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("café", ["café"]),
        ("Café crème", ["café", "crème"]),
        ("naïve", ["naïve"]),
        ("Straße", ["straße"]),
        ("São Paulo, Ñandú", ["são", "paulo", ",", "ñandú"]),
        ("cafe\u0301", ["café"]),  # e + combining acute: the same token as the precomposed é
    ],
)
def test_accented_words_are_one_token(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("don’t", ["don't"]),
        ("I’m here", ["i'm", "here"]),
        ("l’eau", ["l'eau"]),
        ("‘hello’ she said", ["‘", "hello", "’", "she", "said"]),  # quotes, not apostrophes
        ("“pizza”", ["“", "pizza", "”"]),
    ],
)
def test_typographic_apostrophe_inside_a_word_is_an_apostrophe(text, tokens):
    assert tokenize(text) == tokens


def test_curly_and_straight_apostrophes_give_the_same_ids():
    vocab = course_vocab()
    assert tokenize("It’s good") == tokenize("It's good") == ["it's", "good"]
    assert vocab.unknown("it’s good") == []


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("我爱你", ["我", "爱", "你"]),  # Chinese: one token per ideograph
        ("東京タワーに行きました", list("東京タワーに行きました")),  # Japanese: kanji and kana each
        ("你好，世界！", ["你", "好", "，", "世", "界", "！"]),  # full-width punctuation
        ("서울에 갑니다", ["서울에", "갑니다"]),  # Korean is written with spaces: words
        ("𠀀𠀁", ["𠀀", "𠀁"]),  # an ideograph outside the BMP (extension B)
    ],
)
def test_cjk(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("I love 北京 and café", ["i", "love", "北", "京", "and", "café"]),
        ("pizza我", ["pizza", "我"]),  # no space between scripts: still cut at the change
        ("Привет, мир!", ["привет", ",", "мир", "!"]),
        ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),  # Devanagari vowel signs stay in their word
        ("مرحبا بالعالم", ["مرحبا", "بالعالم"]),
        ("Ελληνικά 3", ["ελληνικά", "3"]),
    ],
)
def test_mixed_scripts(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("ok 👍", ["ok", "👍"]),
        ("👍🏽👍", ["👍🏽", "👍"]),  # a skin tone belongs to its emoji
        ("👩‍💻 codes", ["👩‍💻", "codes"]),  # joined by a zero-width joiner: one emoji
        ("🇫🇷🇯🇵", ["🇫🇷", "🇯🇵"]),  # flags: pairs of regional indicators
        ("❤️!", ["❤️", "!"]),  # with its variation selector
        ("— … ¿qué?", ["—", "…", "¿", "qué", "?"]),
    ],
)
def test_emoji_and_punctuation_are_one_token_each(text, tokens):
    assert tokenize(text) == tokens


def test_chapter_sentences_tokenize_as_before():
    """Every string literal in the chapters (ASCII or not) and every course word."""
    texts = [COURSE_WORDS]
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.py")):
        texts += re.findall(r'"([^"\n]*)"', path.read_text(encoding="utf-8"))
    ascii_texts = [t for t in texts if t.isascii()]
    assert len(ascii_texts) > 100
    for text in ascii_texts:
        assert tokenize(text) == ascii_tokens(text), text
    assert tokenize("the pizza came out of the oven and it tasted good") == (
        "the pizza came out of the oven and it tasted good".split()
    )


def test_random_ascii_text_tokenizes_as_before():
    rng = random.Random(0)
    alphabet = "abcXYZ019 '\t\n_.,!?<>-\"$\x1c\x7f"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert tokenize(text) == ascii_tokens(text), repr(text)
