"""Media checks before import: which files to probe, the ffprobe verdict, the probe pool.

- :mod:`qbarr.media.judge`  pure: which files of a torrent are media, ffprobe's output -> verdict
- :mod:`qbarr.media.probe`  I/O: the content fingerprint, one ffprobe run with a timeout
- :mod:`qbarr.media.pool`   the manager's worker pool: requests, collection across cycles,
  results remembered in the database (``media_probes``) per fingerprint and size

The policy never probes: it reads :class:`qbarr.policy.MediaCheck` values from ``Env.media``,
which the manager fills from the pool (docs/rules.md, rule ``bad-media``).
"""

from __future__ import annotations

from qbarr.media.judge import Verdict, judge, media_files
from qbarr.media.probe import ffprobe_path, ffprobe_version

__all__ = ["Verdict", "ffprobe_path", "ffprobe_version", "judge", "media_files"]
