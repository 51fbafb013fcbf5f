"""Bulk decoding of a large region of an event file: the first load of a big log.

The records are framed with one short loop (only the lengths are read), then everything else
is done with numpy over strided views of the buffer (every byte offset viewed as a u64, u32,
f64 or f32), for all records at once: the length CRCs, the layout of each record (the
one-scalar layouts `tb_scan` knows: `simple_value`, TF2 tensor, tensor + `scalars` metadata),
the step varints, the tags (grouped by hashing their bytes, then checked byte for byte), the
wall times and values, and the data CRCs. CRC32C is linear, so for records of one layout,
tag and length only the bytes that differ (wall time, step, value) need to be looked up in
per-distance tables; one real CRC per group anchors it. Gathers from the byte-offset views
are unaligned and cost several times a byte gather, so each field is gathered once (the wall
times and values read for the CRCs are the ones handed out) and the rare layouts are checked
on their own records only.

Records of any other layout go through the general decoder one by one, in file order. The
bulk path handles the longest clean prefix of the region: it stops before the first record
with a bad CRC, a `SessionLog.START`, a step going back (TensorBoard's orphan rule) or
anything else unusual, and leaves the rest to `tb_scan.Decoder`'s record loop, which knows
how to handle those.
"""

from __future__ import annotations

import struct

import numpy as np
from google_crc32c import value as _crc

from mlmon_tui.sources.logs import heap
from mlmon_tui.sources.logs import tb_decode as tbd
from mlmon_tui.sources.logs.tfrecord import masked_crc

MIN_BYTES = 1 << 16  # smaller regions (a poll while tailing) go record by record
MIN_RECORDS = 256
WINDOW = 512  # most records framed by the loop before a period is looked for
_U64 = struct.Struct("<Q").unpack_from
_U32 = struct.Struct("<I").unpack_from
_MASK = np.uint32(0xA282EAD8)
_TF32 = np.frombuffer(tbd.TENSOR_F32, "<u8")[0]
_META_A = np.frombuffer(tbd.META_SCALARS[:8], "<u8")[0]
_META_B = np.frombuffer(tbd.META_SCALARS[5:], "<u8")[0]
_KEEP = np.array([0] + [(1 << (8 * k)) - 1 for k in range(1, 8)] + [(1 << 64) - 1], np.uint64)
_LAYOUT = np.uint64((1 << 40) - 1)
_TAILS = np.array([5, 12, 25])  # bytes from a tag's end to the record's: per layout
_P = np.uint64(0x9E3779B97F4A7C15)
_TABLES = np.zeros((0, 256), np.uint32)


def _tables(depth: int) -> np.ndarray:
    """T[d][b]: CRC32C state contribution of byte b followed by d bytes (linear part)."""
    global _TABLES
    if len(_TABLES) < depth:
        c = np.arange(256, dtype=np.uint32)
        for _ in range(8):
            c = np.where(c & 1, (c >> 1) ^ np.uint32(0x82F63B78), c >> 1).astype(np.uint32)
        rows = [c]
        while len(rows) < max(depth, 2 * len(_TABLES)):
            t = rows[-1]
            rows.append(c[t & 0xFF] ^ (t >> 8))
        _TABLES = np.stack(rows)
    return _TABLES


def _view(buf: bytes, dtype: str) -> np.ndarray:
    """The value of type `dtype` starting at every byte offset of `buf`."""
    size = np.dtype(dtype).itemsize
    return np.ndarray((max(len(buf) - size + 1, 0),), dtype, buf, 0, (1,))


def _frame(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and data lengths of the complete records in `buf` (their CRCs are
    checked later).

    A window of records is framed by a loop; when their sizes repeat with a short period
    (a trainer logging the same tags every step), the following records are predicted from
    that period and checked all at once: a predicted start is accepted only when the length
    stored there gives the predicted size, so the chain is exactly what the loop would have
    followed. The first miss (a step growing a byte, a new tag) hands back to the loop, whose
    next window is just long enough to see the period again."""
    end = len(buf)
    lens = _view(buf, "<u8")
    out: list = []
    pos = 0
    window = min(64, WINDOW)
    while True:
        win: list[int] = []
        app = win.append
        for _ in range(window):
            if pos + 12 > end:
                break
            nxt = pos + _U64(buf, pos)[0] + 16
            if nxt > end:
                break
            app(pos)
            pos = nxt
        else:
            out.append(win)
            pos, got, p = _speculate(lens, np.diff(np.array(win + [pos])), pos, end, out)
            # a long run predicted: the period is known, a short window finds it again
            window = min(WINDOW, max(16, 3 * p + 1) if got >= 4 * window else 2 * window)
            continue
        out.append(win)
        starts = np.concatenate([np.asarray(x, dtype=np.int64) for x in out])
        return starts, np.diff(starts, append=pos) - 16


def _speculate(lens: np.ndarray, sizes: np.ndarray, pos: int, end: int, out: list):
    """Predict records after `pos` from a period of `sizes`; append the starts that check
    out to `out`. Returns where the loop goes on, how many were predicted, and the period
    (0: none)."""
    last = sizes[-1]
    for p in (np.flatnonzero(sizes[-2:-130:-1] == last) + 1).tolist():
        if 3 * p <= len(sizes) and (sizes[-3 * p : -p] == sizes[-2 * p :]).all():
            break
    else:
        return pos, 0, 0
    cycle = sizes[-p:]
    reps = (end - pos) // int(cycle.sum())
    if reps < 2:
        return pos, 0, p
    step = np.tile(cycle, reps)
    starts = pos + np.concatenate(([0], np.cumsum(step[:-1])))
    miss = np.flatnonzero(lens[starts].astype(np.int64) + 16 != step)
    k = int(miss[0]) if miss.size else len(starts)
    out.append(starts[:k])
    return (int(starts[k]) if k < len(starts) else int(starts[-1] + step[-1])), k, p


def _group(h: np.ndarray):
    """First index of each distinct value, each element's group (groups in value order) and,
    when at hand, the elements sorted by group, in their order within each. The values are
    hashes: their top 16 bits, sorted stably (a radix sort), name the groups when no two
    values share them (checked); else a full sort."""
    slot = (h >> np.uint64(48)).astype(np.uint16)
    order = np.argsort(slot, kind="stable")
    ss = slot[order]
    starts = np.flatnonzero(np.concatenate(([True], ss[1:] != ss[:-1])))
    rep = order[starts]
    table = np.zeros(1 << 16, np.int64)
    table[ss[starts]] = np.arange(len(starts))
    inv = table[slot]
    if (h[rep][inv] == h).all():
        return rep, inv, order
    _, rep, inv = np.unique(h, return_index=True, return_inverse=True)
    return rep, inv, None


def _first(mask: np.ndarray, default: int) -> int:
    hit = np.flatnonzero(mask)
    return int(hit[0]) if hit.size else default


def _clip8(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0), 8)


def feed(dec, buf: bytes, base: int) -> int:
    """Decode a clean prefix of `buf` into `dec`; returns the bytes consumed (0: none)."""
    if len(buf) < MIN_BYTES:
        return 0
    heap.retain_freed_memory()
    p, n = _frame(buf)
    if len(p) < MIN_RECORDS:
        return 0
    a = np.frombuffer(buf, np.uint8)
    u64, u32 = _view(buf, "<u8"), _view(buf, "<u4")
    poss, lens = p, n
    stop = len(p)
    # length CRCs: one real CRC per distinct length
    if int(n.max()) < 1 << 22:
        want = np.zeros(int(n.max()) + 1, np.uint32)
        for ln in np.flatnonzero(np.bincount(n)):
            want[ln] = masked_crc(struct.pack("<Q", int(ln)))
        stop = _first(want[n] != u32[p + 8], stop)
    else:
        stop = _first([masked_crc(buf[q : q + 8]) != _U32(buf, q + 8)[0] for q in p.tolist()], stop)
    p, n = p[:stop], n[:stop]
    d = p + 12  # data
    # -- the layout of each record --------------------------------------------------------
    cand = np.flatnonzero((n >= 17) & (a[d] == 9))
    if not len(cand) or len(cand) < len(p) // 2:
        return 0  # mostly other records: the general loop is as good
    dc, nc = (d, n) if len(cand) == len(p) else (d[cand], n[cand])
    has_step = a[dc + 9] == 16
    b = a[dc + 10]
    step = np.where(has_step, b & 127, 0).astype(np.uint64)
    i = np.where(has_step, 11, 9)
    cont = has_step & (b >= 128)
    for j in range(1, 9):
        if not cont.any():
            break
        b = a[dc + 10 + j]
        step |= np.where(cont, (b & 127).astype(np.uint64) << np.uint64(7 * j), 0).astype(np.uint64)
        i = i + cont
        cont = cont & (b >= 128)
    step = step.view(np.int64)
    e = dc + nc  # where each record's data ends
    kind = (a[e - 5] != 0x15).astype(np.int64)  # 0: simple_value
    other = np.flatnonzero(kind)
    if len(other):  # 1: TF2 tensor, 2: tensor + `scalars` metadata (checked below)
        kind[other] = np.where(u64[e[other] - 12] == _TF32, 1, 2)
    s = np.minimum(dc + i, len(buf) - 8)  # past a short record's end: garbage, then not ok
    w0 = u64[s]  # field 5 (summary), its length, field 1 (value), its length, field 1 (tag)
    ln = ((w0 >> np.uint64(40)) & np.uint64(0xFF)).astype(np.int64)
    room = nc - i
    lay = (42 | ((room - 2) << 8) | (10 << 16) | ((room - 4) << 24) | (10 << 32)).astype(np.uint64)
    # the equation bounds room to what one byte holds; a bad `lay` (negative) never matches
    ok = ~cont & ((w0 & _LAYOUT) == lay) & (ln < 128) & (i + 6 + ln == nc - _TAILS[kind])
    k2 = other[kind[other] == 2]
    if len(k2):
        e2 = e[k2]
        ok[k2] &= ((u64[e2 - 13] == _META_A) & (u64[e2 - 8] == _META_B)
                   & (u64[e2 - 25] == _TF32))  # fmt: skip
    bulk = cand[ok]
    if not len(bulk) or len(bulk) < len(p) // 2:
        return 0
    if len(bulk) < len(cand):
        lead = len(cand) - len(bulk)  # often only the first records (a file's version event)
        sel = slice(lead, None) if ok[lead:].all() else ok
        dc, nc, step, i, kind, ln, s, w0 = (x[sel] for x in (dc, nc, step, i, kind, ln, s, w0))
    # -- tags: grouped by (kind, length, layout and tag bytes) ------------------------------
    code = (kind | (ln << 2) | (nc << 10)).astype(np.uint64)
    key = ln + 6  # from the summary field through the tag's last byte
    words = [w0 & _KEEP[np.minimum(key, 8)]]
    h = (code * _P ^ words[0]) * _P
    last = len(buf) - 8
    for k in range(1, (int(key.max()) + 7) // 8):
        w = u64[np.minimum(s + 8 * k, last)] & _KEEP[_clip8(key - 8 * k)]
        words.append(w)
        h = (h ^ w) * _P
    rep, inv, by_group = _group(h)
    same = code[rep][inv] == code
    for w in words:
        same &= w[rep][inv] == w
    # -- data CRCs: one real CRC per group, table lookups for the bytes that vary ----------
    vpos = np.where(kind == 2, nc - 17, nc - 4)
    wall = u64[dc + 1]  # the wall times and values, gathered once: checked, then handed out
    val = u32[dc + vpos]
    good = same & _crc_ok(buf, a, u32, rep, inv, dc, nc, i, vpos, wall, val)
    # -- the other records, decoded one by one ---------------------------------------------
    is_bulk = np.zeros(len(p), bool)
    is_bulk[bulk] = True
    steps = np.full(len(p), np.iinfo(np.int64).min)
    steps[bulk] = step
    summary = is_bulk.copy()
    stop = min(stop, int(bulk[~good][0]) if not good.all() else stop)
    slow = []
    for r in np.flatnonzero(~is_bulk[:stop]).tolist():
        q, m = int(poss[r]), int(lens[r])
        data = buf[q + 12 : q + 12 + m]
        if masked_crc(data) != _U32(buf, q + 12 + m)[0]:
            stop = r
            break
        try:
            wall_r, st, summ, status = tbd.parse_event(data)
        except Exception:  # noqa: BLE001 (CRC fine, protobuf not: skip it, read on)
            slow.append((r, None))
            continue
        if status == tbd.SESSION_START:
            stop = r
            break
        try:
            values = list(tbd.parse_values(summ)) if summ is not None else None
        except Exception:  # noqa: BLE001
            slow.append((r, None))
            continue
        if values is not None:
            steps[r], summary[r] = st, True
        slow.append((r, (wall_r, st, values, summ)))
    # TensorBoard's orphan rule: stop before the first step that goes back
    prev = np.maximum.accumulate(np.concatenate(([dec.last_step], steps[:stop])))[:-1]
    stop = _first(summary[:stop] & (steps[:stop] < prev), stop)
    if stop == 0:
        return 0
    _apply(dec, buf, base, stop, p, bulk, kind, step, ln, s + 6, rep, inv, slow, steps,
           summary, wall, val, dc, by_group)  # fmt: skip
    return int(poss[stop]) if stop < len(poss) else int(poss[-1] + lens[-1]) + 16


def _crc_ok(buf, a, u32, rep, inv, dc, nc, i, vpos, wall, val) -> np.ndarray:
    """Whether each record's data CRC checks out. CRC32C is linear: within a group (same
    layout, tag and length) a record's CRC is a constant, taken from one real CRC, XOR the
    table contributions of the bytes that differ: wall time, step and value. Every other
    byte of a record is the same in its whole group (checked above), so a byte looked up
    where it is not a step byte adds a constant, and a byte column that holds the same value
    in every record (the top bytes of a wall time) adds one: the anchor absorbs both."""
    depth = int(nc.max())
    rev = _tables(depth)[depth - 1 :: -1].reshape(-1)  # row depth - 1 - d: distance d
    top = (depth - nc) * 256  # + j * 256: the row of data byte j (distance n - 1 - j)
    lin = np.zeros(len(dc), np.uint32)

    def add(col: np.ndarray, row: np.ndarray, mask=None) -> None:
        """The contributions of byte column `col`, at `row` (its table row + top)."""
        if (col == col[0]).all():
            return
        hit = rev[row + col]
        lin.__ixor__(hit if mask is None else np.where(mask, hit, np.uint32(0)))

    wb = wall.view(np.uint8).reshape(-1, 8)
    row = top + 256
    for k in range(8):  # wall time: data bytes 1..8
        add(wb[:, k], row)
        row += 256
    vb = val.view(np.uint8).reshape(-1, 4)
    row = top + vpos * 256
    for k in range(4):  # the value
        add(vb[:, k], row)
        row += 256
    first_value = int(vpos.min())
    row = top + 10 * 256
    for j in range(10, int(i.max())):  # the step's varint: data bytes 10 .. i-1
        add(a[dc + j], row, (j < i) if j >= first_value else None)
        row += 256
    anchor = np.array([_crc(buf[q : q + m]) for q, m in zip(dc[rep].tolist(), nc[rep].tolist())],
                      np.uint32) ^ lin[rep]  # fmt: skip
    x = u32[dc + nc] - _MASK
    return (lin ^ anchor[inv]) == ((x << np.uint32(15)) | (x >> np.uint32(17)))


def _apply(dec, buf, base, stop, p, bulk, kind, step, ln, ts, rep, inv, slow, steps,
           summary, wall, val, dc, by_group) -> None:  # fmt: skip
    """Hand the decoded points of the records before `stop` to `dec`: plugin declarations
    and the other records in file order, then each tag's points, gathered in one pass."""
    live = (bulk[rep] < stop).tolist()  # a group's first record is its representative
    reps = rep.tolist()
    tags = [buf[int(ts[r]) : int(ts[r] + ln[r])] if on else b"" for r, on in zip(reps, live)]
    # plugins, declared in file order by `scalars` metadata and by the other records
    first_decl: dict[bytes, int] = {}
    events = [(int(bulk[r]), g, None) for g, (r, on) in enumerate(zip(reps, live))
              if on and kind[r] == 2]  # fmt: skip
    events += [(r, None, parsed) for r, parsed in slow if r < stop]
    events.sort(key=lambda e: e[0])
    for r, g, what in events:
        if g is not None:
            tag = tags[g]
            if tag not in dec.plugins:
                first_decl[tag] = r
                dec.plugins[tag] = "scalars"
        elif what is None:
            dec.undecodable.append(base + int(p[r]))
        else:
            wall_r, st, values, summ = what
            for tag, _, plugin, _, _ in values or ():
                if plugin and tag not in dec.plugins:
                    first_decl[tag] = r
            dec._slow_apply(wall_r, st, values, int(p[r]), summ)
    if summary[:stop].any():
        dec.last_step = max(dec.last_step, int(steps[:stop][summary[:stop]].max()))
    # each group's tag number (-1: not handed out) and first record kept
    ids: dict[bytes, int] = {}
    gid = np.full(len(reps), -1, np.int64)
    after = np.full(len(reps), -1, np.int64)
    for g, (r, on) in enumerate(zip(reps, live)):
        if not on:
            continue
        tag = tags[g]
        if kind[r] == 1:  # a TF2 tensor without metadata: a scalar once its tag is
            if dec.plugins.get(tag) != "scalars":
                continue
            after[g] = first_decl.get(tag, -1)
        gid[g] = ids.setdefault(tag, len(ids))
    if not ids:
        return
    t = len(ids)
    tid = gid[inv]
    keep = tid >= 0
    if stop < len(p):
        keep &= bulk < stop
    if (after >= 0).any():
        keep &= bulk > after[inv]
    tid = np.where(keep, tid, t)
    if by_group is not None and t == len(reps) and keep.all():
        order = by_group  # every group kept, one a tag: the tag numbers are the groups'
    else:
        order = np.argsort(tid.astype(np.uint16) if t < 1 << 16 else tid, kind="stable")
    ends = np.cumsum(np.bincount(tid, minlength=t + 1)[:t])
    o = order[: ends[-1]]  # by tag, in file order within each
    # the record's position in the file: its data starts 12 bytes in
    cols = (step[o], wall.view("<f8")[o], val.view("<f4")[o].astype(np.float64),
            dc[o] + (base - 12))  # fmt: skip
    lo = 0
    for tag, hi in zip(ids, ends.tolist()):
        if hi > lo:
            dec._chunks.setdefault(tag, []).append(tuple(c[lo:hi] for c in cols))
        lo = hi
