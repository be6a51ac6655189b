"""The training loader as Lightning uses it: worker processes, epochs, and resuming inside an epoch."""
import lmdb
import pytest
import torch

from lightocr.data import LmdbSource, SyntheticTextSource, TextRecognitionDataModule
from lightocr.data.samplers import ResumableSampler
from .conftest import line_image, png_bytes


@pytest.fixture
def words_lmdb(tmp_path):
    path = tmp_path / "words.lmdb"
    env = lmdb.open(str(path), map_size=2 ** 26)
    with env.begin(write=True) as txn:
        for number in range(1, 41):
            txn.put(f"image-{number:09d}".encode(), png_bytes(line_image(f"w{number}")))
            txn.put(f"label-{number:09d}".encode(), f"w{number}".encode())
        txn.put(b"num-samples", b"40")
    env.close()
    return path


def epoch_keys(loader):
    """One pass over the loader, each batch counted as trained (as the data module does under Lightning)."""
    batches = []
    for batch in loader:
        batches.append(batch)
        loader.sampler.count_batch()
    return [key for batch in batches for key in batch["keys"]], batches


@pytest.mark.parametrize("kind", ["lmdb", "synthetic"])
def test_two_workers_give_every_sample_once_per_epoch(kind, words_lmdb):
    source = (LmdbSource(str(words_lmdb)) if kind == "lmdb"
              else SyntheticTextSource(size=40, seed=5, max_length=5, font_dirs=[]))
    data = TextRecognitionDataModule(train_sources=[source], val_sources=[], batch_size=4, num_workers=2)
    loader = data.train_dataloader()
    assert loader.num_workers == 2
    keys, batches = epoch_keys(loader)
    assert len(keys) == len(set(keys)) == 40  # no sample repeated, none lost, across both workers
    again, batches_again = epoch_keys(loader)
    assert sorted(k.rsplit(":", 1)[-1] for k in again) == sorted(k.rsplit(":", 1)[-1] for k in keys)
    assert [k.rsplit(":", 1)[-1] for k in again] != [k.rsplit(":", 1)[-1] for k in keys]  # a new order
    first = {k: img for b in batches for k, img in zip(b["keys"], b["images"])}
    second = {k: img for b in batches_again for k, img in zip(b["keys"], b["images"])}
    if kind == "lmdb":  # the same records, distorted anew: the augmentation seed holds the epoch
        changed = sum(not torch.equal(first[k], second[k]) for k in first)
    else:  # new lines: the epoch enters the rendering seed
        labels0 = {k.rsplit(":", 1)[-1]: l for b in batches for k, l in zip(b["keys"], b["labels"])}
        labels1 = {k.rsplit(":", 1)[-1]: l for b in batches_again for k, l in zip(b["keys"], b["labels"])}
        changed = sum(labels0[i] != labels1[i] for i in labels0)
    assert changed > 30


def test_augmentation_is_off_for_evaluation(words_lmdb):
    data = TextRecognitionDataModule(train_sources=[LmdbSource(str(words_lmdb))],
                                     val_sources=[LmdbSource(str(words_lmdb))], batch_size=40, num_workers=0)
    assert data.train_dataloader().dataset.augment is not None
    val = next(iter(data.val_dataloader()[0]))
    clean = TextRecognitionDataModule(train_sources=[], val_sources=[LmdbSource(str(words_lmdb))], batch_size=40,
                                      num_workers=0, augment=False)
    assert torch.equal(val["images"], next(iter(clean.val_dataloader()[0]))["images"])


@pytest.mark.parametrize("before,after", [(2, 1), (1, 2), (2, 3)])
def test_resume_on_another_number_of_processes_skips_exactly_what_was_trained(before, after):
    dataset = list(range(60))
    # ``before`` ranks each trained 3 batches of 4 in data epoch 2
    trained = []
    for rank in range(before):
        sampler = ResumableSampler(dataset, batch_size=4, seed=7)
        sampler.num_replicas, sampler.rank = before, rank
        sampler.resume(epoch=2, consumed=0)
        trained += [index for epoch, index in list(sampler)[:12]]
        for _ in range(3):
            sampler.count_batch()
    position = sampler.position()
    assert position == dict(epoch=2, samples=3 * 4 * before, pool_batches=0, pool_samples=4 * before, world_size=before)
    rest = []
    for rank in range(after):
        sampler = ResumableSampler(dataset, batch_size=4, seed=7)
        sampler.num_replicas, sampler.rank = after, rank
        sampler.resume(position["epoch"], position["samples"])
        rest += [index for epoch, index in sampler if epoch == 2]
    assert not set(trained) & set(rest)
    assert len(set(trained) | set(rest)) >= 60 - after + 1  # at most a partial shard's remainder is dropped


def test_an_exhausted_epoch_moves_on_to_the_next():
    sampler = ResumableSampler(list(range(20)), batch_size=4, seed=0)
    assert [epoch for epoch, _ in sampler] == [0] * 20
    for _ in range(5):
        sampler.count_batch()
    assert sampler.position() == dict(epoch=1, samples=0, pool_batches=0, pool_samples=4, world_size=1)
    assert [epoch for epoch, _ in sampler] == [1] * 20
    sampler.count_batch()  # an iteration cut short after one batch continues the same epoch
    assert [epoch for epoch, _ in sampler] == [1] * 16


def pooled_epoch(pool, num_workers=0, pad_to="batch"):
    data = TextRecognitionDataModule(train_sources=[SyntheticTextSource(size=96, seed=3, max_length=12, font_dirs=[])],
                                     val_sources=[], batch_size=8, num_workers=num_workers, pad_to=pad_to,
                                     width_pool=pool)
    return epoch_keys(data.train_dataloader())


def test_width_pools_train_the_same_lines_with_less_padding():
    plain_keys, plain = pooled_epoch(1)  # in this process first: its OpenCV must not hang the workers forked next
    keys, batches = pooled_epoch(4, num_workers=2)
    assert len(batches) == 12 and all(len(b["keys"]) == 8 for b in batches)
    assert sorted(keys) == sorted(plain_keys) and len(set(keys)) == 96  # every line once, none lost
    padded = lambda batches: sum(b["images"].shape[0] * b["images"].shape[-1] for b in batches)  # noqa: E731
    assert padded(batches) < 0.8 * padded(plain)
    for start in range(0, 12, 4):  # the 4 batches of a pool hold disjoint ranges of widths, in a drawn order
        ranges = sorted((int(b["widths"].min()), int(b["widths"].max())) for b in batches[start:start + 4])
        assert all(high <= low for (_, high), (low, _) in zip(ranges, ranges[1:]))
    orders = [[int(b["widths"].max()) for b in batches[start:start + 4]] for start in range(0, 12, 4)]
    assert any(order != sorted(order) for order in orders)  # not always narrowest first


def test_a_pool_is_cut_to_the_epoch_and_ignored_when_padding_to_max_width():
    keys, batches = pooled_epoch(50)
    assert len(batches) == 12 and len(set(keys)) == 96
    assert pooled_epoch(4, pad_to="max")[0] == pooled_epoch(1, pad_to="max")[0]  # all padded alike: as drawn


def test_a_resume_inside_a_pool_skips_the_batches_trained_of_it():
    sampler = ResumableSampler(list(range(48)), batch_size=4, seed=1, pool=3)
    first = list(sampler)
    for _ in range(4):  # the first pool of 3 batches, and 1 batch of the second
        sampler.count_batch()
    position = sampler.position()
    assert position == dict(epoch=0, samples=12, pool_batches=1, pool_samples=12, world_size=1)
    resumed = ResumableSampler(list(range(48)), batch_size=4, seed=1, pool=3)
    resumed.resume(position["epoch"], position["samples"], position["pool_batches"])
    assert list(resumed) == first[12:] and resumed.skip == 1  # the pool is loaded again, its first batch dropped
    for _ in range(2):
        resumed.count_batch()
    assert resumed.position()["samples"] == 24 and resumed.position()["pool_batches"] == 0


def test_a_partly_trained_pool_of_another_sharding_is_left_out_on_resume():
    data = TextRecognitionDataModule(train_sources=[SyntheticTextSource(size=96, seed=3, max_length=5, font_dirs=[])],
                                     val_sources=[], batch_size=4, num_workers=0, pad_to="batch", width_pool=2)
    data.load_state_dict(dict(epoch=0, samples=16, pool_batches=1, pool_samples=16, world_size=2))
    with pytest.warns(UserWarning, match="resuming on 1 processes a run saved on 2"):
        loader = data.train_dataloader()
    assert loader.sampler.position() == dict(epoch=0, samples=32, pool_batches=0, pool_samples=8, world_size=1)
    keys, _ = epoch_keys(loader)
    assert len(keys) == 96 - 32
