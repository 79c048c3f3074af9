from conftest import pattern_set
from toys import IdentityTranslator
from xgan.data import Task
from xgan.data.task import to_model_range
from xgan.evaluation.neighbors import EmbeddingIndex, neighbors_grid


def test_an_embedded_image_is_its_own_nearest_neighbour():
    task = Task(pattern_set(40, 0), pattern_set(40, 1), pattern_set(30, 2), pattern_set(30, 3))
    model = IdentityTranslator()
    index = EmbeddingIndex.build(model, task)
    assert len(index.embeddings) == 60
    query = to_model_range(task.test_b.images[7:8])
    grid, found = neighbors_grid(model, index, query, "b", k=5)
    assert found[0] == {"domain": "b", "index": 7, "distance": 0.0}
    assert [n["distance"] for n in found] == sorted(n["distance"] for n in found)
    assert grid.size[1] == 4 * 16 * 3  # query, neighbours, decoded as A, decoded as B
