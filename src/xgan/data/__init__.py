"""Datasets: each task gives two unpaired domains (A and B), each with a train and a test split."""

from xgan.data.task import ImageSet, Task, load_task

__all__ = ["ImageSet", "Task", "load_task"]
