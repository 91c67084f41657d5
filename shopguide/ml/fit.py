"""The training loop every network in ``shopguide.ml`` shares: learning-rate schedule, steps,
epoch losses and early stopping on held-out data.

A model says what differs (its batches, its loss, its optimizers, what it scores after each
epoch); :func:`fit` does the rest in one fixed order, so every model steps the same way::

    optimizer = torch.optim.AdamW(params, lr=peak)
    history = fit(
        epochs=cfg.epochs,
        batches=lambda epoch: ...,              # the epoch's batches, in order
        loss=lambda batch: ...,                 # a batch's scalar loss
        optimizers=[optimizer],
        schedulers=[warmup_cosine(optimizer, total_steps=..., warmup=0.03)],
        stopper=EarlyStopping(model, patience=3),
        validate=lambda: ...,                   # held-out loss (lower is better) or None
    )
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

Batch = TypeVar("Batch")


def warmup_cosine_scale(step: int, total_steps: int, warmup: float) -> float:
    """Fraction of the peak learning rate at ``step`` (from 0): linear warmup over the first
    ``warmup`` share of ``total_steps`` (at least one step), then cosine decay to 0."""
    warmup_steps = max(1, int(warmup * total_steps))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: torch.optim.Optimizer, *, total_steps: int, warmup: float) -> LambdaLR:
    """torch's ``LambdaLR`` over :func:`warmup_cosine_scale`: each group's learning rate is its
    initial one (the peak) times the scale. Call ``step()`` after every optimizer step."""
    return LambdaLR(optimizer, lambda step: warmup_cosine_scale(step, total_steps, warmup))


class EarlyStopping:
    """Keeps a copy of the weights of the epoch with the lowest held-out score; says when to stop.

    Args:
        model: whose ``state_dict`` is kept and restored.
        patience: epochs without a score lower than the best by more than ``min_delta`` before
            training stops (0: after the first scored epoch; ``math.inf``: never).
        min_delta: how much lower a score must be to count as better.
        min_epochs: never stop before this many epochs.
    """

    def __init__(self, model: nn.Module, *, patience: float, min_delta: float = 0.0, min_epochs: int = 0) -> None:
        self.model, self.patience, self.min_delta, self.min_epochs = model, patience, min_delta, min_epochs
        self.best_score, self.best_epoch, self.bad_epochs = math.inf, 0, 0
        self.best_state: dict[str, Any] | None = None

    def update(self, epoch: int, score: float | None) -> bool:
        """Record epoch ``epoch``'s (from 0) score (None: nothing held out, the last epoch counts
        as the best); True when training should stop."""
        if score is None:
            self.best_epoch = epoch + 1
            return False
        if score < self.best_score - self.min_delta:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch + 1, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            self.bad_epochs += 1
        # patience 0 stops after the first scored epoch, better or not
        return self.bad_epochs >= self.patience and epoch + 1 >= self.min_epochs

    def restore(self) -> int:
        """Load the best epoch's weights (if any epoch was scored); returns that epoch (from 1)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.best_epoch


@dataclass
class History:
    """What :func:`fit` saw: the mean training loss and the held-out score of each epoch run."""

    losses: list[float] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)  # what ``validate`` returned, None dropped
    best_epoch: int = 0  # from 1; the last epoch without a stopper
    stopped_early: bool = False


def fit(
    *,
    epochs: int,
    batches: Callable[[int], Iterable[Batch]],
    loss: Callable[[Batch], torch.Tensor],
    optimizers: Sequence[torch.optim.Optimizer],
    schedulers: Sequence[LRScheduler] = (),
    clip: tuple[Sequence[torch.Tensor], float] | None = None,
    start_epoch: Callable[[], Any] | None = None,
    validate: Callable[[], Any] | None = None,
    score: Callable[[Any], float | None] = lambda value: value,
    stopper: EarlyStopping | None = None,
    end_epoch: Callable[[int, History, bool], None] | None = None,
    device: torch.device | str = "cpu",
) -> History:
    """Train for up to ``epochs`` epochs; returns the :class:`History`.

    Each step: ``loss(batch)``, zero every optimizer's gradients, backward, clip (``clip`` =
    (parameters, max norm)), step every optimizer then every scheduler. Each epoch: first
    ``start_epoch()`` (e.g. ``model.train()``); after its steps the mean loss is recorded (summed
    on ``device``: no sync per step), ``validate()`` is called and its ``score()`` (lower is
    better, None: not scored) goes to ``stopper``, then ``end_epoch(epoch, history, stop)``
    reports (logging, progress). When the stopper says stop, training ends; the stopper's best
    weights are restored at the end.
    """
    history = History()
    for epoch in range(epochs):
        if start_epoch is not None:
            start_epoch()
        total, steps = torch.zeros((), device=device), 0
        for batch in batches(epoch):
            value = loss(batch)
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            value.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(clip[0], clip[1])
            for optimizer in optimizers:
                optimizer.step()
            for scheduler in schedulers:
                scheduler.step()
            total += value.detach()
            steps += 1
        history.losses.append(float(total) / steps)
        result = validate() if validate is not None else None
        if result is not None:
            history.scores.append(result)
        stop = stopper.update(epoch, score(result) if result is not None else None) if stopper is not None else False
        history.stopped_early = stop
        if end_epoch is not None:
            end_epoch(epoch, history, stop)
        if stop:
            break
    history.best_epoch = stopper.restore() if stopper is not None else len(history.losses)
    return history
