"""Building the stored related lists: exact all-pairs against the IVF build, time and recall.

    .venv/bin/python -m bench.list_build [--products 100000 1000000] [--threads 2] [--device cpu]
        [--sample 1000] [--exact-rows 2000] [--exact-full] [--seed 0]

No database: the lists are computed as ``build_related_lists`` computes them (shopguide.ml), on
synthetic clustered vectors made as bench/serving.py makes them (``clustered_vectors``: category
centre + one of 20 sub-centres + low-rank noise; 10 categories) for three 64-d spaces, image,
text and behaviour; four kinds of list as a version stores them: "" fused over the three spaces
(weights 1, the default) and each space's own; depth 30 (LIST_DEPTH's default).

Per N it prints, per kind:

* exact: the build time of ``neighbour_lists`` over every row. At 10^6 that takes hours on a CPU,
  so by default it is timed on ``--exact-rows`` random query rows (each against all N, the same
  code and batch size) and extrapolated to N rows, marked "extrapolated"; ``--exact-full``
  builds all of them (a GPU does 10^6 in minutes).
* IVF: ``approximate_neighbour_lists`` with its default IVFConfig (cells = sqrt(rows); per kind,
  the fewest probed cells reaching recall@10 0.99 on 1,000 tuning rows of its own) and what it
  chose; its build time (the tuning sample's exact lists included) and recall@10 against exact on
  ``--sample`` other random rows with a 95 % interval. Above 200,000 products (or with
  ``--ivf-fraction``) the cells, probes and tuning are built for every row as always, but only a
  random tenth of the rows is searched: the search time is extrapolated from it (marked), the
  recall is measured on searched rows. IVFConfig's defaults (cells per sqrt(N),
  the 0.99 tuning target, the probing order) were chosen on data of seed 1; the table uses
  ``--seed`` (0), so they are judged held out.

Times are wall clock and process CPU time: the CPU seconds stay comparable when the machine is
shared, wall seconds do not (the load average is printed). ``--threads`` sets torch's threads
(2 = the issue's 2-core worker).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from bench.serving import clustered_vectors
from shopguide.ml.device import resolve_device
from shopguide.ml.ivf import IVFConfig, IVFPlan, approximate_neighbour_lists, sampled_recall
from shopguide.ml.neighbours import neighbour_lists

SPACES = ("image", "text", "behaviour")
N_CATEGORIES = 10
DEPTH = 30
RECALL_K = 10
KINDS = {"": dict.fromkeys(SPACES, 1.0), **{name: {name: 1.0} for name in SPACES}}


def make_spaces(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    categories = rng.integers(0, N_CATEGORIES, n)
    return {
        name: clustered_vectors(rng, categories, n_categories=N_CATEGORIES, unit=name != "behaviour") for name in SPACES
    }


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--sample", type=int, default=1000, help="rows the recall is measured on")
    parser.add_argument("--exact-rows", type=int, default=2000, help="query rows exact is timed on")
    parser.add_argument("--exact-full", action="store_true", help="build exact for every row")
    parser.add_argument(
        "--ivf-fraction",
        type=float,
        default=None,
        help="share of rows the IVF search is timed on (default: all up to 200,000 products, else 0.1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} torch threads"
    print(f"device: {device} ({name}); {os.cpu_count()} cores here; {load()}; data seed {args.seed}", flush=True)
    header = f"{'N':>9}  {'method':<44} {'kind':<10} {'wall s':>9} {'cpu s':>9}  recall@{RECALL_K} [95 % CI] (rows)"
    for n in args.products:
        spaces = make_spaces(n, args.seed)
        print(f"\nN = {n:,}  ({load()})\n{header}", flush=True)
        if args.exact_full or args.exact_rows >= n:
            _, wall, cpu = timed(neighbour_lists, spaces, KINDS, depth=DEPTH, device=str(device))
            method = "exact (every row)"
        else:
            rows = np.sort(np.random.default_rng(args.seed + 7).choice(n, size=args.exact_rows, replace=False))
            _, wall, cpu = timed(neighbour_lists, spaces, KINDS, depth=DEPTH, device=str(device), rows=rows)
            wall, cpu = wall * n / len(rows), cpu * n / len(rows)
            method = f"exact (extrapolated from {len(rows):,} rows)"
        print(f"{n:>9,}  {method:<44} {'all 4':<10} {wall:>9.0f} {cpu:>9.0f}  1 (exact)", flush=True)
        plans: dict[str, IVFPlan] = {}
        config = IVFConfig(seed=args.seed)
        fraction = args.ivf_fraction if args.ivf_fraction is not None else (1.0 if n <= 200_000 else 0.1)
        searched = None
        if fraction < 1:  # the cells and probes as for all rows; the search of a share of rows, extrapolated
            rng = np.random.default_rng(args.seed + 9)
            searched = np.sort(rng.choice(n, size=max(args.sample, round(fraction * n)), replace=False))
        lists, wall, cpu = timed(
            approximate_neighbour_lists,
            spaces,
            KINDS,
            depth=DEPTH,
            device=str(device),
            config=config,
            plans=plans,
            rows=searched,
        )
        method = "IVF (auto nprobe, target 0.99 on 1,000 rows)"
        if searched is not None:
            share = len(searched) / n
            wall += sum(p.timings["search_wall"] for p in plans.values()) * (1 / share - 1)
            cpu += sum(p.timings["search_cpu"] for p in plans.values()) * (1 / share - 1)
            method = f"IVF (search extrapolated from {share:.0%} of rows)"
        recalls = sampled_recall(
            spaces, KINDS, lists, k=RECALL_K, sample=args.sample, seed=args.seed + 1, device=str(device), among=searched
        )
        print(f"{n:>9,}  {method:<44} {'all 4':<10} {wall:>9.0f} {cpu:>9.0f}")
        for kind, plan in plans.items():
            r = recalls[kind]
            method = f"  {plan.cells} cells, nprobe {plan.nprobe}, {plan.candidates_per_row / plan.rows:.1%} scored"
            print(
                f"{n:>9,}  {method:<44} {kind or 'fused':<10} {'':>9} {'':>9}  "
                f"{r.recall:.4f} [{r.low:.4f}, {r.high:.4f}] ({r.rows:,}; predicted {plan.predicted_recall:.4f})",
                flush=True,
            )
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
