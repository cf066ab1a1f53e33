"""qbarr-supervisord: supervisord as `qbarr run` starts it (see qbarr.launcher).

    qbarr-supervisord -n -c <data dir>/supervisord.conf

supervisord's own main(), with a stdout and stderr that never raise: a full disk under its
log files must not kill it.
"""

from __future__ import annotations

from qbarr.launcher import supervisord_main as main

if __name__ == "__main__":
    raise SystemExit(main())
