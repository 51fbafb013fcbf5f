"""Bulk decoding of a large region of an event file: the first load of a big log.

The records are framed with one short loop (only the lengths are read), then everything else
is done with numpy over strided views of the buffer (every byte offset viewed as a u64, u32,
f64 or f32), for all records at once: the length CRCs, the layout of each record (the
one-scalar layouts `tb_scan` knows: `simple_value`, TF2 tensor, tensor + `scalars` metadata),
the step varints, the tags (grouped by hashing their bytes, then checked byte for byte), the
wall times and values, and the data CRCs. CRC32C is linear, so for records of one layout,
tag and length only the bytes that differ (wall time, step, value) need to be looked up in
per-distance tables; one real CRC per group anchors it.

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

from mlmon_tui.sources.logs import tb_decode as tbd
from mlmon_tui.sources.logs.tfrecord import masked_crc

MIN_BYTES = 1 << 16  # smaller regions (a poll while tailing) go record by record
MIN_RECORDS = 256
WINDOW = 512  # records framed by the loop before a period is looked for
_U64 = struct.Struct("<Q").unpack_from
_U32 = struct.Struct("<I").unpack_from
_MASK = np.uint32(0xA282EAD8)
_TF32 = np.frombuffer(tbd.TENSOR_F32, "<u8")[0]
_META_A = np.frombuffer(tbd.META_SCALARS[:8], "<u8")[0]
_META_B = np.frombuffer(tbd.META_SCALARS[5:], "<u8")[0]
_KEEP = np.array([0] + [(1 << (8 * k)) - 1 for k in range(1, 8)] + [(1 << 64) - 1], np.uint64)
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


def _frame(buf: bytes) -> np.ndarray:
    """Start offsets of the complete records in `buf` (their CRCs are checked later).

    A window of records is framed by a loop; when their sizes repeat with a short period
    (a trainer logging the same tags every step), the following records are predicted from
    that period and checked all at once: a predicted start is accepted only when the length
    stored there gives the predicted size, so the chain is exactly what the loop would have
    followed. The first miss hands back to the loop."""
    end = len(buf)
    lens = _view(buf, "<u8")
    out: list = []
    pos = 0
    while True:
        win: list[int] = []
        app = win.append
        for _ in range(WINDOW):
            if pos + 12 > end:
                break
            nxt = pos + _U64(buf, pos)[0] + 16
            if nxt > end:
                break
            app(pos)
            pos = nxt
        else:
            out.append(win)
            pos = _speculate(lens, np.diff(np.array(win + [pos])), pos, end, out)
            continue
        out.append(win)
        return np.concatenate([np.asarray(x, dtype=np.int64) for x in out])


def _speculate(lens: np.ndarray, sizes: np.ndarray, pos: int, end: int, out: list) -> int:
    """Predict records after `pos` from a period of `sizes`; append the starts that check
    out to `out`, return where the loop goes on."""
    last = sizes[-1]
    for p in (np.flatnonzero(sizes[-2:-130:-1] == last) + 1).tolist():
        if 3 * p <= len(sizes) and (sizes[-3 * p : -p] == sizes[-2 * p :]).all():
            break
    else:
        return pos
    cycle = sizes[-p:]
    reps = (end - pos) // int(cycle.sum())
    if reps < 2:
        return pos
    step = np.tile(cycle, reps)
    starts = pos + np.concatenate(([0], np.cumsum(step[:-1])))
    miss = np.flatnonzero(lens[starts].astype(np.int64) + 16 != step)
    k = int(miss[0]) if miss.size else len(starts)
    out.append(starts[:k])
    return int(starts[k]) if k < len(starts) else int(starts[-1] + step[-1])


def _group(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First index of each distinct value and each element's group: from the first few
    thousand when they hold every value (a trainer's tags all show up early), else sorted."""
    uniq, rep = np.unique(h[:4096], return_index=True)
    inv = np.minimum(np.searchsorted(uniq, h), len(uniq) - 1)
    if (uniq[inv] == h).all():
        return rep, inv
    _, rep, inv = np.unique(h, return_index=True, return_inverse=True)
    return rep, inv


def _first(mask: np.ndarray, default: int) -> int:
    hit = np.flatnonzero(mask)
    return int(hit[0]) if hit.size else default


def feed(dec, buf: bytes, base: int) -> int:
    """Decode a clean prefix of `buf` into `dec`; returns the bytes consumed (0: none)."""
    if len(buf) < MIN_BYTES:
        return 0
    p = _frame(buf)
    if len(p) < MIN_RECORDS:
        return 0
    a = np.frombuffer(buf, np.uint8)
    u64, u32 = _view(buf, "<u8"), _view(buf, "<u4")
    poss = p
    n = u64[p].astype(np.int64)
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
    dc, nc = d[cand], n[cand]
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
    kind = np.where(a[dc + nc - 5] == 0x15, 0, np.where(u64[dc + nc - 12] == _TF32, 1, 2))
    tail = np.array([5, 12, 25])[kind]
    s = np.minimum(dc + i, len(buf) - 6)  # past a short record's end: garbage, then not ok
    ln = a[s + 5].astype(np.int64)
    ok = (
        ~cont & (a[s] == 42) & (a[s + 1] == nc - i - 2) & (a[s + 2] == 10)
        & (a[s + 3] == nc - i - 4) & (a[s + 4] == 10) & (ln < 128) & (i + 6 + ln == nc - tail)
    )  # fmt: skip
    k2 = kind == 2
    ok &= ~k2 | ((u64[dc + nc - 13] == _META_A) & (u64[dc + nc - 8] == _META_B)
                 & (u64[dc + nc - 25] == _TF32))  # fmt: skip
    bulk = cand[ok]
    if not len(bulk) or len(bulk) < len(p) // 2:
        return 0
    dc, nc, step, i, kind, ln = dc[ok], nc[ok], step[ok], i[ok], kind[ok], ln[ok]
    # -- tags: grouped by (kind, length, tag bytes) -----------------------------------------
    ts = dc + i + 6
    code = (kind | (ln << 2) | (nc << 10)).astype(np.uint64)
    h = code * _P
    words = []
    last = len(buf) - 8
    for k in range((int(ln.max()) + 7) // 8):
        w = u64[np.minimum(ts + 8 * k, last)] & _KEEP[np.clip(ln - 8 * k, 0, 8)]
        words.append(w)
        h = (h ^ w) * _P
    rep, inv = _group(h)
    same = code[rep][inv] == code
    for w in words:
        same &= w[rep][inv] == w
    order = np.argsort(inv.astype(np.uint16) if len(rep) < 1 << 16 else inv, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(inv))[:-1])  # in file order
    # -- data CRCs: one real CRC per group, table lookups for the bytes that vary ----------
    vpos = np.where(kind == 2, nc - 17, nc - 4)
    good = same & _crc_ok(buf, a, u64, u32, rep, inv, dc, nc, i, vpos)
    # -- the other records, decoded one by one ---------------------------------------------
    is_bulk = np.zeros(len(p), bool)
    is_bulk[bulk] = True
    steps = np.full(len(p), np.iinfo(np.int64).min)
    steps[bulk] = step
    summary = is_bulk.copy()
    stop = min(stop, int(bulk[~good][0]) if not good.all() else stop)
    slow = []
    for r in np.flatnonzero(~is_bulk[:stop]).tolist():
        q, m = int(poss[r]), int(n[r])
        data = buf[q + 12 : q + 12 + m]
        if masked_crc(data) != _U32(buf, q + 12 + m)[0]:
            stop = r
            break
        try:
            wall, st, summ, status = tbd.parse_event(data)
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
        slow.append((r, (wall, st, values, summ)))
    # TensorBoard's orphan rule: stop before the first step that goes back
    prev = np.maximum.accumulate(np.concatenate(([dec.last_step], steps[:stop])))[:-1]
    stop = _first(summary[:stop] & (steps[:stop] < prev), stop)
    if stop == 0:
        return 0
    _apply(dec, buf, base, stop, p, bulk, kind, step, dc, ln, ts, members, slow, steps,
           summary, vpos)  # fmt: skip
    return int(poss[stop]) if stop < len(poss) else int(poss[-1] + n[-1]) + 16



def _crc_ok(buf, a, u64, u32, rep, inv, dc, nc, i, vpos) -> np.ndarray:
    """Whether each record's data CRC checks out. CRC32C is linear: within a group (same
    layout, tag and length) a record's CRC is a constant, taken from one real CRC, XOR the
    table contributions of the bytes that differ: wall time, step and value."""
    depth = int(nc.max())
    rev = _tables(depth)[depth - 1 :: -1].reshape(-1)  # row depth - 1 - d: distance d
    top = (depth - nc) * 256  # + j * 256: the row of data byte j (distance n - 1 - j)

    def at(j: int) -> np.ndarray:
        return rev[j * 256 :]

    lin = np.zeros(len(dc), np.uint32)
    wall = u64[dc + 1].view(np.uint8).reshape(-1, 8)
    for k in range(8):  # wall time: data bytes 1..8
        lin ^= at(1 + k)[top + wall[:, k]]
    vtop = top + vpos * 256
    val = u32[dc + vpos].view(np.uint8).reshape(-1, 4)
    for k in range(4):  # the value
        lin ^= at(k)[vtop + val[:, k]]
    for j in range(10, int(i.max())):  # the step's varint: data bytes 10 .. i-1
        lin ^= np.where(j < i, at(j)[top + a[dc + j]], 0).astype(np.uint32)
    anchor = np.array([_crc(buf[q : q + m]) for q, m in zip(dc[rep].tolist(), nc[rep].tolist())],
                      np.uint32) ^ lin[rep]  # fmt: skip
    x = u32[dc + nc] - _MASK
    return (lin ^ anchor[inv]) == ((x << np.uint32(15)) | (x >> np.uint32(17)))


def _apply(dec, buf, base, stop, p, bulk, kind, step, dc, ln, ts, members, slow, steps,
           summary, vpos) -> None:  # fmt: skip
    if stop < len(p):
        members = [m[bulk[m] < stop] for m in members]
        members = [m for m in members if len(m)]
    groups = range(len(members))
    tags = [buf[int(ts[m[0]]) : int(ts[m[0]] + ln[m[0]])] for m in members]
    # plugins, declared in file order by `scalars` metadata and by the other records
    first_decl: dict[bytes, int] = {}
    events = [(int(bulk[m[0]]), g, m) for g, m in zip(groups, members)
              if kind[m[0]] == 2]  # fmt: skip
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
            wall, st, values, summ = what
            for tag, _, plugin, _, _ in values or ():
                if plugin and tag not in dec.plugins:
                    first_decl[tag] = r
            dec._slow_apply(wall, st, values, int(p[r]), summ)
    known = {}
    per_tag: dict[bytes, list[np.ndarray]] = {}
    for g, m in zip(groups, members):
        tag = tags[g]
        if kind[m[0]] == 1:  # a TF2 tensor without metadata: a scalar once its tag is
            if tag not in known:
                known[tag] = dec.plugins.get(tag)
            if known[tag] != "scalars":
                continue
            if tag in first_decl:
                m = m[bulk[m] > first_decl[tag]]
        per_tag.setdefault(tag, []).append(m)
    wall_f = _view(buf, "<f8")
    val_f = _view(buf, "<f4")
    for tag, ms in per_tag.items():
        m = ms[0] if len(ms) == 1 else np.sort(np.concatenate(ms))
        if not len(m):
            continue
        dm = dc[m]
        chunk = (step[m], wall_f[dm + 1], val_f[dm + vpos[m]].astype(np.float64),
                 p[bulk[m]] + base)  # fmt: skip
        dec._chunks.setdefault(tag, []).append(chunk)
    if summary[:stop].any():
        dec.last_step = max(dec.last_step, int(steps[:stop][summary[:stop]].max()))
