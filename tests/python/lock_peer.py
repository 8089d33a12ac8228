"""A k3zkutil ZKLock driven line by line from stdin, for the interop tests
(tests/lock_python.rs): the real Python package on the same server and the
same lock node as zkutil.

Usage: python lock_peer.py HOSTS LOCK_DIR NAME [IDENTIFIER]
Each command line gets one JSON line back on stdout:
  acquire SECONDS        -> {"ok": true} | {"error": "LockTimeout"}
  try_acquire            -> {"locked": b, "holder": h, "version": v}
  try_release            -> {"released": b, "holder": h, "version": v}
  release                -> {"ok": true}
  is_locked              -> {"locked": b}
  identifier             -> {"identifier": {...}}
  set_val JSON           -> {"version": v}
  get_val                -> {"val": x, "version": v}
  raw                    -> {"data": "<node data as text>", "version": v}
  dump ID                -> {"dump": k3utfjson.dump({"id": ID, "val": None})}
  loop N                 -> {"intervals": [[start, end], ...]} (N acquire/release
                            rounds, wall-clock seconds while held)
  quit
"""

import json
import sys
import time

import k3utfjson
import k3zkutil
from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout

hosts, lock_dir, name = sys.argv[1:4]
identifier = sys.argv[4] if len(sys.argv) > 4 else None

zk = KazooClient(hosts=hosts)
zk.start()
conf = k3zkutil.ZKConf(hosts=hosts, lock_dir=lock_dir)
lock = k3zkutil.ZKLock(name, zkconf=conf, zkclient=zk, identifier=identifier)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "acquire":
        try:
            lock.acquire(timeout=float(arg))
            reply({"ok": True})
        except LockTimeout:
            reply({"error": "LockTimeout"})
    elif cmd == "try_acquire":
        locked, holder, version = lock.try_acquire()
        reply({"locked": locked, "holder": holder, "version": version})
    elif cmd == "try_release":
        released, holder, version = lock.try_release()
        reply({"released": released, "holder": holder, "version": version})
    elif cmd == "release":
        # ZKLock.release() also removes its listener; the client stays ours.
        lock.release()
        lock = k3zkutil.ZKLock(name, zkconf=conf, zkclient=zk, identifier=lock.identifier["id"])
        reply({"ok": True})
    elif cmd == "is_locked":
        reply({"locked": lock.is_locked()})
    elif cmd == "identifier":
        reply({"identifier": lock.identifier})
    elif cmd == "set_val":
        reply({"version": lock.set_lock_val(json.loads(arg))})
    elif cmd == "get_val":
        val, version = lock.get_lock_val()
        reply({"val": val, "version": version})
    elif cmd == "raw":
        data, stat = zk.get(lock.lock_path)
        reply({"data": data.decode("utf-8"), "version": stat.version})
    elif cmd == "dump":
        reply({"dump": k3utfjson.dump({"id": arg, "val": None})})
    elif cmd == "loop":
        intervals = []
        for _ in range(int(arg)):
            lock.acquire(timeout=60)
            start = time.time()
            time.sleep(0.002)
            end = time.time()
            lock.release()
            lock = k3zkutil.ZKLock(name, zkconf=conf, zkclient=zk, identifier=lock.identifier["id"])
            intervals.append([start, end])
        reply({"intervals": intervals})
    elif cmd == "quit":
        break
    else:
        reply({"error": "unknown command " + cmd})

zk.stop()
zk.close()
