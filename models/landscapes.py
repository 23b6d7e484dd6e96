"""The hill a two-weight model walks: its height as a numpy function of the two weights,
with its start and minimum. The hill figures (reporting.hill) draw any `Landscape`; each
two-weight model's kind provides its own (models.kinds).
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Landscape:
    """What the hill figures need to know about a two-weight model's loss."""

    name: str  # the model's name, for titles
    height: Callable  # numpy points of shape (..., 2) -> float64 heights of shape (...)
    minimum: tuple | None = None  # (w1, w2) of the global minimum, marked when given
    minimum_height: float | None = None  # its height; None: the lowest height on the grid
    start: tuple | None = None  # None: the paths' first point
    view: tuple | None = None  # ((x_min, x_max), (y_min, y_max)) the figure shows at least
    description: str = ""  # a subtitle: the formula
    axis_labels: tuple = ("w1", "w2")
    height_label: str = "height"
    landmarks: tuple = ()  # ((label, (w1, w2)), ...): points marked, with their contour line


def surface_landscape(surface):
    """The landscape of a `models.surfaces.Surface` (or its name)."""
    from models.surfaces import SURFACES, surface_heights

    surface = SURFACES[surface] if isinstance(surface, str) else surface
    return Landscape(
        name=surface.name,
        height=lambda points: surface_heights(surface, points),
        minimum=surface.minimum,
        minimum_height=surface.minimum_height,
        start=surface.start,
        view=surface.view,
        description=surface.formula,
        axis_labels=("x", "y"),
        landmarks=surface.landmarks,
    )


def least_squares_landscape(x, y, name="linear", start=None):
    """The mean squared error of `y = w1 * x1 + w2 * x2` over the data `x` (n, 2), `y` (n,
    or n, 1), with its least-squares optimum as the minimum."""
    x, y = np.asarray(x, "float64"), np.asarray(y, "float64").reshape(-1)
    optimum = np.linalg.lstsq(x, y, rcond=None)[0]

    def height(points):
        points = np.asarray(points, "float64")
        return np.mean((points @ x.T - y) ** 2, axis=-1)

    return Landscape(
        name=name,
        height=height,
        minimum=tuple(optimum),
        minimum_height=float(height(optimum)),
        start=start,
        description="mean squared error of y = w1 * x1 + w2 * x2",
        height_label="train loss",
    )
