"""Sampler statistics: the allowed set under top-k / top-p, draw counting and the verdict."""

import torch

from tools.verification.criteria import SamplingCriteria
from tools.verification.sampling_stats import allowed_tokens, compare_draws, count_draws

ROW = torch.tensor([[0.4, 0.3, 0.2, 0.1]])


def allowed(top_k=None, top_p=None, probs=ROW, slack=0.0):
    k = None if top_k is None else torch.tensor([top_k])
    p = None if top_p is None else torch.tensor([top_p])
    return allowed_tokens(probs, k, p, slack)[0].tolist()


def test_top_k_keeps_the_k_most_probable_and_all_ties_at_the_kth():
    assert allowed(top_k=2) == [True, True, False, False]
    ties = torch.tensor([[0.4, 0.2, 0.2, 0.2]])
    assert allowed(top_k=2, probs=ties) == [True, True, True, True]
    assert allowed(top_k=4) == [True] * 4  # k == vocab: no filtering


def test_top_p_keeps_tokens_until_the_mass_above_them_reaches_p():
    assert allowed(top_p=0.5) == [True, True, False, False]  # 0.4 < 0.5, so 0.3 is still needed
    assert allowed(top_p=0.39) == [True, False, False, False]
    assert allowed(top_p=0.39, slack=0.05) == [True, True, False, False]  # rounding at the boundary allowed
    assert allowed(top_p=1.0) == [True] * 4


def test_top_k_then_top_p_renormalises_the_top_k_set():
    # top-2 renormalised: 0.4/0.7 = 0.571, 0.3/0.7 = 0.429. Unnormalised, 0.4 < 0.55 would
    # still need the second token; renormalised, the first alone reaches 0.55.
    assert allowed(top_k=2, top_p=0.55) == [True, False, False, False]
    assert allowed(top_k=2, top_p=0.6) == [True, True, False, False]
    assert allowed(top_k=3, top_p=0.3) == [True, False, False, False]


def test_draws_are_counted_per_distinct_row():
    counts = torch.zeros(2, 4, dtype=torch.int64)
    out_of_range = count_draws(counts, torch.tensor([0, 1, 0, 3, 7, -1]))
    # batch rows 0, 2, 4 are distinct row 0; rows 1, 3, 5 distinct row 1
    assert counts.tolist() == [[2, 0, 0, 0], [0, 1, 0, 1]]
    assert out_of_range == 2


def test_verdict_names_draws_outside_the_allowed_set_and_distribution_drift():
    criteria = SamplingCriteria(max_tvd=0.1)
    mask = allowed_tokens(ROW, torch.tensor([2]), None, 0.0)
    expected = torch.tensor([[570, 430, 0, 0]])
    good = compare_draws("samples", expected, torch.tensor([[560, 440, 0, 0]]), mask, ROW, criteria, {})
    assert good.passed and good.distribution.max_tvd < 0.02
    outside = compare_draws("samples", expected, torch.tensor([[500, 400, 100, 0]]), mask, ROW, criteria, {})
    assert outside.problem == "support" and "output 'samples': the reference drew 100 times" in outside.message
    assert outside.distribution.out_of_support[0].token == 2
    drift = compare_draws("samples", expected, torch.tensor([[900, 100, 0, 0]]), mask, ROW, criteria, {})
    assert drift.problem == "distribution" and drift.distribution.max_tvd > 0.3
    broken = compare_draws("samples", expected, expected, mask, ROW, criteria, {"actual": 3})
    assert broken.problem == "range"
