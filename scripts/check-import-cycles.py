#!/usr/bin/env python3
"""Lists pairs of Rust source files that import each other (through `crate::` or `super::`
paths), in the library and both binaries; exits 1 if there are any. A module and its own
sub-modules are not counted as a pair. Test modules and comments are left out."""
import os
import re
import sys

def modules(root):
    mods = {}
    for dp, _, fs in os.walk(root):
        for f in fs:
            if f.endswith('.rs'):
                p = os.path.join(dp, f)
                rel = os.path.relpath(p, root)[:-3].split(os.sep)
                if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
                mods[tuple(rel)] = p
    return mods
pairs = 0
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
for crate_root in ['common/src', 'train/src', 'infer/src']:
    mods = modules(crate_root)
    deps = {}
    for m, p in mods.items():
        src = open(p).read()
        src = re.sub(r'#\[cfg\(test\)\]\s*mod tests \{.*', '', src, flags=re.S)
        src = re.sub(r'//.*', '', src)
        found = set()
        for path in re.findall(r'crate((?:::\w+)+)', src):
            parts = tuple(path.strip(':').split('::'))
            for n in range(len(parts), 0, -1):
                if parts[:n] in mods: found.add(parts[:n]); break
        for path in re.findall(r'super((?:::\w+)+)', src):
            base = m[:-1]
            parts = tuple(path.strip(':').split('::'))
            for n in range(len(parts), 0, -1):
                if base + parts[:n] in mods: found.add(base + parts[:n]); break
        found.discard(m)
        deps[m] = found
    for a in deps:
        for b in deps[a]:
            if a < b and a in deps.get(b, ()) and not (a == b[:len(a)] or b == a[:len(b)]):
                print(f"{crate_root}: {'/'.join(a)} and {'/'.join(b)} import each other")
                pairs += 1
sys.exit(1 if pairs else 0)
