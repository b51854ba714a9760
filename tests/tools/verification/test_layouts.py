"""Index layouts: offsets that start at 0, never decrease and end at the total; page ids inside the cache."""

import pytest
import torch

from tools.verification.layouts import SPARE_PAGES, indptr, pages_needed, paged_layout, round_up


def test_indptr_is_the_running_total_of_segment_lengths():
    offsets = indptr([3, 0, 5, 1])
    assert offsets.dtype == torch.int32
    assert offsets.tolist() == [0, 3, 3, 8, 9]


def test_indptr_rejects_negative_lengths():
    with pytest.raises(ValueError, match="non-negative"):
        indptr([2, -1])


@pytest.mark.parametrize("page_size", [1, 16, 64])
def test_paged_layout_gives_each_sequence_its_own_pages_inside_the_cache(page_size):
    kv_lens = [page_size, 3 * page_size, 2 * page_size]
    layout = paged_layout(kv_lens, page_size, torch.Generator().manual_seed(0))
    counts = torch.diff(layout.kv_indptr).tolist()
    assert counts == [1, 3, 2]
    assert layout.kv_indptr[-1].item() == layout.kv_indices.numel() == 6
    assert layout.kv_indices.dtype == torch.int32
    ids = layout.kv_indices.tolist()
    assert len(set(ids)) == len(ids)
    assert all(0 <= i < layout.num_pages for i in ids)
    assert layout.num_pages == 6 + SPARE_PAGES


def test_page_ids_are_scattered_not_consecutive():
    layout = paged_layout([8] * 8, 1, torch.Generator().manual_seed(0))
    assert layout.kv_indices.tolist() != list(range(64))


def test_lengths_must_be_whole_pages():
    assert pages_needed([64, 128], 64) == [1, 2]
    with pytest.raises(ValueError, match=r"\[65\] are not multiples of the page size 64"):
        pages_needed([64, 65], 64)


def test_round_up():
    assert [round_up(n, 64) for n in (1, 64, 65, 128)] == [64, 64, 128, 128]


def test_a_partial_last_page_holds_the_remainder_of_the_sequence():
    layout = paged_layout([1, 5, 8, 0], 4, torch.Generator().manual_seed(0), partial_last_page=True)
    assert torch.diff(layout.kv_indptr).tolist() == [1, 2, 2, 0]
    assert layout.kv_last_page_len.tolist() == [1, 1, 4, 0]
    assert layout.kv_last_page_len.dtype == torch.int32
    full = paged_layout([4, 8], 4, torch.Generator().manual_seed(0))
    assert full.kv_last_page_len.tolist() == [4, 4]
