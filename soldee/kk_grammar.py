"""Kazakh case endings for the admin's model names (soldee.model_names).

A Kazakh sentence marks a definite object with the accusative ending, chosen by the last
sound and the vowel harmony of the word: «Таңдалған топтарды жою», «пайдаланушыны»,
«жазылымды», «ерекшелікті». A name in quotes before the model's name makes that name
possessive (izafet) and then accusative: «"Бухгалтерия" тобын жою», «"Start" тарифін»,
«"…" сақталған картасын». Django puts the nominative verbose name into these sentences
(«Топ «Бухгалтерия» жойғыңыз…», «Таңдалған топтар жойғыңыз…»). The endings are regular,
so they are built here from the translated verbose names rather than listed per model.

A name of several words that ends in a possessive (an izafet compound: «валюта бағамы»,
«шарт көшірмесі», «тест шлюзінің операциясы») is already possessive: the accusative
adds «-н» («валюта бағамын»), as the possessive accusative does. A trailing parenthesis
(«шарт көшірмесі (PDF)») stays after the ending: «шарт көшірмесін (PDF)»."""

import re

_BACK = set("аоұыя")
_FRONT = set("әөүіеэиюё")
_VOWELS = _BACK | _FRONT
# After these the accusative is -ды/-ді (sonorants, «у» included, and voiced з, ж); after a
# vowel -ны/-ні; after any other consonant (voiceless, and б в г д) -ты/-ті.
_SONORANT = set("лрйумнңзж")
# A final voiceless stop voices before a vowel: топ → тобы, ерекшелік → ерекшелігі.
_VOICED = {"п": "б", "к": "г", "қ": "ғ"}

_TAIL = re.compile(r"^(.*?)(\s*\([^()]*\))?$", re.S)


def _front(word: str) -> bool:
    """Whether the word takes the front-vowel endings (і, е), by its last vowel («у» is
    read as a consonant after a vowel: «сұрау», «беру»)."""
    for ch in reversed(word.lower()):
        if ch in _BACK:
            return False
        if ch in _FRONT:
            return True
    return False


def _possessive_ending(word: str) -> bool:
    return bool(re.search(r"(ы|і)$", word.lower()))


def _split(phrase: str):
    head, tail = _TAIL.match(phrase).groups()
    words = head.rsplit(" ", 1)
    before, word = (words[0] + " ", words[1]) if len(words) == 2 else ("", words[0])
    return before, word, tail or ""


def _already_possessive(before: str, word: str) -> bool:
    """A compound of several words ending in -ы/-і is an izafet («валюта бағамы»); a single
    word ending so is a stem («пайдаланушы»)."""
    return bool(before) and _possessive_ending(word)


def accusative(phrase: str) -> str:
    """The name as a definite object: «топ» → «топты», «топтар» → «топтарды», «валюта
    бағамы» → «валюта бағамын»."""
    before, word, tail = _split(phrase)
    if not word:
        return phrase
    if _already_possessive(before, word):
        return f"{before}{word}н{tail}"
    last = word[-1].lower()
    vowel = "і" if _front(word) else "ы"
    if last in _VOWELS:
        ending = "н" + vowel
    elif last in _SONORANT:
        ending = "д" + vowel
    else:
        ending = "т" + vowel
    return f"{before}{word}{ending}{tail}"


def possessive(phrase: str) -> str:
    """The name after another name, in the nominative: «"Бухгалтерия" тобы»."""
    before, word, tail = _split(phrase)
    if not word:
        return phrase
    if _already_possessive(before, word):
        return phrase
    vowel = "і" if _front(word) else "ы"
    last = word[-1].lower()
    if last in _VOWELS:
        return f"{before}{word}с{vowel}{tail}"
    if last in _VOICED:
        word = word[:-1] + (_VOICED[last] if word[-1].islower() else _VOICED[last].upper())
    return f"{before}{word}{vowel}{tail}"


def possessive_accusative(phrase: str) -> str:
    """The name after another name, as a definite object: «"Бухгалтерия" тобын»."""
    before, word, tail = _split(possessive(phrase))
    return f"{before}{word}н{tail}"
