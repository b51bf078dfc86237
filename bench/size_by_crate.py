"""Sums `twiggy top --format csv` (read on stdin) by crate: `make size`.

Items are attributed to the first path segment of their demangled name (`<serde_json::...`
is serde_json's); custom sections and the data segments are listed on their own.
"""
import collections
import csv
import re
import sys

by_owner = collections.Counter()
for row in csv.DictReader(sys.stdin):
    name, size = row["Name"], int(row["ShallowSize"])
    if name.startswith('"') or name.startswith("custom section"):
        owner = "(custom sections: names, bindgen; not shipped)"
    elif name.startswith("data["):
        owner = "(data: strings, tables)"
    else:
        bare = name.lstrip("<&*( ").replace("dyn ", "").replace("mut ", "")
        match = re.match(r"[A-Za-z_][A-Za-z0-9_]*", bare)
        owner = match.group(0) if match else "(other)"
        if owner in ("core", "alloc", "std"):
            owner = "std/core/alloc"
    by_owner[owner] += size
total = sum(by_owner.values())
for owner, size in by_owner.most_common(40):
    print(f"{size / 1024:9.1f} KiB {100 * size / total:5.1f} %  {owner}")
print(f"{total / 1024:9.1f} KiB total (raw, before wasm-bindgen and wasm-opt)")
