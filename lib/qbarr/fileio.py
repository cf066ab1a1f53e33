"""The suite's one atomic file write.

``write_atomic(path, data)`` writes a uniquely named temp file in the same directory
(``mkstemp``: two writers at once never share a temp file), fsyncs it, renames it over
``path`` (``os.replace``: readers see the old file or the new one, never a mix) and fsyncs
the directory so the rename survives a power cut. The file gets mode 0600 (config.ini and
everything qbarr renders hold or sit beside secrets). The temp name starts with a dot and
does not end in ``.conf``, so supervisord's ``programs.d/*.conf`` include never reads it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step.

    Raises:
        OSError: the directory is not writable, the disk is full... (the old file stays).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
