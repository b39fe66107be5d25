"""Text → tokens → ids, and back: a small word-level tokenizer with a vocabulary.

Real models split text into sub-words; words are enough to see every idea of the
course, and they keep the heatmaps readable.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache

import torch

from . import _validate

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)

# How text is cut (see ``tokenize``). Scripts written without spaces between words: one
# token per character, since a word tokenizer cannot tell where their words end (as
# BERT does for Chinese): Han ideographs (CJK blocks, extensions A–G, compatibility),
# hiragana, katakana (with its phonetic extensions and half-width forms).
_UNSPACED = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0002fa1f\U00030000-\U0003134f"
)
_APOSTROPHES = "'\u2019"  # ' and the typographic ’, which becomes ' inside a word
# What may follow an emoji in the same token: skin tones, tag characters (subdivision
# flags); combining marks, variation selectors and a keycap's frame are marks already.
_EMOJI_MODIFIERS = "\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"

_NO_SPACE_BEFORE = set(".,!?;:)'")

# The words the course's examples use, plus everyday words so a learner's own sentence
# mostly stays in the vocabulary. Nothing is downloaded: the list lives here.
COURSE_WORDS = """
the a an and or but of to in on at by for with from about as into out over under up down
it its it's is are was were be been being am i i'm me my you your he him his she her we us
our they them their this that these those there here what which who whom whose when where
why how not no yes all any each every some many more most few one two three four five six
seven eight nine ten first last next new old good bad big small long short great little
very too so then than now just only also again still even can could will would shall
should may might must do does did done have has had make made take took see saw look
looked find found give gave tell told ask asked say said go went come came get got know
knew think thought want like love loved eat eats ate play playing played read write work
works learn learning learned train training model models deep network networks attention
transformer transformers word words token tokens sentence text language meaning order
position vector vectors query queries key keys value values head heads mask layer layers
pizza oven cheese bread soup cake cup table chair door window house kitchen garden street
city car bus train dog cat cats bird fish animal animals food water coffee tea milk man
woman boy girl child children friend friends teacher student people person squatch
movie movies review reviews video videos book books song music game story news day night
morning time year week today tomorrow yesterday hot cold warm tasty tasted delicious good
fresh red blue green black white happy sad tired hungry fast slow quickly slowly because
while after before during until since if though although through across around near far
ran run runs walk walked sat sit sleeps slept opened closed fell put left right home school
"""


def _mark_ranges() -> str:
    """Every combining mark (Unicode category M*: accents, Indic vowel signs, variation
    selectors…) as a character-class body; they are not ``\\w`` but belong to their letter."""
    marks = [c for c in range(0x20000) if unicodedata.category(chr(c)).startswith("M")]
    marks += range(0xE0100, 0xE01F0)  # variation selectors supplement
    starts = [c for i, c in enumerate(marks) if i == 0 or marks[i - 1] != c - 1]
    ends = [c for i, c in enumerate(marks) if i + 1 == len(marks) or marks[i + 1] != c + 1]
    return "".join(
        re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in zip(starts, ends)
    )


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern:
    """Alternatives, tried in order at each position (text already NFC and lower case):
    a special token written out; a word (letters, digits, marks; at most one apostrophe
    followed by letters: it's, don’t, l’eau); one character of an unspaced script; a flag
    (two regional indicators); any other character with its marks, modifiers and
    zero-width-joined parts (one symbol, one punctuation mark or one emoji)."""
    marks = _mark_ranges()
    letter_or_digit = f"(?:(?![{_UNSPACED}])[^\\W_]|[{marks}])"
    letter = f"(?:(?![{_UNSPACED}])[^\\W\\d_]|[{marks}])"
    return re.compile(
        "<[a-z]+>"
        f"|{letter_or_digit}+(?:[{_APOSTROPHES}]{letter}+)?"
        f"|[{_UNSPACED}][{marks}]*"
        "|[\U0001f1e6-\U0001f1ff]{2}"
        f"|\\S(?:[{marks}{_EMOJI_MODIFIERS}]|\u200d\\S)*"
    )


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case words and punctuation: "I'm here!" → ["i'm", "here", "!"].

    Words are runs of Unicode letters and digits with their accents ("café", "naïve",
    "straße", "привет", "नमस्ते", "서울"); a typographic apostrophe inside a word becomes '
    ("don’t" → "don't"). Chinese characters, hiragana and katakana are one token each
    ("我爱你" → "我", "爱", "你"). Every other character is a token of its own: each
    punctuation mark ("..." → three), each emoji with its modifiers ("👍🏽", "👩‍💻", "🇫🇷").
    ASCII text is cut exactly as it always was. Text is NFC-normalised first, so an accent
    typed as a separate combining character gives the same token as a precomposed one.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    tokens = _token_re().findall(unicodedata.normalize("NFC", text).lower())
    return [t if t[0] == "\u2019" else t.replace("\u2019", "'") for t in tokens]


class Vocab:
    """A fixed list of tokens; a token's id is its index. Ids 0–3 are pad, unk, bos, eos."""

    pad_id, unk_id, bos_id, eos_id = range(4)

    def __init__(self, words: Iterable[str]):
        words = _validate.strings("words", words, "token strings")
        # dict.fromkeys keeps first-seen order and drops repeats.
        extra = (w for w in dict.fromkeys(words) if w not in SPECIAL_TOKENS)
        self.itos: list[str] = [*SPECIAL_TOKENS, *extra]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_freq: int = 1) -> Vocab:
        """Vocabulary of every token seen at least ``min_freq`` times, most frequent first."""
        texts = _validate.strings("texts", texts, "texts")
        min_freq = _validate.positive_int("min_freq", min_freq)
        counts = Counter(tok for text in texts for tok in tokenize(text))
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls(kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        # Only a str can be a token: anything else (a list would fail to hash) is not one.
        return isinstance(token, str) and token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {', '.join(self.itos[:8])}, ...)"

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Token strings → ids; a token not in the vocabulary becomes ``unk_id``."""
        tokens = _validate.strings("tokens", tokens, "token strings (use encode for a text)")
        return [self.stoi.get(t, self.unk_id) for t in tokens]

    def tokens(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Ids (T,) → token strings (special tokens included)."""
        if isinstance(ids, torch.Tensor):
            _validate.tensor("ids", ids, ndim=1, floating=False)
            ids = _validate.stored("ids", ids).tolist()  # a meta tensor has no ids to read
        elif isinstance(ids, Mapping | AbstractSet):  # no order: which id comes first?
            raise ValueError(f"ids must be a 1-D tensor or a list of int ids, got {type(ids).__name__}")
        ids = _validate.items("ids", ids, "a 1-D tensor or a list of int ids")
        ids = [_validate.integer(f"ids[{k}]", i, low=0, high=len(self)) for k, i in enumerate(ids)]
        return [self.itos[i] for i in ids]

    def unknown(self, text: str) -> list[str]:
        """The words of ``text`` that the vocabulary lacks (they would become <unk>)."""
        return [t for t in tokenize(text) if t not in self.stoi]

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> torch.Tensor:
        """Text → ids, shape (T,), dtype long."""
        _validate.boolean("add_bos", add_bos)
        _validate.boolean("add_eos", add_eos)
        ids = self.ids(tokenize(text))
        ids = [self.bos_id] * add_bos + ids + [self.eos_id] * add_eos
        return torch.tensor(ids, dtype=torch.long)

    def encode_batch(
        self, texts: Sequence[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> torch.Tensor:
        """Texts → ids padded on the right with ``pad_id``, shape (B, T_max)."""
        texts = _validate.strings("texts", texts, "texts")
        _validate.boolean("add_bos", add_bos)
        _validate.boolean("add_eos", add_eos)
        if not texts:
            raise ValueError("texts must be a non-empty list of strings, got an empty one")
        rows = [self.encode(t, add_bos=add_bos, add_eos=add_eos) for t in texts]
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=self.pad_id)

    def decode(self, ids: Sequence[int] | torch.Tensor, *, skip_special: bool = True) -> str:
        """Ids (T,) → text; stops at the first <eos> and drops pad/bos when ``skip_special``."""
        _validate.boolean("skip_special", skip_special)
        words = []
        for tok in self.tokens(ids):
            if skip_special and tok == EOS:
                break
            if skip_special and tok in (PAD, BOS):
                continue
            words.append(tok)
        text = " ".join(words)
        for mark in _NO_SPACE_BEFORE:
            text = text.replace(f" {mark}", mark)
        return text


@lru_cache(maxsize=1)
def course_vocab() -> Vocab:
    """The vocabulary the chapters share (a few hundred everyday words, plus . , ! ?)."""
    return Vocab([*COURSE_WORDS.split(), ".", ",", "!", "?"])
