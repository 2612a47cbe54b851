"""Helpers of the lab "LAB_TITLE": its data, and anything the notebook uses but students do not write.

Replace the example data with the lab's own (a file under data/, fetched and checked by
data/fetch.py like the other labs' datasets).
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_data"]


def load_data() -> np.ndarray:
    """The lab's example data: 200 measurements of three features on very different scales."""
    rng = np.random.default_rng(2024)
    return rng.normal(loc=[5.0, -2.0, 100.0], scale=[1.0, 3.0, 25.0], size=(200, 3))
