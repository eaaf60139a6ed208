"""One escaping path: text from the data (AE terms, labels, titles) is data in every renderer.

Each function turns arbitrary text into a literal of one output language — never markup. Every
renderer (TLF HTML/LaTeX/Markdown/RTF, running text, the book's title page and banner) uses these
and nothing else.
"""

from __future__ import annotations

import html as _html
import re

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


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~$&])")


def markdown(text: object) -> str:
    """Text as a literal in CommonMark / MyST Markdown: every ASCII punctuation character that can
    start markup (emphasis, links, raw HTML, roles ``{role}`...```, math ``$``, fences, tables)
    is backslash-escaped, so it renders as itself in every Markdown engine."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


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
