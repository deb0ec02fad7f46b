"""One folding of words, used where text in photos is indexed AND where it is searched.

The bundled Elasticsearch has only the ``standard`` analyzer (it lowercases, nothing more: no asciifolding, no ICU),
so case and accents are folded here, in the app, on both sides: "Zürich" and "ZURICH" both become "zurich".
A query's "quoted phrases" are split off here too, to be matched as phrases.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Letters NFKD does not take apart into a base letter and a mark (casefold already turns ß into ss).
_SPECIAL = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "þ": "th", "æ": "ae", "œ": "oe",
                          "ŧ": "t", "ŀ": "l"})
_QUOTED = re.compile(r'"([^"]*)"|“([^”]*)”|„([^“”]*)[“”]')


def fold(text: str) -> str:
    """Case- and accent-free text: casefold, then drop every combining mark NFKD splits off."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


@dataclass
class WordsQuery:
    """What to look for in the text of photos: free words (each may be a prefix or carry one typo) and exact
    phrases (given in quotes), all folded."""

    words: str = ""
    phrases: tuple[str, ...] = ()
    every: bool = False  # every free word must be found (a sentence's words: "a", "of" alone would match anything)

    def __bool__(self) -> bool:
        return bool(self.words.strip() or self.phrases)

    def terms(self) -> list[str]:
        """Every folded word of the query, phrases included (what boxes on the preview look for)."""
        return re.findall(r"\w+", " ".join([self.words, *self.phrases]))


def words_query(text: str, every: bool = False) -> WordsQuery:
    """Split a query into its "quoted phrases" and the rest, both folded (``every``: see WordsQuery)."""
    phrases = [fold(next(g for g in m.groups() if g is not None)).strip() for m in _QUOTED.finditer(text)]
    rest = fold(_QUOTED.sub(" ", text))
    rest = " ".join(rest.replace('"', " ").split())
    return WordsQuery(rest, tuple(p for p in phrases if re.search(r"\w", p)), every)
