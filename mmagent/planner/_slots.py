"""Values in a request that fit a tool's typed ports: evidence for the tool, and its literals.

A tool's card says what its literal ports take ("recipient address", "language to translate
into", "new width in pixels"). A request that carries such a value — an e-mail address, a
language name after "in"/"into"/"to", a size like ``256x256`` or ``256 by 256`` — asks for a
tool with that port even where no clause reads like the tool ("describe this photo *in
German*"), and a tool whose required port has no such value in the request (an e-mail tool
when only a phone number is given) cannot be planned from it.

>>> sorted(entities("Email bob@acme.io in French, 64x64"))
['dims', 'email', 'language']
"""

from __future__ import annotations

import re
from typing import Any

from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = ["entities", "port_entity", "slot_tools", "absorbs", "missing_slot", "slot_value"]

_LANGUAGES = ("english french german spanish italian portuguese dutch swedish norwegian danish "
              "finnish polish czech russian ukrainian greek turkish arabic hebrew hindi bengali "
              "urdu japanese chinese mandarin cantonese korean vietnamese thai indonesian "
              "malay tagalog swahili romanian hungarian catalan persian farsi").split()
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w@])\+?\d[\d ().-]{7,}\d")
_DIMS = re.compile(r"\b(\d{2,5})\s*(?:x|×|by)\s*(\d{2,5})\b|\b(\d{2,5})\s*(?:px|pixels)?\s*wide"
                   r"\s*(?:by|and|x)\s*(\d{2,5})\s*(?:px|pixels)?\s*tall\b", re.IGNORECASE)
_FOLDER = re.compile(r"(?<![\w:/.])((?:~|\.{1,2})?/[\w\-]+(?:[/.][\w\-]+)*/?)|"
                     r"\b(?:folder|directory)\s+['\"“]([^'\"”]+)['\"”]", re.IGNORECASE)
# a language said as one ("into French", "in Italian, please"), not a style ("in japanese ink
# style": a noun follows)
_LANG = re.compile(r"\b(?:in|into|to)\s+(" + "|".join(_LANGUAGES)
                   + r")\b(?!\s+(?!(?:and|or|so|for|please|too|as|with|then|but|if|because|"
                   r"before|after|when|by|from|on|at|now|instead)\b)[a-z])", re.IGNORECASE)
_PORT_KINDS = (  # words of a port's name/description -> the kind of value it takes
    ("email", re.compile(r"\b(e-?mail|recipient|address(es)?)\b", re.IGNORECASE)),
    ("language", re.compile(r"\blanguage\b", re.IGNORECASE)),
    ("width", re.compile(r"\bwidth\b", re.IGNORECASE)),
    ("height", re.compile(r"\bheight\b", re.IGNORECASE)),
    ("phone", re.compile(r"\bphone\b", re.IGNORECASE)),
    ("folder", re.compile(r"\b(folder|directory)\b", re.IGNORECASE)),
)
_SPECIFIC = ("folder",)
"""kinds of value so specific that they ask for a tool even through an optional port (a
folder path asks for the tool that searches one)"""


def entities(request: str) -> dict[str, Any]:
    """The port-fitting values a request carries: email, phone, dims (w, h), language,
    folder (a path, or a quoted name after "folder")."""
    found: dict[str, Any] = {}
    if m := _EMAIL.search(request):
        found["email"] = m.group(0).rstrip(".")
    masked = _EMAIL.sub(" ", request)
    if m := _DIMS.search(masked):
        w, h = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found["dims"] = (int(w), int(h))
    elif m := _PHONE.search(masked):
        found["phone"] = m.group(0).strip()
    if m := _FOLDER.search(masked):
        found["folder"] = (m.group(1) or m.group(2)).rstrip(".")
    if m := _LANG.search(masked):
        found["language"] = m.group(1).capitalize()
    return found


def port_entity(name: str, description: str) -> str | None:
    """The kind of value a literal port takes, when its card says so."""
    text = f"{name.replace('_', ' ')} {description}"
    for kind, pattern in _PORT_KINDS:
        if pattern.search(text):
            return kind
    return None


def _slots(registry: ToolRegistry, tool: str, required: bool) -> dict[str, str]:
    out = {}
    for name, f in registry.tool_class(tool).Input.model_fields.items():
        if port_type(f.annotation) in ("text", "integer", "number") and \
                (f.is_required() or not required):
            kind = port_entity(name, f.description or "")
            if kind is not None:
                out[name] = kind
    return out


def _fits(kind: str, found: dict[str, Any]) -> bool:
    return (kind in found) or (kind in ("width", "height") and "dims" in found)


def slot_tools(registry: ToolRegistry, found: dict[str, Any]) -> list[tuple[str, str]]:
    """(tool, entity kind) for each tool with a required port that a value of the request
    fits (or an optional one that a value of a specific kind fits)."""
    out = []
    for tool in registry.names():
        kinds = list(_slots(registry, tool, required=True).values()) + [
            k for k in _slots(registry, tool, required=False).values() if k in _SPECIFIC]
        for kind in kinds:
            if _fits(kind, found):
                out.append((tool, "dims" if kind in ("width", "height") else kind))
                break
    return out


def absorbs(registry: ToolRegistry, tool: str, kind: str) -> bool:
    """``tool`` has a port (required or not) that takes values of ``kind``."""
    kinds = set(_slots(registry, tool, required=False).values())
    return kind in kinds or (kind == "dims" and {"width", "height"} <= kinds)


def missing_slot(registry: ToolRegistry, tool: str, found: dict[str, Any]) -> str | None:
    """The first required port of ``tool`` whose kind of value the request lacks (language
    excepted: a tool may default it)."""
    for name, kind in _slots(registry, tool, required=True).items():
        if kind != "language" and not _fits(kind, found):
            return name
    return None


def slot_value(name: str, description: str, found: dict[str, Any],
               optional: bool = False) -> Any:
    """The request's value for a port whose card says what it takes, else None; for an
    ``optional`` port only a value of a specific kind (a folder: a size may not suit a tool
    that can default it)."""
    kind = port_entity(name, description)
    if optional and kind not in _SPECIFIC:
        return None
    if kind in ("width", "height") and "dims" in found:
        return found["dims"][0 if kind == "width" else 1]
    return found.get(kind) if kind else None
