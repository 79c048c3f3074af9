"""The registry of tasks: `data.task` names one, and each task is a file of its own in this package."""

from __future__ import annotations

from typing import Any, Callable

from xgan.data.digits import load_digits
from xgan.data.emoji import load_emoji, load_emoji_lines
from xgan.data.faces2cartoon import load_faces2cartoon
from xgan.data.folders import load_folders
from xgan.data.one_shot import one_image_a
from xgan.data.paired import load_edges2digits, load_edges2emoji, load_gray2emoji, load_paired_folders
from xgan.data.svhn2mnist import load_svhn2mnist
from xgan.data.task import Task

TASKS: dict[str, Callable[[Any], Task]] = {"digits": load_digits, "svhn2mnist": load_svhn2mnist,
                                           "folders": load_folders, "faces2cartoon": load_faces2cartoon,
                                           "emoji": load_emoji, "emoji-lines": load_emoji_lines,
                                           "edges2digits": load_edges2digits, "edges2emoji": load_edges2emoji,
                                           "gray2emoji": load_gray2emoji, "paired-folders": load_paired_folders}

PAIRED_TASKS = ("edges2digits", "edges2emoji", "gray2emoji", "paired-folders")  # Task.paired: what pix2pix reads


def load_task(cfg: Any) -> Task:
    """Load the task named by `cfg.task` (a DataConfig); with data.image_a, domain A trains on that one image."""
    if cfg.task not in TASKS:
        raise ValueError(f"unknown data.task '{cfg.task}' (known: {', '.join(sorted(TASKS))})")
    task = TASKS[cfg.task](cfg)
    if cfg.image_a:
        task = one_image_a(task, cfg.image_a, cfg.image_size, tuple(cfg.background))
    return task
