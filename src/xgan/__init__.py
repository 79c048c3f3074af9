"""xgan: unsupervised image-to-image translation between two unpaired image collections."""

__version__ = "0.1.0"
