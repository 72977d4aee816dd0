#!/usr/bin/env python3
"""Checks that dependencies inside the herald crate run one way.

1. Between the top-level modules of src/: the layer order is read from ARCHITECTURE.md
   (between the `<!-- layers -->` markers, lowest layer first). A module may use modules
   of lower layers only; a `crate::x` reference to its own or a higher layer fails.
2. Inside every folder of src/: the `use` lines between sibling files must not form a
   cycle (a parent `mod.rs` and its own children may use each other).

Usage: python3 scripts/check-layers.py [repo root]. Exit status 1 names every violation.
"""

import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
# Binary and crate root: they may use everything.
ROOT_FILES = {"main", "lib"}


def read_layers():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    match = re.search(r"<!-- layers -->(.*?)<!-- /layers -->", text, re.S)
    if not match:
        sys.exit("check-layers: ARCHITECTURE.md has no <!-- layers --> section")
    layers = {}
    for line in match.group(1).splitlines():
        item = re.match(r"\s*(\d+)\.\s+(.*)", line)
        if not item:
            continue
        level = int(item.group(1))
        for name in re.findall(r"`([a-z_]+)`", item.group(2).split("—")[0]):
            layers[name] = level
    return layers


def code_lines(path):
    """Lines outside comments and outside the `#[cfg(test)]` module, which closes a file by
    convention (tests may use anything)."""
    lines = []
    in_tests = False
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#[cfg(test)]"):
            in_tests = True
        if in_tests:
            continue
        if stripped.startswith("//"):
            continue
        lines.append(line.split("//")[0] if "//" in line and '"' not in line else line)
    return lines


def use_statements(lines):
    """Top-level `use`/`pub use` statements, each joined onto one line."""
    statements, current = [], None
    for line in lines:
        if current is None and re.match(r"(pub(\([a-z]+\))? )?use ", line):
            current = line
        elif current is not None:
            current += " " + line.strip()
        if current is not None and current.rstrip().endswith(";"):
            statements.append(current)
            current = None
    return statements


def top_module(path):
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def check_top_level(layers):
    errors = []
    modules = {top_module(p) for p in SRC.rglob("*.rs")} - ROOT_FILES
    for missing in sorted(modules - layers.keys()):
        errors.append(f"src/{missing}: not in the layer order of ARCHITECTURE.md")
    for path in sorted(SRC.rglob("*.rs")):
        source = top_module(path)
        if source in ROOT_FILES or source not in layers:
            continue
        text = "\n".join(code_lines(path))
        used = set(re.findall(r"\bcrate::([a-z_]+)", text))
        for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
            used.update(re.findall(r"\b([a-z_]+)\b", group))
        for target in sorted(used - {source}):
            if target not in layers:
                continue
            if layers[target] >= layers[source]:
                errors.append(
                    f"{path.relative_to(ROOT)}: {source} (layer {layers[source]}) uses "
                    f"{target} (layer {layers[target]}): only lower layers may be used"
                )
    return errors


def first_segments(path_tail):
    """`x::y` -> {x}; `{x::y, z, self}` -> {x, z, self}."""
    if not path_tail.startswith("{"):
        return {path_tail.split("::")[0]}
    inner, depth, part, parts = path_tail[1:-1], 0, "", []
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += ch
    parts.append(part)
    return {p.strip().split("::")[0] for p in parts if p.strip()}


def sibling_edges(folder):
    """Edges between the files (and subfolders) of one folder, from their `use` lines."""
    names = {p.stem for p in folder.glob("*.rs") if p.name != "mod.rs"}
    names |= {p.name for p in folder.iterdir() if p.is_dir() and (p / "mod.rs").exists()}
    crate_path = "::".join(folder.relative_to(SRC).parts)
    edges = {n: set() for n in names}
    for name in names:
        file = folder / f"{name}.rs"
        files = [file] if file.exists() else sorted((folder / name).rglob("*.rs"))
        for path in files:
            depth = len(path.relative_to(folder).parts) - 1
            # From `folder/x.rs`, `super::` is the folder; from `folder/x/y.rs`,
            # `super::super::`; from `folder/x/mod.rs`, `super::`.
            ups = depth + (0 if path.name == "mod.rs" else 1)
            prefixes = ["super::" * ups]
            if crate_path:
                prefixes.append(f"crate::{crate_path}::")
            for stmt in use_statements(code_lines(path)):
                body = re.sub(r"\s+", " ", stmt)
                for prefix in prefixes:
                    pattern = r"(?<![a-z_:])" + re.escape(prefix) + r"(\{.*\}|[a-z_]+)"
                    for m in re.finditer(pattern, body):
                        edges[name] |= (first_segments(m.group(1)) & names) - {name}
    return edges


def find_cycle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check_folders():
    errors = []
    for folder in sorted([SRC, *[p for p in SRC.rglob("*") if p.is_dir()]]):
        if folder == SRC or not any(folder.glob("*.rs")):
            continue
        cycle = find_cycle(sibling_edges(folder))
        if cycle:
            errors.append(
                f"{folder.relative_to(ROOT)}/: the use lines form a cycle: {' -> '.join(cycle)}"
            )
    return errors


def main():
    layers = read_layers()
    errors = check_top_level(layers) + check_folders()
    for error in errors:
        print(f"check-layers: {error}", file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"check-layers: {len(layers)} modules in layer order; no cycles inside folders")


if __name__ == "__main__":
    main()
