import numpy as np
import torch

from textrnn.text.batching import EncodedTexts, inference_batches, training_batches


def test_encoded_texts_pad_on_the_right_with_zeros():
    encoded = EncodedTexts([[5, 6, 7], [], [8]])
    ids, lengths = encoded.batch(np.array([0, 1, 2]))
    assert ids.tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0]]
    assert lengths.tolist() == [3, 0, 1] and ids.dtype == torch.long


def test_training_batches_cover_every_row_once_mostly_at_one_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=5000)
    batches = training_batches(lengths, 32, np.random.default_rng(1))
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(5000))
    assert sum(len(b) != 32 for b in batches) <= 1  # only the very last leftover batch may be short
    one_length = sum(len(b) for b in batches if lengths[b].min() == lengths[b].max())
    assert one_length / 5000 > 0.85
    padding = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches) / lengths.sum()
    assert padding < 0.01


def test_training_batches_follow_the_seed_and_change_every_epoch():
    lengths = np.random.default_rng(0).integers(1, 30, size=1000)
    first = training_batches(lengths, 16, np.random.default_rng(7))
    again = training_batches(lengths, 16, np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    rng = np.random.default_rng(7)
    epoch1, epoch2 = training_batches(lengths, 16, rng), training_batches(lengths, 16, rng)
    assert not all(np.array_equal(a, b) for a, b in zip(epoch1, epoch2))


def test_unbucketed_batches_and_inference_order():
    lengths = np.array([3, 1, 2, 5])
    assert [b.tolist() for b in inference_batches(lengths, 2)] == [[1, 2], [0, 3]]
    assert [b.tolist() for b in inference_batches(lengths, 3, sort=False)] == [[0, 1, 2], [3]]
    batches = training_batches(lengths, 2, np.random.default_rng(0), bucketed=False)
    assert sorted(np.concatenate(batches).tolist()) == [0, 1, 2, 3]


def test_prediction_batches_of_long_texts_stay_within_the_token_budget():
    lengths = np.random.default_rng(0).integers(1, 3_000, size=5_000)
    lengths[7] = 100_000  # longer than the budget alone: a batch of its own
    batches = inference_batches(lengths, batch_size=256, max_tokens=16_384)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 256
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 16_384
    assert [7] in [batch.tolist() for batch in batches]
    # Short texts still fill whole batches of 256.
    assert [len(b) for b in inference_batches(np.full(600, 40), 256, max_tokens=16_384)] == [256, 256, 88]
