"""The churn notebook: a real-looking production notebook (a pandas transform and a
scikit-learn fit writing a processed CSV and a pickled model) with its params file, data and
papermill stage. `scaffold graduate` tests graduate it; the export tests run it graduated under
the orchestrators."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import cell, write_notebook

STEM = "2.1-ab-train-churn"
RAW = "customer,spend,visits\n" + "".join(
    f"c{n},{(n * 37) % 101 + 0.25},{n % 7 + 1}\n" for n in range(60)
)
SETUP = """\
%load_ext autoreload
%autoreload 2

import pickle

import pandas as pd
from sklearn.linear_model import LogisticRegression

from {package}.config import MODELS_DIR, PROCESSED_DATA_DIR, RAW_DATA_DIR"""
PARAMETERS = (
    """\
# Parameters
input_file: str = "customers.csv"  # a CSV under data/raw/
threshold: float = 10.0  # spend per visit that counts as a high spender
seed: int = 7
"""
    + 'C: float = 1.0  # inverse regularisation strength, """C""" in sklearn\\docs'
)
HELPER = '''\
def add_ratio(frame, numerator, denominator):
  """Spend per visit (2-space indentation, as some notebooks have it)."""
  return frame.assign(ratio=frame[numerator] / frame[denominator])'''
TRANSFORM = """\
raw = pd.read_csv(RAW_DATA_DIR / input_file)
clean = add_ratio(raw.dropna(), "spend", "visits")
clean["label"] = (clean["ratio"] > threshold).astype(int)
clean.head()"""
READS_GLOBAL = """\
def standardised(column):
    return (clean[column] - clean[column].mean()) / clean[column].std()


clean["spend_z"] = standardised("spend")
clean.to_csv(PROCESSED_DATA_DIR / "customers.csv", index=False)"""
FIT = """\
model = LogisticRegression(C=C, random_state=seed, max_iter=500)
model.fit(clean[["spend_z", "visits"]], clean["label"])
with open(MODELS_DIR / "churn.pkl", "wb") as handle:
    pickle.dump(model, handle)"""
METRICS = """\
metrics = {"accuracy": float(model.score(clean[["spend_z", "visits"]], clean["label"]))}
metrics"""
OUTS = ("data/processed/customers.csv", "models/churn.pkl")


def markdown(text: str, cell_id: str) -> dict[str, object]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def production_notebook(project: Path, package: str = "lab") -> Path:
    """The churn notebook, its params file and a stage with data outputs, as a team has them
    (in a project whose package is ``package``)."""
    notebook = project / "notebooks" / f"{STEM}.ipynb"
    write_notebook(
        notebook,
        [
            markdown("# Train churn\n\nA transform and a fit.", "title"),
            cell(SETUP.format(package=package), "setup"),
            cell(PARAMETERS, "parameters", tags=["parameters"]),
            markdown("## Clean", "clean-title"),
            cell(HELPER, "helper"),
            cell(TRANSFORM, "transform"),
            cell(READS_GLOBAL, "standardise"),
            cell(FIT, "fit"),
            cell(METRICS, "metrics", tags=["metrics"]),
        ],
    )
    (project / "params" / f"{STEM}.yaml").write_text(
        "input_file: customers.csv\nthreshold: 12.5\nseed: 7\nC: 0.5\n"
    )
    (project / "data" / "raw" / "customers.csv").write_text(RAW)
    stage = f"""\
  {STEM.replace(".", "_")}:
    # a comment inside the stage
    cmd: >-
      papermill --no-progress-bar -k python3 --cwd notebooks
      notebooks/{STEM}.ipynb
      reports/{STEM}.ipynb
      -f params/{STEM}.yaml
    deps:
      - notebooks/{STEM}.ipynb
      - src/{package}
      - data/raw
    params:
      - params/{STEM}.yaml:
    outs:
      - reports/{STEM}.ipynb:
          cache: false
      - {OUTS[0]}
      - {OUTS[1]}
"""
    dvc = project / "dvc.yaml"
    dvc.write_text(dvc.read_text() + stage)
    return notebook
