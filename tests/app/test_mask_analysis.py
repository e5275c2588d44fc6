"""Tests for app.components.mask_analysis (hand-computed tiny masks)."""

from __future__ import annotations

import numpy as np
import pytest

from app.components import mask_analysis as ma

# Three 2×3 masks with supports A = {0,1,2}, B = {1,2,3}, C = {} (all zero).
A = np.array([[0.5, 0.2, 0.9], [0.0, 0.0, 0.0]])
B = np.array([[0.0, 0.4, 0.9], [0.3, 0.0, 0.0]])
C = np.zeros((2, 3))


def test_support_and_level():
    assert ma.support(A).tolist() == [[True, True, True], [False, False, False]]
    assert ma.support(A, level=0.3).tolist() == [[True, False, True], [False, False, False]]


def test_jaccard_hand_computed():
    j = ma.jaccard_matrix([A, B, C])
    assert j.shape == (3, 3)
    # |A∩B| = 2 ({1,2}), |A∪B| = 4
    assert j[0, 1] == pytest.approx(0.5)
    assert j[1, 0] == pytest.approx(0.5)
    assert j[0, 2] == 0.0 and j[2, 1] == 0.0
    assert np.all(np.diag(j) == 1.0)  # including the empty mask: empty ∪ empty := 1.0


def test_jaccard_level():
    # level 0.35: A -> {0, 2}, B -> {1, 2}; ∩ = {2}, ∪ = {0,1,2}
    j = ma.jaccard_matrix([A, B], level=0.35)
    assert j[0, 1] == pytest.approx(1 / 3)


def test_jaccard_two_empty_is_one():
    assert ma.jaccard_matrix([C, C])[0, 1] == 1.0


def test_jaccard_shape_mismatch():
    with pytest.raises(ValueError):
        ma.jaccard_matrix([A, np.zeros(3)])


def test_soft_overlap_hand_computed():
    o = ma.soft_overlap_matrix([A, B, C])
    # Σmin = 0 + 0.2 + 0.9 + 0 = 1.1 ; Σmax = 0.5 + 0.4 + 0.9 + 0.3 = 2.1
    assert o[0, 1] == pytest.approx(1.1 / 2.1)
    assert o[0, 2] == 0.0
    assert np.allclose(np.diag(o), 1.0)
    assert ma.soft_overlap_matrix([C, C])[0, 1] == 1.0
    # equals Jaccard for binary masks
    ba, bb = (A > 0).astype(float), (B > 0).astype(float)
    assert ma.soft_overlap_matrix([ba, bb])[0, 1] == pytest.approx(0.5)


def test_cosine_hand_computed():
    c = ma.cosine_matrix([A, B, C])
    dot = 0.2 * 0.4 + 0.9 * 0.9
    expected = dot / (np.sqrt(0.25 + 0.04 + 0.81) * np.sqrt(0.16 + 0.81 + 0.09))
    assert c[0, 1] == pytest.approx(expected)
    assert c[1, 0] == pytest.approx(expected)
    assert c[0, 2] == 0.0
    assert np.allclose(np.diag(c), 1.0)
    assert ma.cosine_matrix([2 * A, A])[0, 1] == pytest.approx(1.0)


def test_sparsity_matrix():
    by_task = [{"fc1": A, "fc2": np.array([0.0, 1.0])}, {"fc1": B}]
    s = ma.sparsity_matrix(by_task, ["fc1", "fc2"])
    assert s.shape == (2, 2)
    assert s[0, 0] == pytest.approx(0.5)
    assert s[0, 1] == pytest.approx(0.5)
    assert s[1, 0] == pytest.approx(0.5)
    assert np.isnan(s[1, 1])  # layer missing for task 1
    s2 = ma.sparsity_matrix(by_task, ["fc1"], level=0.35)
    assert s2[0, 0] == pytest.approx(4 / 6)
    assert s2[1, 0] == pytest.approx(4 / 6)


def test_neuron_usage_linear_conv_bias():
    u = ma.neuron_usage([A, B])
    assert u.shape == (2, 2)
    assert u[0].tolist() == pytest.approx([1.6 / 3, 0.0])
    assert u[1].tolist() == pytest.approx([1.3 / 3, 0.1])
    conv = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    uc = ma.neuron_usage([conv])
    assert uc.shape == (1, 2)
    assert uc[0].tolist() == pytest.approx([conv[0].mean(), conv[1].mean()])
    assert ma.neuron_usage([np.array([0.1, 0.2])]).tolist() == [[0.1, 0.2]]


def test_fold_input_mask_plain():
    w = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]])
    img = ma.fold_input_mask(w, image_shape=(2, 3))
    assert img.shape == (2, 3)
    assert img.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_fold_input_mask_permutation_round_trip():
    rng = np.random.default_rng(0)
    h, w = 4, 5
    original = rng.random((h, w))                 # per-pixel "importance" in original positions
    perm = rng.permutation(h * w)                 # x_perm = x_orig[perm]
    per_input_permuted = original.reshape(-1)[perm]
    mask = np.tile(per_input_permuted, (3, 1))    # (out=3, in=20), identical rows
    folded = ma.fold_input_mask(mask, (h, w), permutation=perm)
    assert np.allclose(folded, original)
    # without un-permuting, the picture is scrambled
    assert not np.allclose(ma.fold_input_mask(mask, (h, w)), original)


def test_fold_input_mask_padded_and_channels_and_errors():
    m = np.ones((2, 32 * 32))
    assert ma.fold_input_mask(m, (32, 32)).shape == (32, 32)
    rgb = np.concatenate([np.zeros(4), np.ones(4), 2 * np.ones(4)])[None, :]  # C=3, 2×2
    assert np.allclose(ma.fold_input_mask(rgb, (2, 2)), 1.0)
    with pytest.raises(ValueError):
        ma.fold_input_mask(np.ones((2, 10)), (3, 3))
    with pytest.raises(ValueError):
        ma.fold_input_mask(np.ones((2, 4)), (2, 2), permutation=np.array([0, 0, 1, 2]))
    with pytest.raises(ValueError):
        ma.fold_input_mask(np.ones(4), (2, 2))


def test_threshold_of():
    assert ma.threshold_of(A) == pytest.approx(0.2)
    assert ma.threshold_of(np.array([0.3, 0.1, 0.7])) == 0.0  # dense mask
    assert ma.threshold_of(C) == 0.0
    assert isinstance(ma.threshold_of(B), float)
