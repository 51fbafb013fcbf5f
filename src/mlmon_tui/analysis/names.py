"""Run names that tell runs apart in little room.

`distinct_labels(names)` drops the path components every name shares (leading and trailing),
so `a/lightning_logs/version_0` and `b/lightning_logs/version_0` read `a` and `b`, and
`sweep/lr=3e-4/seed=1` reads `lr=3e-4/seed=1`. `fit_labels(labels, width)` then makes them
fit `width` cells by shortening the middle of the longest part they all share (a common
prefix or suffix of characters), never the part that differs; only when the differing part
alone is too wide is its middle shortened, keeping its end. Pure functions: no widget, no
store.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"


def _common_prefix(seqs: list) -> int:
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        if any(s[i] != first[i] for s in seqs[1:]):
            return i
    return n


def _common_suffix(seqs: list, skip: int = 0) -> int:
    """Length of the common suffix that does not overlap the first `skip` items."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs) - skip
    first = seqs[0]
    for i in range(1, n + 1):
        if any(s[-i] != first[-i] for s in seqs[1:]):
            return i - 1
    return max(0, n)


def distinct_labels(names: list[str]) -> dict[str, str]:
    """Name -> label without the path components all `names` share. A label is never empty
    (a name that is only shared components keeps its last one)."""
    uniq = list(dict.fromkeys(names))
    if len(uniq) < 2:
        return {n: n for n in uniq}
    parts = [n.split("/") for n in uniq]
    pre = _common_prefix(parts)
    suf = _common_suffix(parts, pre)
    out = {}
    for name, p in zip(uniq, parts):
        mid = p[pre:len(p) - suf]
        out[name] = "/".join(mid) if mid else (p[-1] or name)
    if len(set(out.values())) < len(out):  # e.g. "a/b" and "a/b/" : keep the full names
        return {n: n for n in uniq}
    return out


def _squeeze(text: str, width: int, keep_end: bool = False) -> str:
    """`text` in `width` cells with its middle replaced by an ellipsis (more of the end kept
    with `keep_end`)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[-width:] if width > 0 else ""
    room = width - 1
    head = room // 3 if keep_end else (room + 1) // 2
    tail = room - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def _shrink(text: str, width: int) -> str:
    """A shared part in `width` cells: whole, squeezed in the middle, or (with less than
    four cells, where a squeeze shows one letter) only an ellipsis."""
    if len(text) <= width:
        return text
    return "" if width <= 0 else ELLIPSIS if width < 4 else _squeeze(text, width)


def fit_label(label: str, width: int, prefix: int, suffix: int) -> str:
    """One label in `width` cells, given how many leading/trailing characters it shares with
    the labels it must be told apart from: the shared parts give up their middle first."""
    if len(label) <= width:
        return label
    if width <= 0:
        return ""
    pre, mid, suf = label[:prefix], label[prefix:len(label) - suffix], label[len(label) - suffix:]
    room = width - len(mid)
    if room < 0 or not mid:
        # the differing part alone is too wide: squeeze it, keeping more of its end
        return _squeeze(mid or label, width, keep_end=True)
    b = min(len(suf), room // 2 if len(pre) > room // 2 else room - len(pre))
    a = min(len(pre), room - b)
    b = min(len(suf), room - a)
    return _shrink(pre, a) + mid + _shrink(suf, b)


_SEP = re.compile(r"([/,;_ ]+)")
_KEY = re.compile(r"(?<![^/,;_ ])[A-Za-z][A-Za-z0-9_.\-]*=")


def _without_shared_tokens(labels: list[str]) -> dict[str, str]:
    """Each label less the words (between `/ , ; _` and spaces) that every label has:
    `opt=adam,lr=0.1,bs=8` and `opt=adam,lr=0.2,bs=8` become `lr=0.1` and `lr=0.2`."""
    split = {s: _SEP.split(s) for s in labels}
    words = [{t for t in parts[::2] if t} for parts in split.values()]
    several = [w for w in words if len(w) > 1] or words  # a one-word label shares nothing
    shared = set.intersection(*several)
    out = {}
    for s, parts in split.items():
        words = [(parts[i - 1] if i else "", w) for i, w in enumerate(parts) if i % 2 == 0]
        kept = [(sep, w) for sep, w in words if w and w not in shared]
        text = "".join((sep[:1] if j else "") + w for j, (sep, w) in enumerate(kept))
        out[s] = text or s
    return out


_BOUNDARY = "/,;_ =-"


def _shared_ends(uniq: list[str]) -> tuple[int, int]:
    """Common prefix and suffix lengths, cut back to word boundaries (so a shared `lr=0.00`
    of `lr=0.001` and `lr=0.0003` stays `lr=`: a number is never split)."""
    if len(uniq) < 2:
        return 0, 0
    pre = _common_prefix(uniq)
    suf = _common_suffix(uniq, pre)
    first = uniq[0]
    while pre > 0 and first[pre - 1] not in _BOUNDARY:
        pre -= 1
    while suf > 0 and first[len(first) - suf] not in _BOUNDARY:
        suf -= 1
    return pre, suf


def _fit_plain(uniq: list[str], width: int) -> dict[str, str]:
    pre, suf = _shared_ends(uniq)
    return {s: fit_label(s, width, pre, suf) for s in uniq}


def _whole(uniq: list[str], width: int) -> bool:
    """Whether every label's differing part fits whole in `width`."""
    pre, suf = _shared_ends(uniq)
    return all(len(s) - pre - suf <= width for s in uniq)


def fit_labels(labels: list[str], width: int) -> list[str]:
    """Each label in at most `width` cells, told apart from the others: the shared start and
    end are shortened first; when the differing part does not fit whole, the words every
    label shares are dropped, then the `key=` of `key=value` words; only then is the
    differing part itself shortened (keeping its end), and as a last resort numbered."""
    uniq = list(dict.fromkeys(labels))
    if all(len(s) <= width for s in uniq):
        return list(labels)
    cands = [{s: s for s in uniq}]
    if len(uniq) > 1:
        reduced = _without_shared_tokens(uniq)
        cands += [reduced, {s: _KEY.sub("", r) or r for s, r in reduced.items()}]
    cands = [c for c in cands if len(set(c.values())) == len(uniq)]
    fitted = None
    for whole in (True, False):
        for cand in cands:
            values = list(dict.fromkeys(cand.values()))
            if whole and not _whole(values, width):
                continue
            again = _fit_plain(values, width)
            alt = {s: again[cand[s]] for s in uniq}
            if len(set(alt.values())) == len(alt):
                fitted = alt
                break
        if fitted is not None:
            break
    if fitted is None and width > 1:
        # find the head/end balance that tells the labels apart
        for head in range(0, width - 1):
            tail = width - 1 - head
            alt = {s: s if len(s) <= width else s[:head] + ELLIPSIS + s[len(s) - tail:]
                   for s in uniq}
            if len(set(alt.values())) == len(alt):
                fitted = alt
                break
    if fitted is None:
        fitted = _numbered(uniq, _fit_plain(uniq, width), width)
    return [fitted[s] for s in labels]


def _numbered(uniq: list[str], fitted: dict[str, str], width: int) -> dict[str, str]:
    """Last resort (too many differences for the room): labels that still read the same get
    a number, `~1`, `~2`, in place of their last characters. Full names are in the details."""
    seen: dict[str, list[str]] = {}
    for s in uniq:
        seen.setdefault(fitted[s], []).append(s)
    out = dict(fitted)
    k = 0
    for text, same in seen.items():
        if len(same) < 2:
            continue
        for s in same:  # one count over all of them: two stand-ins never read the same
            k += 1
            tag = f"~{k}"
            out[s] = text[: max(0, width - len(tag))] + tag
    return out


def short_names(names: list[str], width: int | None = None) -> dict[str, str]:
    """Name -> shortest distinct label (fitted to `width` when given)."""
    labels = distinct_labels(names)
    if width is None:
        return labels
    keys = list(labels)
    return dict(zip(keys, fit_labels([labels[k] for k in keys], width)))
