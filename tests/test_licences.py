"""Every run-time dependency is in docs/licences.md, under a licence compatible with Apache-2.0."""

from __future__ import annotations

import importlib.metadata
import re

from packaging.requirements import Requirement

from tests import live

#: SPDX identifiers (and the classifier names older packages give instead)
#: whose terms allow use from, and distribution with, Apache-2.0 code
COMPATIBLE = {
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "ISC", "Apache-2.0", "PSF-2.0",
    "CNRI-Python", "ZPL-2.1", "Zlib", "CC0-1.0", "MPL-2.0",
    "MIT License", "BSD License", "Apache Software License",
}  # fmt: skip


def runtime_closure() -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions core4flask needs at run time, by normalised name."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [("core4flask", ())]
    while pending:
        name, extras = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        distribution = importlib.metadata.distribution(name)
        found[key] = distribution
        for line in distribution.requires or ():
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (*extras, "")
            )
            if wanted:
                pending.append((requirement.name, tuple(requirement.extras)))
    found.pop("core4flask")
    return found


def licence_terms(distribution: importlib.metadata.Distribution) -> set[str]:
    metadata = distribution.metadata
    expression = metadata.get("License-Expression")
    if expression:
        return set(re.findall(r"[A-Za-z0-9.+-]+", expression)) - {"AND", "OR", "WITH"}
    classifiers = {c.split(" :: ")[-1] for c in metadata.get_all("Classifier") or () if c.startswith("License ::")}
    return classifiers or {(metadata.get("License") or "").strip()}


def documented() -> dict[str, str]:
    rows = {}
    for line in (live.ROOT / "docs" / "licences.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and cells[0] not in ("package", "---"):
            rows[re.sub(r"[-_.]+", "-", cells[0]).lower()] = cells[2]
    return rows


def test_runtime_dependencies_have_compatible_licences():
    closure = runtime_closure()
    assert {"flask", "gevent", "gunicorn", "pandas", "pymongo"} <= set(closure)
    for name, distribution in closure.items():
        terms = licence_terms(distribution)
        assert terms and terms <= COMPATIBLE, f"{name}: licence {terms} is not known to be compatible"


def test_the_licence_table_lists_every_runtime_dependency():
    rows = documented()
    missing = set(runtime_closure()) - set(rows)
    assert not missing, f"add to docs/licences.md: {sorted(missing)}"
