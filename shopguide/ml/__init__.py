"""Pure PyTorch/numpy models for shopguide: encoders, training loops and metrics.

Nothing in this package imports Django, Celery or the rest of shopguide, and importing the
package itself does not import torch, so Django's start-up path stays light. Import the
submodules (``shopguide.ml.image_encoder``, ``shopguide.ml.images``, ...) where they are needed.
"""
