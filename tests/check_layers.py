#!/usr/bin/env python3
"""check_layers.py - proves the source tree's layering.

Every `#include "…"` in src/ is resolved (the including file's folder first,
then src/, then include/) and checked against the layers' allowed
dependencies:

  common   -> common, include/i2v (the error type and codes)
  engine   -> engine, common, include/i2v
  store    -> store, common, include/i2v
  blob     -> blob, common, include/i2v
  service  -> service, store, blob, common, include/i2v (the engine only
              through its public header)
  cli      -> anything

Then the module graph (a module is a .c/.h pair; it depends on the modules
whose headers its files include) must have no cycles, in any layer.
An include that resolves to no file is an error too, unless it names a
header that the including folder's meson.build generates at build time (a
custom_target output, e.g. scripts/embed.py's). Prints one line per
violation and a closing summary; exits non-zero on any.

usage: check_layers.py [ROOT]
       check_layers.py --self-test   (the checker finds planted violations)
"""
import os
import re
import sys

ALLOWED = {
    "common": {"common", "include"},
    "engine": {"engine", "common", "include"},
    "store": {"store", "common", "include"},
    "blob": {"blob", "common", "include"},
    "service": {"service", "store", "blob", "common", "include"},
    "cli": {"cli", "service", "store", "blob", "engine", "common", "include"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    parts = rel.split("/")
    if parts[0] == "include":
        return "include"
    return parts[1] if parts[0] == "src" and len(parts) > 2 else None


def resolve(root, src_rel, inc):
    for base in (os.path.dirname(src_rel), "src", "include"):
        cand = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def generated(root, src_rel, inc):
    """True when inc is a header the source's folder's meson.build writes (a
    custom_target's output, in the build folder)."""
    if "/" in inc:
        return False
    mb = os.path.join(root, os.path.dirname(src_rel), "meson.build")
    if not os.path.isfile(mb):
        return False
    with open(mb, encoding="utf-8") as fh:
        text = fh.read()
    return any(re.search(r"output\s*:\s*\[?[^\]\n]*'" + re.escape(inc) + "'", m.group(0))
               for m in re.finditer(r"custom_target\((?:[^()]|\([^()]*\))*\)", text))


def self_test():
    """Plants each kind of violation in a small tree and checks it is found."""
    import subprocess
    import tempfile
    tree = {
        "include/i2v/i2v.h": "",
        "src/common/error.h": '#include "i2v/i2v.h"\n',
        "src/engine/render.c": '#include "service/worker.h"\n#include "common/error.h"\n',
        "src/store/store.c": '#include "service/api.h"\n',
        "src/blob/blob.c": '#include "engine/render.h"\n',
        "src/engine/render.h": "",
        "src/service/worker.h": "",
        "src/service/api.h": '#include "http.h"\n',
        "src/service/http.c": '#include "api.h"\n',
        "src/service/http.h": "",
        "src/service/missing.c": '#include "nowhere.h"\n#include "made.h"\n',
        "src/service/meson.build": "x = custom_target('x', input : 'a',\n"
                                   "  output : ['made.c', 'made.h'], command : ['true'])\n"
                                   "y = files('nowhere.h')\n",
        "src/stray.c": "",
    }
    expect = [
        'src/engine/render.c: #include "service/worker.h" reaches up from engine into service',
        'src/store/store.c: #include "service/api.h" reaches up from store into service',
        'src/blob/blob.c: #include "engine/render.h" reaches up from blob into engine',
        'src/service/missing.c: #include "nowhere.h" resolves to no file',
        "src/stray.c: not in a layer folder",
        "include loop: src/service/api -> src/service/http -> src/service/api",
    ]
    with tempfile.TemporaryDirectory() as d:
        for rel, text in tree.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w", encoding="utf-8") as fh:
                fh.write(text)
        out = subprocess.run([sys.executable, __file__, d], capture_output=True, text=True)
    missed = [e for e in expect if e not in out.stdout]
    for e in missed:
        print("layers self-test: not found:", e)
    ok = out.returncode != 0 and not missed and "6 problems" in out.stdout
    print(f"layers self-test: {len(expect) - len(missed)} of {len(expect)} planted problems found"
          + ("" if ok else "\n" + out.stdout))
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    files = []
    for dp, _, fn in os.walk(os.path.join(root, "src")):
        for f in fn:
            if f.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(dp, f), root))
    problems = []
    deps = {}  # module -> modules it includes
    checked = 0
    for rel in sorted(files):
        layer = layer_of(rel)
        if layer not in ALLOWED:
            problems.append(f"{rel}: not in a layer folder ({', '.join(ALLOWED)})")
            continue
        module = os.path.splitext(rel)[0]
        deps.setdefault(module, set())
        with open(os.path.join(root, rel), encoding="utf-8") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            checked += 1
            target = resolve(root, rel, inc)
            if target is None and generated(root, rel, inc):
                continue
            if target is None:
                problems.append(f'{rel}: #include "{inc}" resolves to no file')
                continue
            tlayer = layer_of(target)
            if tlayer not in ALLOWED[layer]:
                problems.append(f'{rel}: #include "{inc}" reaches up from {layer} into {tlayer}')
            tmod = os.path.splitext(target)[0]
            if tmod != module:
                deps[module].add(tmod)
    # cycles (iterative DFS with colours)
    colour, cycles = {}, []
    for start in sorted(deps):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(deps.get(start, ()))))]
        path = [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            c = colour.get(nxt, 0)
            if c == 1:
                cyc = path[path.index(nxt):] + [nxt]
                cycles.append(" -> ".join(cyc))
            elif c == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(deps.get(nxt, ())))))
    for cyc in cycles:
        problems.append(f"include loop: {cyc}")
    for p in problems:
        print("layers:", p)
    print(f"layers: {len(files)} files, {checked} includes, {len(deps)} modules checked; "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
