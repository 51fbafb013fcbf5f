"""Texts the monitor shows about itself and its runs, built from what the app holds."""

from __future__ import annotations

from rich.text import Text


def details_text(run: str, info, findings) -> Text:
    """The selected run: what feeds it, its overfitting figures, client drops, hparams."""
    # a separator that survives wrapping: the name never runs into the source kind
    text = Text.assemble((run, "bold"), ("  ·  from ", "dim"), ", ".join(sorted(info.kinds)) or "-")
    for f in findings:
        if f.kind == "overfitting" and "best_step" in f.extra:
            e = f.extra
            ratio = e.get("ratio")
            text.append("\n")
            text.append("overfitting ", style="yellow")
            text.append(
                f"{f.tag}: best at step {e['best_step']}, "
                f"{e.get('evals_since_best', '?')} evals since; gap {e.get('gap', 0):.3g}"
                + (f", train/val {ratio:.2f}" if isinstance(ratio, float) else ""))
    dropped = info.meta.get("dropped_by_client")
    if dropped:
        text.append(f"\nits client dropped {dropped} messages", style="yellow")
    hp = info.meta.get("hparams") or {}
    if isinstance(hp, dict) and hp:
        text.append("\n" + "  ".join(f"{k}={v}" for k, v in list(hp.items())[:6]))
    return text


def diagnostics_text(paths, watcher, store, services) -> Text:
    """File watching, the metrics socket counters, client drops, gauges, input problems."""
    sv = services
    t = Text()
    t.append("Watching\n", style="bold")
    t.append(f"  {', '.join(paths)}: {watcher.mode}, "
             f"{sum(len(v) for v in watcher.files().values())} files, "
             f"{len(store.runs())} runs, {store.total_points()} points "
             f"({store.nbytes() / 1e6:.1f} MB)\n")
    for src in (sv.remote.sources if getattr(sv, "remote", None) else []):
        t.append(f"  {src.path}: {getattr(src, 'status', '')}\n")  # an MLflow server
    t.append("Metrics socket\n", style="bold")
    if sv.server is None:
        t.append(f"  {sv.server_status or 'off (--no-listen)'}\n")
    else:
        t.append(f"  {sv.server_status}\n")
        stats = sv.server.stats
        t.append("  " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stats.items())
                 + "\n")
    drops = {r: store.run_info(r).meta.get("dropped_by_client")
             for r in store.runs()}
    for run, n in drops.items():
        if n:
            t.append(f"  {run}: its client dropped {n} messages (no monitor listening)\n",
                     style="yellow")
    t.append("Gauges\n", style="bold")
    snap = sv.sampler.latest if sv.sampler is not None else None
    t.append(f"  {'off' if sv.sampler is None else 'sampling every %gs' % sv.sampler.interval}"
             f"; GPUs: {(snap.gpu_status or 'ok') if snap else 'no sample yet'}\n")
    alerter = getattr(sv, "alerter", None)
    if alerter is not None:
        t.append("Alerts\n", style="bold")
        for line in alerter.lines():
            t.append(f"  {line}\n", style="yellow" if "last problem" in line else "")
    t.append(f"Input problems ({len(store.problems)})\n", style="bold")
    for p in store.problems[-200:]:
        t.append(f"  {p.severity:<7} {p.path}: {p.message}\n",
                 style="red" if p.severity == "error" else "")
    return t
