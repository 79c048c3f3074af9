"""Nearest neighbours in the shared embedding (seed 000): embed a query, find the closest test images of both
domains, and show them decoded through both decoders."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from xgan.data import Task
from xgan.data.task import to_model_range
from xgan.evaluation.metrics import batched
from xgan.models.base import TranslationModel
from xgan.samples import labelled_grid


@dataclass
class EmbeddingIndex:
    """Test images of both domains (in [-1, 1]) with their embeddings, searched by Euclidean distance."""

    images: torch.Tensor
    domains: list[str]
    embeddings: torch.Tensor

    @classmethod
    @torch.no_grad()
    def build(cls, model: TranslationModel, task: Task, per_domain: int | None = None) -> EmbeddingIndex:
        images, domains, embeddings = [], [], []
        for domain, image_set in (("a", task.test_a), ("b", task.test_b)):
            x = to_model_range(image_set.images[:per_domain]).to(next(model.parameters()).device)
            images.append(x)
            domains += [domain] * len(x)
            embeddings.append(batched(lambda batch, d=domain: model.encode(batch, d), x))
        return cls(torch.cat(images), domains, torch.cat(embeddings))

    def position(self, i: int) -> tuple[str, int]:
        """(domain, index in that domain's test split) of entry i."""
        return self.domains[i], i - self.domains.index(self.domains[i])

    def nearest(self, query: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices, distances) of the k nearest entries to each query embedding, nearest first."""
        distances = torch.cdist(query, self.embeddings)
        result = distances.topk(min(k, len(self.embeddings)), dim=1, largest=False)
        return result.indices, result.values


@torch.no_grad()
def neighbors_grid(model: TranslationModel, index: EmbeddingIndex, query: torch.Tensor, query_domain: str,
                   k: int = 8, scale: int = 3) -> tuple[Image.Image, list[dict]]:
    """Rows: the query, its k nearest test images, and those neighbours' embeddings decoded as A and as B.
    `query` is one image (1, 3, H, W) in [-1, 1]; returns the grid and the neighbours' (domain, index, distance)."""
    was_training = model.training
    model.eval()
    z = model.encode(query, query_domain)
    indices, distances = index.nearest(z, k)
    indices, distances = indices[0], distances[0]
    neighbours = index.images[indices]
    z_neighbours = index.embeddings[indices]
    decoded = [d for d in ("a", "b") if d in model.directions]
    rows = [torch.cat([query, torch.zeros_like(neighbours[:-1])]) if k > 1 else query, neighbours,
            *[model.decode(z_neighbours, d) for d in decoded]]
    model.train(was_training)
    names = [f"query ({query_domain.upper()})", "neighbours", *[f"decoded as {d.upper()}" for d in decoded]]
    canvas = labelled_grid(rows, names, scale, label_width=96)
    found = [dict(zip(("domain", "index"), index.position(i)), distance=float(d))
             for i, d in zip(indices.tolist(), distances.tolist())]
    return canvas, found
