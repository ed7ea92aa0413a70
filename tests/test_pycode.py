"""pycode.add_import: one import placed where ruff's isort rules (I001) and its formatter put
it, for extract's modules and adopt's moved ones alike."""

from __future__ import annotations

import pytest

from scaffold import pycode

LINE = "from mods.config import RAW_DATA_DIR"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def rows():\n    pass\n", f"{LINE}\n\n\ndef rows():\n    pass\n"),
        ('"""Doc."""\nx = 1\n', f'"""Doc."""\n\n{LINE}\n\nx = 1\n'),
        (
            '"""Doc."""\nfrom __future__ import annotations\ndef f():\n    pass\n',
            f'"""Doc."""\nfrom __future__ import annotations\n\n{LINE}\n\n\ndef f():\n    pass\n',
        ),
        ("import os\n\n\ndef f():\n    pass\n", f"import os\n\n{LINE}\n\n\ndef f():\n    pass\n"),
        ("import os", f"import os\n\n{LINE}\n"),
        ("import zlib\n\nfrom mods import io\n", f"import zlib\n\nfrom mods import io\n{LINE}\n"),
        (
            "from mods.config import PROJ_ROOT, MODELS_DIR\n",
            "from mods.config import MODELS_DIR, PROJ_ROOT, RAW_DATA_DIR\n",
        ),
        ("", f"{LINE}\n"),
    ],
)
def test_an_import_goes_where_ruff_puts_it(source: str, expected: str) -> None:
    assert pycode.add_import(source, LINE, "mods") == expected


def test_add_imports_skips_what_is_there() -> None:
    text = "import os\n"
    assert pycode.add_imports(text, ["import os", "import os"], "mods") == text
