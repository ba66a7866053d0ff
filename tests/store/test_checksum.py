"""Tests of neural_mi.store.checksum: what the completion record's checksum covers."""

from __future__ import annotations

import numpy as np

from neural_mi.store import content_sha256

ATTRS = {"spec": {"key": "k", "gamma": 2}, "test_mi": 0.25, "diagnostics": {}}
ARRAYS = {"test_mi": np.array([0.0, 0.5, 0.25]), "loss": np.array([1.0, 0.5], dtype=np.float32)}


def test_digest_is_hex_sha256_and_ignores_orders_and_byte_order():
    digest = content_sha256("k", ATTRS, ARRAYS)
    assert len(digest) == 64 and int(digest, 16) >= 0
    reordered_attrs = {"diagnostics": {}, "test_mi": 0.25, "spec": {"gamma": 2, "key": "k"}}
    reordered_arrays = {
        "loss": ARRAYS["loss"].astype(">f4"),  # same values, big-endian
        "test_mi": ARRAYS["test_mi"][::-1][::-1],  # same values, a non-contiguous view
    }
    assert content_sha256("k", reordered_attrs, reordered_arrays) == digest


def test_digest_changes_with_every_part_of_the_content():
    digest = content_sha256("k", ATTRS, ARRAYS)
    changed = [
        content_sha256("other", ATTRS, ARRAYS),
        content_sha256("k", {**ATTRS, "test_mi": 5.0}, ARRAYS),
        content_sha256("k", {**ATTRS, "extra": None}, ARRAYS),
        content_sha256("k", ATTRS, {**ARRAYS, "test_mi": np.zeros(3)}),
        content_sha256("k", ATTRS, {**ARRAYS, "test_mi": ARRAYS["test_mi"].astype(np.float32)}),
        content_sha256("k", ATTRS, {**ARRAYS, "test_mi": ARRAYS["test_mi"][:2]}),
        content_sha256("k", ATTRS, {**ARRAYS, "test_mi": ARRAYS["test_mi"].reshape(3, 1)}),
        content_sha256("k", ATTRS, {"loss": ARRAYS["loss"]}),
        content_sha256("k", ATTRS, {"test_mi2": ARRAYS["test_mi"], "loss": ARRAYS["loss"]}),
    ]
    assert digest not in changed
    assert len(set(changed)) == len(changed)
