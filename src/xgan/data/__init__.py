"""Datasets: each task gives two unpaired domains (A and B), each with a train and a test split.

registry.py names the tasks (load_task); each task is a file of its own beside it, and none of them imports the
registry, so importing an image set or a reader does not load every task.
"""

from xgan.data.task import ImageSet, Task

__all__ = ["ImageSet", "Task"]
