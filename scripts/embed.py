#!/usr/bin/env python3
"""Embeds files in the binary at build time: writes a C file holding each
file's bytes as an array, and a header declaring them.

    embed.py --prefix i2v__openapi --base docs --c out.c --h out.h docs/openapi.json

For every file, named by its path relative to --base ('/' separated):
    const unsigned char PREFIX_<name>[];   its bytes and one NUL after them
    const size_t PREFIX_<name>_len;        the bytes, without the NUL
(<name> is the relative path with every character outside [A-Za-z0-9]
turned into '_'), and a table of all of them in the order given:
    const PREFIX_file PREFIX_files[];      {name, data, len}
    const size_t PREFIX_nfiles;
The NUL lets text be used as a C string; the length never counts it.
"""
import argparse
import os
import re
import sys


def symbol(prefix, rel):
    return prefix + "_" + re.sub(r"[^A-Za-z0-9]", "_", rel)


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", required=True, help="C symbol prefix, e.g. i2v__web")
    ap.add_argument("--base", default=".", help="names are paths relative to this folder")
    ap.add_argument("--c", required=True, help="the C file to write")
    ap.add_argument("--h", required=True, help="the header to write")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", a.prefix):
        sys.exit(f"embed.py: --prefix {a.prefix!r} is not a C identifier")

    entries = []  # (relative name, symbol, bytes)
    seen = {}
    for path in a.files:
        rel = os.path.relpath(path, a.base).replace(os.sep, "/")
        if rel.startswith("../"):
            sys.exit(f"embed.py: {path} is not under --base {a.base}")
        sym = symbol(a.prefix, rel)
        if sym in seen:
            sys.exit(f"embed.py: {path} and {seen[sym]} make the same symbol {sym}")
        seen[sym] = path
        with open(path, "rb") as f:
            entries.append((rel, sym, f.read()))

    guard = re.sub(r"[^A-Za-z0-9]", "_", os.path.basename(a.h)).upper()
    h = [f"/* {os.path.basename(a.h)} - written by scripts/embed.py; do not edit. */",
         f"#ifndef {guard}", f"#define {guard}", "", "#include <stddef.h>", "",
         "typedef struct {",
         "    const char *name; /* the path relative to the embedded folder */",
         "    const unsigned char *data; /* followed by one NUL */",
         "    size_t len; /* without the NUL */",
         f"}} {a.prefix}_file;", ""]
    for rel, sym, _ in entries:
        h.append(f"extern const unsigned char {sym}[]; /* {rel} */")
        h.append(f"extern const size_t {sym}_len;")
    h += ["", f"extern const {a.prefix}_file {a.prefix}_files[];",
          f"extern const size_t {a.prefix}_nfiles;", "", "#endif", ""]

    c = [f"/* {os.path.basename(a.c)} - written by scripts/embed.py; do not edit. */",
         f'#include "{os.path.basename(a.h)}"', ""]
    for rel, sym, data in entries:
        c.append(f"const unsigned char {sym}[{len(data) + 1}] = {{")
        raw = data + b"\0"
        for i in range(0, len(raw), 16):
            c.append("    " + ", ".join(f"0x{b:02x}" for b in raw[i:i + 16]) + ",")
        c.append("};")
        c.append(f"const size_t {sym}_len = {len(data)};")
        c.append("")
    c.append(f"const {a.prefix}_file {a.prefix}_files[] = {{")
    for rel, sym, data in entries:
        c.append(f"    {{{c_string(rel)}, {sym}, {len(data)}}},")
    c.append("};")
    c.append(f"const size_t {a.prefix}_nfiles = {len(entries)};")
    c.append("")

    write(a.h, "\n".join(h))
    write(a.c, "\n".join(c))


if __name__ == "__main__":
    main()
