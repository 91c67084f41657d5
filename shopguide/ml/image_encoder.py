"""Image encoder: maps product images to L2-normalised embeddings.

Two backbones: a small CNN trained from scratch (``"scratch"``), or EfficientNet-Lite0 pretrained
on ImageNet and fine-tuned (``"efficientnet_lite0"``, see :mod:`shopguide.ml.pretrained`).
Supervised by category when the shop has categories (a cosine-softmax head, so the trained
embedding space is the one retrieval uses), contrastive (SimCLR / NT-Xent) when it does not.
With held-out images, training stops early when their loss stops falling and keeps the best epoch.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .device import autocast_context, resolve_device, seed_everything
from .fit import EarlyStopping, History, fit, warmup_cosine

if TYPE_CHECKING:
    from .pretrained import LiteBackboneNet

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "shopguide.image_encoder/1"
BACKBONES = ("scratch", "efficientnet_lite0")
Progress = Callable[[float, str], None]
PathOrFile = str | os.PathLike | BinaryIO


@dataclass(frozen=True)
class ImageEncoderConfig:
    """Architecture and training settings; saved inside every checkpoint.

    The defaults give a 0.3M-parameter network that trains at about 1,400 images/s (32x32 RGB)
    on two idle CPU cores, so a catalogue of a few thousand images takes seconds per epoch.
    """

    image_size: int = 32  # input side in pixels; must be divisible by 2 ** (stages - 1)
    channels: int = 3  # 3 = RGB, 1 = greyscale; must match prepare_images(channels=...)
    embedding_dim: int = 64
    width: int = 16  # conv channels of the first stage; each later stage doubles them
    stages: int = 4  # each stage: (conv-bn-relu) x 2, then a 2x2 max pool except the last
    epochs: int = 20  # small catalogues need passes; 60k images converge in ~5 (see bench/)
    batch_size: int = 128
    lr: float = 3e-3  # peak AdamW learning rate, reached after warmup, then cosine decay to 0
    weight_decay: float = 5e-4  # conv/linear weights only, never norms or biases
    augment: bool = True  # supervised mode only; contrastive views are always augmented
    seed: int = 0
    temperature: float = 0.2  # NT-Xent temperature (contrastive mode)
    cosine_scale: float = 16.0  # logit scale of the cosine-softmax head (supervised mode)
    label_smoothing: float = 0.1  # supervised mode
    backbone: str = "scratch"  # or "efficientnet_lite0" (needs the `pretrained` extra)
    # Early stopping: epochs without a lower held-out loss before training stops (0 = never).
    patience: int = 3
    # efficientnet_lite0 only: MBConv blocks kept frozen (of 16; 11 = everything at stride <= 16),
    # and augmented views per training image whose frozen features are computed once.
    frozen_blocks: int = 11
    views: int = 4

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.backbone == "efficientnet_lite0":
            if self.channels != 3:
                raise ValueError("the efficientnet_lite0 backbone needs channels=3 (RGB)")
            if self.views < 1 or self.image_size < 32:
                raise ValueError("efficientnet_lite0 needs views >= 1 and image_size >= 32")
        elif self.stages < 1 or self.image_size % (2 ** (self.stages - 1)):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2 ** (stages - 1) = {2 ** (self.stages - 1)}"
            )
        if min(self.embedding_dim, self.width, self.epochs, self.batch_size) < 1:
            raise ValueError("embedding_dim, width, epochs and batch_size must be >= 1")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")


@dataclass
class FitResult:
    """What one call to :meth:`ImageEncoder.fit` did.

    Attributes:
        losses: mean training loss of each epoch.
        seconds: wall-clock training time.
        samples_per_second: training images processed per second (both views count once).
        mode: ``"supervised"`` or ``"contrastive"``.
        num_images: images actually trained on (unlabelled ones are left out when supervised).
        num_classes: distinct known labels (0 in contrastive mode).
        valid_losses: held-out loss after each epoch (empty without held-out images).
        best_epoch: the epoch (1-based) whose weights were kept: the lowest held-out loss, or
            the last epoch without held-out images.
        backbone: the backbone trained.
    """

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_second: float = 0.0
    mode: str = "supervised"
    num_images: int = 0
    num_classes: int = 0
    valid_losses: list[float] = field(default_factory=list)
    best_epoch: int = 0
    backbone: str = "scratch"


# --------------------------------------------------------------------------- model


class ConvStage(nn.Sequential):
    """(conv3x3-bn-relu) x 2, optionally followed by a 2x2 max pool."""

    def __init__(self, in_channels: int, out_channels: int, *, pool: bool) -> None:
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            # No conv bias: the BatchNorm right after it has its own shift.
            layers += [
                nn.Conv2d(c_in, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        if pool:
            layers.append(nn.MaxPool2d(2))
        super().__init__(*layers)


class ImageCNN(nn.Module):
    """Conv stages -> global average pool -> linear projection -> L2-normalised embedding."""

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        widths = [config.width * 2**i for i in range(config.stages)]
        stages, c_in = [], config.channels
        for i, c_out in enumerate(widths):
            stages.append(ConvStage(c_in, c_out, pool=i < len(widths) - 1))
            c_in = c_out
        self.features = nn.Sequential(*stages)
        self.projection = nn.Linear(widths[-1], config.embedding_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embed a batch of images.

        Args:
            images: (B, C, H, W) float in [0, 1].

        Returns:
            (B, D) float, each row of unit L2 norm.
        """
        x = (images - 0.5) * 2.0  # centre inputs around 0 so the first BN starts well conditioned
        x = self.features(x)  # (B, width * 2**(stages-1), H / 2**(stages-1), W / 2**(stages-1))
        x = x.mean(dim=(2, 3))  # (B, C_last)
        return F.normalize(self.projection(x).float(), dim=1)  # (B, D)


class CosineClassifier(nn.Module):
    """Normalised-softmax head: logits are scaled cosines between embeddings and class centres.

    Training through cosines (not raw dot products) shapes the embedding so that same-category
    images are close in angle, which is exactly what cosine kNN retrieval reads back.
    """

    def __init__(self, embedding_dim: int, num_classes: int, scale: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, embedding_dim) * 0.1)
        self.scale = scale

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) unit-norm embeddings -> (B, K) logits."""
        return self.scale * embeddings @ F.normalize(self.weight.float(), dim=1).T


def nt_xent(embeddings: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent loss.

    Args:
        embeddings: (2B, D) unit-norm; rows i and i + B are two views of the same image.
        temperature: softmax temperature.

    Returns:
        Scalar loss: cross-entropy of finding each row's partner among the other 2B - 1 rows.
    """
    n = embeddings.shape[0] // 2
    sims = embeddings.float() @ embeddings.float().T / temperature  # (2B, 2B)
    sims.fill_diagonal_(float("-inf"))  # a view is not its own positive
    targets = torch.arange(2 * n, device=embeddings.device).roll(n)  # row i's partner: i + B mod 2B
    return F.cross_entropy(sims, targets)


def augment(
    images: torch.Tensor, generator: torch.Generator, *, pad: int, jitter: float, flip: bool = True
) -> torch.Tensor:
    """Random crop (after edge-replicating ``pad`` pixels), horizontal flip, brightness/contrast jitter.

    Args:
        images: (B, C, H, W) float in [0, 1], on the generator's device.
        generator: source of randomness, so augmentation is reproducible from the seed.
        pad: the crop may shift the image by up to this many pixels each way (0: no crop).
        jitter: brightness shift in [-jitter, jitter], contrast factor in [1 - jitter, 1 + jitter].
        flip: mirror half of the images left-right.

    Returns:
        (B, C, H, W) float in [0, 1].
    """
    b, _, h, w = images.shape
    dev = images.device
    if pad > 0:
        # Replicate rather than zero padding: the border is background, white or black alike.
        padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
        dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=dev)
        dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=dev)
        rows = (torch.arange(h, device=dev) + dy)[:, :, None]  # (B, H, 1)
        cols = (torch.arange(w, device=dev) + dx)[:, None, :]  # (B, 1, W)
        batch = torch.arange(b, device=dev)[:, None, None]
        images = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)
    if flip:
        mirror = torch.rand(b, 1, 1, 1, generator=generator, device=dev) < 0.5
        images = torch.where(mirror, images.flip(3), images)
    if jitter > 0:
        brightness = (torch.rand(b, 1, 1, 1, generator=generator, device=dev) * 2 - 1) * jitter
        contrast = 1 + (torch.rand(b, 1, 1, 1, generator=generator, device=dev) * 2 - 1) * jitter
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = ((images - mean) * contrast + mean + brightness).clamp_(0, 1)
    return images


# Augmentation strength; shift is a fraction of the image side. Supervised training stays mild:
# images are centred by prepare_images, and on Fashion-MNIST (60k images, 5 epochs) a 2 px shift
# cost 0.011 precision@10 against no augmentation while 1 px with flips and jitter cost nothing.
# Contrastive views must differ enough that matching them is not trivial.
SUPERVISED_AUGMENT = {"shift": 1 / 32, "jitter": 0.1, "flip": True}
CONTRASTIVE_AUGMENT = {"shift": 1 / 4, "jitter": 0.3, "flip": True}
# Views cached for the pretrained backbone: stronger than the scratch CNN's, since a few hundred
# shop photos give few examples per category and the frozen trunk cannot overfit the shifts.
PRETRAINED_AUGMENT = {"shift": 1 / 8, "jitter": 0.2, "flip": True}


def _augment_views(images: torch.Tensor, generator: torch.Generator, strength: dict) -> torch.Tensor:
    pad = round(strength["shift"] * images.shape[-1])
    return augment(images, generator, pad=pad, jitter=strength["jitter"], flip=strength["flip"])


# Linear warmup over the first 3% of the steps, then cosine decay to zero (shopguide.ml.fit).
WARMUP = 0.03


# --------------------------------------------------------------------------- encoder


class ImageEncoder:
    """Trains an image network (scratch CNN or pretrained backbone) and embeds images with it.

    Typical use::

        prepared = prepare_images(paths, size=config.image_size, channels=config.channels)
        encoder = ImageEncoder(config)
        encoder.fit(prepared.array, labels[prepared.ok_indices], valid=(held_out, held_out_labels))
        vectors = encoder.embed(prepared.array)      # (N, D) float32, unit norm
        encoder.save("image.pt"); ImageEncoder.load("image.pt")
    """

    def __init__(
        self, config: ImageEncoderConfig | None = None, *, device: str = "auto", pretrained_weights: bool = True
    ) -> None:
        """``pretrained_weights=False`` builds the efficientnet_lite0 architecture without reading the
        ImageNet weights (a checkpoint's weights replace them anyway)."""
        self.config = config or ImageEncoderConfig()
        self.device = resolve_device(device)
        self._pretrained_weights = pretrained_weights
        self.model = self._new_model()
        self.metrics: dict[str, object] = {}
        # (D,) mean embedding of the training images, subtracted before the final normalisation
        # (scratch CNN only, see fit); None: embeddings are the network's own.
        self.center: torch.Tensor | None = None

    def _new_model(self) -> nn.Module:
        cfg = self.config
        if cfg.backbone == "efficientnet_lite0":
            from .pretrained import LiteBackboneNet

            model: nn.Module = LiteBackboneNet(
                embedding_dim=cfg.embedding_dim, frozen_blocks=cfg.frozen_blocks, pretrained=self._pretrained_weights
            )
        else:
            model = ImageCNN(cfg)
        # Module.to() takes memory_format (documented); torch's stub for it does not say so.
        return model.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]

    # ---------------------------------------------------------------- training

    def fit(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        valid: tuple[np.ndarray, np.ndarray | None] | None = None,
        progress: Progress | None = None,
    ) -> FitResult:
        """Train a fresh network from the config's seed (any earlier weights are replaced).

        Args:
            images: uint8 (N, S, S, C) with S = ``config.image_size``, C = ``config.channels``,
                as made by :func:`shopguide.ml.images.prepare_images`.
            labels: optional int (N,) category ids, -1 for unknown. With at least two distinct
                known labels training is supervised on the labelled images only; otherwise it
                is contrastive on all images.
            valid: optional held-out ``(images, labels)`` never trained on: their loss after each
                epoch drives early stopping (``config.patience``) and the best epoch is kept.
                Held-out images whose label the training set lacks are ignored when supervised.
            progress: called as ``progress(fraction_done, message)`` after every epoch.

        Returns:
            A :class:`FitResult`; the same numbers are kept in ``self.metrics`` and checkpoints.

        Raises:
            ValueError: empty input, wrong shape/dtype, fewer than 2 images, or labels whose
                length differs from the images'.
            ImportError: the efficientnet_lite0 backbone without its packages installed.
        """
        cfg = self.config
        data = self._as_tensor(images)
        targets, classes = _class_targets(labels, len(data))
        if targets is not None:
            keep = targets >= 0
            data, targets = data[keep], targets[keep]
        if len(data) < 2:
            raise ValueError("need at least 2 images to train")
        valid_data, valid_targets = self._valid_set(valid, classes)

        seed_everything(cfg.seed)
        self.model = self._new_model()
        head = None
        if targets is not None:
            head = CosineClassifier(cfg.embedding_dim, len(classes), cfg.cosine_scale).to(self.device)
        result = FitResult(
            mode="contrastive" if head is None else "supervised",
            num_images=len(data),
            num_classes=len(classes),
            backbone=cfg.backbone,
        )
        logger.info(
            "training image encoder (%s, %s) on %d images, %s", cfg.backbone, result.mode, len(data), self.device
        )
        started = time.perf_counter()
        if cfg.backbone == "efficientnet_lite0":
            self._fit_top(data, targets, head, valid_data, valid_targets, result, progress)
        else:
            self._fit_scratch(data, targets, head, valid_data, valid_targets, result, progress)
        result.seconds = time.perf_counter() - started
        result.samples_per_second = len(result.losses) * len(data) / max(result.seconds, 1e-9)
        self.model.eval()
        self.center = None
        if cfg.backbone != "efficientnet_lite0":
            # A CNN trained from scratch on a few hundred images tends to put every image in one
            # narrow cone (pairwise cosines of 0.998+): the shared direction says nothing about any
            # one product and drowns the differences that do. Removing the catalogue's mean
            # direction, stored with the model so every later query is centred the same way,
            # spreads the vectors over the sphere; nearest neighbours then follow the differences.
            self.center = torch.from_numpy(self.embed(images).mean(axis=0))
        self.metrics = asdict(result)
        return result

    def _fit_scratch(self, data, targets, head, valid_data, valid_targets, result: FitResult, progress) -> None:
        """The whole CNN trains on augmented batches of the raw images."""
        cfg = self.config
        modules = [m for m in (self.model, head) if m is not None]
        optimizer = torch.optim.AdamW(_param_groups(modules, cfg.weight_decay), lr=cfg.lr)
        order_rng = torch.Generator().manual_seed(cfg.seed)
        augment_rng = torch.Generator(device=self.device).manual_seed(cfg.seed)
        batch_size = min(cfg.batch_size, len(data))
        steps_per_epoch = len(data) // batch_size  # the ragged last batch is dropped: BN dislikes tiny ones

        def batches(epoch: int):
            permutation = torch.randperm(len(data), generator=order_rng)
            for step in range(steps_per_epoch):
                yield permutation[step * batch_size : (step + 1) * batch_size]

        def loss(idx: torch.Tensor) -> torch.Tensor:
            x = self._to_device(data[idx])
            y = None if targets is None else targets[idx].to(self.device, non_blocking=True)
            with autocast_context(self.device):
                return self._loss(x, y, head, augment_rng)

        self._run_fit(
            result,
            progress,
            self.model.train,
            batches,
            loss,
            optimizer,
            cfg.epochs * steps_per_epoch,
            lambda: self._scratch_valid_loss(valid_data, valid_targets, head),
        )

    @torch.no_grad()
    def _scratch_valid_loss(self, valid_data, valid_targets, head) -> float | None:
        if valid_data is None:
            return None
        self.model.eval()
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed + 1)  # the same views every epoch
        total, count = 0.0, 0
        for start in range(0, len(valid_data), 256):
            x = self._to_device(valid_data[start : start + 256])
            if head is None:
                if len(x) < 2:
                    continue
                views = torch.cat([_augment_views(x, generator, CONTRASTIVE_AUGMENT) for _ in range(2)])
                loss = nt_xent(self.model(views.contiguous(memory_format=torch.channels_last)), self.config.temperature)
            else:
                y = valid_targets[start : start + 256].to(self.device)
                loss = F.cross_entropy(head(self.model(x)), y)
            total, count = total + float(loss) * len(x), count + len(x)
        return total / count if count else None

    def _fit_top(self, data, targets, head, valid_data, valid_targets, result: FitResult, progress) -> None:
        """Pretrained backbone: the frozen trunk's features of ``views`` augmented copies of each
        image are computed once; only the top blocks, head conv and projection train, on them."""
        cfg = self.config
        net = cast("LiteBackboneNet", self.model)  # the top/trunk split: the pretrained backbone only
        features = self._trunk_views(data, cfg.views, seed=cfg.seed)  # (N, V, C, h, w)
        valid_features = None
        if valid_data is not None:
            valid_features = self._trunk_views(valid_data, 2 if head is None else 1, seed=cfg.seed + 1)
        modules = [*net.trainable_modules(), *([head] if head is not None else [])]
        optimizer = torch.optim.AdamW(_param_groups(modules, cfg.weight_decay), lr=cfg.lr)
        order_rng = torch.Generator().manual_seed(cfg.seed)
        batch_size = min(cfg.batch_size, len(data))
        steps_per_epoch = max(1, len(data) // batch_size)
        n_views = features.shape[1]

        def batches(epoch: int):
            permutation = torch.randperm(len(data), generator=order_rng)
            for step in range(steps_per_epoch):
                yield permutation[step * batch_size : (step + 1) * batch_size]

        def loss(idx: torch.Tensor) -> torch.Tensor:
            view = torch.randint(0, n_views, (len(idx),), generator=order_rng)
            x = features[idx, view].to(self.device).float()
            with autocast_context(self.device):
                if head is None:
                    # A second, different view of each image is its positive.
                    other = (view + torch.randint(1, max(2, n_views), (len(idx),), generator=order_rng)) % n_views
                    x2 = features[idx, other].to(self.device).float()
                    return nt_xent(net.top(torch.cat([x, x2])), cfg.temperature)
                y = targets[idx].to(self.device)
                return F.cross_entropy(head(net.top(x)), y, label_smoothing=cfg.label_smoothing)

        # BatchNorm keeps its ImageNet statistics (eval mode): batches of a few dozen shop images
        # would only add noise to them.
        self._run_fit(
            result,
            progress,
            net.eval,
            batches,
            loss,
            optimizer,
            cfg.epochs * steps_per_epoch,
            lambda: self._top_valid_loss(valid_features, valid_targets, head),
        )

    @torch.no_grad()
    def _top_valid_loss(self, valid_features, valid_targets, head) -> float | None:
        if valid_features is None:
            return None
        net = cast("LiteBackboneNet", self.model)  # the top/trunk split: the pretrained backbone only
        net.eval()
        if head is None:
            if len(valid_features) < 2:
                return None
            embeddings = net.top(torch.cat([valid_features[:, 0], valid_features[:, 1]]).to(self.device).float())
            return float(nt_xent(embeddings, self.config.temperature))
        logits = head(net.top(valid_features[:, 0].to(self.device).float()))
        return float(F.cross_entropy(logits, valid_targets.to(self.device)))

    @torch.no_grad()
    def _trunk_views(self, data: torch.Tensor, views: int, *, seed: int) -> torch.Tensor:
        """(N, views, C, h, w) float16 trunk features: view 0 is the image itself, the others
        augmented copies (crop shift, flip, brightness/contrast)."""
        net = cast("LiteBackboneNet", self.model)  # the top/trunk split: the pretrained backbone only
        net.eval()
        generator = torch.Generator(device=self.device).manual_seed(seed)
        out = []
        for start in range(0, len(data), 64):
            x = self._to_device(data[start : start + 64])
            per_view = [x] + [_augment_views(x, generator, PRETRAINED_AUGMENT) for _ in range(views - 1)]
            with autocast_context(self.device):
                feats = [net.trunk(v.contiguous(memory_format=torch.channels_last)).float() for v in per_view]
            out.append(torch.stack(feats, dim=1).half().cpu())
        return torch.cat(out)

    def _run_fit(
        self, result: FitResult, progress, start_epoch, batches, loss, optimizer, total_steps: int, valid_loss
    ) -> None:
        """The shared loop (shopguide.ml.fit) with this encoder's schedule, early stopping and
        reporting; fills ``result``'s losses, held-out losses and best epoch."""
        cfg = self.config

        def end_epoch(epoch: int, history: History, stop: bool) -> None:
            message = f"epoch {epoch + 1}/{cfg.epochs} loss {history.losses[-1]:.4f}"
            if len(history.scores) > len(result.valid_losses):
                result.valid_losses.append(history.scores[-1])
                message += f" held-out {history.scores[-1]:.4f}"
            logger.debug(message)
            if progress is not None:
                progress(1.0 if stop else (epoch + 1) / cfg.epochs, message + (" (early stop)" if stop else ""))

        # Never stopped before half the epochs: a net trained from scratch on a few hundred images
        # has a noisy held-out loss in its first epochs (0.15 P@8 when stopped at epoch 4 of 20 on
        # bench.small_shop's 300 products).
        stopper = EarlyStopping(
            self.model, patience=cfg.patience or math.inf, min_delta=1e-4, min_epochs=cfg.epochs // 2
        )
        history = fit(
            epochs=cfg.epochs,
            batches=batches,
            loss=loss,
            optimizers=[optimizer],
            schedulers=[warmup_cosine(optimizer, total_steps=total_steps, warmup=WARMUP)],
            start_epoch=start_epoch,
            validate=valid_loss,
            stopper=stopper,
            end_epoch=end_epoch,
            device=self.device,
        )
        result.losses = history.losses
        result.best_epoch = history.best_epoch

    def _valid_set(self, valid, classes: np.ndarray) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The held-out images (and, when supervised, their class ids) that training can score."""
        if valid is None or valid[0] is None or len(valid[0]) == 0:
            return None, None
        data = self._as_tensor(valid[0])
        if len(classes) == 0:
            return (data, None) if len(data) >= 2 else (None, None)
        if valid[1] is None:
            return None, None
        labels = np.asarray(valid[1])
        known = np.isin(labels, classes)
        if not known.any():
            return None, None
        targets = torch.from_numpy(np.searchsorted(classes, labels[known]).astype(np.int64))
        return data[torch.from_numpy(np.flatnonzero(known))], targets

    def _loss(
        self, x: torch.Tensor, y: torch.Tensor | None, head: CosineClassifier | None, generator: torch.Generator
    ) -> torch.Tensor:
        """Training loss of one batch: x (B, C, S, S) in [0, 1], y (B,) class ids or None."""
        cfg = self.config
        if head is None:
            # Two independent views of each image; NT-Xent pulls each pair together.
            views = torch.cat([_augment_views(x, generator, CONTRASTIVE_AUGMENT) for _ in range(2)])
            return nt_xent(self.model(views.contiguous(memory_format=torch.channels_last)), cfg.temperature)
        if cfg.augment:
            x = _augment_views(x, generator, SUPERVISED_AUGMENT).contiguous(memory_format=torch.channels_last)
        assert y is not None  # class ids come with a head
        return F.cross_entropy(head(self.model(x)), y, label_smoothing=cfg.label_smoothing)

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 (B, S, S, C) on CPU -> float (B, C, S, S) in [0, 1] on the encoder's device."""
        if self.device.type == "cuda":
            # Pinned memory lets the copy run asynchronously with the previous step's kernels.
            batch = batch.pin_memory()
        # NHWC memory permuted to NCHW is already channels_last, the layout conv kernels prefer.
        return batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)

    # ---------------------------------------------------------------- inference

    @torch.inference_mode()
    def embed(self, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
        """Embed images with the current network.

        Args:
            images: uint8 (N, S, S, C), as for :meth:`fit`.
            batch_size: images per forward pass (memory, not results, depends on it).

        Returns:
            float32 (N, D), each row of unit L2 norm.

        Raises:
            ValueError: empty input or wrong shape/dtype.
        """
        data = self._as_tensor(images)
        self.model.eval()
        chunks = []
        for start in range(0, len(data), batch_size):
            with autocast_context(self.device):
                chunks.append(self.model(self._to_device(data[start : start + batch_size])).float().cpu())
        vectors = torch.cat(chunks)
        if self.center is not None:
            vectors = vectors - self.center
        # Re-normalise in fp32: under bf16 autocast the norms can drift from 1 in the 3rd digit.
        return F.normalize(vectors, dim=1).numpy()

    # ---------------------------------------------------------------- persistence

    def save(self, path: PathOrFile) -> None:
        """Write a checkpoint: config, weights and training metrics; no pickled objects."""
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(self.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "metrics": self.metrics,
        }
        if self.center is not None:
            checkpoint["center"] = self.center.detach().cpu()
        torch.save(checkpoint, path)

    @classmethod
    def load(cls, path: PathOrFile, *, device: str = "auto") -> ImageEncoder:
        """Read a checkpoint written by :meth:`save`.

        Raises:
            ValueError: the file is not an image-encoder checkpoint.
            RuntimeError / pickle errors from torch.load: the file is corrupt or unsafe.
        """
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a shopguide image encoder checkpoint")
        encoder = cls(ImageEncoderConfig(**checkpoint["config"]), device=device, pretrained_weights=False)
        encoder.model.load_state_dict(checkpoint["state_dict"])
        encoder.model.eval()
        encoder.metrics = dict(checkpoint.get("metrics", {}))
        encoder.center = checkpoint.get("center")  # absent in checkpoints written before centring
        return encoder

    # ---------------------------------------------------------------- helpers

    def _as_tensor(self, images: np.ndarray) -> torch.Tensor:
        """Validate a (N, S, S, C) uint8 array and wrap it, without copying, as a CPU tensor."""
        cfg = self.config
        expected = (cfg.image_size, cfg.image_size, cfg.channels)
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise ValueError("images must be a uint8 numpy array (use shopguide.ml.images.prepare_images)")
        if images.ndim != 4 or images.shape[1:] != expected:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}), got {images.shape}")
        if len(images) == 0:
            raise ValueError("no images given")
        with warnings.catch_warnings():
            # Read-only arrays (np.frombuffer, memory maps) are fine: nothing here writes to them.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(np.ascontiguousarray(images))


def _class_targets(labels: np.ndarray | None, n: int) -> tuple[torch.Tensor | None, np.ndarray]:
    """Map arbitrary integer labels to 0..K-1 (unknown stays -1). Returns the targets (None when
    fewer than 2 classes) and the sorted original labels of the K classes (empty when None)."""
    none = np.empty(0, dtype=np.int64)
    if labels is None:
        return None, none
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    known = labels >= 0
    classes = np.unique(labels[known])
    if len(classes) < 2:
        return None, none
    targets = np.full(n, -1, dtype=np.int64)
    targets[known] = np.searchsorted(classes, labels[known])
    return torch.from_numpy(targets), classes


def _param_groups(modules: list[nn.Module], weight_decay: float) -> list[dict[str, object]]:
    """Weight decay on conv/linear/head weights only; decaying norms and biases just hurts."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in modules:
        for param in module.parameters():
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
