"""Approximate neighbour lists of every row at once (IVF), for catalogues where the exact all-pairs
build (``neighbours.neighbour_lists``, growing with N squared) takes too long on a CPU.

The fused similarity of a kind is an inner product: concatenate each space's unit vectors scaled
by sqrt(weight) (zero where a row has no vector there), and x . y is the sum over the kind's spaces
of weight x cosine. So each kind is one inner-product search over its own concatenation. The rows
are cut into cells by spherical k-means; the rows of one cell are the queries of one block, scored
against every row of the ``nprobe`` cells whose centres are nearest its centre (its own first). A
block is one dense matrix product and one top-k, which is what a CPU and a GPU both do fast. The
scores kept are exact fused similarities; only neighbours outside the probed cells can be missed,
so the exact lists of a random sample tell, before the search, how many cells reach a recall
target. ``sampled_recall`` measures the recall of the result on another sample.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .device import resolve_device
from .neighbours import NeighbourLists, empty_lists, neighbour_lists, unit_vectors

logger = logging.getLogger(__name__)

BLOCK_SCORES = 2**24  # floats of one (queries x candidates) score block: 64 MB


@dataclass(frozen=True)
class IVFConfig:
    """How finely the rows are cut and how many cells each query block searches.

    Cells = ``cells_per_sqrt`` x sqrt(rows of the kind), by spherical k-means (``kmeans_iters``
    rounds on at most ``train_per_cell`` rows per cell). ``nprobe`` None: each kind searches the
    fewest cells that reach ``target_recall`` (recall@``recall_k``) on ``tune_sample`` random rows
    whose exact lists are computed first (at least ``min_nprobe``); a number fixes it. The defaults
    were chosen on clustered data of another seed than bench/list_build.py's table reports."""

    cells_per_sqrt: float = 1.0
    nprobe: int | None = None
    target_recall: float = 0.99
    recall_k: int = 10
    tune_sample: int = 1000
    min_nprobe: int = 4
    kmeans_iters: int = 10
    train_per_cell: int = 64
    seed: int = 0


@dataclass(frozen=True)
class IVFPlan:
    """What one kind's search did: its cells, the cells each block searched, the recall the
    tuning sample predicted for that (None when nprobe was fixed) and the candidates scored per
    row on average (the cost; the exact build scores every row)."""

    rows: int
    cells: int
    nprobe: int
    predicted_recall: float | None
    candidates_per_row: float
    # seconds (wall, process CPU) of the cells and probe choice ("setup") and of the search
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:  # what the build's log says
        predicted = "" if self.predicted_recall is None else f", predicted recall@10 {self.predicted_recall:.4f}"
        return (
            f"{self.cells} cells of {self.rows:,} rows, nprobe {self.nprobe}, "
            f"{self.candidates_per_row:,.0f} candidates per row{predicted}"
        )


def approximate_neighbour_lists(
    spaces: Mapping[str, np.ndarray],
    kinds: Mapping[str, Mapping[str, float]],
    *,
    depth: int,
    device: str = "auto",
    config: IVFConfig = IVFConfig(),
    progress: Callable[[float], None] | None = None,
    plans: dict[str, IVFPlan] | None = None,
    rows: np.ndarray | None = None,
) -> dict[str, NeighbourLists]:
    """What ``neighbour_lists`` returns, searched in IVF cells instead of against every row.

    Same rules: the fused similarity of a kind, a row never lists itself nor a row sharing none
    of the kind's spaces, ``spaces`` = the space that contributed most, -1 where fewer than
    ``depth`` neighbours were found. Deterministic for a given ``config.seed`` (and device).
    With ``nprobe`` >= the number of cells it finds what the exact build finds.

    Args:
        spaces, kinds, depth, device: as for ``neighbour_lists``.
        progress: called with the fraction done (over every kind's cells).
        plans: filled with each kind's IVFPlan (and logged on ``shopguide.ml.ivf``).
        rows: search the lists of these rows only (the cells and probes are chosen as for all;
            the other rows' lists stay empty): a bench times a part and extrapolates.
    """
    dev = resolve_device(device)
    n = len(next(iter(spaces.values())))
    depth = max(0, min(depth, n - 1))
    units, present = unit_vectors(spaces, kinds, dev)
    out = {kind: empty_lists(n, depth) for kind in kinds}
    if depth == 0:
        return out
    generator = torch.Generator().manual_seed(config.seed)
    only = None
    if rows is not None:
        only = torch.zeros(n, dtype=torch.bool, device=dev)
        only[torch.as_tensor(np.asarray(rows, dtype=np.int64), device=dev)] = True
    truth = None
    if config.nprobe is None:  # exact lists of a sample, to choose how many cells reach the target
        sample = np.random.default_rng(config.seed).choice(n, size=min(config.tune_sample, n), replace=False)
        truth = (
            np.sort(sample),
            neighbour_lists(spaces, kinds, depth=config.recall_k, device=str(dev), rows=np.sort(sample)),
        )
    with torch.no_grad():
        for index, (kind, weights) in enumerate(kinds.items()):

            def kind_progress(fraction: float, index: int = index) -> None:
                if progress:
                    progress((index + fraction) / len(kinds))

            sample_truth = None if truth is None else (truth[0], truth[1][kind].rows)
            plan = _search_kind(
                units, present, weights, out[kind], depth, config, generator, sample_truth, only, kind_progress
            )
            logger.info("IVF lists %r: %s", kind, plan)
            if plans is not None and plan is not None:
                plans[kind] = plan
    return out


def _search_kind(
    units: dict[str, torch.Tensor],
    present: dict[str, torch.Tensor],
    weights: Mapping[str, float],
    lists: NeighbourLists,
    depth: int,
    config: IVFConfig,
    generator: torch.Generator,
    truth: tuple[np.ndarray, np.ndarray] | None,
    only: torch.Tensor | None,
    progress: Callable[[float], None],
) -> IVFPlan | None:
    started = (time.perf_counter(), time.process_time())
    names = list(weights)
    dev = units[names[0]].device
    bits = torch.zeros_like(present[names[0]], dtype=torch.int64)  # bit i: has a vector in names[i]
    for i, name in enumerate(names):
        bits |= present[name].to(torch.int64) << i
    rows = torch.nonzero(bits).squeeze(1)  # only rows with a vector in one of the spaces search
    if len(rows) < 2:
        return None
    vectors = torch.cat([units[name][rows] * math.sqrt(weights[name]) for name in names], dim=1)
    n_cells = max(1, min(len(rows), round(config.cells_per_sqrt * math.sqrt(len(rows)))))
    centres = spherical_kmeans(
        vectors, n_cells, iters=config.kmeans_iters, sample=config.train_per_cell * n_cells, generator=generator
    )
    cell = nearest_centre(vectors, centres)
    # Rows sorted by cell: a cell is one slice, so a block's candidates are a few slices.
    order = torch.argsort(cell, stable=True)
    rows, vectors, cell, bits = rows[order], vectors[order], cell[order], bits[rows][order]
    counts = torch.bincount(cell, minlength=n_cells).tolist()
    starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
    probe_order = _probe_order(centres)
    nprobe, predicted = n_cells, None
    if config.nprobe is not None:
        nprobe = max(1, min(config.nprobe, n_cells))
    elif truth is not None:
        nprobe, predicted = _tune_nprobe(truth, rows, cell, probe_order, config)
    probes = probe_order[:, :nprobe].tolist()
    everyone_shares = bool((bits == (1 << len(names)) - 1).all())
    setup = (time.perf_counter() - started[0], time.process_time() - started[1])
    wanted = None if only is None else only[rows]  # sorted position -> is a query row
    total, done = len(rows), 0
    for c in range(n_cells):
        if counts[c] == 0:
            continue
        own = torch.arange(starts[c], starts[c + 1], device=dev)
        queries = own if wanted is None else own[wanted[own]]
        done += counts[c]
        if len(queries) == 0:
            continue
        candidates = torch.cat([torch.arange(starts[p], starts[p + 1], device=dev) for p in probes[c]])
        candidate_vectors = vectors[candidates]
        step = max(1, BLOCK_SCORES // max(1, len(candidates)))
        for q0 in range(0, len(queries), step):
            query = queries[q0 : q0 + step]
            scores = vectors[query] @ candidate_vectors.T
            # itself: its own cell's slice leads the candidates
            scores[torch.arange(len(query), device=dev), query - starts[c]] = float("-inf")
            if not everyone_shares:
                scores.masked_fill_((bits[query, None] & bits[candidates][None, :]) == 0, float("-inf"))
            k = min(depth, len(candidates))
            top_scores, top = scores.topk(k, dim=1)
            valid = torch.isfinite(top_scores)
            found = candidates[top]  # positions in the sorted rows
            target = rows[query].cpu().numpy()
            lists.rows[target, :k] = torch.where(valid, rows[found], -1).cpu().numpy()
            lists.scores[target, :k] = torch.where(valid, top_scores, 0.0).cpu().numpy()
            if len(names) > 1:
                contributions = torch.stack(
                    [
                        weights[name] * (units[name][rows[query]][:, None, :] * units[name][rows[found]]).sum(-1)
                        for name in names
                    ]
                )
                lists.spaces[target, :k] = contributions.argmax(dim=0).to(torch.int8).cpu().numpy()
        progress(done / total)
    scored = sum(counts[c] * sum(counts[p] for p in probes[c]) for c in range(n_cells))
    timings = {
        "setup_wall": setup[0],
        "setup_cpu": setup[1],
        "search_wall": time.perf_counter() - started[0] - setup[0],
        "search_cpu": time.process_time() - started[1] - setup[1],
    }
    return IVFPlan(total, n_cells, nprobe, predicted, scored / total, timings)


def _probe_order(centres: torch.Tensor) -> torch.Tensor:
    """(cells, cells): per cell, every cell by how near its centre is, the cell itself first. A
    block searches the first nprobe: its rows' neighbours lie mostly around its own centre."""
    similarity = centres @ centres.T
    similarity.fill_diagonal_(float("inf"))
    return similarity.argsort(dim=1, descending=True, stable=True)


def _tune_nprobe(
    truth: tuple[np.ndarray, np.ndarray],
    rows: torch.Tensor,
    cell: torch.Tensor,
    probe_order: torch.Tensor,
    config: IVFConfig,
) -> tuple[int, float]:
    """The fewest cells per block whose search finds ``config.target_recall`` of the sampled
    rows' exact neighbours (a block searches its cells exactly, so a neighbour is found exactly
    when its cell is probed), and the recall that predicts."""
    n_cells = len(probe_order)
    sample, exact = truth
    cell_of = torch.full((int(rows.max()) + 1,), -1, dtype=torch.int64, device=cell.device)
    cell_of[rows] = cell  # global row -> its cell (-1: not in this kind)
    rank = torch.empty_like(probe_order)  # rank[c, d] = position of cell d in c's probe order
    rank.scatter_(1, probe_order, torch.arange(n_cells, device=cell.device).expand(n_cells, -1).contiguous())
    needed = []  # per sampled row with neighbours: per neighbour, the cells needed to find it
    for query, neighbours in zip(sample.tolist(), exact):
        neighbours = neighbours[neighbours >= 0]
        if query > len(cell_of) - 1 or cell_of[query] < 0 or len(neighbours) == 0:
            continue
        found_in = cell_of[torch.as_tensor(neighbours, device=cell.device)]
        needed.append((rank[cell_of[query], found_in] + 1).cpu().numpy())
    if not needed:
        return max(1, min(config.min_nprobe, n_cells)), 1.0
    # recall(p) = mean over rows of the share of their neighbours needing <= p cells
    weights = np.concatenate([np.full(len(row), 1.0 / len(row)) for row in needed]) / len(needed)
    recall_at = np.cumsum(np.bincount(np.concatenate(needed), weights=weights, minlength=n_cells + 1))
    reached = np.flatnonzero(recall_at >= config.target_recall - 1e-12)
    nprobe = int(reached[0]) if len(reached) else n_cells
    nprobe = max(nprobe, min(config.min_nprobe, n_cells))
    return nprobe, float(min(1.0, recall_at[nprobe]))


def spherical_kmeans(
    vectors: torch.Tensor, n_cells: int, *, iters: int, sample: int, generator: torch.Generator
) -> torch.Tensor:
    """(n_cells, D) unit centres of the rows' directions, from a seeded sample of at most
    ``sample`` rows. A cell left empty restarts at a random sampled row."""
    n = len(vectors)
    pick = torch.randperm(n, generator=generator)[: max(n_cells, min(n, sample))].to(vectors.device)
    train = _unit(vectors[pick])
    start = torch.randperm(len(train), generator=generator)[:n_cells].to(vectors.device)
    centres = train[start].clone()
    for _ in range(iters):
        cell = nearest_centre(train, centres)
        sums = torch.zeros_like(centres).index_add_(0, cell, train)
        counts = torch.bincount(cell, minlength=n_cells)
        empty = torch.nonzero(counts == 0).squeeze(1)
        sums[empty] = train[torch.randint(len(train), (len(empty),), generator=generator).to(vectors.device)]
        centres = _unit(sums)
    return centres


def nearest_centre(vectors: torch.Tensor, centres: torch.Tensor, *, batch: int = 8192) -> torch.Tensor:
    """Index of the centre with the highest inner product, per row (int64 (N,))."""
    out = torch.empty(len(vectors), dtype=torch.int64, device=vectors.device)
    for start in range(0, len(vectors), batch):
        out[start : start + batch] = (vectors[start : start + batch] @ centres.T).argmax(dim=1)
    return out


def _unit(matrix: torch.Tensor) -> torch.Tensor:
    return matrix / matrix.norm(dim=1, keepdim=True).clamp_min(1e-12)


@dataclass(frozen=True)
class Recall:
    """Recall@k of approximate lists against exact on a sample of rows, with a 95 % interval
    (normal approximation over the sampled rows' own recalls)."""

    recall: float
    low: float
    high: float
    rows: int  # sampled rows that have at least one exact neighbour


def sampled_recall(
    spaces: Mapping[str, np.ndarray],
    kinds: Mapping[str, Mapping[str, float]],
    approximate: Mapping[str, NeighbourLists],
    *,
    k: int = 10,
    sample: int = 1000,
    seed: int = 0,
    device: str = "auto",
    among: np.ndarray | None = None,
) -> dict[str, Recall]:
    """Per kind, the share of each sampled row's exact top ``k`` that its approximate top ``k``
    holds, averaged over ``sample`` random rows (exact = brute force for those rows only). A
    neighbour whose score ties the exact k-th counts as found (ties may swap members). ``among``:
    draw the sample from these rows only (the rows an approximate build searched)."""
    n = len(next(iter(spaces.values())))
    k = min([k, *(lists.rows.shape[1] for lists in approximate.values())])  # lists shorter than k: their depth
    pool = np.arange(n) if among is None else np.asarray(among, dtype=np.int64)
    rows = np.sort(np.random.default_rng(seed).choice(pool, size=min(sample, len(pool)), replace=False))
    exact = neighbour_lists(spaces, kinds, depth=k, device=device, rows=rows)
    out = {}
    for kind in kinds:
        per_row = []
        for i, row in enumerate(rows):
            truth = exact[kind].rows[i]
            wanted = int((truth >= 0).sum())
            if wanted == 0:
                continue
            threshold = exact[kind].scores[i, wanted - 1] - 1e-5
            found = approximate[kind].rows[row, :k]
            scores = approximate[kind].scores[row, :k]
            hits = np.isin(found, truth[:wanted]) | ((found >= 0) & (scores >= threshold))
            per_row.append(min(wanted, int(hits.sum())) / wanted)
        values = np.asarray(per_row, dtype=np.float64)
        mean = float(values.mean()) if len(values) else 1.0
        half = 1.96 * float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
        out[kind] = Recall(mean, max(0.0, mean - half), min(1.0, mean + half), len(values))
    return out
