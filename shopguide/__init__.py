"""shopguide: deep-learning product guidance for Django shops.

Importing this package is cheap: torch is only imported by the training and inference code.
"""

__version__ = "0.1.0"
