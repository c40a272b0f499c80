"""The report's HTML, SVG and CSS: template files in ``panoseg/report/templates/`` (package data).

``report.html`` is the page skeleton, ``report.css`` the stylesheet it inlines, and the other
files are the fragments the sections repeat (a table row, a card, a chart bar, a figure...),
named after the section that uses them. They are :class:`string.Template` texts: ``$name``
placeholders, ``$$`` for a literal dollar sign. There is no logic in them; loops and
conditions are Python that joins rendered fragments, and every value is HTML-escaped by the
caller before it goes in (:func:`panoseg.report.values.esc`) or is itself a rendered fragment.

A file's final newline is not part of its template: fragments are glued together as they are,
and an editor's trailing newline must not put text nodes between table cells.
"""
from __future__ import annotations

import functools
import importlib.resources
import string
from typing import FrozenSet

#: Folder of the templates inside the package.
TEMPLATE_FOLDER = "templates"


@functools.lru_cache(maxsize=None)
def load(name: str) -> string.Template:
    """The template ``templates/<name>``, read once.

    Parameters
    ----------
    name : str
        File name, e.g. ``"report.html"``.

    Returns
    -------
    string.Template
    """
    path = importlib.resources.files(__package__) / TEMPLATE_FOLDER / name
    text = path.read_text(encoding="utf-8")
    return string.Template(text[:-1] if text.endswith("\n") else text)


@functools.lru_cache(maxsize=None)
def placeholders(name: str) -> FrozenSet[str]:
    """The ``$name`` / ``${name}`` placeholders of template ``name``.

    Raises
    ------
    ValueError
        The template has a ``$`` that starts no placeholder (write ``$$`` for a dollar sign).
    """
    template = load(name)
    found = set()
    for match in template.pattern.finditer(template.template):
        if match.group("invalid") is not None:
            raise ValueError(f"report template {name}: a lone '$' at character "
                             f"{match.start('invalid')} (write $$ for a dollar sign)")
        key = match.group("named") or match.group("braced")
        if key:
            found.add(key)
    return frozenset(found)


def render(name: str, /, **values) -> str:
    """Template ``name`` with its placeholders replaced by ``values``.

    Parameters
    ----------
    name : str
        Template file name (positional only: ``name`` may also be a placeholder).
    **values
        One value per placeholder, already HTML-escaped (or rendered HTML); numbers are
        written with ``str``.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        A placeholder has no value: a missing value is a bug, not an empty string.
    TypeError
        A value matches no placeholder (a misspelt name would otherwise vanish silently).
    """
    expected = placeholders(name)
    missing = expected.difference(values)
    if missing:
        raise KeyError(f"report template {name} needs a value for "
                       + ", ".join("$" + key for key in sorted(missing)))
    unknown = set(values).difference(expected)
    if unknown:
        raise TypeError(f"report template {name} has no placeholder "
                        + ", ".join("$" + key for key in sorted(unknown)))
    return load(name).substitute(values)

