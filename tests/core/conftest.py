"""Shared setup for the core tests: the helper modules beside this file import by plain name.

The folder is put on ``sys.path`` here so that ``import world`` works whatever import mode
pytest runs in (the default ``prepend`` does it anyway; ``importlib`` does not).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
