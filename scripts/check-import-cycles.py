#!/usr/bin/env python3
"""Checks that the modules of the library and both binaries import each other without cycles,
at every level of the folder tree: within each folder, its files, its sub-folders (each taken
as one node with everything below it) and the folder's own mod.rs (lib.rs, main.rs) form a
graph of `crate::` and `super::` imports that must have no cycle. So `cpu/` and `ops/` may not
import each other through any of their files, nor a mod.rs and its children. Test modules and
comments are left out. Prints each cycle and exits 1 if there is any.

Usage: scripts/check-import-cycles.py [--self-test]
  --self-test  first checks the checker on small made-up crates (each kind of cycle is found)"""
import os
import re
import sys


def modules(root, root_file):
    """Module path (tuple) -> file, for the crate whose root is root/root_file (lib.rs or
    main.rs), following its `mod NAME;` declarations (a binary's main.rs and the library's
    lib.rs in one folder are two crates)."""
    mods, todo = {}, [((), os.path.join(root, root_file))]
    while todo:
        m, path = todo.pop()
        if m in mods or not os.path.exists(path):
            continue
        mods[m] = path
        here = os.path.dirname(path) if os.path.basename(path) in ('mod.rs', 'lib.rs', 'main.rs') \
            else path[:-3]
        for child in re.findall(r'^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;', strip(open(path).read()), flags=re.M):
            for cand in (os.path.join(here, child + '.rs'), os.path.join(here, child, 'mod.rs')):
                if os.path.exists(cand):
                    todo.append((m + (child,), cand))
    return mods


def deepest(mods, parts):
    """The deepest module that `parts` (a path from the crate root) lies in; the root only
    for an empty path."""
    for n in range(len(parts), 0, -1):
        if parts[:n] in mods:
            return parts[:n]
    return () if () in mods and not parts else None


def flatten(tree):
    """The paths of one `use` tree (`a::{b, c::{d, e}}` -> a::b, a::c::d, a::c::e); an alias
    follows its path after `@`."""
    tree = re.sub(r'\s+', '', re.sub(r'\s+as\s+', '@', tree))
    depth, start, parts = 0, None, []
    for i, ch in enumerate(tree):
        if ch == '{':
            depth += 1
            if depth == 1:
                start = i
        elif ch == '}':
            depth -= 1
    if start is None:
        return [tree]
    head, body = tree[:start], tree[start + 1:tree.rindex('}')]
    depth, item = 0, ''
    for ch in body + ',':
        if ch == ',' and depth == 0:
            if item:
                parts.append(item)
            item = ''
            continue
        depth += ch == '{'
        depth -= ch == '}'
        item += ch
    return [p for part in parts for p in flatten(head + part)]


def strip(src):
    src = re.sub(r'#\[cfg\((?:test|all\(test[^)]*\))\)\]\s*mod tests \{.*', '', src, flags=re.S)
    src = re.sub(r'//.*', '', src)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', src)


def absolute(m, path):
    """A `use` path of module m's file as a path from the crate root."""
    parts = [p for p in path.split('::') if p]
    if parts and parts[0] == 'crate':
        return tuple(parts[1:])
    base = list(m)
    while parts and parts[0] in ('self', 'super'):
        if parts.pop(0) == 'super':
            base.pop()
    return tuple(base) + tuple(parts)


def re_exports(mods):
    """Module -> {name: module the name comes from}, from each file's `pub use` lines, so that
    `crate::Name` counts as an import of the module that defines Name, not of lib.rs."""
    out = {}
    for m, p in mods.items():
        src = strip(open(p).read())
        names = {}
        for tree in re.findall(r'\bpub(?:\([\w:]+\))?\s+use\s+([^;]+);', src):
            for path in flatten(tree):
                path, _, alias = path.partition('@')
                parts = absolute(m, path)
                t = deepest(mods, parts)
                if t is not None and t != m and parts:
                    names[alias or parts[-1]] = t
        out[m] = names
    return out


def resolve(mods, exports, parts):
    """The module a path from the crate root names, through re-exports."""
    t = deepest(mods, parts)
    if t is None and () in mods:
        t = ()
    while t is not None and len(parts) > len(t) and parts[len(t)] in exports.get(t, {}):
        nxt = exports[t][parts[len(t)]]
        if nxt == t:
            break
        t = nxt
    return t


def imports(mods, exports, m, path):
    """The modules the file of module m names: through `crate::`, `self::` and `super::`
    paths (in `use` trees and in code) and through its own sub-modules' names."""
    src = strip(open(path).read())
    children = set(re.findall(r'^\s*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;', src, flags=re.M))
    paths = [p for tree in re.findall(r'\buse\s+([^;]+);', src) for p in flatten(tree)]
    code = re.sub(r'\buse\s+[^;]+;', '', src)
    paths += re.findall(r'(?<![\w:])((?:crate|self|super|\w+)(?:::\w+)+)', code)
    found = set()
    for p in paths:
        p = p.split('@')[0]
        first = p.split('::')[0]
        if first not in ('crate', 'self', 'super') and first not in children:
            continue
        found.add(resolve(mods, exports, absolute(m, p)))
    found.discard(None)
    found.discard(m)
    return found


def cycles(nodes, edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check(crate_root, root_file):
    mods = modules(crate_root, root_file)
    exports = re_exports(mods)
    deps = {m: imports(mods, exports, m, p) for m, p in mods.items()}
    folders = {m[:-1] for m in mods if m} | {m for m in mods if any(o[:len(m)] == m and o != m for o in mods)}
    found = 0
    for f in sorted(folders):
        def node(m):
            # The child of folder f that m lies in; f's own mod.rs is the node 'self'.
            if m[:len(f)] != f:
                return None
            return 'self' if m == f else m[len(f)]
        edges, nodes, why = {}, set(), {}
        for a, targets in deps.items():
            na = node(a)
            if na is None:
                continue
            nodes.add(na)
            for b in targets:
                nb = node(b)
                if nb is not None and nb != na:
                    edges.setdefault(na, set()).add(nb)
                    why.setdefault((na, nb), []).append(('/'.join(a) or root_file, '/'.join(b) or root_file))
        for comp in cycles(nodes, edges):
            where = '/'.join((crate_root,) + f) + ('' if f else f' ({root_file})')
            print(f"{where}: import cycle among {', '.join(comp)} ('self' is the folder's own mod.rs)")
            for (na, nb), pairs in sorted(why.items()):
                if na in comp and nb in comp:
                    print(f"  {na} -> {nb}: " + ', '.join(f"{x} uses {y}" for x, y in pairs[:4]))
            found += 1
    return found


def self_test():
    """The checker on small made-up crates: each cycle kind is found, a layered crate passes."""
    import contextlib
    import io
    import tempfile
    cases = {
        # Two top-level modules through a re-export at the crate root.
        'reexport': ({'lib.rs': 'mod a;\nmod b;\npub use b::Thing;\n',
                      'a.rs': 'use crate::Thing;\npub struct Other;\n',
                      'b.rs': 'use crate::a::Other;\npub struct Thing;\n'}, 1),
        # A folder's mod.rs and a child, through `super::{...}` and a bare child path.
        'parent-child': ({'lib.rs': 'mod w;\n',
                          'w/mod.rs': 'mod t;\npub struct B;\nfn f() { t::go(); }\n',
                          'w/t.rs': 'use super::{B};\npub fn go() {}\n'}, 1),
        # Files in two folders, each folder importing the other through different files.
        'folders': ({'lib.rs': 'mod x;\nmod y;\n',
                     'x/mod.rs': 'pub mod p;\npub mod q;\n', 'x/p.rs': 'use crate::y::r::R;\n',
                     'x/q.rs': 'pub struct Q;\n',
                     'y/mod.rs': 'pub mod r;\n', 'y/r.rs': 'use crate::x::q::Q;\npub struct R;\n'}, 1),
        # Layered: top uses mid uses low; tests and strings do not count.
        'layered': ({'lib.rs': 'mod low;\nmod mid;\nmod top;\n',
                     'low.rs': 'pub struct L;\nconst S: &str = "crate::top";\n'
                               '#[cfg(test)]\nmod tests {\n use crate::top::T;\n}\n',
                     'mid.rs': 'use crate::low::L;\npub struct M;\n',
                     'top.rs': 'use crate::mid::M;\npub struct T;\n'}, 0),
    }
    for name, (files, want) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), 'w') as f:
                    f.write(text)
            with contextlib.redirect_stdout(io.StringIO()):
                got = check(root, 'lib.rs')
        if got != want:
            print(f"check-import-cycles self-test: case {name}: {got} cycle(s), expected {want}")
            return False
    return True


os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
crates = [(root, f) for root in ['common/src', 'train/src', 'infer/src']
          for f in ('lib.rs', 'main.rs') if os.path.exists(os.path.join(root, f))]
crates += [('train/src/bin', f) for f in sorted(os.listdir('train/src/bin'))]
if '--self-test' in sys.argv[1:] and not self_test():
    sys.exit(1)
total = sum(check(root, f) for root, f in crates)
sys.exit(1 if total else 0)
