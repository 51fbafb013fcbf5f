"""Desktop notifications through the terminal: OSC 9 (iTerm2, kitty, WezTerm, Ghostty,
Windows Terminal) and OSC 777 (urxvt, foot, WezTerm, Ghostty, VTE), wrapped for tmux or
GNU screen so they pass through to the terminal outside."""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_CHARS = 180
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# terminals that show both kinds: one notification, not two
_BOTH = {"wezterm": "777", "ghostty": "777"}


def clean(text: str, semicolons: bool = True) -> str:
    """Printable and short: no control character can end the sequence early."""
    text = _CONTROL.sub(" ", text)
    if not semicolons:
        text = text.replace(";", ",")
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"


def osc9(body: str) -> str:
    # ConEmu reads "9;<digit>;" as a command: the text never starts with a digit
    text = clean(body)
    if text[:1].isdigit():
        text = " " + text
    return f"\x1b]9;{text}\x07"


def osc777(title: str, body: str) -> str:
    return f"\x1b]777;notify;{clean(title, False)};{clean(body, False)}\x07"


def protocols(env: Mapping[str, str]) -> tuple[str, ...]:
    """Which sequences to send: the one a known terminal shows, both when unknown (a terminal
    ignores an OSC it does not know)."""
    program = env.get("TERM_PROGRAM", "").lower()
    term = env.get("TERM", "").lower()
    if term in ("linux", "dumb") or term.startswith("vt"):
        return ()  # the Linux console would print the text of an OSC it does not know
    if program in _BOTH:
        return (_BOTH[program],)
    if "ghostty" in term:
        return ("777",)
    if program == "iterm.app" or "kitty" in term:
        return ("9",)
    if term.startswith("foot") or program == "foot":
        return ("777",)
    return ("9", "777")


def passthrough(seq: str, env: Mapping[str, str]) -> str:
    """Inside tmux (needs `set -g allow-passthrough on`) or GNU screen, wrap the sequence so
    the multiplexer hands it to the real terminal."""
    if env.get("TMUX"):
        return "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    if env.get("STY"):
        return "\x1bP" + seq + "\x1b\\"
    return seq


def notification(title: str, body: str, env: Mapping[str, str]) -> str:
    """The bytes to write to the terminal for one desktop notification."""
    out = []
    for p in protocols(env):
        seq = osc9(f"{title}: {body}") if p == "9" else osc777(title, body)
        out.append(passthrough(seq, env))
    return "".join(out)


def describe(env: Mapping[str, str]) -> str:
    names = " + ".join(f"OSC {p}" for p in protocols(env))
    if not names:
        return f"none: TERM={env.get('TERM', '')} shows no desktop notification"
    if env.get("TMUX"):
        names += ", through tmux (needs allow-passthrough on)"
    elif env.get("STY"):
        names += ", through GNU screen"
    return names
