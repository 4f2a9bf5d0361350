from services.gateway.png_store import PngStore


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_png_is_served_until_its_ttl():
    clock = Clock()
    store = PngStore(ttl_seconds=10, max_bytes=100, clock=clock)
    name = store.put(b"png")
    clock.now = 9.9
    assert store.get(name) == b"png"
    clock.now = 10
    assert store.get(name) is None
    assert store.get("never-made") is None


def test_names_are_unguessable_and_distinct():
    store = PngStore(ttl_seconds=10, max_bytes=100)
    names = {store.put(b"x") for _ in range(20)}
    assert len(names) == 20 and all(len(name) >= 32 for name in names)


def test_past_the_budget_the_oldest_go_first():
    store = PngStore(ttl_seconds=10, max_bytes=10, clock=Clock())
    first, second = store.put(b"a" * 4), store.put(b"b" * 4)
    third = store.put(b"c" * 4)
    assert store.get(first) is None and store.get(second) == b"b" * 4 and store.get(third) == b"c" * 4


def test_expired_pngs_free_their_memory():
    clock = Clock()
    store = PngStore(ttl_seconds=1, max_bytes=8, clock=clock)
    store.put(b"a" * 8)
    clock.now = 2
    kept = store.put(b"b" * 8)  # the expired one goes, not this one
    assert store.get(kept) == b"b" * 8
