"""Wide sweep of the labelled generators, outside pytest: precision and recall per kind.

    PYTHONPATH=src:tests python tests/curves/sweep.py [--seeds 4:200] [--only NAME,...]
        [--chunk random|all] [--show 5]

Recall of a kind: labelled events found at their onset (within the label's tolerance) over
all labelled events. Precision: findings matching a label over all findings of that kind
(findings of kinds a case tolerates, e.g. a spike on the way up of a divergence, are left
out of both). Healthy cases: the share that produced no finding at all.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curves.catalog import NEGATIVES, POSITIVES  # noqa: E402
from curves.harness import feed  # noqa: E402


def score(case, findings):
    """(true positives, false negatives, false positives) as Counters by kind, and notes."""
    tp, fn, fp, notes = Counter(), Counter(), Counter(), []
    used = set()
    for e in case.expect:
        hits = [f for f in findings if f.kind == e.kind and e.tag in f.tags and f.run == e.run
                and id(f) not in used]
        good = [f for f in hits if f.step is not None and abs(f.step - e.step) <= e.tol]
        if good:
            used.add(id(good[0]))
            tp[e.kind] += 1
        else:
            fn[e.kind] += 1
            where = [f.step for f in hits]
            notes.append(f"miss {e.kind} {e.tag}@{e.step}+-{e.tol} (found at {where})")
    for f in findings:
        if id(f) in used or f.kind in case.allow:
            continue
        fp[f.kind] += 1
        notes.append(f"false {f.severity} {f.kind} {f.tag}@{f.step}: {f.message[:90]}")
    return tp, fn, fp, notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="4:200", help="range a:b of seeds (default 4:200)")
    ap.add_argument("--only", default="", help="comma-separated generator names")
    ap.add_argument("--chunk", choices=("random", "all"), default="all",
                    help="feed in random chunks (as a live monitor) or all at once (check)")
    ap.add_argument("--show", type=int, default=3, help="problems to print per generator")
    args = ap.parse_args(argv)
    a, b = (int(x) for x in args.seeds.split(":"))
    only = set(filter(None, args.only.split(",")))
    tp, fn, fp = Counter(), Counter(), Counter()
    healthy_total = healthy_clean = 0
    t_start = time.process_time()
    for group in (POSITIVES, NEGATIVES):
        for name, make in group.items():
            if only and name not in only:
                continue
            bad = 0
            shown = []
            for seed in range(a, b):
                case = make(seed)
                monitor, _ = feed(case, chunk=0 if args.chunk == "random" else None, seed=seed)
                t, n_, p, notes = score(case, monitor.findings)
                tp += t
                fn += n_
                fp += p
                if not case.expect:
                    healthy_total += 1
                    healthy_clean += not monitor.findings
                if notes:
                    bad += 1
                    shown += [f"  {case.name}: {x}" for x in notes[:1]]
            print(f"{name:34} {b - a - bad:4}/{b - a} clean")
            for line in shown[: args.show]:
                print(line)
    print()
    print(f"{'kind':22} {'recall':>8} {'precision':>10}   found/labelled, false")
    for kind in sorted(set(tp) | set(fn) | set(fp)):
        lab = tp[kind] + fn[kind]
        rec = tp[kind] / lab if lab else float("nan")
        prec = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else float("nan")
        print(f"{kind:22} {rec:8.3f} {prec:10.3f}   {tp[kind]}/{lab}, {fp[kind]}")
    total_tp, total_fn, total_fp = sum(tp.values()), sum(fn.values()), sum(fp.values())
    print(f"{'all':22} {total_tp / max(total_tp + total_fn, 1):8.3f} "
          f"{total_tp / max(total_tp + total_fp, 1):10.3f}   {total_tp}/{total_tp + total_fn}, {total_fp}")
    if healthy_total:
        print(f"healthy cases with no finding: {healthy_clean}/{healthy_total}")
    print(f"({time.process_time() - t_start:.0f} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
