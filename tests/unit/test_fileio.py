"""One atomic file write for the whole suite (qbarr.fileio.write_atomic)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from qbarr import fileio, render
from qbarr.webui import configedit

WRITES = 300


def hammer(write, path: Path, writers: int = 2) -> list[BaseException]:
    """``writers`` threads each writing ``path`` WRITES times at once; the errors they hit."""
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def work(n: int) -> None:
        start.wait()
        for i in range(WRITES):
            try:
                write(path, f"writer {n} write {i}\n" * 50)
            except Exception as exc:  # noqa: BLE001 - counted, the test reports them
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_renders_never_collide(tmp_path: Path) -> None:
    path = tmp_path / "arr.conf"
    errors = hammer(render.write_atomic, path)
    assert errors == [], f"{len(errors)} errors, first: {errors[0]!r}"
    text = path.read_text()
    assert text.startswith("writer ") and text.count("\n") == 50  # one whole write, not a mix
    assert [p.name for p in tmp_path.iterdir()] == ["arr.conf"]  # no temp file left


def test_write_atomic_is_private_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text("old")
    os.chmod(path, 0o644)
    fileio.write_atomic(path, "new text")
    assert path.read_text() == "new text"
    assert path.stat().st_mode & 0o777 == 0o600
    fileio.write_atomic(path, b"bytes too")
    assert path.read_bytes() == b"bytes too"
    assert [p.name for p in tmp_path.iterdir()] == ["config.ini"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text("old")

    class Boom(Exception):
        pass

    class Exploding(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise Boom

    with pytest.raises(Boom):
        fileio.write_atomic(path, Exploding("x"))
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.ini"]


def test_config_editor_and_renderer_share_the_helper() -> None:
    assert render.fileio is fileio and configedit.fileio is fileio
