"""A typo-tolerant hashing tokenizer: every word becomes a bag of hashed character n-grams.

A word is represented by its own bucket plus the buckets of its character n-grams, taken with
word-boundary markers (``"<sneakers>"`` -> ``"<s"``, ``"sn"``, ..., ``"<sn"``, ``"sne"``, ...).
A typo changes only the few n-grams that cover it, so ``"sneekers"`` keeps most of the pieces of
``"sneakers"`` and the encoder that sums them lands nearby. Hashing (instead of a vocabulary)
means there is nothing to fit: any word, including one never seen in training, has pieces.

The hash is CRC-32 seeded with ``config.seed``: stable across processes, machines and Python
versions, unlike the built-in ``hash()``, which is salted per process.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PAD_ID = 0  # never produced by hashing: EmbeddingBag skips it (padding_idx)
# Word that stands for a line break: documents are "title\ndescription\ncategory", and the
# marker lets the encoder tell which words belong to the title.
LINE_BREAK = "\n"
_EMPTY = ""  # the one word of a text without words; never produced by the word regex
_WORD_RE = re.compile(r"\w+")
# Cached words; the cache is dropped when it grows past this (catalogues repeat few words).
_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class TokenizerConfig:
    """Hashing settings; changing any of them changes every id, so they travel in checkpoints."""

    n_buckets: int = 2**17  # ids are 1..n_buckets-1; 0 is padding
    # Character n-grams, counted with the < > markers. Bigrams make typos cheap (one typo
    # changes 2 of a word's bigrams, but 4 of its 4-grams); on MovieLens (2, 3, 4) beat
    # (3, 4, 5) by 0.06 MRR on typo'd titles, and adding 5-grams gained nothing.
    ngram_sizes: tuple[int, ...] = (2, 3, 4)
    word_pieces: bool = True  # also give each whole word its own bucket
    max_words: int = 64  # words kept per text (line-break markers count); the rest is cut
    max_pieces_per_word: int = 32  # the whole word's bucket is kept first, then the shortest n-grams
    lowercase: bool = True
    strip_accents: bool = True  # "Amérique" == "amerique": shoppers rarely type accents
    seed: int = 0  # hash seed: a different seed is a different (equally good) tokenizer

    def __post_init__(self) -> None:
        if self.n_buckets < 2:
            raise ValueError("n_buckets must be at least 2")
        if not self.ngram_sizes and not self.word_pieces:
            raise ValueError("need ngram_sizes or word_pieces, or words have no pieces")
        if any(n < 1 for n in self.ngram_sizes):
            raise ValueError(f"n-gram sizes must be >= 1, got {self.ngram_sizes}")
        if self.max_words < 1 or self.max_pieces_per_word < 1:
            raise ValueError("max_words and max_pieces_per_word must be >= 1")


@dataclass(frozen=True)
class TokenBatch:
    """A batch of tokenised texts: each distinct word once, and every text as word references.

    Catalogue text repeats words a lot ("comedy", "cotton", "in", ...), so the encoder embeds
    each distinct word of a batch once and then looks the vectors up per position.

    Attributes:
        pieces: int64 (U, P): the piece ids of each distinct word in the batch, padded with 0.
            Row 0 is all padding and stands for "no word".
        words: int64 (B, W): ``words[b, w]`` is the row in ``pieces`` of word ``w`` of text
            ``b``; 0 past the text's length.
        lengths: int64 (B,) words per text, always >= 1 (an empty text is one "empty" word).
    """

    pieces: np.ndarray
    words: np.ndarray
    lengths: np.ndarray


class HashingTokenizer:
    """Turns texts into per-word bags of hashed character n-grams (see the module docstring).

    Typical use::

        tokenizer = HashingTokenizer(TokenizerConfig())
        batch = tokenizer.encode(["blue sneekers", "blue dress"])
        # batch.words == [[1, 2], [1, 3]]: "blue" is embedded once; batch.pieces is (4, P)
    """

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()
        self._seed = self.config.seed & 0xFFFFFFFF
        self._cache: dict[str, np.ndarray] = {}
        self._line_break = np.array([self._bucket("\x00line-break")], dtype=np.int64)
        self._empty = np.array([self._bucket("\x00empty")], dtype=np.int64)

    def words(self, text: str) -> list[str]:
        """Normalised words of ``text`` (line breaks as :data:`LINE_BREAK`), before the cut to max_words."""
        text = unicodedata.normalize("NFKD", text)
        if self.config.strip_accents:
            text = "".join(ch for ch in text if not unicodedata.combining(ch))
        if self.config.lowercase:
            text = text.casefold()
        words: list[str] = []
        for line in text.splitlines():
            line_words = _WORD_RE.findall(line)
            if line_words and words:
                words.append(LINE_BREAK)
            words.extend(line_words)
        return words

    def pieces(self, word: str) -> list[str]:
        """The strings whose hashes represent ``word``: the marked word, then n-grams short first."""
        marked = f"<{word}>"
        out = [marked] if self.config.word_pieces else []
        for n in sorted(self.config.ngram_sizes):
            out.extend(marked[i : i + n] for i in range(len(marked) - n + 1))
        unique = list(dict.fromkeys(out))  # short words repeat pieces ("<a>" is also a 3-gram)
        return unique[: self.config.max_pieces_per_word]

    def word_ids(self, word: str) -> np.ndarray:
        """int64 bucket ids of one normalised word (cached)."""
        ids = self._cache.get(word)
        if ids is None:
            if word == LINE_BREAK:
                return self._line_break
            if word == _EMPTY:
                return self._empty
            ids = np.fromiter((self._bucket(p) for p in self.pieces(word)), dtype=np.int64)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = ids
        return ids

    def encode(self, texts: Sequence[str]) -> TokenBatch:
        """Tokenise a batch of texts.

        Args:
            texts: strings; an empty one (or one without any word character) becomes a single
                "empty" word, so every text has at least one word.

        Returns:
            A :class:`TokenBatch`; W is the batch's longest text (at most ``max_words``) and P
            its largest word (at most ``max_pieces_per_word``).

        Raises:
            ValueError: no texts, or an item that is not a string.
        """
        if len(texts) == 0:
            raise ValueError("no texts to tokenise")
        per_text: list[list[str]] = []
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"texts must be strings, got {type(text).__name__}")
            per_text.append(self.words(text)[: self.config.max_words] or [_EMPTY])
        lengths = np.fromiter((len(t) for t in per_text), dtype=np.int64, count=len(per_text))
        words = np.zeros((len(per_text), int(lengths.max())), dtype=np.int64)
        rows: dict[str, int] = {}
        for b, text_words in enumerate(per_text):
            for w, word in enumerate(text_words):
                words[b, w] = rows.setdefault(word, len(rows) + 1)  # row 0 is "no word"
        piece_ids = [self.word_ids(word) for word in rows]  # dicts keep insertion order = row order
        pieces = np.zeros((len(rows) + 1, max(len(ids) for ids in piece_ids)), dtype=np.int64)
        for row, ids in enumerate(piece_ids, start=1):
            pieces[row, : len(ids)] = ids
        return TokenBatch(pieces=pieces, words=words, lengths=lengths)

    def _bucket(self, piece: str) -> int:
        # 1 + (hash mod n_buckets - 1) keeps 0 free for padding; with the default 2**17 buckets the
        # modulus 2**17 - 1 is prime, which mixes all 32 CRC bits into the id.
        return 1 + zlib.crc32(piece.encode("utf-8"), self._seed) % (self.config.n_buckets - 1)
