"""A small web app over the project's data, for people who do not run notebooks.

`make app` serves it on http://127.0.0.1:8501 (`streamlit run app/app.py`). It reads a CSV
file of data/raw/ through the package's `dataset` module and shows the table and the
histograms of `plots`: change it like any code of the project.
"""

import pandas as pd
import streamlit as st

from {{ cookiecutter.module_name }} import dataset, plots
from {{ cookiecutter.module_name }}.config import RAW_DATA_DIR

{%- set title = cookiecutter.project_name %}

TITLE = {% if '"' in title and "'" not in title %}'{{ title | replace('\\', '\\\\') }}'{% else %}"{{ title | replace('\\', '\\\\') | replace('"', '\\"') }}"{% endif %}

st.set_page_config(page_title=TITLE, layout="wide")
st.title(TITLE)

files = sorted(RAW_DATA_DIR.glob("*.csv"))
if files:
    path = st.selectbox("Data file (data/raw/)", files, format_func=lambda file: file.name)
    frame = dataset.clean(dataset.load(path))
else:
    st.info(
        f"No CSV file in {RAW_DATA_DIR} yet: add one (make data-add) or fetch the data "
        "(make data-pull). Showing a demo table."
    )
    frame = pd.DataFrame({"x": range(10), "y": [2 * value + 1 for value in range(10)]})

st.subheader("Data")
st.dataframe(frame)
st.subheader("Distributions")
st.pyplot(plots.histograms(frame))
