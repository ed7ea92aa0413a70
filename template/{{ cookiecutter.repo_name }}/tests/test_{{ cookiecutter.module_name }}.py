"""Tests of the project code in src/{{ cookiecutter.module_name }}."""
{% if cookiecutter.example_code == 'yes' %}
import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import config, dataset, features, plots
from {{ cookiecutter.module_name }}.modeling import predict, train


@pytest.fixture
def frame() -> pd.DataFrame:
    x = np.arange(20, dtype=float)
    return pd.DataFrame({"X Value": x, "Label": ["a", "b"] * 10, "y": 3.0 * x - 2.0})
{%- else %}
from {{ cookiecutter.module_name }} import config
{%- endif %}


def test_paths_point_into_the_project():
    assert (config.PROJ_ROOT / "pyproject.toml").is_file()
    assert config.RAW_DATA_DIR == config.PROJ_ROOT / "data" / "raw"


def test_the_env_file_is_loaded_and_never_committed():
    assert config.ENV_FILE == config.PROJ_ROOT / ".env"
    assert ".env" in (config.PROJ_ROOT / ".gitignore").read_text().split()
    assert (config.PROJ_ROOT / ".env.example").is_file()
{%- if cookiecutter.example_code == 'yes' %}


def test_clean_drops_duplicates_and_empty_rows(frame):
    messy = pd.concat([frame, frame.head(3), pd.DataFrame([{}])], ignore_index=True)
    cleaned = dataset.clean(messy)
    assert len(cleaned) == len(frame)
    assert list(cleaned.columns) == ["x_value", "label", "y"]


def test_dataset_main_round_trips_a_csv(tmp_path, frame):
    raw, processed = tmp_path / "raw.csv", tmp_path / "processed.csv"
    frame.to_csv(raw, index=False)
    dataset.main(["--input", str(raw), "--output", str(processed)])
    assert pd.read_csv(processed).shape == frame.shape


def test_features_keep_numeric_columns_and_fill_gaps(frame):
    frame.loc[0, "X Value"] = np.nan
    built = features.build_features(frame, target="y")
    assert list(built.columns) == ["X Value"]
    assert not built.isna().any().any()


def test_a_trained_model_predicts_what_it_learned(tmp_path, frame):
    model = train.fit_linear(features.build_features(frame, "y"), frame["y"])
    path = train.save_model(model, tmp_path / "model.json")
    assert predict.predict(predict.load_model(path), frame) == pytest.approx(frame["y"])


def test_histograms_are_saved(tmp_path, frame):
    figure = plots.histograms(frame)
    assert len(figure.axes) == 2
    assert plots.save(figure, tmp_path / "figures" / "hist.png").stat().st_size > 0
{%- endif %}
