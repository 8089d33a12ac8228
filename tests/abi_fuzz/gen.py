#!/usr/bin/env python3
"""Generates the C-ABI fuzzer's calls (tests/abi_fuzz.rs runs it at test time).

Reads include/zkutil.h, finds every exported `zku_*` function and writes C
(to stdout) with one `fuzz_<name>` function per exported function: it draws
each argument from the value classes of its parameter (by type and name),
logs the call, makes it, hands the result to the harness (harness.c) and
frees what the call returned. A parameter this script has no class for makes
it fail, so a function added to the header is covered or the test fails.

Usage: gen.py include/zkutil.h > calls.c
"""

import re
import sys

# Functions that end or change the handle they are given (besides the _free
# ones): they get a fresh handle from the harness's make_<type>() (or NULL),
# never the shared one, which later calls need as it was made.
FRESH_HANDLE = {
    "zku_client_close",
    "zku_client_add_auth",  # a bad credential ends the session
    "zku_cancel_cancel",
    "zku_reader_close",
    "zku_lock_cancel",
    "zku_op_cancel",
    "zku_acl_list_add",
    "zku_acl_list_add_digest",
    "zku_registration_close",
}
FRESH_HANDLE_PREFIXES = ("zku_config_set", "zku_config_add")

# Return values the caller owns.
OWNED_RETURN = {"char *": "zku_string_free"}

# Callback return values: keep them from writing (ZKU_CAS_SKIP) or waiting.
CALLBACK_RETURN = {"zku_cas_fn": "ZKU_CAS_SKIP", "zku_lock_holder_fn": "1"}

# A class: (C expression, label, bad). `bad`: the value is invalid for every
# function taking it, so the call must be rejected (and may then be given a
# long timeout: it must return before waiting).
NULL_OK = ("NULL", "NULL", False)
NULL_BAD = ("NULL", "NULL", True)
BAD_UTF8 = ("BAD_UTF8", "invalid UTF-8", True)
EMPTY = ('""', '""', False)
HUGE_STR = ("huge_str()", "2 MiB string", False)

STRING_VALUES = {
    "path": ['"/fuzz/"', '"/fuzz/n1"', '"/fuzz/reader"', '"/fuzz/cas"', '"/fuzz"', '"/"', '"/fuzz/new/child"'],
    "root": ['"/fuzz/tree"', '"/"'],
    "parent": ['"/fuzz"', '"/fuzz/none"', '"/"'],
    "bad_path": ['"fuzz"', '"/a//b"', '"/fuzz/."'],
    "json": ['"{\\"a\\":1}"', '"[1,"', '"null"', '"\\"s\\""'],
    "hierarchy_json": ['"{\\"a\\": {\\"b\\": 1}}"', '"{\\"a\\":"', '"[]"'],
    "users_json": ['"{}"', '"{\\"u\\": \\"p\\"}"', '"[1]"'],
    "perms": ['"rwcda"', '"r"', '"rq"', '"read"'],
    "letters": ['"rwcda"', '"cdrwa"', '"rz"'],
    "scheme": ['"digest"', '"world"', '"nosuchscheme"'],
    "id": ['"anyone"', '"u:x"', '"f1-a1-lock"'],
    "user": ['"u"', '"u:v"'],
    "password": ['"p"', '""'],
    "acc": ['"u:p"', '"up"'],
    "hosts": ["HOSTS", '"127.0.0.1:1"', '"::::"', '"h:99999"'],
    "name": ['"fuzzlock"', '"a/b"', '"."'],
    "identifier": ['"me"', '"x y"'],
    "key": ['"k1"', '"k/2"'],
    "value": ['"1"', '"1000"', '"x"', '"-5"'],
    "pointer": ['"/a"', '"a"', '"/a/~2"'],
    "node_id": ['"f1-a1-lock"', '"lock-0000000001"', '"x"'],
    "val_json": ['"{\\"v\\":1}"', '"{"'],
}


def string_classes(name):
    if name not in STRING_VALUES:
        return None
    classes = [NULL_OK, BAD_UTF8, EMPTY, HUGE_STR] + [(v, v.replace('"', "'"), False) for v in STRING_VALUES[name]]
    if name in ("path", "root", "parent"):
        classes += [(v, v.replace('"', "'"), True) for v in STRING_VALUES["bad_path"]]
    return classes


I32_MIN, I32_MAX = "INT32_MIN", "INT32_MAX"


def ints(*vals, bad=()):
    return [(str(v), str(v), False) for v in vals] + [(str(v), str(v), True) for v in bad]


SCALARS = {
    # (type, name) -> classes; name None: any name.
    ("int32_t", "expected_version"): ints(-1, 0, 3, I32_MAX, bad=(-2, I32_MIN)),
    ("int32_t", "expected_aversion"): ints(-1, 0, 3, I32_MAX, bad=(-2, I32_MIN)),
    ("int32_t", "version"): ints(-1, 0, 3, -2, I32_MIN, I32_MAX),
    ("int32_t", "default_timeout_ms"): ints(-2, -1, 0, 50, I32_MAX, bad=(-3, I32_MIN)),
    ("int32_t", "delay_ms"): ints(-1, 0, 10, I32_MAX, I32_MIN),
    ("int32_t", "perms"): ints(0, 1, 31, 32, -1, I32_MIN),
    ("int32_t", "mask"): ints(0, 1, 31, 32, -1, I32_MIN),
    ("uint32_t", "flags"): ints(0, 1, 2, 4, 256, 7, bad=("0x80000000u", "UINT32_MAX")),
    ("uint32_t", "max_attempts"): ints(0, 1, 3, "UINT32_MAX"),
    ("int64_t", "ms"): ints(-1, 0, 1, 4000, "INT64_MAX", "INT64_MIN"),
    ("int64_t", "ttl_ms"): ints(0, 1000, -1, "INT64_MAX", "INT64_MIN"),
    ("int64_t", "id"): ints(0, 1, -1, "INT64_MAX", "INT64_MIN"),
    ("size_t", "index"): ints(0, 1, 2, "SIZE_MAX"),
    ("bool", None): ints("false", "true"),
    ("zku_rc", None): ints(0, -1, -4, -101, -1001, -1019, -1021, -9999, I32_MIN, I32_MAX),
    ("zku_config_field", None): ints(0, 1, 2, 5, 100, -1, I32_MIN),
    ("zku_path_kind", None): ints(0, 1, 2, 3, 100, -1, I32_MIN),
    # Out of range is refused, except when the log callback is being
    # removed (NULL), where the level is ignored: not a "bad" class.
    ("zku_log_level", None): ints(1, 2, 3, 4, 0, 5, -1, I32_MIN),
}


def parse_header(text):
    body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    body = re.sub(r"//[^\n]*", "", body)
    body = re.sub(r"#[^\n]*", "", body)
    body = re.sub(r"\bextern\s+\"C\"\s*\{", "", body)
    callbacks = {}
    for m in re.finditer(r"typedef\s+([\w ]+?)\s*\(\*\s*(\w+)\)\s*\(([^)]*)\)\s*;", body):
        callbacks[m.group(2)] = (m.group(1).strip(), m.group(3).strip())
    funcs = []
    for decl in re.split(r"[;{}]", body):
        m = re.fullmatch(r"\s*([A-Za-z_][\w \*]*?)\b(zku_\w+)\s*\(([^()]*)\)\s*", decl)
        if not m:
            continue
        ret = " ".join(m.group(1).split())
        if ret.startswith("typedef"):
            continue
        params = [] if m.group(3).strip() == "void" else [split_param(p) for p in m.group(3).split(",")]
        funcs.append((m.group(2), ret, params))
    return funcs, callbacks


def split_param(p):
    p = " ".join(p.split())
    m = re.match(r"(.*?)(\w+)$", p)
    ctype = m.group(1).replace(" *", "*").replace("* ", "*").strip()
    ctype = re.sub(r"\*+", lambda s: " " + s.group(0), ctype).replace("  ", " ")
    return ctype, m.group(2)


class Gen:
    def __init__(self, funcs, callbacks):
        self.funcs = funcs
        self.callbacks = callbacks
        self.types = {re.sub(r"^zku_(\w+)_free$", r"\1", f[0]) for f in funcs if f[0].endswith("_free")}

    def handle_type(self, ctype):
        """The X of an opaque handle `struct zku_X *` (one with a zku_X_free, or a
        callback's zku_cas_next); None for other types (zku_stat: caller storage)."""
        m = re.fullmatch(r"(?:const )?struct zku_(\w+) \*", ctype)
        return m.group(1) if m and (m.group(1) in self.types or m.group(1) == "cas_next") else None

    def classes(self, fname, index, params):
        """Classes for params[index]; may consume the next parameter (a length)."""
        ctype, name = params[index]
        nxt = params[index + 1] if index + 1 < len(params) else None
        handle = self.handle_type(ctype)
        if handle == "cas_next":  # valid only inside a zku_cas_fn: the harness runs these calls there
            return [NULL_BAD, ("H_cas_next", "valid", False)], 1
        if handle is not None:
            fresh = fname in FRESH_HANDLE or fname.startswith(FRESH_HANDLE_PREFIXES) or fname == f"zku_{handle}_free"
            if index == 0 and fresh:
                return [NULL_OK, (f"make_{handle}()", "fresh", False)], 1
            # A NULL config means defaults and the environment (except to zku_config_*).
            optional = index > 0 or (handle == "config" and not fname.startswith("zku_config_"))
            null = NULL_OK if optional else NULL_BAD
            return [null, (f"H_{handle}", "valid", False)], 1
        if ctype == "const uint8_t *" and nxt and nxt[0] == "size_t":
            return [
                ("NULL, 0", "NULL/0", False),
                ("NULL, 5", "NULL/5", True),
                ("SMALL, 4", "4 bytes", False),
                ('(const uint8_t *)"a\\0b", 3', "embedded NUL", False),
                ("SMALL, SIZE_MAX", "4-byte buffer/SIZE_MAX", True),
                ("SMALL, (size_t)PTRDIFF_MAX + 1", "4-byte buffer/PTRDIFF_MAX+1", True),
                ("BIG, BIG_LEN", "2 MiB", True),
            ], 2
        if ctype == "uint8_t *" and nxt and nxt[0] == "size_t":  # a caller buffer the call writes
            return [
                ("NULL, 0", "NULL/0", False),
                ("NULL, 5", "NULL/5", True),
                ("OUT_BUF, 1", "1 byte", False),
                ("OUT_BUF, sizeof OUT_BUF", "64 bytes", False),
            ], 2
        if ctype == "const char *const *" and nxt and nxt[0] == "size_t":
            return [
                ("NULL, 0", "NULL/0", False),
                ("NULL, 2", "NULL/2", True),
                ("NAMES, 2", "{read,write}", False),
                ("NAMES_NULL, 2", "{read,NULL}", True),
                ("NAMES_BAD, 2", "{read,invalid UTF-8}", True),
                ("NAMES, SIZE_MAX", "2 names/SIZE_MAX", True),
                ("NAMES, SIZE_MAX / sizeof(char *) + 1", "2 names/SIZE_MAX/8+1", True),
            ], 2
        if ctype == "char *":  # a string the library allocated, given back
            return [NULL_OK, ("make_string()", "fresh", False)], 1
        if ctype == "const char *":
            c = string_classes(name)
            if c is None:
                sys.exit(f"gen.py: no value classes for string parameter `{name}` of {fname}")
            return c, 1
        if ctype in self.callbacks:
            return [NULL_OK, (f"cb_{ctype}", "no-op", False)], 1
        if ctype == "void *":
            return [NULL_OK, ("&USER_DATA", "&int", False)], 1
        if ctype.endswith("*"):
            return [NULL_OK, (f"&out{index}", "&out", False)], 1
        if ctype == "int32_t" and name == "timeout_ms":
            # A lock's calls take ZKU_LOCK_DEFAULT_TIMEOUT (-2) too.
            return ("timeout", int(params[0][0].endswith(("zku_lock *", "zku_fifo *")))), 1
        for key in ((ctype, name), (ctype, None)):
            if key in SCALARS:
                return SCALARS[key], 1
        sys.exit(f"gen.py: no value classes for parameter `{ctype} {name}` of {fname}")

    def out_local(self, ctype, index):
        """Declaration of the storage an out-parameter points to, and its cleanup."""
        pointee = ctype[:-1].strip()
        decl = f"{pointee} out{index}"
        decl += " = NULL;" if pointee.endswith("*") else " = {0};"
        free = None
        if pointee == "char *":
            free = "zku_string_free"
        else:
            h = self.handle_type(pointee)
            if h is not None and not pointee.startswith("const "):
                free = f"zku_{h}_free"
            elif re.fullmatch(r"struct \w+ \*", pointee):
                sys.exit(f"gen.py: no zku_..._free for out-parameter type {ctype}")
        return decl, free

    def function(self, fname, ret, params):
        lines = [f"static void fuzz_{fname}(struct rng *r) {{", "    struct call c;", "    (void)r;"]
        lines.append(f'    call_start(&c, "{fname}");')
        outs = []
        args = []
        timeouts = []
        i = 0
        while i < len(params):
            ctype, name = params[i]
            classes, used = self.classes(fname, i, params)
            label = name if used == 1 else f"{name}/{params[i + 1][1]}"
            if classes[0] == "timeout":
                lines.append(f"    int32_t a{i};")
                timeouts.append((i, name, classes[1]))
                args.append(f"a{i}")
                i += used
                continue
            if ctype.endswith("*") and classes[-1][0] == f"&out{i}":
                decl, free = self.out_local(ctype, i)
                lines.append(f"    {decl}")
                if free:
                    outs.append((i, free))
            if used == 2:
                lines.append(f"    {ctype} a{i}; size_t a{i + 1};")
                args += [f"a{i}", f"a{i + 1}"]
            else:
                lines.append(f"    {ctype} a{i};")
                args.append(f"a{i}")
            lines.append(f"    switch (rng_below(r, {len(classes)})) {{")
            for k, (expr, text, bad) in enumerate(classes):
                assign = f"a{i} = {expr}"
                if used == 2:  # a pointer and its length
                    assign = f"a{i} = PAIR_PTR({expr}); a{i + 1} = PAIR_LEN({expr})"
                lines.append(f"    case {k}: {assign}; call_arg(&c, {c_str(label)}, {c_str(text)}, {int(bad)}); break;")
            lines.append("    }")
            i += used
        for i, name, lock_default in timeouts:  # drawn last: long ones only where another argument is bad
            lines.append(f'    a{i} = draw_timeout(r, &c, "{name}", {lock_default});')
        call = f"{fname}({', '.join(args)})"
        if ret == "zku_rc" and params and params[-1][0] == "struct zku_error **":  # a fallible call
            lines.append(f"    do call_begin(&c); while (call_end(&c, {call}));")
        else:
            lines.append("    call_begin(&c);")
            if ret == "void":
                lines.append(f"    {call};")
            elif ret in OWNED_RETURN:
                lines.append(f"    {OWNED_RETURN[ret]}({call});")
            else:
                lines.append(f"    (void){call};")
            lines.append("    call_end_void(&c);")
        for i, free in outs:
            lines.append(f"    {free}(out{i});")
        handle = self.handle_type(params[0][0]) if params else None
        if handle and "make_" in self.classes(fname, 0, params)[0][-1][0] and fname != f"zku_{handle}_free":
            lines.append(f"    zku_{handle}_free((struct zku_{handle} *)a0);  /* the fresh handle */")
            lines.append("    call_freed(&c);")
        lines.append("}")
        return "\n".join(lines)

    def callback(self, name, ret, params):
        named = ", ".join(p.strip() for p in params.split(","))
        body = "" if ret == "void" else f" return {CALLBACK_RETURN.get(name, '0')};"
        voids = "".join(f" (void){split_param(p)[1]};" for p in params.split(",") if p.strip() != "void")
        return f"static {ret} cb_{name}({named}) {{{voids}{body} }}"

    def render(self):
        out = ["/* Generated by tests/abi_fuzz/gen.py from include/zkutil.h: do not edit. */", '#include "harness.h"', ""]
        for name, (ret, params) in sorted(self.callbacks.items()):
            out.append(self.callback(name, ret, params))
        out.append("")
        for f in self.funcs:
            out.append(self.function(*f))
            out.append("")
        out.append("const struct fuzz_target FUZZ_TARGETS[] = {")
        out += [f'    {{"{f[0]}", fuzz_{f[0]}}},' for f in self.funcs]
        out.append("};")
        out.append(f"const size_t FUZZ_TARGET_COUNT = {len(self.funcs)};")
        return "\n".join(out) + "\n"


def c_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    funcs, callbacks = parse_header(open(sys.argv[1], encoding="utf-8").read())
    if not funcs:
        sys.exit("gen.py: no zku_* function found")
    sys.stdout.write(Gen(funcs, callbacks).render())


if __name__ == "__main__":
    main()
