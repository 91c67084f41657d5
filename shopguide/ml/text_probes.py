"""Held-out search queries for scoring a text model: a sampler the training never uses.

The text encoder trains on queries from :func:`shopguide.ml.text_encoder.sample_query` (title
fragments, description words, attributes, typos). Scoring it on more queries from that sampler
would measure how well it learned its own training distribution; these probes are made
differently (shuffled title words, a swapped-letter typo, a category word with a title word) and
from a fixed seed of their own. Pure Python.
"""

from __future__ import annotations

import random
import re

PROBE_SEED = 7919  # never a training seed: training seeds come from TextEncoderConfig.seed
_WORD_RE = re.compile(r"[^\W_]{2,}")


def probe_query(document: str, rng: random.Random) -> str:
    """One query for ``document`` ("title\\ndescription...\\ncategory"); "" when it has no words."""
    lines = document.split("\n")
    title = _WORD_RE.findall(lines[0]) if lines else []
    category = _WORD_RE.findall(lines[-1]) if len(lines) > 1 else []
    if not title:
        return " ".join(category[-2:])
    kind = rng.choice(("shuffled", "typo", "category"))
    if kind == "category" and category:
        return f"{rng.choice(title)} {category[-1]}".lower()
    words = rng.sample(title, min(len(title), rng.randint(1, 3)))
    if kind == "typo":
        long = [i for i, w in enumerate(words) if len(w) >= 4]
        if long:
            i = rng.choice(long)
            j = rng.randrange(1, len(words[i]) - 2)
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words).lower()


def probe_queries(documents: list[str], *, limit: int, seed: int = PROBE_SEED) -> list[tuple[str, int]]:
    """(query, document index) for up to ``limit`` documents chosen by ``seed``, in a fixed order."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(documents)), min(limit, len(documents))))
    pairs = [(probe_query(documents[i], rng), i) for i in chosen]
    return [(query, i) for query, i in pairs if query]
