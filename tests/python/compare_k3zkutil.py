"""Compares zkutil's pure helpers, called through the C ABI (ctypes), with
the Python k3zkutil package on generated inputs: non-ASCII text, empty
strings, separators in odd places, unknown permission letters.

Usage: python compare_k3zkutil.py PATH/TO/libzkutil.so [CASES_PER_HELPER]
Exits non-zero on the first mismatch; prints one summary line per helper.
"""

import ctypes
import os
import random
import sys

import k3zkutil
from k3zkutil import zkutil as k3impl
from kazoo.security import ACL, Id

LIB = ctypes.CDLL(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
rng = random.Random(20261125)

c_char_pp = ctypes.POINTER(ctypes.c_char_p)
err_pp = ctypes.POINTER(ctypes.c_void_p)


class LockIdParts(ctypes.Structure):
    _fields_ = [
        ("node_id", ctypes.c_char_p),
        ("ip", ctypes.c_char_p),
        ("process_id", ctypes.c_int64),
        ("has_process_id", ctypes.c_bool),
        ("uuid", ctypes.c_char_p),
        ("txid", ctypes.c_char_p),
    ]


def fn(name, argtypes, restype=ctypes.c_int32):
    f = getattr(LIB, name)
    f.argtypes = argtypes
    f.restype = restype
    return f


# Outputs are library-owned, so raw pointers (c_void_p) are used and freed
# with the library's own functions.
zku_string_free = fn("zku_string_free", [ctypes.c_void_p], None)
zku_strings_len = fn("zku_strings_len", [ctypes.c_void_p], ctypes.c_size_t)
zku_strings_get = fn("zku_strings_get", [ctypes.c_void_p, ctypes.c_size_t], ctypes.c_char_p)
zku_strings_free = fn("zku_strings_free", [ctypes.c_void_p], None)
zku_make_digest = fn("zku_make_digest", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), err_pp])
zku_make_acl_entry = fn(
    "zku_make_acl_entry", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), err_pp]
)
zku_perm_letters_to_names = fn(
    "zku_perm_letters_to_names", [ctypes.c_char_p, ctypes.c_bool, ctypes.POINTER(ctypes.c_void_p), err_pp]
)
zku_perm_names_to_letters = fn(
    "zku_perm_names_to_letters",
    [ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.c_bool, ctypes.POINTER(ctypes.c_void_p), err_pp],
)
zku_perm_mask_to_letters = fn(
    "zku_perm_mask_to_letters", [ctypes.c_int32, ctypes.c_bool, ctypes.POINTER(ctypes.c_void_p), err_pp]
)
zku_perm_letters_to_mask = fn(
    "zku_perm_letters_to_mask", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int32), err_pp]
)
zku_parse_lock_id = fn(
    "zku_parse_lock_id", [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(LockIdParts)), err_pp]
)
zku_lock_id_parts_free = fn("zku_lock_id_parts_free", [ctypes.POINTER(LockIdParts)], None)
zku_lock_id = fn("zku_lock_id", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), err_pp])
zku_is_backward_locking = fn(
    "zku_is_backward_locking",
    [ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t, ctypes.c_char_p, ctypes.POINTER(ctypes.c_bool), err_pp],
)

ZKU_OK = 0
ZKU_EPERM = -1005
ZKU_EALREADYLOCKED = -1018

# Characters chosen to stress the helpers: separators, case pairs,
# multi-byte UTF-8, a character whose lower case is two characters (İ),
# and permission letters in both cases. No non-ASCII digits: k3zkutil's
# parse_lock_id raises on some of those (int('²')), see the README.
ALPHABET = list("abcxyzABCXYZ019 -:_./") + list("cdrwaCDRWA") + ["é", "ß", "İ", "中", "😀", "\t"]


def text(max_len=12):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, max_len)))


def c_str(ptr):
    value = ctypes.cast(ptr, ctypes.c_char_p).value.decode()
    zku_string_free(ptr)
    return value


def take_strings(ptr):
    items = [zku_strings_get(ptr, i).decode() for i in range(zku_strings_len(ptr))]
    zku_strings_free(ptr)
    return items


def fail(helper, inp, ours, theirs):
    print(f"MISMATCH {helper} input={inp!r}: zkutil={ours!r} k3zkutil={theirs!r}")
    sys.exit(1)


def python_result(f, *args):
    try:
        return ("ok", f(*args))
    except k3zkutil.PermTypeError:
        return ("perm_error", None)
    except ValueError:
        return ("value_error", None)


def check_make_digest():
    cases = [text(20) for _ in range(N)] + ["", ":", "xp:123", "a:b:c", "中:😀"]
    for acc in cases:
        out = ctypes.c_void_p()
        rc = zku_make_digest(acc.encode(), ctypes.byref(out), None)
        ours = c_str(out) if rc == ZKU_OK else rc
        if ours != k3zkutil.make_digest(acc):
            fail("make_digest", acc, ours, k3zkutil.make_digest(acc))
    return len(cases)


def check_make_acl_entry():
    count = 0
    for _ in range(N):
        user, password = text(8), text(8)
        perms = "".join(rng.choice("cdrwacdrwaCDx中") for _ in range(rng.randint(0, 6)))
        out = ctypes.c_void_p()
        rc = zku_make_acl_entry(user.encode(), password.encode(), perms.encode(), ctypes.byref(out), None)
        ours = ("ok", c_str(out)) if rc == ZKU_OK else ("perm_error" if rc == ZKU_EPERM else rc, None)
        theirs = python_result(k3zkutil.make_acl_entry, user, password, perms)
        if ours != theirs:
            fail("make_acl_entry", (user, password, perms), ours, theirs)
        count += 1
    return count


def check_perm_to_long():
    count = 0
    for _ in range(N):
        short = "".join(rng.choice("cdrwaCDRWAcdrwa xİé") for _ in range(rng.randint(0, 7)))
        for lower in (True, False):
            out = ctypes.c_void_p()
            rc = zku_perm_letters_to_names(short.encode(), lower, ctypes.byref(out), None)
            ours = ("ok", take_strings(out)) if rc == ZKU_OK else ("perm_error" if rc == ZKU_EPERM else rc, None)
            theirs = python_result(k3zkutil.perm_to_long, short, lower)
            if ours != theirs:
                fail("perm_to_long", (short, lower), ours, theirs)
            count += 1
    return count


def check_perm_to_short():
    names = ["create", "delete", "read", "write", "admin", "CREATE", "Read", "wRiTe", "all", "", "reader", "créate"]
    count = 0
    for _ in range(N):
        lst = [rng.choice(names) for _ in range(rng.randint(0, 5))]
        for lower in (True, False):
            arr = (ctypes.c_char_p * max(len(lst), 1))(*[s.encode() for s in lst])
            out = ctypes.c_void_p()
            rc = zku_perm_names_to_letters(arr, len(lst), lower, ctypes.byref(out), None)
            ours = ("ok", c_str(out)) if rc == ZKU_OK else ("perm_error" if rc == ZKU_EPERM else rc, None)
            theirs = python_result(k3zkutil.perm_to_short, lst, lower)
            if ours != theirs:
                fail("perm_to_short", (lst, lower), ours, theirs)
            count += 1
    return count


def check_masks():
    """Every mask against kazoo's ACL + k3zkutil's parse_kazoo_acl, and back."""
    for mask in range(32):
        out = ctypes.c_void_p()
        rc = zku_perm_mask_to_letters(mask, True, ctypes.byref(out), None)
        ours = c_str(out) if rc == ZKU_OK else rc
        theirs = k3zkutil.parse_kazoo_acl([ACL(mask, Id("digest", "u:x"))])[0][2]
        if ours != theirs:
            fail("mask_to_letters", mask, ours, theirs)
        back = ctypes.c_int32()
        if zku_perm_letters_to_mask(ours.encode(), ctypes.byref(back), None) != ZKU_OK or back.value != mask:
            fail("letters_to_mask", ours, back.value, mask)
        acls = k3zkutil.make_kazoo_digest_acl([("u", "p", ours)]) if ours else None
        if acls and acls[0].perms != mask:
            fail("letters_to_mask vs make_kazoo_digest_acl", ours, mask, acls[0].perms)
    return 32


def lock_id_samples():
    seps = ["-", "-", "-", ":", "txid:", "--", ""]
    parts = ["web", "", "1.2.3.4", "1234", "0", "x9", "abc", "中文", "😀", "007", " 12", "12 "]
    for _ in range(N):
        yield "".join(rng.choice(parts) + rng.choice(seps) for _ in range(rng.randint(0, 6)))
    yield from ["", "-", "---", "----", "txid:", "txid:7-ip-12-u", "a-b-c-d-e-f", "node-ip-notnum-uuid"]


def check_parse_lock_id():
    count = 0
    for s in lock_id_samples():
        out = ctypes.POINTER(LockIdParts)()
        rc = zku_parse_lock_id(s.encode(), ctypes.byref(out), None)
        if rc != ZKU_OK:
            fail("parse_lock_id", s, rc, "ok")
        p = out.contents
        dec = lambda b: None if b is None else b.decode()  # noqa: E731
        ours = {
            "node_id": dec(p.node_id),
            "ip": dec(p.ip),
            "process_id": p.process_id if p.has_process_id else None,
            "uuid": dec(p.uuid),
            "txid": dec(p.txid),
        }
        zku_lock_id_parts_free(out)
        theirs = k3zkutil.parse_lock_id(s)
        if ours != theirs:
            fail("parse_lock_id", s, ours, theirs)
        count += 1
    return count


def check_lock_id():
    count = 0
    for node_id in ["web", "", "中", "a-b", "txid:9"] + [text(6) for _ in range(20)]:
        out = ctypes.c_void_p()
        if zku_lock_id(node_id.encode(), ctypes.byref(out), None) != ZKU_OK:
            fail("lock_id", node_id, "error", "ok")
        ours = c_str(out)
        theirs = k3zkutil.lock_id(node_id)
        # Same shape: node_id, the same ip choice, this process's pid; the
        # uuid is random on both sides.
        if ours.rsplit("-", 3)[:3] != theirs.rsplit("-", 3)[:3] or len(ours.rsplit("-", 1)[1]) != 32:
            fail("lock_id", node_id, ours, theirs)
        count += 1
    return count


def check_is_backward_locking():
    count = 0
    for _ in range(N):
        keys = list({text(5) for _ in range(rng.randint(0, 5))})
        key = rng.choice(keys) if keys and rng.random() < 0.2 else text(5)
        arr = (ctypes.c_char_p * max(len(keys), 1))(*[k.encode() for k in keys])
        out = ctypes.c_bool()
        rc = zku_is_backward_locking(arr, len(keys), key.encode(), ctypes.byref(out), None)
        ours = ("ok", out.value) if rc == ZKU_OK else ("value_error" if rc == ZKU_EALREADYLOCKED else rc, None)
        theirs = python_result(k3zkutil.is_backward_locking, keys, key)
        if ours != theirs:
            fail("is_backward_locking", (keys, key), ours, theirs)
        count += 1
    return count


def main():
    total = 0
    for helper in [
        check_make_digest,
        check_make_acl_entry,
        check_perm_to_long,
        check_perm_to_short,
        check_masks,
        check_parse_lock_id,
        check_lock_id,
        check_is_backward_locking,
    ]:
        n = helper()
        total += n
        print(f"{helper.__name__[6:]:<22} {n:>5} cases equal")
    print(f"k3zkutil comparison: {total} cases, 0 mismatches (k3zkutil {k3impl.__name__}, pid {os.getpid()})")


if __name__ == "__main__":
    main()
