"""Predict with a trained model: ``python -m {{ cookiecutter.module_name }}.modeling.predict``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.config import MODELS_DIR, PROCESSED_DATA_DIR
from {{ cookiecutter.module_name }}.features import build_features


def load_model(path: Path) -> dict[str, Any]:
    """Read a model written by ``train.save_model``."""
    model: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return model


def predict(model: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Predictions of a linear model for the rows of ``frame``."""
    features = build_features(frame)[model["columns"]].to_numpy(dtype=float)
    return model["intercept"] + features @ np.asarray(model["coefficients"], dtype=float)


def main(argv: list[str] | None = None) -> None:
    """Predict for ``--data`` with ``--model``; write ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=PROCESSED_DATA_DIR / "dataset.csv")
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "model.json")
    parser.add_argument("--output", type=Path, default=PROCESSED_DATA_DIR / "predictions.csv")
    args = parser.parse_args(argv)
    frame = pd.read_csv(args.data)
    args.output.parent.mkdir(parents=True, exist_ok=True)  # data/ folders are not in git
    pd.DataFrame({"prediction": predict(load_model(args.model), frame)}).to_csv(
        args.output, index=False
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
