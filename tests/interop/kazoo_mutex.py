"""A kazoo Lock contender for tests/fifo_interop.rs.

Usage: kazoo_mutex.py HOSTS LOCK_PATH LOG ID ROUNDS. Each round: acquire,
append "enter ID HOLDER" (HOLDER: the first of kazoo's contenders()) and
"exit ID" to LOG, release. The lock names its nodes `<uuid>-lock-<seq>` and
sees Curator's (and zkutil's) `_c_<uuid>-lock-<seq>` through
extra_lock_patterns, so Curator, kazoo and zkutil share one queue.
"""

import sys
import time

from kazoo.client import KazooClient
from kazoo.recipe.lock import Lock


class CuratorNamedLock(Lock):
    # Curator sorts by the text after "lock-": kazoo's default "__lock__"
    # names would sort by their uuid there.
    _NODE_NAME = "-lock-"


def append(log, line):
    with open(log, "a") as f:
        f.write(line + "\n")


def main():
    hosts, path, log, ident, rounds = sys.argv[1:6]
    zk = KazooClient(hosts=hosts)
    zk.start(timeout=30)
    lock = CuratorNamedLock(zk, path, identifier=ident, extra_lock_patterns=["-lock-"])
    for _ in range(int(rounds)):
        lock.acquire(timeout=120)
        append(log, "enter %s %s" % (ident, lock.contenders()[0]))
        time.sleep(0.002)
        append(log, "exit %s" % ident)
        lock.release()
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()
