"""Turn raw data into the processed dataset: ``python -m {{ cookiecutter.module_name }}.dataset``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.config import PROCESSED_DATA_DIR, RAW_DATA_DIR


def load(path: Path) -> pd.DataFrame:
    """Read a CSV file."""
    return pd.read_csv(path)


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop empty rows and exact duplicates; make column names snake_case."""
    cleaned = frame.dropna(how="all").drop_duplicates().reset_index(drop=True)
    cleaned.columns = [str(name).strip().lower().replace(" ", "_") for name in cleaned.columns]
    return cleaned


def main(argv: list[str] | None = None) -> None:
    """Clean ``--input`` into ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=RAW_DATA_DIR / "dataset.csv")
    parser.add_argument("--output", type=Path, default=PROCESSED_DATA_DIR / "dataset.csv")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)  # data/ folders are not in git
    clean(load(args.input)).to_csv(args.output, index=False)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
