"""SPEC §3, §6, §7, §12: SIGKILL anywhere loses nothing, never duplicates, and relaunch finishes.

Workers forked from a warmed-up server (crash_worker.py) commit, launch, save records and
data, and rebuild or recreate the index, and are SIGKILLed either right before a seeded
random write operation or after a seeded random delay. After every kill `harness.verify`
checks: no JSON file cut short, every experiment directory readable, every record and
data file that save returned for present, the index equal to the files once the storage
is reopened, no duplicate experiment, no dead run reading as running; finally a relaunch
finishes every experiment with the id and seed it got first.
"""

import pytest

from .harness import REPRODUCE, SEED, Acks, ForkServer, run_lanes, verify

LAUNCH = [["launch", 0, 6], ["data", 0, 6], ["records", 0, 6], ["direct", 0]]
COMMITS = [["commit", 0, 2], ["commit", 1, 2], ["drop_index", 0, 2], ["commit", 2, 2], ["rebuild"], ["commit", 3, 2]]


@pytest.fixture
def server(tmp_path):
    server = ForkServer(str(tmp_path))
    yield server
    server.close()


def write_points(server, storage, ops) -> int:
    """How many write operations `ops` perform on a fresh storage (each one is a kill point)."""
    server.run(storage, ops)
    return Acks(storage + ".acks").ios[-1]


@pytest.mark.parametrize("ops", [LAUNCH, COMMITS], ids=["launch-records-data", "commit-index"])
def test_a_kill_before_every_single_write_loses_nothing(server, tmp_path, ops, capsys):
    """Exhaustive, in the SQLite manner: the k-th write operation is the last, for every k."""
    points = write_points(server, str(tmp_path / "dry-run"), ops)
    assert points > 20
    relaunch = [["launch", *op[1:]] for op in ops if op[0] in ("launch", "commit")]
    for k in range(1, points + 1):
        storage = str(tmp_path / f"kill-{k}")
        state: dict = {}
        assert server.run(storage, ops, kill_at=k)["killed"], k
        try:
            verify(storage, state)
            server.run(storage, relaunch)
            verify(storage, state, final=True)
        except AssertionError as e:
            raise AssertionError(f"killed before write operation {k} of {points} of {ops}: {e}") from None
    with capsys.disabled():
        print(f"\n[crash safety] every one of {points} write operations killed in turn: {ops}")


def test_randomized_kill_points(tmp_path, request, capsys):
    """At least 200 kills at seeded random points (thousands with --slow)."""
    lanes, kills = (100, 50) if request.config.getoption("--slow") else (10, 40)
    stats = run_lanes(str(tmp_path), lanes, kills)
    landed = stats["kills at a write operation"] + stats["kills after a delay"]
    with capsys.disabled():
        print(f"\n[crash safety] seed {SEED}: {landed} kill points, {dict(sorted(stats.items()))}")
    assert landed >= lanes * kills, REPRODUCE
