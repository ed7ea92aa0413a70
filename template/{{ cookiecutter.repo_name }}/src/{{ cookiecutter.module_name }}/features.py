"""Build model features from the processed dataset: ``python -m {{ cookiecutter.module_name }}.features``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.config import PROCESSED_DATA_DIR


def build_features(frame: pd.DataFrame, target: str | None = None) -> pd.DataFrame:
    """Numeric columns except ``target``, missing values filled with the column median."""
    numeric = frame.select_dtypes("number")
    if target is not None:
        numeric = numeric.drop(columns=[target], errors="ignore")
    return numeric.fillna(numeric.median())


def main(argv: list[str] | None = None) -> None:
    """Write the features of ``--input`` to ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=PROCESSED_DATA_DIR / "dataset.csv")
    parser.add_argument("--output", type=Path, default=PROCESSED_DATA_DIR / "features.csv")
    parser.add_argument("--target", default=None, help="column to leave out")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)  # data/ folders are not in git
    build_features(pd.read_csv(args.input), args.target).to_csv(args.output, index=False)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
