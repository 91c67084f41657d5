"""Exact nearest neighbours of every row at once: the lists precomputed when a version is built.

Serving then reads one stored row per request instead of walking an HNSW graph per space. Pure
PyTorch (batched matrix products and top-k), so a GPU worker builds the lists of a large catalogue
in seconds, and a CPU worker in about a minute per 100,000 products.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .device import resolve_device

QUERY_BATCH = 512  # query rows per matrix product, at most
SCORES_PER_BATCH = 2**26  # floats of one (batch x N) score matrix: 256 MB, whatever N is


@dataclass(frozen=True)
class NeighbourLists:
    """Row i's neighbours, best first: ``rows[i, j]`` (-1 = none: fewer candidates than depth),
    ``scores[i, j]`` and ``spaces[i, j]``, the index (into the space names given) of the space
    that contributed most to the score: the reason the neighbour is shown."""

    rows: np.ndarray  # int64 (N, depth)
    scores: np.ndarray  # float32 (N, depth)
    spaces: np.ndarray  # int8 (N, depth)


def neighbour_lists(
    spaces: Mapping[str, np.ndarray],
    kinds: Mapping[str, Mapping[str, float]],
    *,
    depth: int,
    device: str = "auto",
    batch: int = QUERY_BATCH,
    rows: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, NeighbourLists]:
    """For every product row and every kind of list, the ``depth`` other rows with the highest
    fused similarity. Each space's similarities are computed once per batch and serve every kind.

    The fused similarity of a and b is the sum over the kind's spaces of ``weight`` times their
    cosine similarity there; a space counts only where both rows have a vector (a zero row = no
    vector). A row never lists itself, nor a row that shares none of the kind's spaces with it.

    Args:
        spaces: name -> (N, D_space) float vectors, row i = product i in every space.
        kinds: list name -> {space name: weight > 0}; {"image": 1.0} gives that space's own
            nearest neighbours.
        depth: neighbours kept per row.
        rows: only these query rows (int indexes), searched against all N: the exact answer for
            a sample (recall of an approximate build, timing). None = every row.
        progress: called with the fraction of query rows done, after each batch.

    Returns:
        list name -> NeighbourLists, whose ``spaces`` index into that kind's space names; with
        ``rows``, its i-th row is ``rows[i]``'s lists.
    """
    dev = resolve_device(device)
    n = len(next(iter(spaces.values())))
    queries = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    depth = max(0, min(depth, n - 1))
    units, present = unit_vectors(spaces, kinds, dev)
    out = {kind: empty_lists(len(queries), depth) for kind in kinds}
    if depth == 0 or len(queries) == 0:
        return out
    batch = _batch_rows(batch, n)
    with torch.no_grad():
        for start in range(0, len(queries), batch):
            stop = min(len(queries), start + batch)
            query = torch.as_tensor(queries[start:stop], device=dev)
            itself = (torch.arange(stop - start, device=dev), query)  # a row is never its own neighbour
            similarity = {}
            for name in units:  # (B, N) each
                similarity[name] = units[name][query] @ units[name].T
                similarity[name][itself] = float("-inf")
            for kind, weights in kinds.items():
                names = list(weights)
                if len(names) == 1 and weights[names[0]] == 1.0:
                    fused = similarity[names[0]]  # read only below: no copy
                else:  # in place: these (B, N) blocks are the memory traffic that sets the pace
                    fused = similarity[names[0]] * weights[names[0]]
                    for name in names[1:]:
                        fused.add_(similarity[name], alpha=weights[name])
                if not all(bool(present[name].all()) for name in names):
                    shares = torch.zeros((stop - start, n), dtype=torch.bool, device=dev)
                    for name in names:
                        shares |= present[name][query, None] & present[name][None, :]
                    fused = fused.masked_fill(~shares, float("-inf"))
                top_scores, top_rows = fused.topk(depth, dim=1)
                valid = torch.isfinite(top_scores)
                lists = out[kind]
                lists.rows[start:stop] = torch.where(valid, top_rows, -1).cpu().numpy()
                lists.scores[start:stop] = torch.where(valid, top_scores, 0.0).cpu().numpy()
                if len(names) > 1:
                    contributions = torch.stack(
                        [weights[name] * similarity[name].gather(1, top_rows) for name in names]
                    )
                    lists.spaces[start:stop] = contributions.argmax(dim=0).to(torch.int8).cpu().numpy()
            if progress:
                progress(stop / len(queries))
    return out


def unit_vectors(
    spaces: Mapping[str, np.ndarray], kinds: Mapping[str, Mapping[str, float]], device: torch.device
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Per space the kinds use: its rows scaled to unit length (zero rows, "no vector", stay zero:
    similarity 0 with every row) and which rows have a vector (bool (N,))."""
    units, present = {}, {}
    for name in sorted({name for weights in kinds.values() for name in weights}):
        matrix = torch.as_tensor(np.asarray(spaces[name], dtype=np.float32), device=device)
        norms = matrix.norm(dim=1, keepdim=True)
        present[name] = norms.squeeze(1) > 0
        units[name] = matrix / norms.clamp_min(1e-12)
    return units, present


def empty_lists(n: int, depth: int) -> NeighbourLists:
    """Lists of ``n`` rows holding no neighbour yet (rows -1)."""
    return NeighbourLists(
        np.full((n, depth), -1, np.int64), np.zeros((n, depth), np.float32), np.zeros((n, depth), np.int8)
    )


def top_items_for_queries(
    queries: np.ndarray,
    items: np.ndarray,
    *,
    depth: int,
    exclude: list[np.ndarray],
    device: str = "auto",
    batch: int = QUERY_BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``depth`` items with the highest inner product with each query, leaving out the
    query's own ``exclude[i]`` item rows (what the shopper already met).

    Returns (rows int64 (Q, depth), -1 where fewer items remain; scores float32 (Q, depth)).
    """
    dev = resolve_device(device)
    n_items = len(items)
    depth = max(0, min(depth, n_items))
    rows = np.full((len(queries), depth), -1, np.int64)
    scores = np.zeros((len(queries), depth), np.float32)
    if depth == 0 or len(queries) == 0:
        return rows, scores
    batch = _batch_rows(batch, n_items)
    item_matrix = torch.as_tensor(np.asarray(items, dtype=np.float32), device=dev)
    with torch.no_grad():
        for start in range(0, len(queries), batch):
            stop = min(len(queries), start + batch)
            block = torch.as_tensor(np.asarray(queries[start:stop], dtype=np.float32), device=dev) @ item_matrix.T
            for offset, seen in enumerate(exclude[start:stop]):
                if len(seen):
                    block[offset, torch.as_tensor(np.asarray(seen, dtype=np.int64), device=dev)] = float("-inf")
            top_scores, top_rows = block.topk(depth, dim=1)
            valid = torch.isfinite(top_scores)
            rows[start:stop] = torch.where(valid, top_rows, -1).cpu().numpy()
            scores[start:stop] = torch.where(valid, top_scores, 0.0).cpu().numpy()
    return rows, scores


def closest_of(candidates: np.ndarray, references: np.ndarray) -> np.ndarray:
    """For each candidate vector, the index of the reference vector with the highest cosine
    similarity (the history item that explains a recommendation). ``references`` must be
    non-empty; returns int64 (len(candidates),)."""
    a = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    b = references / np.maximum(np.linalg.norm(references, axis=1, keepdims=True), 1e-12)
    return (a @ b.T).argmax(axis=1).astype(np.int64)


def _batch_rows(batch: int, n: int) -> int:
    return max(1, min(batch, SCORES_PER_BATCH // max(1, n)))
