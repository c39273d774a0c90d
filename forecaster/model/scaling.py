"""A small serialisable scaler, fitted on the training part only and saved with the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecaster.model.config import Scaling

_EPS = 1e-12


@dataclass(frozen=True)
class Scaler:
    """Column-wise affine scaling ``(x - offset) / scale``; the last column is the target base.

    ``standard`` uses mean and standard deviation, ``minmax`` the minimum and range (to [0, 1]
    on the data it was fitted on; values beyond that range map outside [0, 1]).
    """

    kind: Scaling
    offset: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, values: np.ndarray, kind: Scaling) -> Scaler:
        """Fit on ``values`` (N, C); constant columns get scale 1."""
        if values.ndim != 2 or len(values) == 0:
            raise ValueError(f"a scaler needs a non-empty (N, C) array, got shape {values.shape}")
        if kind == "standard":
            offset, scale = values.mean(axis=0), values.std(axis=0)
        else:
            offset, scale = values.min(axis=0), values.max(axis=0) - values.min(axis=0)
        scale = np.where(scale > _EPS, scale, 1.0)
        return cls(kind, tuple(float(v) for v in offset), tuple(float(v) for v in scale))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale all columns (N, C)."""
        return (values - np.asarray(self.offset)) / np.asarray(self.scale)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Undo ``transform`` on all columns (N, C)."""
        return values * np.asarray(self.scale) + np.asarray(self.offset)

    def inverse_target(self, values: np.ndarray) -> np.ndarray:
        """Undo the scaling of target values (any shape), with the last column's statistics."""
        return values * self.scale[-1] + self.offset[-1]

    def state(self) -> dict[str, Any]:
        """Plain-data state for a checkpoint."""
        return {"kind": self.kind, "offset": list(self.offset), "scale": list(self.scale)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scaler:
        """Rebuild from ``state()``."""
        return cls(state["kind"], tuple(float(v) for v in state["offset"]), tuple(float(v) for v in state["scale"]))
