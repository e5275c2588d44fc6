"""Metrics against small matrices worked out by hand (hypermask.md §8)."""

import pytest

from core.metrics import average_accuracy, backward_transfer, forgetting, forward_transfer, summarize

R = [[0.9, None, None],
     [0.7, 0.8, None],
     [0.6, 0.9, 0.5]]


def test_average_accuracy() -> None:
    assert average_accuracy(R) == pytest.approx((0.6 + 0.9 + 0.5) / 3)


def test_backward_transfer() -> None:
    # ((0.6 − 0.9) + (0.9 − 0.8)) / 2 = −0.1
    assert backward_transfer(R) == pytest.approx(-0.1)


def test_forgetting() -> None:
    # task 0: max(0.9, 0.7) − 0.6 = 0.3; task 1: max(0.8) − 0.9 = −0.1; mean 0.1
    assert forgetting(R) == pytest.approx(0.1)


def test_forward_transfer() -> None:
    # R[0,1] = 0.6, R[1,2] = 0.4 against random-init 0.5, 0.3 → mean(0.1, 0.1)
    assert forward_transfer([0.6, 0.4], [0.5, 0.5, 0.3]) == pytest.approx(0.1)


def test_single_task_and_ragged_rows() -> None:
    assert backward_transfer([[0.7]]) is None and forgetting([[0.7]]) is None
    ragged = [[0.9], [0.7, 0.8], [0.6, 0.9, 0.5]]
    assert summarize(ragged)["bwt"] == pytest.approx(-0.1)


def test_bad_matrices_raise() -> None:
    with pytest.raises(ValueError, match="empty"):
        average_accuracy([])
    with pytest.raises(ValueError, match=r"R\[1\]\[0\]"):
        average_accuracy([[0.5, None], [None, 0.5]])


def test_matrix_csv_rounds_float_noise_and_leaves_unseen_cells_empty() -> None:
    from core.metrics import matrix_csv

    text = matrix_csv([[0.9950000047683716], [0.12345678, 1.0]])
    assert text.splitlines() == ['"R[i, j]",task 0,task 1', "after task 0,0.995,", "after task 1,0.1235,1.0"]
