"""What the differential suite saw: the known differences it expects, each sequence's
step results, and the agreement report (terminal and markdown).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from diff_engine import Difference, StepResult, compile_pattern, glob_matches, show

KNOWN_FILE = Path(__file__).with_name("known_differences.yaml")
_ENTRY_KEYS = {"area", "path", "sequence", "step", "why", "kept", "reason", "intermittent"}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


@attrs.frozen
class Known:
    """One listed difference: where (its areas, sequence and step globs, path patterns),
    what (``why``) and whether the fake keeps it on purpose (``kept`` and ``reason``)."""

    areas: tuple[str, ...]
    paths: tuple[str, ...]
    why: str
    kept: bool
    reason: str
    sequences: tuple[str, ...] = ("*",)
    steps: tuple[str, ...] = ("*",)
    #: seen only in some runs, because the real server's answer depends on its history
    #: (e.g. how far its watch cache has moved): never reported as no longer seen
    intermittent: bool = False
    _compiled: tuple[re.Pattern[str], ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(compile_pattern(p) for p in self.paths))

    def matches(self, area: str, sequence: str, step: str, path: str) -> bool:
        return (area in self.areas
                and any(glob_matches(g, sequence) for g in self.sequences)
                and any(glob_matches(g, step) for g in self.steps)
                and any(p.match(path) is not None for p in self._compiled))

    def describe(self) -> str:
        where = ", ".join(self.paths)
        if self.sequences != ("*",):
            where += f" (sequences {', '.join(self.sequences)})"
        if self.steps != ("*",):
            where += f" (steps {'; '.join(self.steps)})"
        return f"[{', '.join(self.areas)}] {where}"


def load_known(path: Path = KNOWN_FILE) -> list[Known]:
    """The entries of ``known_differences.yaml`` (a ValueError names a bad entry)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("differences") or []
    known = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ValueError(f"{path.name} entry {number} is not a mapping")
        extra = set(entry) - _ENTRY_KEYS
        missing = {"area", "path", "why", "kept"} - set(entry)
        if extra or missing:
            raise ValueError(f"{path.name} entry {number} ({entry.get('path')}): "
                             f"unknown keys {sorted(extra)}, missing {sorted(missing)}")
        kept = bool(entry["kept"])
        reason = str(entry.get("reason") or "")
        if kept and not reason:
            raise ValueError(f"{path.name} entry {number} ({entry['path']}) is kept "
                             "without a reason")
        known.append(Known(areas=_strings(entry["area"]), paths=_strings(entry["path"]),
                           why=" ".join(str(entry["why"]).split()), kept=kept,
                           reason=" ".join(reason.split()) or "to be fixed: fidelity issue",
                           sequences=_strings(entry.get("sequence", "*")),
                           steps=_strings(entry.get("step", "*")),
                           intermittent=bool(entry.get("intermittent", False))))
    return known


@attrs.frozen
class Observed:
    """One difference in one step of one sequence, and the entry that lists it."""

    area: str
    sequence: str
    step: str
    difference: Difference
    known: Known | None
    index: int = -1


@attrs.define
class SequenceRecord:
    area: str
    sequence: str
    steps: list[StepResult]
    observed: list[Observed]

    @property
    def agreeing(self) -> int:
        return sum(1 for s in self.steps if not s.differences)

    @property
    def differing(self) -> int:
        return sum(1 for s in self.steps if s.differences)

    @property
    def kept_only(self) -> int:
        """Steps whose every difference is kept on purpose."""
        flags: dict[int, set[str]] = {}
        for o in self.observed:
            flags.setdefault(o.index, set()).add(_flag(o.known))
        return sum(1 for f in flags.values() if f == {"kept"})

    def unlisted(self) -> list[Observed]:
        return [o for o in self.observed if o.known is None]


@attrs.define
class Collector:
    """The session's records; which tests of each area exist and which ran. The known
    differences are read when first needed (a broken file fails the tests that compare,
    not the collection of the whole run)."""

    known_file: Path = KNOWN_FILE
    _known: list[Known] | None = None
    records: list[SequenceRecord] = attrs.field(factory=list)
    items: dict[str, str] = attrs.field(factory=dict)  # nodeid -> area
    finished: set[str] = attrs.field(factory=set)  # nodeids that compared to the end

    @property
    def known(self) -> list[Known]:
        if self._known is None:
            self._known = load_known(self.known_file)
        return self._known

    def add(self, area: str, sequence: str, steps: Sequence[StepResult]) -> SequenceRecord:
        observed = []
        for step in steps:
            for difference in step.differences:
                entry = next((k for k in self.known if k.matches(
                    area, sequence, step.title, difference.path)), None)
                observed.append(Observed(area, sequence, step.title, difference, entry,
                                         step.index))
        record = SequenceRecord(area, sequence, list(steps), observed)
        self.records.append(record)
        return record

    def complete_areas(self) -> set[str]:
        """Areas every test of which compared to the end in this session."""
        areas: dict[str, bool] = {}
        for nodeid, area in self.items.items():
            areas[area] = areas.get(area, True) and nodeid in self.finished
        return {area for area, complete in areas.items() if complete}

    def stale(self) -> list[Known]:
        """Listed differences of a fully run area that did not occur."""
        complete = self.complete_areas()
        used = {id(o.known) for r in self.records for o in r.observed if o.known is not None}
        return [k for k in self.known
                if all(a in complete for a in k.areas) and id(k) not in used
                and not k.intermittent]

    # -- the report ---------------------------------------------------------------------

    def table_rows(self) -> list[tuple[str, int, int, int, int, str, str]]:
        """Per area: sequences, steps agreeing, steps differing, of those the ones that
        differ only where the fake is kept different, % agreement, and % agreement when
        the kept differences are counted as agreeing."""
        by_area: dict[str, list[SequenceRecord]] = {}
        for record in self.records:
            by_area.setdefault(record.area, []).append(record)
        rows = []
        total = [0, 0, 0, 0]
        for area in sorted(by_area):
            records = by_area[area]
            counts = [len(records), sum(r.agreeing for r in records),
                      sum(r.differing for r in records), sum(r.kept_only for r in records)]
            rows.append(_row(area, counts))
            total = [t + c for t, c in zip(total, counts, strict=True)]
        if rows:
            rows.append(_row("all", total))
        return rows

    def markdown(self) -> str:
        lines = ["# Differential report: the fake API server against kube-apiserver", "",
                 "A step agrees when its normalised answers are equal; *kept only* counts the "
                 "differing steps whose every difference is one the fake keeps on purpose.", "",
                 "| area | sequences | steps agreeing | steps differing | of which kept only "
                 "| agreement | agreement, kept ones aside |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.table_rows()]
        observed = [o for r in self.records for o in r.observed]
        groups = _group(observed)
        lines += ["", "## Causes", "",
                  "| | cause | occurrences | sequences |", "|---|---|---:|---:|"]
        for known, obs in groups:
            label = {"new": "**NEW**", "fix": "to fix", "kept": "kept"}[_flag(known)]
            cause = known.why if known is not None else "not in known_differences.yaml"
            lines.append(f"| {label} | {_cell(cause)} | {len(obs)} | "
                         f"{len({o.sequence for o in obs})} |")
        for title, flag in (("New (unlisted) differences", "new"),
                            ("To be fixed (fidelity issues)", "fix"),
                            ("Kept on purpose", "kept")):
            chosen = [(k, obs) for k, obs in groups if _flag(k) == flag]
            lines += ["", f"## {title} ({sum(len(o) for _, o in chosen)})", ""]
            if not chosen:
                lines.append("none")
            for known, obs in chosen:
                indent = ""
                if known is not None:
                    lines.append(f"- **{known.describe()}**: {known.why}"
                                 + (f" *Kept: {known.reason}*" if known.kept else ""))
                    indent = "  "
                lines += [f"{indent}- `{o.sequence}` step `{o.step}`: `{o.difference.path}`: "
                          f"fake {_md(o.difference.fake)} real {_md(o.difference.real)}"
                          for o in obs]
        stale = self.stale()
        lines += ["", f"## Listed but no longer seen ({len(stale)})", ""]
        lines += [f"- {k.describe()}: {k.why}" for k in stale] or ["none"]
        not_run = sorted({a for k in self.known for a in k.areas} - self.complete_areas())
        if not_run:
            lines += ["", "Areas not fully run this session (their entries were not checked): "
                      + ", ".join(not_run)]
        return "\n".join(lines) + "\n"

    def terminal(self, every: bool = False) -> list[str]:
        """The table, then each cause with its distinct paths (every occurrence with
        ``every``); unlisted differences and stale entries in full."""
        rows = self.table_rows()
        head = ("area", "sequences", "agreeing", "differing", "kept only", "agreement",
                "kept aside")
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        out = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))
               for row in [head, *rows]]
        observed = [o for r in self.records for o in r.observed]
        out += ["", f"differences: {len(observed)} observed in "
                    f"{len({(o.sequence, o.index) for o in observed})} steps, "
                    f"{sum(1 for o in observed if o.known is None)} unlisted"]
        for known, obs in _group(observed):
            if known is None:
                out += [f"  [NEW] [{o.area}] {o.sequence} | {o.step} | {o.difference}"
                        for o in obs]
                continue
            tag = "kept" if known.kept else "to fix"
            out.append(f"  [{tag}] {known.why} ({len(obs)} in "
                       f"{len({o.sequence for o in obs})} sequences)")
            if every:
                out += [f"      {o.sequence} | {o.step} | {o.difference}" for o in obs]
                continue
            paths: dict[str, int] = {}
            for o in obs:
                shown = re.sub(r"\[\d+\]", "[*]", o.difference.path)
                paths[shown] = paths.get(shown, 0) + 1
            listed = sorted(paths, key=lambda p: -paths[p])
            out.append("      " + ", ".join(f"{p} (x{paths[p]})" for p in listed[:6])
                       + (f", and {len(listed) - 6} more paths" if len(listed) > 6 else ""))
        stale = self.stale()
        if stale:
            out += ["", f"listed differences no longer seen: {len(stale)}"]
            out += [f"  {k.describe()}: {k.why}" for k in stale]
        return out


COLLECTOR = pytest.StashKey[Collector]()


def collector_of(config: pytest.Config) -> Collector:
    """The session's collector (made, with the known differences, on first use)."""
    if COLLECTOR not in config.stash:
        config.stash[COLLECTOR] = Collector()
    return config.stash[COLLECTOR]


def _flag(known: Known | None) -> str:
    if known is None:
        return "new"
    return "kept" if known.kept else "fix"


def _group(observed: Iterable[Observed]) -> list[tuple[Known | None, list[Observed]]]:
    groups: dict[int, tuple[Known | None, list[Observed]]] = {}
    order: list[int] = []
    for o in observed:
        key = id(o.known) if o.known is not None else 0
        if key not in groups:
            groups[key] = (o.known, [])
            order.append(key)
        groups[key][1].append(o)
    return [groups[k] for k in order]


def _percent(part: int, total: int) -> str:
    return f"{100.0 * part / total:.1f}%" if total else "-"


def _row(area: str, counts: list[int]) -> tuple[str, int, int, int, int, str, str]:
    sequences, agree, differ, kept = counts
    return (area, sequences, agree, differ, kept, _percent(agree, agree + differ),
            _percent(agree + kept, agree + differ))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _md(value: Any) -> str:
    return "`" + show(value).replace("`", "'").replace("|", "\\|") + "`"


def format_unlisted(unlisted: Sequence[Observed]) -> str:
    lines = [f"{len(unlisted)} difference(s) between the fake and the real server are not "
             "in tests/differential/known_differences.yaml:"]
    lines += [f"  [{o.area}] {o.sequence} | {o.step} | {o.difference}" for o in unlisted]
    return "\n".join(lines)
