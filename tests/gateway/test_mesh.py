import pytest

from services.gateway.mesh import batches


@pytest.mark.parametrize("n, expected", [(1, [1]), (8, [8]), (9, [8, 1]), (10, [8, 2])])
def test_n_is_split_into_mesh_requests_of_at_most_8(n, expected):
    assert batches(n) == expected
