"""Text encoder for semantic search and related products: hashed n-grams -> BiLSTM -> embedding.

Queries and documents go through the same network, so one embedding space serves search
(query -> product) and related products (product -> product). Training is contrastive (symmetric
InfoNCE with in-batch negatives) on (query-like text, document) pairs. The query-like texts are
sampled from each document afresh every epoch, imitating what shoppers type: the whole title,
a few words of it, either with typos, a few words of the description, or attribute words
(category + material, genres, ...). Real (query, clicked product) pairs from search logs join
them when given.

Documents are ``"title\\ndescription\\ncategory"`` strings (any number of lines): the first
non-empty line is the title, the last line (when there are two or more) holds category-like
attributes separated by ``| , ; / &``, and the lines in between are free description.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .device import autocast_context, resolve_device, seed_everything
from .fit import History, fit, warmup_cosine
from .text_tokenizer import HashingTokenizer, TokenBatch, TokenizerConfig

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "shopguide.text_encoder/1"
Progress = Callable[[float, str], None]
PathOrFile = str | os.PathLike | BinaryIO


@dataclass(frozen=True)
class TextEncoderConfig:
    """Architecture, training and query-sampling settings; saved inside every checkpoint.

    Tuned on the demo shop and MovieLens catalogues (bench/text_search_pure.py): on one CPU
    thread the defaults train at ~2,000 texts/s (MovieLens' 9,000 titles: ~3 minutes) and embed
    one query in ~1 ms. Wider layers, other batch sizes or temperatures did not do better; more
    epochs still help a little (25 instead of 15: +0.01 known-item MRR).
    """

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    embedding_dim: int = 64  # output vector size (what pgvector stores)
    piece_dim: int = 96  # size of each hashed piece's embedding, and so of each word's input
    hidden_dim: int = 128  # LSTM state size per direction
    dropout: float = 0.1  # on word vectors while training
    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3  # peak AdamW learning rate (LSTM, projection), after warmup, then cosine decay to 0
    piece_lr: float = 1e-2  # peak SparseAdam learning rate of the piece table
    weight_decay: float = 1e-4  # LSTM/linear weights only, never piece embeddings or biases
    temperature: float = 0.05
    seed: int = 0
    # Query sampling: relative weights of the kinds of query-like text made from a document.
    title_weight: float = 0.2  # the whole title
    fragment_weight: float = 0.45  # 1 .. max_fragment_words consecutive title words
    description_weight: float = 0.15  # 1-3 content words of the description
    attribute_weight: float = 0.2  # 1-2 attribute phrases (last line) + 0-2 description words
    typo_probability: float = 0.5  # chance that a title or fragment query gets typos
    max_typos: int = 2
    max_fragment_words: int = 3

    def __post_init__(self) -> None:
        if min(self.embedding_dim, self.piece_dim, self.hidden_dim, self.epochs, self.batch_size) < 1:
            raise ValueError("embedding_dim, piece_dim, hidden_dim, epochs and batch_size must be >= 1")
        weights = (self.title_weight, self.fragment_weight, self.description_weight, self.attribute_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("query kind weights must be >= 0 and not all 0")
        if not 0 <= self.typo_probability <= 1 or not 0 <= self.dropout < 1:
            raise ValueError("typo_probability must be in [0, 1] and dropout in [0, 1)")
        if self.max_typos < 0 or self.max_fragment_words < 1:
            raise ValueError("max_typos must be >= 0 and max_fragment_words >= 1")

    @classmethod
    def from_dict(cls, values: dict) -> TextEncoderConfig:
        """Rebuild a config from ``dataclasses.asdict`` output (as stored in checkpoints)."""
        values = dict(values)
        tokenizer = dict(values.pop("tokenizer", {}))
        if "ngram_sizes" in tokenizer:
            tokenizer["ngram_sizes"] = tuple(tokenizer["ngram_sizes"])
        return cls(tokenizer=TokenizerConfig(**tokenizer), **values)


@dataclass
class FitResult:
    """What one call to :meth:`TextEncoder.fit` did.

    Attributes:
        losses: mean training loss of each epoch.
        seconds: wall-clock training time.
        texts_per_second: queries plus documents encoded per second of training.
        num_documents: documents trained on.
        num_pairs: real (query, document) pairs used each epoch, besides the sampled ones.
    """

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    texts_per_second: float = 0.0
    num_documents: int = 0
    num_pairs: int = 0


# --------------------------------------------------------------------------- model


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length, leaving the padding where it is.

    Args:
        x: (B, W, C) padded sequences.
        lengths: (B,) int64 valid steps per row, 1 <= length <= W.

    Returns:
        (B, W, C); applying it twice gives ``x`` back.
    """
    steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, W)
    lengths = lengths[:, None]  # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, W)
    return x.gather(1, index[:, :, None].expand_as(x))


class TextNet(nn.Module):
    """Bag of hashed pieces per word -> BiLSTM over words -> masked mean+max pool -> linear -> L2 norm.

    The pool reads the word vectors as well as the LSTM states: that direct path carries the
    exact spelling of each word (what known-item and typo queries need most) while the LSTM adds
    word order and context; adding it raised known-item MRR by 0.01 (MovieLens) to 0.06 (demo
    shop) at equal training time.
    """

    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        # Sparse gradients: a batch touches a few thousand of the 2**17 rows, and a dense
        # gradient + Adam update of the whole table would cost more than the LSTMs.
        self.pieces = nn.EmbeddingBag(
            config.tokenizer.n_buckets, config.piece_dim, mode="mean", padding_idx=0, sparse=True
        )
        nn.init.normal_(self.pieces.weight, std=0.1)
        with torch.no_grad():
            self.pieces.weight[0].zero_()
        self.dropout = nn.Dropout(config.dropout)
        # Two one-way LSTMs instead of one bidirectional: the backward one reads each text
        # reversed within its length (reverse_padded), so padding never enters either state and
        # a text's vector does not depend on what it was batched with.
        self.forward_lstm = nn.LSTM(config.piece_dim, config.hidden_dim, batch_first=True)
        self.backward_lstm = nn.LSTM(config.piece_dim, config.hidden_dim, batch_first=True)
        self.projection = nn.Linear(2 * (2 * config.hidden_dim + config.piece_dim), config.embedding_dim)

    def forward(self, pieces: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Embed a batch of tokenised texts (see ``TokenBatch``).

        Args:
            pieces: int64 (U, P) piece ids of each distinct word of the batch, 0 = padding;
                row 0 is all padding.
            words: int64 (B, W) rows of ``pieces``, 0 past each text's length.
            lengths: int64 (B,) words per text, each >= 1.

        Returns:
            (B, D) float, each row of unit L2 norm.
        """
        table = self.pieces(pieces)  # (U, E): mean piece vector per word; row 0 (no pieces) is 0
        x = self.dropout(table[words])  # (B, W, E)
        ahead, _ = self.forward_lstm(x)  # (B, W, H)
        behind, _ = self.backward_lstm(reverse_padded(x, lengths))  # (B, W, H), reversed order
        states = torch.cat([ahead, reverse_padded(behind, lengths), x], dim=2)  # (B, W, 2H + E)

        mask = (torch.arange(words.shape[1], device=words.device)[None, :] < lengths[:, None])[:, :, None]  # (B, W, 1)
        mean = (states * mask).sum(1) / lengths[:, None].to(states.dtype)  # (B, 2H + E)
        peak = states.masked_fill(~mask, float("-inf")).amax(1)  # (B, 2H + E)
        return F.normalize(self.projection(torch.cat([mean, peak], dim=1)).float(), dim=1)  # (B, D)


def info_nce(queries: torch.Tensor, documents: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE with in-batch negatives.

    Args:
        queries: (B, D) unit-norm; row i belongs with ``documents[i]``.
        documents: (B, D) unit-norm.
        keys: (B,) int64 document identity; rows with equal keys (the same document twice, or
            two documents with identical text) are not used as each other's negatives.
        temperature: softmax temperature.

    Returns:
        Scalar: mean of query->document and document->query cross-entropy.
    """
    logits = queries.float() @ documents.float().T / temperature  # (B, B)
    same = keys[:, None] == keys[None, :]
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


# --------------------------------------------------------------------------- query sampling

_CONTENT_WORD_RE = re.compile(r"[^\W\d_][\w'-]{2,}")
_ATTRIBUTE_SPLIT_RE = re.compile(r"\s*[|,;/&]\s*")
# Function words a shopper would not type as a search on their own.
_STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "with",
        "for",
        "from",
        "this",
        "that",
        "these",
        "those",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "its",
        "into",
        "onto",
        "your",
        "you",
        "our",
        "all",
        "any",
        "can",
        "not",
        "but",
        "yet",
        "very",
        "just",
        "than",
        "then",
        "them",
        "they",
        "their",
        "there",
        "here",
        "over",
        "under",
    ]
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def split_document(document: str) -> tuple[str, list[str], list[str]]:
    """Split a document into (title, description lines, attribute phrases).

    The first non-empty line is the title. With three or more lines the last one holds
    attributes (``"T-shirts & Tops"``, ``"Action|Comedy"``); with exactly two lines the second
    is taken as both description and attributes, since a catalogue's second line is usually one
    or the other (``"title\\ngenres"``).
    """
    lines = [line.strip() for line in document.splitlines() if line.strip()]
    if not lines:
        return "", [], []
    title, rest = lines[0], lines[1:]
    if not rest:
        return title, [], []
    description = rest[:-1] if len(rest) > 1 else rest
    attributes = [a for a in _ATTRIBUTE_SPLIT_RE.split(rest[-1]) if a]
    return title, description, attributes


def add_typos(text: str, rng: random.Random, n: int) -> str:
    """Apply ``n`` typos (swap, drop, duplicate or replace a letter) to words of 4+ characters.

    Short words are left alone: a typo in "tee" or "a" makes another word, not a misspelling.
    Returns ``text`` unchanged when it has no such word.
    """
    words = text.split(" ")
    for _ in range(n):
        candidates = [i for i, word in enumerate(words) if len(word) >= 4]
        if not candidates:
            break
        i = rng.choice(candidates)
        words[i] = _typo(words[i], rng)
    return " ".join(words)


def _typo(word: str, rng: random.Random) -> str:
    for _ in range(8):  # swapping "ee" or replacing "a" by "a" is no typo: draw again
        pos = rng.randrange(len(word) - 1)
        op = rng.randrange(4)
        if op == 0:
            typo = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
        elif op == 1:
            typo = word[:pos] + word[pos + 1 :]
        elif op == 2:
            typo = word[:pos] + word[pos] + word[pos:]
        else:
            typo = word[:pos] + rng.choice(_LETTERS) + word[pos + 1 :]
        if typo != word:
            return typo
    return word[1:]


def sample_query(document: str, rng: random.Random, config: TextEncoderConfig) -> str:
    """One query-like text for ``document`` (see the module docstring for the kinds).

    Kinds a document cannot support (no description, no attributes) fall back to a title
    fragment; a document without any text gives ``""``.
    """
    title, description, attributes = split_document(document)
    kind = rng.choices(
        ("title", "fragment", "description", "attributes"),
        weights=(config.title_weight, config.fragment_weight, config.description_weight, config.attribute_weight),
    )[0]
    content = [w for line in description for w in _CONTENT_WORD_RE.findall(line) if w.lower() not in _STOP_WORDS]
    if kind == "description" and content:
        picks = sorted(rng.sample(range(len(content)), min(len(content), rng.randint(1, 3))))
        return " ".join(content[i] for i in picks)
    if kind == "attributes" and attributes:
        words = rng.sample(attributes, min(len(attributes), rng.randint(1, 2)))
        attribute_text = " ".join(attributes).lower()
        extras = [w for w in content if w.lower() not in attribute_text]  # none for "title\ngenres"
        words += rng.sample(extras, min(len(extras), rng.randint(0, 2)))
        rng.shuffle(words)
        return " ".join(words)

    words = title.split()
    if kind != "title" and len(words) > 1:
        length = rng.randint(1, min(config.max_fragment_words, len(words)))
        start = rng.randrange(len(words) - length + 1)
        words = words[start : start + length]
    query = " ".join(words)
    if config.max_typos > 0 and rng.random() < config.typo_probability:
        query = add_typos(query, rng, rng.randint(1, config.max_typos))
    return query


# --------------------------------------------------------------------------- encoder


# Linear warmup over the first 5% of the steps, then cosine decay to zero (shopguide.ml.fit).
WARMUP = 0.05


class TextEncoder:
    """Trains a :class:`TextNet` on a catalogue and embeds queries and documents with it.

    Typical use::

        encoder = TextEncoder(TextEncoderConfig())
        encoder.fit(["Linen Shirt\\nA light summer shirt.\\nShirts", ...], pairs=[("linnen shirt", 0)])
        products = encoder.embed(documents)        # (N, D) float32, unit norm
        query = encoder.embed(["linen shrit"])     # (1, D); score = products @ query[0]
        encoder.save("text.pt"); TextEncoder.load("text.pt")
    """

    def __init__(self, config: TextEncoderConfig | None = None, *, device: str | torch.device = "auto") -> None:
        self.config = config or TextEncoderConfig()
        self.device = resolve_device(device)
        self.tokenizer = HashingTokenizer(self.config.tokenizer)
        self.model = TextNet(self.config).to(self.device).eval()
        self.metrics: dict[str, object] = {}

    # ---------------------------------------------------------------- training

    def fit(
        self,
        documents: list[str],
        *,
        pairs: list[tuple[str, int]] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        """Train a fresh network from the config's seed (any earlier weights are replaced).

        Args:
            documents: product texts, ``"title\\ndescription\\ncategory"`` (see the module docstring).
            pairs: optional real ``(query, document index)`` pairs, e.g. searches and the product
                clicked from their results; all of them are used every epoch.
            progress: called as ``progress(fraction_done, message)`` after every epoch.

        Returns:
            A :class:`FitResult`; the same numbers are kept in ``self.metrics`` and checkpoints.

        Raises:
            ValueError: fewer than 2 documents, a document that is not a string, or a pair whose
                index is out of range.
        """
        cfg = self.config
        if len(documents) < 2:
            raise ValueError("need at least 2 documents to train")
        if not all(isinstance(doc, str) for doc in documents):
            raise ValueError("documents must be strings")
        pairs = [(query, int(index)) for query, index in (pairs or [])]
        for query, index in pairs:
            if not isinstance(query, str) or not 0 <= index < len(documents):
                raise ValueError(f"bad pair ({query!r}, {index!r}) for {len(documents)} documents")
        # Documents with identical text share a key, so neither is the other's negative.
        first_seen: dict[str, int] = {}
        doc_keys = torch.tensor([first_seen.setdefault(doc, i) for i, doc in enumerate(documents)], device=self.device)

        seed_everything(cfg.seed)
        self.model = TextNet(cfg).to(self.device)
        dense_optimizer, piece_optimizer = _optimizers(self.model, cfg)
        dense_params = [p for group in dense_optimizer.param_groups for p in group["params"]]
        rng = random.Random(cfg.seed)
        n_examples = len(documents) + len(pairs)
        batch_size = min(cfg.batch_size, n_examples)
        steps_per_epoch = n_examples // batch_size  # a ragged last batch has too few negatives
        total_steps = cfg.epochs * steps_per_epoch

        result = FitResult(num_documents=len(documents), num_pairs=len(pairs))
        logger.info("training text encoder on %d documents + %d pairs, %s", len(documents), len(pairs), self.device)

        def batches(epoch: int):
            examples = [(sample_query(doc, rng, cfg), i) for i, doc in enumerate(documents)] + pairs
            rng.shuffle(examples)
            for step in range(steps_per_epoch):
                yield examples[step * batch_size : (step + 1) * batch_size]

        def loss(batch: list[tuple[str, int]]) -> torch.Tensor:
            index = np.fromiter((i for _, i in batch), dtype=np.int64, count=len(batch))
            # Tokenised per batch (words are cached), so memory does not grow with the catalogue.
            docs = self.tokenizer.encode([documents[i] for i in index])
            queries = self.tokenizer.encode([q for q, _ in batch])
            with autocast_context(self.device):
                return info_nce(
                    self.model(*self._tensors(queries)),
                    self.model(*self._tensors(docs)),
                    doc_keys[torch.from_numpy(index).to(self.device)],
                    cfg.temperature,
                )

        def end_epoch(epoch: int, history: History, stop: bool) -> None:
            message = f"epoch {epoch + 1}/{cfg.epochs} loss {history.losses[-1]:.4f}"
            logger.debug(message)
            if progress is not None:
                progress((epoch + 1) / cfg.epochs, message)

        started = time.perf_counter()
        history = fit(
            epochs=cfg.epochs,
            batches=batches,
            loss=loss,
            optimizers=[dense_optimizer, piece_optimizer],
            schedulers=[
                warmup_cosine(o, total_steps=total_steps, warmup=WARMUP) for o in (dense_optimizer, piece_optimizer)
            ],
            clip=(dense_params, 1.0),  # LSTMs spike early on
            start_epoch=self.model.train,
            end_epoch=end_epoch,
            device=self.device,
        )
        result.losses = history.losses
        result.seconds = time.perf_counter() - started
        result.texts_per_second = 2 * total_steps * batch_size / max(result.seconds, 1e-9)
        self.model.eval()
        self.metrics = asdict(result)
        return result

    # ---------------------------------------------------------------- inference

    @torch.inference_mode()
    def embed(self, texts: list[str], *, batch_size: int = 256) -> np.ndarray:
        """Embed queries or documents with the current network.

        Args:
            texts: strings; an empty string gets the (fixed) vector of an empty text.
            batch_size: texts per forward pass (memory, not results, depends on it).

        Returns:
            float32 (N, D), each row of unit L2 norm, in the order of ``texts``.

        Raises:
            ValueError: no texts, or an item that is not a string.
        """
        if len(texts) == 0:
            raise ValueError("no texts to embed")
        self.model.eval()
        # Similar lengths batched together waste little work on padding; results do not depend
        # on the batching (see TextNet). Characters are a good enough proxy for words here.
        order = np.argsort([len(t) if isinstance(t, str) else 0 for t in texts], kind="stable")
        out = torch.empty(len(texts), self.config.embedding_dim)
        for start in range(0, len(texts), batch_size):
            index = order[start : start + batch_size]
            tokens = self.tokenizer.encode([texts[i] for i in index])  # raises on non-strings
            with autocast_context(self.device):
                out[torch.from_numpy(index)] = self.model(*self._tensors(tokens)).float().cpu()
        # Re-normalise in fp32: under bf16 autocast the norms can drift from 1 in the 3rd digit.
        return F.normalize(out, dim=1).numpy()

    # ---------------------------------------------------------------- persistence

    def save(self, path: PathOrFile) -> None:
        """Write a checkpoint: config, weights and training metrics; no pickled objects."""
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(self.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "metrics": self.metrics,
        }
        torch.save(checkpoint, path)

    @classmethod
    def load(cls, path: PathOrFile, *, device: str | torch.device = "auto") -> TextEncoder:
        """Read a checkpoint written by :meth:`save`.

        Raises:
            ValueError: the file is not a text-encoder checkpoint.
            RuntimeError / pickle errors from torch.load: the file is corrupt or unsafe.
        """
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a shopguide text encoder checkpoint")
        encoder = cls(TextEncoderConfig.from_dict(checkpoint["config"]), device=device)
        encoder.model.load_state_dict(checkpoint["state_dict"])
        encoder.model.eval()
        encoder.metrics = dict(checkpoint.get("metrics", {}))
        return encoder

    # ---------------------------------------------------------------- helpers

    def _tensors(self, tokens: TokenBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A TokenBatch as TextNet's (pieces, words, lengths) tensors on the encoder's device."""
        pieces, words, lengths = (
            torch.from_numpy(a).to(self.device) for a in (tokens.pieces, tokens.words, tokens.lengths)
        )
        return pieces, words, lengths


def _optimizers(model: TextNet, config: TextEncoderConfig) -> tuple[torch.optim.AdamW, torch.optim.SparseAdam]:
    """AdamW for the dense LSTM/linear weights; lazy SparseAdam for the piece table, whose rows
    only move when a batch uses them. The table gets no weight decay: decay would erase the
    rarely seen n-grams that typo tolerance relies on, and neither do norms or biases."""
    dense = [p for name, p in model.named_parameters() if not name.startswith("pieces.")]
    groups = [
        {"params": [p for p in dense if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in dense if p.ndim < 2], "weight_decay": 0.0},
    ]
    return (
        torch.optim.AdamW(groups, lr=config.lr),
        torch.optim.SparseAdam(list(model.pieces.parameters()), lr=config.piece_lr),
    )
