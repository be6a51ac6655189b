"""CTC loss and decoding against hand-worked cases."""
import itertools
import math

import pytest
import torch

from lightocr.ocr import Charset, CTCDecoder, CTCLoss, LabelTooLongError
from lightocr.ocr.ctc import ctc_min_length
from lightocr.ocr.decode import prefix_beam_search

CHARSET = Charset("ab")  # blank 0, a 1, b 2


def logits_from_probs(rows):
    return torch.tensor(rows, dtype=torch.float32).log()


def test_greedy_collapses_repeats_and_blanks():
    # best path: a a - a b b -  ->  "aab"
    probs = [[0.1, 0.8, 0.1], [0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3],
             [0.1, 0.2, 0.7], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]
    prediction = CTCDecoder(CHARSET)(logits_from_probs(probs)[None])[0]
    assert prediction.text == "aab"
    # confidence: product over emitted steps (t=0, 3, 4): 0.8 * 0.5 * 0.7
    assert prediction.confidence == pytest.approx(0.8 * 0.5 * 0.7, rel=1e-5)


def test_greedy_respects_lengths_in_a_batch():
    probs = torch.tensor([[[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]]] * 2)
    predictions = CTCDecoder(CHARSET)(probs.log(), torch.tensor([3, 2]))
    assert [p.text for p in predictions] == ["aba", "ab"]


def test_beam_search_beats_greedy_on_the_textbook_case():
    # two steps: greedy picks blank, blank -> "" (p = 0.36); but "a" has p = 0.4*0.6*2 + 0.4*0.4 = 0.64
    probs = [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]]
    greedy = CTCDecoder(CHARSET)(logits_from_probs(probs)[None])[0]
    beam = CTCDecoder(CHARSET, beam_width=3)(logits_from_probs(probs)[None])[0]
    assert greedy.text == ""
    assert beam.text == "a"
    assert beam.confidence == pytest.approx(0.64, rel=1e-5)


def brute_force_labellings(probs):
    """Every alignment of a (T, 3) distribution, collapsed (merge repeats, drop blanks) and summed per labelling."""
    totals = {}
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        collapsed = tuple(c for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c))
        p = math.prod(float(probs[t, c]) for t, c in enumerate(path))
        totals[collapsed] = totals.get(collapsed, 0.0) + p
    return totals


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(6))
def test_beam_search_finds_the_most_probable_labelling(steps, seed):
    generator = torch.Generator().manual_seed(100 * steps + seed)
    probs = torch.randn(steps, 3, generator=generator).mul(2).softmax(-1).double()
    totals = brute_force_labellings(probs)
    best = max(totals, key=totals.get)
    # a beam wide enough to keep every prefix is exact
    indices, probability = prefix_beam_search(probs.numpy(), beam_width=3 ** steps)
    assert tuple(indices) == best
    assert probability == pytest.approx(totals[best], rel=1e-9)
    assert sum(totals.values()) == pytest.approx(1.0)


def test_ctc_min_length():
    assert ctc_min_length([1, 2, 3]) == 3
    assert ctc_min_length([1, 1, 2, 2]) == 6
    assert ctc_min_length([]) == 0


def test_loss_matches_hand_computation():
    # T=2, target "a": paths (a,a), (a,-), (-,a) -> p = 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64
    probs = torch.tensor([[[0.6, 0.4, 1e-9], [0.6, 0.4, 1e-9]]])
    loss = CTCLoss()(probs.log(), [[1]], torch.tensor([2]))
    assert loss.item() == pytest.approx(-math.log(0.64), rel=1e-4)


def test_loss_in_float32_under_bf16_autocast():
    logits = torch.randn(4, 20, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = CTCLoss()(logits.bfloat16(), [[1, 2], [2], [1, 1, 2], [2, 1]], torch.full((4,), 20))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_too_long_labels_are_rejected_with_an_example():
    with pytest.raises(LabelTooLongError, match=r"1 of 2 labels.*sample 1: 4 symbols need 5 steps, has 4"):
        CTCLoss()(torch.randn(2, 4, 3), [[1], [1, 1, 2, 1]], torch.tensor([4, 4]))
