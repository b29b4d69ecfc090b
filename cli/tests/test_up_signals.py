"""Ctrl-C and SIGTERM both become a stop request that start-up steps and the main loop honour."""

from __future__ import annotations

import os
import signal

import pytest

from aos_cli.up import StopRequested, StopSignal


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_requests_a_stop_instead_of_killing_aos_up(signum: int) -> None:
    stop = StopSignal()
    with stop.installed():
        os.kill(os.getpid(), signum)
        assert stop.requested
        with pytest.raises(StopRequested):
            stop.check()


def test_previous_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with StopSignal().installed():
        assert signal.getsignal(signal.SIGTERM) != before
    assert signal.getsignal(signal.SIGTERM) == before
