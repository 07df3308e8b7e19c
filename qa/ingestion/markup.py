"""HTML whitespace as a browser shows it, shared by saved web pages and feed entries (lxml)."""

from __future__ import annotations

import re

import lxml.etree
import lxml.html

# Inline formatting carries no boilerplate signal, but in trafilatura's whole-page fallback each text node
# becomes a line, which would cut "First <b>only</b> paragraph." into three sentences.
_FORMATTING_TAGS = ("b", "strong", "i", "em", "u", "small", "big", "mark", "font", "abbr", "dfn", "tt")
_PREFORMATTED_TAGS = {"pre", "textarea", "script", "style"}
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # lxml refuses to set text holding these


def _collapse_markup(tree: lxml.html.HtmlElement) -> None:
    """Make the page's whitespace what a browser shows: source line breaks are not paragraph breaks.

    trafilatura keeps the raw whitespace of some nodes (a `<blockquote>`, the text after a `<br>`), and
    a line break mid-sentence would end the sentence for the chunker. Control characters are dropped.
    """
    lxml.etree.strip_tags(tree, *_FORMATTING_TAGS)
    for element in tree.iter():
        inside_pre = any(ancestor.tag in _PREFORMATTED_TAGS for ancestor in element.iterancestors())
        if isinstance(element.tag, str) and element.text and not inside_pre and element.tag not in _PREFORMATTED_TAGS:
            element.text = _HTML_SPACE.sub(" ", _NOT_XML.sub("", element.text))
        if element.tail and not inside_pre:
            element.tail = _HTML_SPACE.sub(" ", _NOT_XML.sub("", element.tail))
