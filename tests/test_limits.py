"""The per-account limits in memory: one bucket per account, socket counts, pruning."""

from __future__ import annotations

import pytest

from hub import limits
from hub.errors import TooManyConnections
from hub.limits import AccountLimits


def test_one_bucket_per_account() -> None:
    """Every caller of one account draws on the same bucket; other accounts have their own."""
    lim = AccountLimits(rate=0.001, burst=3, max_connections=10)
    assert lim.bucket(1) is lim.bucket(1)
    assert [lim.allow(1) for _ in range(4)] == [True, True, True, False]
    assert lim.allow(2)


def test_socket_count_opens_and_releases() -> None:
    """The cap refuses the socket past it, and a released socket makes room again."""
    lim = AccountLimits(rate=1, burst=1, max_connections=2)
    lim.open(7)
    lim.open(7)
    with pytest.raises(TooManyConnections):
        lim.open(7)
    lim.release(7)
    lim.open(7)
    lim.release(7)
    lim.release(7)
    assert 7 not in lim.sockets


def test_prune_drops_only_idle_full_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PRUNE_AT buckets, those of accounts with no socket and a full bucket go;
    a spent bucket stays (dropping it would refill it), and so does a connected account's."""
    monkeypatch.setattr(limits, "PRUNE_AT", 3)
    lim = AccountLimits(rate=0.001, burst=2, max_connections=10)
    spent = lim.bucket(1)
    spent.allow()
    lim.open(2)
    connected = lim.bucket(2)  # full, but its account has a socket
    lim.bucket(3)  # full, no socket
    lim.bucket(4)  # the fourth: prunes first
    assert set(lim.buckets) == {1, 2, 4}
    assert lim.bucket(1) is spent and lim.bucket(2) is connected
