"""xgan: unsupervised image-to-image translation between two unpaired image collections."""

__version__ = "0.1.0"

from xgan.api import Translator, load  # noqa: E402  (the Python API: xgan.load(run_dir).translate(...))

__all__ = ["Translator", "load", "__version__"]
