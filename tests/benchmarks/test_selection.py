import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from selection import CRITERIA, table, true_error  # noqa: E402


def point(error: float, semantic: float, spread: float) -> dict:
    return {"error": error, "error_name": "1 - top-1 A→B",
            "scores": {"domain": {"semantic_distance": semantic, "collapse_spread_min": spread}}}


def test_criteria_are_oriented_so_that_larger_predicts_worse():
    """A semantic distance that grows with the error and a spread that shrinks with it both score rho = +1; a
    criterion no checkpoint has is a dash, not a number."""
    points = {"emoji": [point(e, s, 1 - s) for e, s in ((0.9, 0.5), (0.8, 0.4), (0.7, 0.3), (0.6, 0.1))]}
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1].strip(" |") for line in table(points).splitlines()
            if line.startswith("| ") and "criterion" not in line}
    assert rows["semantic distance"] == "+1.00"
    assert rows["collapse: smallest spread ratio (negated)"] == "+1.00"
    assert rows["GAN bound (Benaim et al.)"] == "–"
    assert len(rows) == len(CRITERIA)


def test_the_true_error_is_retrieval_where_pairs_are_known_else_class_preservation_over_both_directions():
    assert true_error({"gt_top1_pixel_ab": 0.25, "gt_top1_pixel_ba": 0.75, "class_preservation_ab": 0.5})[1] == 0.5
    assert true_error({"class_preservation_ab": 0.75})[1] == 0.25  # a one-way model: A->B alone
    assert "class preservation" in true_error({"class_preservation_ab": 0.75})[0]


def test_collapsed_checkpoints_get_a_column_of_their_own_left_out():
    """A collapsed checkpoint (spread below the alarm's threshold) is the alarm's to catch; the criteria are also
    ranked without it."""
    points = {"emoji": [point(e, s, spread) for e, s, spread in
                        ((0.9, 0.5, 0.9), (0.8, 0.4, 0.9), (0.7, 0.3, 0.9), (0.99, 0.0, 0.0))]}
    header = table(points).splitlines()[0]
    assert "ρ on emoji, all (4)" in header and "ρ on emoji, not collapsed (3)" in header
    semantic = next(line for line in table(points).splitlines() if line.startswith("| semantic distance"))
    assert semantic.split(" | ")[2].strip(" |") == "+1.00"  # perfect once the collapsed one is left out
