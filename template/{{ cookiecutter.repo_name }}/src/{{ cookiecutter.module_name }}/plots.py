"""Figures for reports. Builds ``Figure`` objects directly, so no pyplot backend is changed:
notebooks show them inline, scripts save them with ``save``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure


def histograms(frame: pd.DataFrame, bins: int = 20) -> Figure:
    """One histogram per numeric column."""
    numeric = frame.select_dtypes("number")
    figure = Figure(figsize=(4 * max(len(numeric.columns), 1), 3), layout="constrained")
    axes = figure.subplots(1, max(len(numeric.columns), 1), squeeze=False)[0]
    for ax, column in zip(axes, numeric.columns, strict=False):
        ax.hist(numeric[column].dropna(), bins=bins)
        ax.set_title(str(column))
    return figure


def save(figure: Figure, path: Path) -> Path:
    """Save a figure (format from the suffix), creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
