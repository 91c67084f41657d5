"""The shared training loop's learning-rate schedule and early stopping (shopguide.ml.fit)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from shopguide.ml.fit import EarlyStopping, fit, warmup_cosine


def hand_coded(step: int, total_steps: int, peak: float, warmup: float) -> float:
    """The schedule the image, text and sequence models each used to set by hand before every step."""
    warmup_steps = max(1, int(warmup * total_steps))
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize(
    ("total_steps", "warmup", "peak"), [(200, 0.03, 3e-3), (57, 0.05, 1e-2), (3, 0.03, 3e-2), (1000, 0.05, 3e-3)]
)
def test_scheduler_gives_the_hand_coded_learning_rate_at_every_step(total_steps, warmup, peak):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = warmup_cosine(optimizer, total_steps=total_steps, warmup=warmup)
    for step in range(total_steps):
        # ulp-level: the scheduler multiplies the peak by a fraction, the old code divided peak * (step + 1)
        expected = hand_coded(step, total_steps, peak, warmup)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-15, abs=0)
        optimizer.step()
        scheduler.step()


def test_fit_keeps_the_best_epoch_and_stops_after_patience():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    x, y = torch.randn(32, 2), torch.randn(32, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    held_out = iter([3.0, 2.0, 2.5, 2.4, 2.6, 1.0])
    states = []

    def validate():
        states.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(held_out)

    history = fit(
        epochs=6,
        batches=lambda epoch: [(x, y)],
        loss=lambda b: ((model(b[0]) - b[1]) ** 2).mean(),
        optimizers=[optimizer],
        validate=validate,
        stopper=EarlyStopping(model, patience=3),
    )
    assert len(history.losses) == 5 and history.stopped_early and history.best_epoch == 2
    assert history.scores == [3.0, 2.0, 2.5, 2.4, 2.6]
    assert all(torch.equal(v, states[1][k]) for k, v in model.state_dict().items())


def test_patience_zero_stops_after_the_first_scored_epoch_and_infinite_never():
    model = nn.Linear(1, 1)
    assert EarlyStopping(model, patience=0).update(0, 1.0)
    forever = EarlyStopping(model, patience=math.inf)
    assert not any(forever.update(epoch, 1.0) for epoch in range(10))
    assert forever.restore() == 1
