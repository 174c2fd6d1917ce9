"""The ``office`` MCP server of the planner evaluation (official SDK, stdio): the four tools of
``new_tools.yaml`` with exactly those ports. They answer from small fixed rules (no network),
enough for a run to finish; the planner sees only their cards. ``send_email`` is marked
destructive, as a real mail tool would be: it only records the message here.

``python tests/planner/eval/office_server.py`` serves stdio.
"""

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

office = MCPServer("office")
_SENT: list[dict[str, str]] = []
_WORDS = {"french": {"hello": "bonjour", "thank you": "merci"},
          "german": {"hello": "hallo", "thank you": "danke"}}


@office.tool(annotations=ToolAnnotations(readOnlyHint=True))
def translate(
    text: Annotated[str, Field(description="the text to translate")],
    target_language: Annotated[str, Field(description="language to translate into, as a name "
                                          "('French') or code ('fr')")],
) -> str:
    """Translate text into another language. The source language is detected automatically."""
    words = _WORDS.get(target_language.lower(), {})
    out = text
    for en, other in words.items():
        out = out.replace(en, other)
    return f"[{target_language}] {out}"


@office.tool(annotations=ToolAnnotations(readOnlyHint=True))
def weather(
    city: Annotated[str, Field(description="city name, optionally with country, e.g. 'Madrid' "
                               "or 'Paris, FR'")],
    day: Annotated[str | None, Field(description="'today', 'tomorrow', a weekday or an ISO date "
                                     "(YYYY-MM-DD); up to 7 days ahead. Default: today")] = None,
) -> str:
    """Get the weather forecast for a city: conditions, temperature range and chance of rain.
    Defaults to today."""
    return f"{city}, {day or 'today'}: sunny, 14 to 22 °C, 10 % chance of rain."


@office.tool(annotations=ToolAnnotations(readOnlyHint=True))
def summarize(
    text: Annotated[str, Field(description="the text to summarize")],
    max_words: Annotated[int | None, Field(description="upper bound on the summary length in "
                                           "words. Default: 80")] = None,
) -> str:
    """Summarize a piece of text (article, transcript, notes, email thread) into a short
    summary."""
    words = text.split()
    return " ".join(words[: max_words or 80])


@office.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
def send_email(
    to: Annotated[str, Field(description="recipient address; several addresses separated by "
                             "commas")],
    subject: Annotated[str, Field(description="subject line")],
    body: Annotated[str, Field(description="plain-text body of the message")],
) -> str:
    """Send an email from the user's office account. This really sends the message; it cannot
    be undone."""
    _SENT.append({"to": to, "subject": subject, "body": body})
    return f"sent to {to} (id {len(_SENT):04d})"


if __name__ == "__main__":
    office.run()
