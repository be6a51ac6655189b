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
    assert position == dict(epoch=2, samples=3 * 4 * before, world_size=before)
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
    assert sampler.position() == dict(epoch=1, samples=0, world_size=1)
    assert [epoch for epoch, _ in sampler] == [1] * 20
    sampler.count_batch()  # an iteration cut short after one batch continues the same epoch
    assert [epoch for epoch, _ in sampler] == [1] * 16
