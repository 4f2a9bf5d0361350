"""Tensors through a shared-memory directory: the codec's path, its checks, markers and the sweep."""

import os
import time

import numpy as np
import pytest
import torch

from services.runtime.errors import InvalidArgument
from services.runtime.shared_memory import METADATA_KEY, SharedMemory, for_reply, inline
from services.runtime.tensor_codec import from_proto, to_proto
from unclip.v1 import tensor_pb2


@pytest.fixture
def shared(tmp_path):
    (tmp_path / "shm").mkdir()
    memory = SharedMemory(tmp_path / "shm", min_bytes=1024)
    yield memory
    memory.close()


def regions(memory: SharedMemory) -> list[str]:
    return sorted(p.name for p in memory.directory.iterdir() if "marker" not in p.name)


def test_a_large_tensor_travels_as_a_region_and_decodes_exactly(shared):
    images = torch.randn(2, 3, 32, 32)
    message = to_proto(images, shared)
    assert not message.data and message.shared_memory.byte_size == images.numel() * 4
    assert regions(shared) == [message.shared_memory.name]
    decoded = from_proto(message, "images", shared=shared)
    assert torch.equal(decoded, images)
    decoded += 1  # the decoded tensor owns its memory: the region is untouched
    assert torch.equal(from_proto(message, "images", shared=shared), images)


def test_a_small_tensor_stays_inline(shared):
    message = to_proto(torch.zeros(4, 4), shared)
    assert message.data and not message.HasField("shared_memory") and regions(shared) == []


def test_inline_moves_the_bytes_into_data_and_removes_the_region(shared):
    images = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    message = to_proto(images, shared)
    inline(message, shared, "upsampler.images")
    assert not message.HasField("shared_memory") and regions(shared) == []
    assert torch.equal(from_proto(message, "images"), images)


def region_message(shared, **region) -> tensor_pb2.Tensor:
    message = to_proto(torch.zeros(1, 3, 32, 32), shared)
    for key, value in region.items():
        setattr(message.shared_memory, key, value)
    return message


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"name": "../../etc/passwd"}, 'name must be "unclip-"'),
        ({"name": "unclip-" + "0" * 32}, "does not exist"),
        ({"byte_size": 5}, "shared memory region has 5 bytes"),
    ],
)
def test_bad_regions_are_invalid_arguments_naming_the_field(shared, change, expected):
    with pytest.raises(InvalidArgument, match=expected) as error:
        from_proto(region_message(shared, **change), "images", shared=shared)
    assert error.value.field == "images"


def test_a_region_whose_file_was_cut_short_is_refused(shared):
    message = region_message(shared)
    os.truncate(shared.directory / message.shared_memory.name, 10)
    with pytest.raises(InvalidArgument, match="holds 10 bytes"):
        from_proto(message, "images", shared=shared)


def test_nan_in_a_region_is_refused(shared):
    with pytest.raises(InvalidArgument, match="NaN"):
        from_proto(to_proto(torch.full((1, 3, 32, 32), float("nan")), shared), "images", shared=shared)


def test_a_region_reaching_a_service_without_shared_memory_is_refused(shared):
    with pytest.raises(InvalidArgument, match="does not share"):
        from_proto(region_message(shared), "images")


def test_data_and_a_region_together_are_refused(shared):
    message = region_message(shared)
    message.data = b"\0" * 4
    with pytest.raises(InvalidArgument, match="both data and"):
        from_proto(message, "images", shared=shared)


def test_replies_go_through_shared_memory_only_to_callers_that_see_the_directory(tmp_path, shared):
    (tmp_path / "elsewhere").mkdir()
    caller, elsewhere = SharedMemory(shared.directory), SharedMemory(tmp_path / "elsewhere")
    try:
        assert for_reply(shared, [(METADATA_KEY, caller.marker())]) is shared
        assert for_reply(shared, [(METADATA_KEY, elsewhere.marker())]) is None
        assert for_reply(shared, [(METADATA_KEY, "../" + caller.marker())]) is None
        assert for_reply(shared, [("other", "x")]) is None
        assert for_reply(None, [(METADATA_KEY, caller.marker())]) is None
    finally:
        caller.close()
        elsewhere.close()
    assert list(shared.directory.glob("*marker*")) == []


def test_the_sweep_removes_old_regions_only(shared):
    old = to_proto(torch.zeros(1, 3, 32, 32), shared).shared_memory.name
    fresh = to_proto(torch.ones(1, 3, 32, 32), shared).shared_memory.name
    marker = shared.marker()
    past = time.time() - 3600
    os.utime(shared.directory / old, (past, past))
    os.utime(shared.directory / marker, (past, past))
    assert shared.sweep(older_than_seconds=600) == 1
    assert regions(shared) == [fresh] and (shared.directory / marker).exists()


def test_a_missing_directory_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        SharedMemory(tmp_path / "missing")


def test_non_native_arrays_encode_through_regions_too(shared):
    big_endian = np.arange(1024, dtype=">f4").reshape(1, 1, 32, 32)
    decoded = from_proto(to_proto(big_endian, shared), "images", shared=shared)
    assert np.array_equal(decoded.numpy(), big_endian.astype("<f4"))
