"""The one cache directory of everything xgan computes once and reuses: rendered printed digits, decoded image
folders (folders/), trained judges and teachers (classifiers/)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$XGAN_CACHE, else $XDG_CACHE_HOME/xgan, else ~/.cache/xgan."""
    root = os.environ.get("XGAN_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "xgan")
    return Path(root)
