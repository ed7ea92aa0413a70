"""Fit a model: ``python -m {{ cookiecutter.module_name }}.modeling.train --target COLUMN``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.config import MODELS_DIR, PROCESSED_DATA_DIR
from {{ cookiecutter.module_name }}.features import build_features


def fit_linear(features: pd.DataFrame, target: pd.Series) -> dict[str, Any]:
    """Least-squares linear regression, as a JSON-ready dict."""
    design = np.column_stack([np.ones(len(features)), features.to_numpy(dtype=float)])
    solution, *_ = np.linalg.lstsq(design, target.to_numpy(dtype=float), rcond=None)
    return {
        "columns": [str(name) for name in features.columns],
        "intercept": float(solution[0]),
        "coefficients": [float(value) for value in solution[1:]],
    }


def save_model(model: dict[str, Any], path: Path) -> Path:
    """Write a model as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    """Train on ``--data`` to predict ``--target``; write ``--model``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=PROCESSED_DATA_DIR / "dataset.csv")
    parser.add_argument("--target", required=True)
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "model.json")
    args = parser.parse_args(argv)
    frame = pd.read_csv(args.data)
    model = fit_linear(build_features(frame, args.target), frame[args.target])
    print(f"wrote {save_model(model, args.model)}")


if __name__ == "__main__":
    main()
