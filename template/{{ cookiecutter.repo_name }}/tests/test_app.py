"""The Streamlit app (app/app.py) runs and shows the data, through Streamlit's own test harness
(no browser, no server). Needs the app extra (make requirements installs it)."""

from pathlib import Path

import pytest

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = Path(__file__).resolve().parents[1] / "app" / "app.py"


def test_the_app_shows_the_data_and_its_histograms():
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert len(app.title) == 1
    assert len(app.dataframe) == 1
    assert len(app.get("image")) == 1  # the figure of plots.histograms
