#!/usr/bin/env python3
"""Embeds files in the binary at build time: writes a C file holding each
file's bytes as an array, and a header declaring them.

    embed.py --prefix i2v__openapi --base docs --c out.c --h out.h docs/openapi.json
    embed.py --prefix i2v__web --base web --type i2v_web_asset --type-header service/web.h \\
             --c web_assets.c --h web_assets.h web/index.html web/app.css ...

For every file, named by its path relative to --base ('/' separated):
    const unsigned char PREFIX_<name>[];   its bytes and one NUL after them
    const size_t PREFIX_<name>_len;        the bytes, without the NUL
(<name> is the relative path with every character outside [A-Za-z0-9]
turned into '_'), and a table of all of them in the order given:
    const PREFIX_file PREFIX_files[];      {name, data, len, ctype, etag}
    const size_t PREFIX_nfiles;
ctype is the file's Content-Type (from its extension; an extension not in
TYPES is an error) and etag a strong entity tag of its bytes (the first 16
hex digits of their SHA-256, quoted). With --type, the table's entries are
of that struct type, declared (with the table) in --type-header, instead of
PREFIX_file. The NUL lets text be used as a C string; the length never
counts it.
"""
import argparse
import hashlib
import os
import re
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


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
    ap.add_argument("--type", help="the table's struct type, declared in --type-header")
    ap.add_argument("--type-header", help="the header declaring --type (included as given)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    for name, v in (("--prefix", a.prefix), ("--type", a.type)):
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            sys.exit(f"embed.py: {name} {v!r} is not a C identifier")
    if (a.type is None) != (a.type_header is None):
        sys.exit("embed.py: --type and --type-header go together")

    entries = []  # (relative name, symbol, bytes, content type)
    seen = {}
    for path in a.files:
        rel = os.path.relpath(path, a.base).replace(os.sep, "/")
        if rel.startswith("../"):
            sys.exit(f"embed.py: {path} is not under --base {a.base}")
        ext = os.path.splitext(rel)[1].lower()
        if ext not in TYPES:
            sys.exit(f"embed.py: {path}: no Content-Type known for {ext or 'no extension'!r}")
        sym = symbol(a.prefix, rel)
        if sym in seen:
            sys.exit(f"embed.py: {path} and {seen[sym]} make the same symbol {sym}")
        seen[sym] = path
        with open(path, "rb") as f:
            entries.append((rel, sym, f.read(), TYPES[ext]))

    ftype = a.type or f"{a.prefix}_file"
    guard = re.sub(r"[^A-Za-z0-9]", "_", os.path.basename(a.h)).upper()
    h = [f"/* {os.path.basename(a.h)} - written by scripts/embed.py; do not edit. */",
         f"#ifndef {guard}", f"#define {guard}", "", "#include <stddef.h>", ""]
    if a.type:
        h += [f'#include "{a.type_header}"', ""]
    else:
        h += ["typedef struct {",
              "    const char *name; /* the path relative to the embedded folder */",
              "    const unsigned char *data; /* followed by one NUL */",
              "    size_t len; /* without the NUL */",
              "    const char *ctype; /* its Content-Type */",
              "    const char *etag; /* \"<16 hex digits of its SHA-256>\" */",
              f"}} {ftype};", ""]
    for rel, sym, _, _ in entries:
        h.append(f"extern const unsigned char {sym}[]; /* {rel} */")
        h.append(f"extern const size_t {sym}_len;")
    h += ["", f"extern const {ftype} {a.prefix}_files[];",
          f"extern const size_t {a.prefix}_nfiles;", "", "#endif", ""]

    c = [f"/* {os.path.basename(a.c)} - written by scripts/embed.py; do not edit. */",
         f'#include "{os.path.basename(a.h)}"', ""]
    for rel, sym, data, _ in entries:
        c.append(f"const unsigned char {sym}[{len(data) + 1}] = {{")
        raw = data + b"\0"
        for i in range(0, len(raw), 16):
            c.append("    " + ", ".join(f"0x{b:02x}" for b in raw[i:i + 16]) + ",")
        c.append("};")
        c.append(f"const size_t {sym}_len = {len(data)};")
        c.append("")
    c.append(f"const {ftype} {a.prefix}_files[] = {{")
    for rel, sym, data, ctype in entries:
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        c.append(f"    {{.name = {c_string(rel)}, .data = {sym}, .len = {len(data)}, "
                 f".ctype = {c_string(ctype)}, .etag = {c_string(etag)}}},")
    c.append("};")
    c.append(f"const size_t {a.prefix}_nfiles = {len(entries)};")
    c.append("")

    write(a.h, "\n".join(h))
    write(a.c, "\n".join(c))


if __name__ == "__main__":
    main()
