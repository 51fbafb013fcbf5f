"""What an alert says about a finding: the JSON (for a command's stdin and a webhook's body),
the environment a command gets, one line of text, and the key that makes it said once."""

from __future__ import annotations

import json
import math

from mlmon_tui.analysis.findings import Finding

TAGS_SHOWN = 3


def tags_of(f: Finding) -> list[str]:
    """Every tag the finding is about: its `tags` when it groups several, else its `tag`."""
    tags = [str(t) for t in (getattr(f, "tags", None) or ()) if t]
    return tags or ([f.tag] if f.tag else [])


def alert_key(f: Finding) -> tuple:
    """Identity across redraws and detector restarts: run, kind, tag(s) and onset (the step;
    the onset time for machine findings, which have no step)."""
    return event_key(f) + (tuple(sorted(tags_of(f))),)


def event_key(f: Finding) -> tuple:
    """Run, kind and onset: the tags are matched apart (an event's tag group may grow)."""
    onset = f.step if f.step is not None else _stable(f.wall_time)
    return (f.run, f.kind, onset)


def _stable(x):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), 3)


def tags_text(f: Finding) -> str:
    tags = tags_of(f)
    if len(tags) <= TAGS_SHOWN:
        return ", ".join(tags)
    return ", ".join(tags[:TAGS_SHOWN]) + f" and {len(tags) - TAGS_SHOWN} more"


def title(f: Finding) -> str:
    return f"mlmon-tui: {f.severity} in {f.run}" if f.run else f"mlmon-tui: {f.severity}"


def text(f: Finding) -> str:
    """One line a person reads in a chat or on a phone."""
    where = f" at step {f.step}" if f.step is not None else ""
    tags = tags_text(f)
    on = f" on {tags}" if tags else ""
    run = f" in {f.run}" if f.run else ""
    return f"mlmon-tui {f.severity.upper()}: {f.kind}{run}{on}{where}: {f.message}"


def payload(f: Finding) -> dict:
    """The finding as `check --json` writes it, with `extra`, `tags` when it has several, and
    `title` and `text` (the field Slack, Mattermost and ntfy templates show)."""
    d = f.to_dict(extra=True)
    tags = tags_of(f)
    if getattr(f, "tags", None):
        d.setdefault("tags", tags)
    d["title"] = title(f)
    d["text"] = text(f)
    return d


def body(f: Finding) -> bytes:
    return json.dumps(payload(f), ensure_ascii=False, allow_nan=False).encode()


def environment(f: Finding) -> dict[str, str]:
    """MLMON_* variables for an --on-finding command."""
    env = {
        "MLMON_RUN": f.run or "",
        "MLMON_TAG": f.tag or "",
        "MLMON_KIND": f.kind,
        "MLMON_SEVERITY": f.severity,
        "MLMON_STEP": "" if f.step is None else str(f.step),
        "MLMON_MESSAGE": f.message,
    }
    if len(tags_of(f)) > 1:  # one event on several tags
        env["MLMON_TAGS"] = ", ".join(tags_of(f))
    return {k: v.replace("\0", "") for k, v in env.items()}
