"""pytest fixtures: a real herald per test module, the official `pusher` library pointed at it,
and a factory for real pusher-js listeners. Herald's log tail is attached to failing tests."""

import shutil

import pytest

from harness import Herald, Listener


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        h = getattr(item, "_herald", None)
        if h is not None:
            report.sections.append(("herald output (tail)", h.logs()))


@pytest.fixture(scope="module")
def herald_process():
    h = Herald()
    yield h
    h.stop()
    shutil.rmtree(h.dir, ignore_errors=True)


@pytest.fixture
def herald(herald_process, request):
    request.node._herald = herald_process
    return herald_process


@pytest.fixture
def pusher_client(herald):
    return herald.client()


@pytest.fixture
def listener(herald):
    """Factory: listener(channels=[...], user_id=...) → a subscribed pusher-js client."""
    started = []

    def make(channels=(), wait=True, **kwargs):
        lst = Listener(herald, channels=channels, **kwargs)
        started.append(lst)
        if wait:
            lst.socket_id()
            lst.wait_subscribed(*channels)
        return lst

    yield make
    for lst in started:
        lst.close()
