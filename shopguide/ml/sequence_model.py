"""Behaviour model: an LSTM over each user's interaction sequence, trained for next-item prediction.

GRU4Rec family. Each input event is an item representation (a learned id embedding plus a linear
projection of the item's content features, e.g. its image/text embeddings) plus an event-type
embedding. The LSTM's output after the last event, projected into item space and added to the
last item's own vector, is the user vector; recommendations are its nearest items.

Design choices (each measured on MovieLens with ``python -m bench.sequence_models``):

- Tied item representations: one table feeds the LSTM and is what user vectors are scored
  against. On sparse shop data each interaction then trains the same parameters twice, and a new
  product's content-only vector (:meth:`SequenceRecommender.item_vectors_for`) is valid both as
  something a user looked at and as something to recommend.
- Residual from the last item: ``user = project(lstm(...)) + item(last)``. Next-item data is
  dominated by "what goes with what I just looked at"; the residual gives that item-to-item
  path from the first step, and the LSTM learns the sequence-dependent correction. It roughly
  halved the epochs needed to pass item-kNN.
- Sampled softmax with popularity-sampled negatives and log-Q correction: as accurate as the
  full softmax on 9k items at under half the cost; ``loss="full"`` remains for small catalogues.

Serving: rank by INNER PRODUCT (pgvector ``<#>``), not cosine. The model is trained with a softmax
over ``user_vector @ item_vectors.T``, so an item vector's norm carries popularity and confidence
and normalising would throw that away. User and item vectors live in the same D-dimensional space.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .device import autocast_context, resolve_device, seed_everything
from .evaluation import evaluate
from .event_types import EVENT_TYPES  # index = event-type id
from .fit import EarlyStopping, History, fit, warmup_cosine

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "shopguide.sequence_model/1"
DEFAULT_EVENT_TYPE = EVENT_TYPES.index("purchase")  # used when no event types are given
PAD, START = 0, 1  # reserved rows of the item table; item i lives at row i + 2
Progress = Callable[[float, str], None]
PathOrFile = str | os.PathLike | BinaryIO
# Linear warmup over the first 3% of the steps, then cosine decay to zero (shopguide.ml.fit).
WARMUP = 0.03


@dataclass(frozen=True)
class SequenceModelConfig:
    """Architecture and training settings; saved inside every checkpoint.

    The defaults are the ones tuned on MovieLens (``python -m bench.sequence_models``: 9k items,
    100k events), where about 10 CPU-seconds an epoch beat popularity, item-kNN and a Markov
    chain by 20-40 % on HR@10, NDCG@10 and MRR@10 under the full-ranking protocol.
    """

    embedding_dim: int = 64  # D: the item space, and the size of user and item vectors
    hidden_dim: int = 128  # LSTM state size (256 overfitted on MovieLens)
    num_layers: int = 1
    dropout: float = 0.5  # on LSTM inputs and outputs; sparse data overfits fast (0.2, 0.3 were worse)
    max_len: int = 50  # only the last max_len events of a history are read
    n_event_types: int = len(EVENT_TYPES)
    epochs: int = 10  # the learning rate decays to 0 over these; with ``valid`` the best epoch is kept
    patience: int = 3  # epochs without validation improvement before stopping (with ``valid``)
    batch_size: int = 32  # sequence windows per step: small batches, many steps, learn faster
    lr: float = 1e-2  # peak Adam learning rate after a short warmup, then cosine decay to 0
    weight_decay: float = 0.0  # dropout regularises better here
    seed: int = 0
    loss: str = "sampled"  # "sampled" softmax, or the exact "full" softmax over the catalogue
    n_negatives: int = 2048  # popularity-sampled negatives shared by the batch (loss="sampled")
    id_dropout: float = 0.1  # share of items whose id embedding is hidden per step (needs features)
    content_dropout: float = 0.1  # share whose content features are hidden per step
    grad_clip: float = 5.0  # max gradient norm: LSTMs at this learning rate spike now and then
    residual: bool = True  # add the last item's vector to the user vector (see module docstring)

    def __post_init__(self) -> None:
        if self.loss not in ("full", "sampled"):
            raise ValueError(f"loss must be 'full' or 'sampled', got {self.loss!r}")
        if (
            min(
                self.embedding_dim,
                self.hidden_dim,
                self.num_layers,
                self.max_len,
                self.epochs,
                self.batch_size,
                self.n_event_types,
                self.n_negatives,
            )
            < 1
        ):
            raise ValueError("sizes, epochs, batch_size and n_negatives must be >= 1")
        for name in ("dropout", "id_dropout", "content_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")


@dataclass
class FitResult:
    """What one call to :meth:`SequenceRecommender.fit` did.

    Attributes:
        losses: mean training loss of each epoch run.
        seconds: wall-clock training time (validation included).
        sequences_per_second: training windows (of at most ``max_len`` events) per second.
        valid_metrics: per epoch, :func:`shopguide.ml.evaluation.evaluate` on the validation set.
        best_epoch: 1-based epoch whose weights were kept (the last one without validation).
    """

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    sequences_per_second: float = 0.0
    valid_metrics: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0


# --------------------------------------------------------------------------- model


class SequenceNet(nn.Module):
    """Item table (id embedding + content projection) -> LSTM -> projection into item space."""

    features: torch.Tensor  # a buffer (register_buffer below), typed for the checker

    def __init__(self, config: SequenceModelConfig, n_items: int, n_features: int = 0) -> None:
        super().__init__()
        d = config.embedding_dim
        self.item_ids = nn.Embedding(n_items + 2, d, padding_idx=PAD)
        nn.init.normal_(self.item_ids.weight, std=0.05)
        with torch.no_grad():
            self.item_ids.weight[PAD].zero_()
        # Content rows for PAD/START stay zero; the features themselves are data, not parameters.
        self.register_buffer("features", torch.zeros(n_items + 2, n_features))
        self.content = nn.Linear(n_features, d, bias=False) if n_features else None
        self.event_types = nn.Embedding(config.n_event_types, d)
        nn.init.normal_(self.event_types.weight, std=0.05)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            d,
            config.hidden_dim,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.project = nn.Linear(config.hidden_dim, d)
        self.residual = config.residual

    def item_table(self, id_keep: torch.Tensor | None = None, content_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Representation of every row (PAD, START, items): (n_items + 2, D).

        Args:
            id_keep, content_keep: optional (n_items + 2,) 0/1 masks that hide an item's id
                embedding or content part (training-time id/content dropout).
        """
        ids = self.item_ids.weight
        if id_keep is not None:
            ids = ids * id_keep[:, None]
        if self.content is None:
            return ids
        content = self.content(self.features)
        if content_keep is not None:
            content = content * content_keep[:, None]
        return ids + content

    def forward(self, items: torch.Tensor, events: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """User vectors after every prefix.

        Args:
            items: (B, T) long rows of the item table (item id + 2, START, PAD), right-padded.
            events: (B, T) long event-type ids.
            table: (n_items + 2, D) item table to read inputs from; :meth:`item_table` if None.

        Returns:
            (B, T, D) float: position t is the user vector after reading items[:, : t + 1]
            (the LSTM is causal, so right padding never leaks into earlier positions).
        """
        table = self.item_table() if table is None else table
        last = F.embedding(items, table)  # (B, T, D)
        x = self.dropout(last + self.event_types(events))
        # The LSTM runs in fp32 even under bf16 autocast: bf16 RNN kernels are missing in many
        # CUDA/cuDNN builds, and the cost is in the catalogue-sized matmuls, which stay bf16.
        with torch.autocast(device_type=items.device.type, enabled=False):
            h, _ = self.lstm(x.float())  # (B, T, H)
        out = self.project(self.dropout(h))  # (B, T, D)
        return out + last if self.residual else out

    def output_items(self, table: torch.Tensor | None = None) -> torch.Tensor:
        """(n_items, D) the vectors user vectors are scored against (tied with the inputs)."""
        table = self.item_table() if table is None else table
        return table[2:]


# --------------------------------------------------------------------------- recommender


class SequenceRecommender:
    """Trains a :class:`SequenceNet` and turns histories into user vectors and scores.

    Typical use::

        model = SequenceRecommender(config, n_items=n, item_features=content)  # content optional
        model.fit(sequences, event_types, valid=(histories, targets))
        users = model.user_vectors(histories)     # (N, D) float32
        items = model.item_vectors()              # (n_items, D) float32; rank by inner product
        model.save("behaviour.pt"); SequenceRecommender.load("behaviour.pt")
    """

    def __init__(
        self,
        config: SequenceModelConfig | None = None,
        *,
        n_items: int,
        item_features: np.ndarray | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        """Raises ValueError: n_items < 1, or item_features not a finite (n_items, F) array."""
        if n_items < 1:
            raise ValueError(f"n_items must be >= 1, got {n_items}")
        self.config = config or SequenceModelConfig()
        self.n_items = n_items
        self.device = resolve_device(device)
        self.item_features = None if item_features is None else self._check_features(item_features, n_items)
        self.model = self._new_model()
        self.metrics: dict[str, object] = {}

    @property
    def n_features(self) -> int:
        return 0 if self.item_features is None else self.item_features.shape[1]

    def _new_model(self) -> SequenceNet:
        net = SequenceNet(self.config, self.n_items, self.n_features)
        if self.item_features is not None:
            net.features[2:] = torch.from_numpy(self.item_features)
        return net.to(self.device).eval()

    # ---------------------------------------------------------------- training

    def fit(
        self,
        sequences: Sequence[np.ndarray],
        event_types: Sequence[np.ndarray] | None = None,
        *,
        progress: Progress | None = None,
        valid: tuple[Sequence[np.ndarray], np.ndarray] | None = None,
    ) -> FitResult:
        """Train a fresh network from the config's seed (earlier weights are replaced).

        Every position of every sequence is a training example: the item at t + 1 is predicted
        from the events up to t (and the first item from an empty history). Sequences longer
        than ``max_len`` are cut into consecutive windows so every event is used once.

        Args:
            sequences: per user, item ids in time order.
            event_types: per user, event-type ids (index into :data:`EVENT_TYPES`) aligned with
                ``sequences``; all purchases when None.
            progress: called as ``progress(fraction_done, message)`` after every epoch.
            valid: optional ``(histories, targets)`` (targets -1 are skipped). After each epoch
                NDCG@10 on them is measured; the best epoch's weights are kept and training
                stops after ``patience`` epochs without improvement. Never pass test targets.

        Returns:
            A :class:`FitResult`; the same numbers are kept in ``self.metrics`` and checkpoints.

        Raises:
            ValueError: no sequences, no events at all, ids out of range, or event types whose
                shapes differ from the sequences'.
        """
        cfg = self.config
        windows = self._windows(sequences, event_types)
        if not windows:
            raise ValueError("no events to train on")
        seed_everything(cfg.seed)
        self.model = self._new_model()
        counts = np.bincount(np.concatenate([w[2] for w in windows]) - 2, minlength=self.n_items)
        # Flattened popularity (word2vec's 0.75) so rare items are still drawn now and then.
        self._sampling_q = torch.from_numpy((counts + 1.0) ** 0.75).float()
        self._sampling_q /= self._sampling_q.sum()
        optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        rng = torch.Generator().manual_seed(cfg.seed)
        cuda = self.device.type == "cuda"
        result = FitResult()
        total_steps = cfg.epochs * math.ceil(len(windows) / cfg.batch_size)

        def loss(batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
            items, events, targets = batch
            if cuda:
                items, events, targets = (t.pin_memory() for t in (items, events, targets))
            items, events, targets = (t.to(self.device, non_blocking=cuda) for t in (items, events, targets))
            with autocast_context(self.device):
                return self._loss(items, events, targets, rng)

        def validate() -> dict[str, float]:
            assert valid is not None  # passed to fit only with held-out data
            self.model.eval()
            return evaluate(self, valid[0], np.asarray(valid[1]), n_items=self.n_items)

        def end_epoch(epoch: int, history: History, stop: bool) -> None:
            message = f"epoch {epoch + 1}/{cfg.epochs} loss {history.losses[-1]:.4f}"
            if valid is not None:
                message += f" valid ndcg@10 {history.scores[-1]['ndcg@10']:.4f}"
            logger.debug(message)
            if progress is not None:
                progress((epoch + 1) / cfg.epochs, message)

        logger.info("training sequence model on %d windows, %d items, %s", len(windows), self.n_items, self.device)
        started = time.perf_counter()
        history = fit(
            epochs=cfg.epochs,
            batches=lambda epoch: self._batches(windows, rng),
            loss=loss,
            optimizers=[optimizer],
            schedulers=[warmup_cosine(optimizer, total_steps=total_steps, warmup=WARMUP)],
            clip=(list(self.model.parameters()), cfg.grad_clip),
            start_epoch=self.model.train,
            validate=None if valid is None else validate,
            score=lambda metrics: -metrics["ndcg@10"],
            # The best epoch by held-out NDCG@10 is kept (its negative: lower is better).
            stopper=EarlyStopping(self.model, patience=cfg.patience),
            end_epoch=end_epoch,
            device=self.device,
        )
        result.losses, result.valid_metrics, result.best_epoch = history.losses, history.scores, history.best_epoch
        self.model.eval()
        result.seconds = time.perf_counter() - started
        result.sequences_per_second = len(windows) * len(result.losses) / max(result.seconds, 1e-9)
        self.metrics = asdict(result)
        return result

    def _loss(
        self, items: torch.Tensor, events: torch.Tensor, targets: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """Mean next-item cross-entropy over the non-padding positions of one batch."""
        cfg, net = self.config, self.model
        id_keep = content_keep = None
        if net.content is not None and (cfg.id_dropout or cfg.content_dropout):
            # Per step, some items are seen through their content only (so new items, which have
            # no trained id, get sensible vectors) and some through their id only (so items with
            # uninformative content still get learned). Never both hidden at once.
            rows = net.item_ids.num_embeddings
            hide_id = torch.rand(rows, generator=rng) < cfg.id_dropout
            hide_content = (torch.rand(rows, generator=rng) < cfg.content_dropout) & ~hide_id
            id_keep, content_keep = ((~m).float().to(self.device) for m in (hide_id, hide_content))
        table = net.item_table(id_keep, content_keep)
        mask = targets != PAD
        users = net(items, events, table)[mask]  # (N, D) the positions with a next item
        positives = targets[mask] - 2  # (N,) item ids
        catalogue = net.output_items(table)  # (n_items, D)
        if cfg.loss == "full":
            return F.cross_entropy((users @ catalogue.T).float(), positives)
        # Sampled softmax: negatives shared by the batch, drawn in proportion to popularity, because
        # popular items are the competitors that matter; the log-Q correction keeps the estimate
        # close to the full softmax (Bengio & Senecal 2008; Yi et al. 2019).
        negatives = torch.multinomial(self._sampling_q, cfg.n_negatives, replacement=True, generator=rng)
        negatives = negatives.to(self.device)  # (K,)
        log_q = torch.log(self._sampling_q.to(self.device) * cfg.n_negatives)
        positive_logits = (users * catalogue[positives]).sum(1, keepdim=True) - log_q[positives, None]  # (N, 1)
        negative_logits = users @ catalogue[negatives].T - log_q[negatives]  # (N, K)
        # A sampled "negative" that is the positive itself must not be pushed down.
        negative_logits = negative_logits.masked_fill(negatives[None, :] == positives[:, None], float("-inf"))
        logits = torch.cat([positive_logits, negative_logits], 1).float()
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=self.device))

    # ---------------------------------------------------------------- inference

    @torch.inference_mode()
    def user_vectors(
        self, histories: Sequence[np.ndarray], event_types: Sequence[np.ndarray] | None = None, *, batch_size: int = 512
    ) -> np.ndarray:
        """User vectors for histories (the last ``max_len`` events of each are read).

        Args:
            histories: per user, item ids in time order; an empty history is allowed (a new
                visitor) and gives the "first item" vector.
            event_types: aligned event-type ids; all purchases when None.
            batch_size: users per forward pass (memory, not results, depends on it).

        Returns:
            float32 (len(histories), D), in the space of :meth:`item_vectors`.

        Raises:
            ValueError: ids out of range or misaligned event types.
        """
        histories, event_types = self._check_sequences(histories, event_types)
        out = np.zeros((len(histories), self.config.embedding_dim), dtype=np.float32)
        self.model.eval()
        for start in range(0, len(histories), batch_size):
            rows = [
                self._inference_input(h, e)
                for h, e in zip(histories[start : start + batch_size], event_types[start : start + batch_size])
            ]
            items, events = _pad([r[0] for r in rows]), _pad([r[1] for r in rows])
            last = torch.tensor([len(r[0]) - 1 for r in rows])
            with autocast_context(self.device):
                vectors = self.model(items.to(self.device), events.to(self.device))  # (B, T, D)
            vectors = vectors[torch.arange(len(rows)), last.to(self.device)]  # (B, D) at each last event
            out[start : start + len(rows)] = vectors.float().cpu().numpy()
        return out

    @torch.inference_mode()
    def item_vectors(self) -> np.ndarray:
        """float32 (n_items, D): every catalogue item (id embedding + content projection)."""
        return self.model.output_items().float().cpu().numpy()

    @torch.inference_mode()
    def item_vectors_for(self, features: np.ndarray) -> np.ndarray:
        """Vectors for items the model was not trained on, from content features alone.

        Args:
            features: (M, F) content features, built like the ``item_features`` given at training.

        Returns:
            float32 (M, D), comparable with :meth:`item_vectors` (the id part is zero, as for the
            items whose ids were hidden by id dropout during training).

        Raises:
            ValueError: the model has no content features, or the shape or values are wrong.
        """
        if self.model.content is None:
            raise ValueError("this model was trained without item features; new items have no vector")
        features = self._check_features(features, None)
        return self.model.content(torch.from_numpy(features).to(self.device)).float().cpu().numpy()

    def scores(self, histories: Sequence[np.ndarray], event_types: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """float32 (len(histories), n_items) = user_vectors @ item_vectors.T (the evaluation interface)."""
        return self.user_vectors(histories, event_types) @ self.item_vectors().T

    # ---------------------------------------------------------------- persistence

    def save(self, path: PathOrFile) -> None:
        """Write a checkpoint: config, sizes, weights (item features included) and training metrics."""
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "config": asdict(self.config),
                "n_items": self.n_items,
                "n_features": self.n_features,
                "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "metrics": self.metrics,
            },
            path,
        )

    @classmethod
    def load(cls, path: PathOrFile, device: str | torch.device = "auto") -> SequenceRecommender:
        """Read a checkpoint written by :meth:`save`.

        Raises:
            ValueError: the file is not a sequence-model checkpoint.
            RuntimeError / pickle errors from torch.load: the file is corrupt or unsafe.
        """
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a shopguide sequence model checkpoint")
        state = checkpoint["state_dict"]
        features = state["features"][2:].numpy() if checkpoint["n_features"] else None
        model = cls(
            SequenceModelConfig(**checkpoint["config"]),
            n_items=checkpoint["n_items"],
            item_features=features,
            device=device,
        )
        model.model.load_state_dict(state)
        model.model.eval()
        model.metrics = dict(checkpoint.get("metrics", {}))
        return model

    # ---------------------------------------------------------------- data

    def _check_sequences(
        self, sequences: Sequence[np.ndarray], event_types: Sequence[np.ndarray] | None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Validate ids and event types; returns int64 arrays (event types defaulted)."""
        checked, types = [], []
        if event_types is not None and len(event_types) != len(sequences):
            raise ValueError(f"{len(sequences)} sequences but {len(event_types)} event-type arrays")
        for i, sequence in enumerate(sequences):
            seq = np.asarray(sequence)
            if seq.ndim != 1 or (len(seq) and not np.issubdtype(seq.dtype, np.integer)):
                raise ValueError(f"sequence {i} must be a 1-D integer array, got shape {seq.shape} dtype {seq.dtype}")
            if len(seq) and (seq.min() < 0 or seq.max() >= self.n_items):
                raise ValueError(f"sequence {i} has item ids outside [0, {self.n_items})")
            if event_types is None:
                ev = np.full(len(seq), DEFAULT_EVENT_TYPE, dtype=np.int64)
            else:
                ev = np.asarray(event_types[i])
                if ev.shape != seq.shape or (len(ev) and not np.issubdtype(ev.dtype, np.integer)):
                    raise ValueError(f"event types {i} must be integers shaped like sequence {i}")
                if len(ev) and (ev.min() < 0 or ev.max() >= self.config.n_event_types):
                    raise ValueError(f"event types {i} outside [0, {self.config.n_event_types})")
            checked.append(seq.astype(np.int64))
            types.append(ev.astype(np.int64))
        return checked, types

    def _windows(
        self, sequences: Sequence[np.ndarray], event_types: Sequence[np.ndarray] | None
    ) -> list[tuple[np.ndarray, ...]]:
        """(inputs, events, targets) windows of at most max_len positions, covering every event once.

        Inputs are START followed by the sequence; targets are the sequence (input t -> item t).
        Windows after the first start mid-sequence without START, just as a long history is
        read at inference (its last max_len events).
        """
        if len(sequences) == 0:
            raise ValueError("no sequences given")
        sequences, event_types = self._check_sequences(sequences, event_types)
        windows: list[tuple[np.ndarray, ...]] = []
        n = self.config.max_len
        for seq, ev in zip(sequences, event_types):
            if len(seq) == 0:
                continue
            inputs = np.concatenate([[START], seq[:-1] + 2])
            events = np.concatenate([[DEFAULT_EVENT_TYPE], ev[:-1]])
            targets = seq + 2
            for start in range(0, len(seq), n):
                windows.append((inputs[start : start + n], events[start : start + n], targets[start : start + n]))
        return windows

    def _batches(self, windows: list[tuple[np.ndarray, ...]], rng: torch.Generator):
        """Yield shuffled, padded (items, events, targets) long tensors (B, T); similar lengths share a batch."""
        b = self.config.batch_size
        order = torch.randperm(len(windows), generator=rng).tolist()
        # Sort by length within pools of 32 batches: little padding, yet batches still vary.
        pool = 32 * b
        batches = []
        for p in range(0, len(order), pool):
            chunk = sorted(order[p : p + pool], key=lambda i: len(windows[i][0]))
            batches += [chunk[i : i + b] for i in range(0, len(chunk), b)]
        for j in torch.randperm(len(batches), generator=rng).tolist():
            picked = [windows[i] for i in batches[j]]
            yield tuple(_pad([w[k] for w in picked]) for k in range(3))

    def _inference_input(self, history: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last max_len events as table rows, with START in front when the history fits."""
        n = self.config.max_len
        if len(history) >= n:
            return history[-n:] + 2, events[-n:]
        return np.concatenate([[START], history + 2]), np.concatenate([[DEFAULT_EVENT_TYPE], events])

    @staticmethod
    def _check_features(features: np.ndarray, n_items: int | None) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or (n_items is not None and features.shape[0] != n_items) or features.shape[1] < 1:
            raise ValueError(f"item features must have shape ({n_items or 'M'}, F) with F >= 1, got {features.shape}")
        if not np.isfinite(features).all():
            raise ValueError("item features contain NaN or infinity")
        return np.ascontiguousarray(features)


def _pad(arrays: list[np.ndarray]) -> torch.Tensor:
    """Right-pad 1-D int arrays with PAD into a (B, T) long tensor."""
    out = np.full((len(arrays), max(len(a) for a in arrays)), PAD, dtype=np.int64)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return torch.from_numpy(out)
