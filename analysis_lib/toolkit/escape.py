"""One escaping path: text from the data (AE terms, labels, titles) is data in every renderer.

Each function turns arbitrary text into a literal of one output language — never markup. Every
renderer (TLF HTML/LaTeX/Markdown/RTF, running text, the book's title page and banner) uses these
and nothing else.
"""

from __future__ import annotations

import functools
import html as _html
import re
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")

# LaTeX text mode (pdflatex-safe, no extra packages) and the Unicode clinical tables use.
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    "`": r"\textasciigrave{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "≥": r"\ensuremath{\geq}",
    "≤": r"\ensuremath{\leq}",
    "±": r"\ensuremath{\pm}",
    "×": r"\ensuremath{\times}",
    "µ": r"\ensuremath{\mu}",
    "μ": r"\ensuremath{\mu}",
    "°": r"\ensuremath{^\circ}",
    "–": "--",
    "—": "---",
    "−": r"\ensuremath{-}",
    "→": r"\ensuremath{\rightarrow}",
    "α": r"\ensuremath{\alpha}",
    "β": r"\ensuremath{\beta}",
    "γ": r"\ensuremath{\gamma}",
    "κ": r"\ensuremath{\kappa}",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\ldots{}",
    "\u00a0": "~",
    "≠": r"\ensuremath{\neq}",
    "≈": r"\ensuremath{\approx}",
}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True))
#: Non-Latin characters the PDF sets: the LaTeX mappings above and those the book preamble declares.
_SETTABLE = frozenset(_LATEX_SPECIAL) | frozenset(_SUPERSCRIPTS) | frozenset(_SUBSCRIPTS) | frozenset("·•€™")


def latex(text: object) -> str:
    """Text for LaTeX text mode; superscript/subscript digits become ``\\textsuperscript`` etc."""
    out = []
    for ch in str(text):
        if ch in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[ch])
        elif ch in _SUPERSCRIPTS:
            out.append(r"\textsuperscript{" + _SUPERSCRIPTS[ch] + "}")
        elif ch in _SUBSCRIPTS:
            out.append(r"\textsubscript{" + _SUBSCRIPTS[ch] + "}")
        else:
            out.append(ch)
    return "".join(out).replace("}\\textsuperscript{", "").replace("}\\textsubscript{", "")


def latex_lines(text: object) -> str:
    """:func:`latex` with ``"\\n"`` as ``\\newline`` (multi-line headers and cells)."""
    return r"\newline ".join(latex(part) for part in str(text).split("\n"))


def html(text: object) -> str:
    """Text for HTML element content and attribute values (quotes escaped too)."""
    return _html.escape(str(text), quote=True)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~$&!])")
# What opens a block at the start of a line (after the inline escapes): ATX headings and bullets
# ("#", "+", "-" and a space), ordered lists ("1." / "1)" and a space), setext underlines and
# thematic breaks ("---", "==="), quotes (">"), MyST comments ("%"), targets ("(label)="), colon fences.
_BLOCK_PREFIX = re.compile(r"(#+|[+-])(?=\s|$)|[-=]+\s*$|[>%]|\(.*\)=|:::")
_ORDERED = re.compile(r"(\d+)([.)])(?=\s|$)")


def _literal_line(line: str) -> str:
    """One line as literal Markdown text."""
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", line)
    body = line.lstrip()
    lead = line[: len(line) - len(body)]
    if _BLOCK_PREFIX.match(body):
        return f"{lead}\\{body}"
    return lead + _ORDERED.sub(r"\1\\\2", body, count=1) if _ORDERED.match(body) else line


def markdown(text: object) -> str:
    """Text as a literal in CommonMark / MyST Markdown: every ASCII punctuation character that can
    start inline markup (emphasis, links, raw HTML, roles ``{role}`...```, math ``$``, tables,
    fences) is backslash-escaped, and so is, on every line, what could open a block there (heading,
    list, quote, setext underline, MyST comment ``%`` or target ``(label)=``, colon fence) — so it
    renders as itself in every Markdown engine, and as text in the HTML and the PDF. Line breaks
    stay (a blank line still separates paragraphs)."""
    return "\n".join(_literal_line(line) for line in re.split(r"\r\n|\r|\n", str(text)))


class Markup(str):
    """Markdown the project's own code wrote (a table, a list, emphasis), whose data parts were
    escaped when it was built (:func:`markup`, :func:`analysis_lib.toolkit.formats.markdown_table`).

    Why a type: running text is built with f-strings from data (AE terms, subject ids, labels) and
    shown through one function, :func:`to_markdown`; a plain ``str`` there is data and is escaped
    as a whole, only a ``Markup`` passes as markup. Forgetting to escape thus shows backslashes at
    worst, never runs the data as markup.
    """

    __slots__ = ()

    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, to_markdown(other)))

    def __radd__(self, other: str) -> Markup:
        return Markup(str.__add__(to_markdown(other), self))

    def join(self, parts) -> Markup:
        return Markup(str.join(self, (to_markdown(p) for p in parts)))


def markup(template: str, *args: object, **kwargs: object) -> Markup:
    """``template.format(*args, **kwargs)`` as :class:`Markup`: ``template`` is the project's
    Markdown, every argument is data (escaped by :func:`to_markdown` unless it is ``Markup``)."""
    return Markup(template.format(*(to_markdown(a) for a in args), **{k: to_markdown(v) for k, v in kwargs.items()}))


def returns_markup(func: Callable[P, str]) -> Callable[P, Markup]:
    """Decorator for a function that writes Markdown itself (its data parts escaped with
    :func:`markdown`): its result is :class:`Markup`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Markup:
        return Markup(func(*args, **kwargs))

    return wrapper


def to_markdown(value: object) -> str:
    """The one way text reaches a Markdown output (chapter text, front page): ``Markup`` as it
    is, anything else escaped as a literal (:func:`markdown`)."""
    return str(value) if isinstance(value, Markup) else markdown(value)


def unsettable(text: object) -> list[str]:
    """Characters of ``text`` the PDF's fonts (pdflatex, T1 Latin) cannot set: beyond Latin
    (U+0000-U+017F) and the signs this module and the book preamble declare — emoji, CJK, Arabic,
    Hebrew, ... The PDF shows each as a marker ``[U+XXXX]`` instead (book preamble); callers warn."""
    return sorted({ch for ch in str(text) if ord(ch) > 0x17F and ch not in _SETTABLE})


def marker(ch: str) -> str:
    """The visible stand-in for a character the PDF cannot set (as the preamble typesets it)."""
    return f"[U+{ord(ch):04X}]"


def rtf(text: object) -> str:
    """Text for RTF: control characters escaped (rtflite leaves ``\\``, ``{`` and ``}`` as they
    are), ``"\\n"`` as ``\\line``, every non-ASCII character as ``\\uN?``."""
    text = str(text).replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}").replace("\n", "\\line ")
    return "".join(ch if ord(ch) < 128 else _rtf_unicode(ch) for ch in text)


def _rtf_unicode(ch: str) -> str:
    """Non-ASCII as RTF ``\\uN?`` (signed 16-bit; UTF-16 surrogate pairs beyond the BMP)."""
    units = ch.encode("utf-16-be")
    codes = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    return "".join(f"\\uc1\\u{c - 65536 if c > 32767 else c}?" for c in codes)
