"""The host-wide change signal (core4flask.auth.changes) and the fork-aware pid."""

from __future__ import annotations

import os

import pytest

from core4flask._pid import current_pid
from core4flask.auth import changes
from core4flask.auth.changes import ChangeSignal


def test_a_fresh_signal_sees_no_change(tmp_path):
    signal = ChangeSignal(str(tmp_path))
    assert signal.changed() is False
    assert (tmp_path / changes.FILE_NAME).stat().st_size == changes.STAMP_SIZE


def test_a_notification_is_seen_once_by_every_other_signal(tmp_path):
    writer, first, second = (ChangeSignal(str(tmp_path)) for _ in range(3))
    writer.notify()
    assert first.changed() is True
    assert first.changed() is False
    assert second.changed() is True
    assert writer.changed() is True  # the writer's own caches were dropped by its caller already


def test_two_notifications_in_a_row_are_both_changes(tmp_path):
    writer, reader = ChangeSignal(str(tmp_path)), ChangeSignal(str(tmp_path))
    writer.notify()
    assert reader.changed() is True
    writer.notify()
    assert reader.changed() is True


def test_a_notification_reaches_a_forked_process_and_back(tmp_path):
    parent = ChangeSignal(str(tmp_path))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        own = ChangeSignal(str(tmp_path))
        own.notify()
        os.write(write_end, b"1")
        os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)
    assert os.waitpid(child, 0)[1] == 0
    assert parent.changed() is True


def test_an_old_short_signal_file_is_extended(tmp_path):
    (tmp_path / changes.FILE_NAME).write_text("ab", encoding="ascii")
    reader = ChangeSignal(str(tmp_path))
    writer = ChangeSignal(str(tmp_path))
    writer.notify()
    assert reader.changed() is True


def test_without_mmap_the_file_identity_is_the_stamp(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no mapping here")

    monkeypatch.setattr(changes.mmap, "mmap", refuse)
    writer, reader = ChangeSignal(str(tmp_path)), ChangeSignal(str(tmp_path))
    assert writer._map is None and reader._map is None
    assert reader.changed() is False
    writer.notify()
    assert reader.changed() is True
    assert reader.changed() is False


def test_an_unwritable_folder_never_raises(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x", encoding="ascii")
    signal = ChangeSignal(str(blocked))
    assert signal._map is None
    assert signal.changed() is False
    signal.notify()  # logged, not raised


@pytest.mark.parametrize("rounds", [1, 2])
def test_current_pid_follows_forks(rounds):
    assert current_pid() == os.getpid()
    for _ in range(rounds):
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            os.close(read_end)
            os.write(write_end, b"ok" if current_pid() == os.getpid() else b"no")
            os._exit(0)
        os.close(write_end)
        answer = os.read(read_end, 2)
        os.close(read_end)
        os.waitpid(child, 0)
        assert answer == b"ok"
