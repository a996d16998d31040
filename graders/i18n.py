"""What the graders tell a student, in the student's language: gettext over graders/locale/.

English is the source language (the msgids). Catalogs: graders/locale/<lang>/LC_MESSAGES/
graders.po, compiled with Babel into graders.mo beside it (or, in a read-only kit, into the
user's cache) the first time a run needs it or after the .po changed. docs/TRANSLATING.md says
how to extract and translate.

    from graders.i18n import _, ngettext
    fail(_("buy() returned {value!r}; expected True or False.").format(value=value))

Placeholders are named `{fields}` filled by .format() AFTER the translation, so a translator
moves them but never touches code. Only the grading process translates: grading children hand
back data, never sentences (`N_` marks a phrase a child returns, translated where it is shown).
"""

from __future__ import annotations

import gettext
import hashlib
import os
from pathlib import Path

from graders._mark import N_  # noqa: F401 - re-exported: N_ marks, _() translates

DOMAIN = "graders"
LOCALEDIR = Path(__file__).resolve().parent / "locale"
SOURCE = "en"  # the msgids' language
# Simplified Chinese under the names locales give it; anything else is English.
_ALIASES = {"zh": "zh_CN", "zh_cn": "zh_CN", "zh_sg": "zh_CN", "zh_hans": "zh_CN",
            "zh_hans_cn": "zh_CN", "zh_hans_sg": "zh_CN", "chinese": "zh_CN"}
ENV_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext's order

_ENGLISH = gettext.NullTranslations()  # the msgids as they are: the fallback
_translation: gettext.NullTranslations = _ENGLISH
language = SOURCE  # the language in force
why_english = ""  # when a language was asked for but English is used: why


def languages() -> list[str]:
    """The languages there is a catalog for, English (the source) first."""
    return [SOURCE, *sorted(p.parent.parent.name for p in LOCALEDIR.glob(f"*/LC_MESSAGES/"
                                                                          f"{DOMAIN}.po"))]


def normalize(name: str | None) -> str | None:
    """The catalog language a locale name means (zh_CN.UTF-8 -> zh_CN, C -> en), or None."""
    if not name:
        return None
    base = name.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if base in ("C", "POSIX") or base.lower() == "en" or base.lower().startswith("en_"):
        return SOURCE
    known = {lang.lower(): lang for lang in languages()}
    lang = _ALIASES.get(base.lower(), base)
    return known.get(lang.lower())


def from_environment(environ: dict | None = None) -> str:
    """The language LANGUAGE, LC_ALL, LC_MESSAGES and LANG choose, in that order (the first
    one set decides; LANGUAGE may list several, the first with a catalog wins); English when
    none is set or the one that decides has no catalog (LANG=C.UTF-8 is English)."""
    environ = os.environ if environ is None else environ
    for var in ENV_VARS:
        value = environ.get(var, "")
        if value:
            for part in value.split(":") if var == "LANGUAGE" else [value]:
                lang = normalize(part)
                if lang:
                    return lang
            return SOURCE
    return SOURCE


def choose(option: str | None = None, default: str | None = None,
           environ: dict | None = None) -> tuple[str, str]:
    """(language, what chose it): --lang, else the repository's default (the `grading_lang`
    ini option, set by a release), else the environment, else English."""
    for asked, source in ((option, "--lang"), (default, "grading_lang")):
        if asked:
            lang = normalize(asked)
            return lang or SOURCE, f"{source} {asked}" + ("" if lang else ": no catalog")
    lang = from_environment(environ)
    environ = os.environ if environ is None else environ
    var = next((v for v in ENV_VARS if environ.get(v)), None)
    return lang, (f"{var}={environ[var]}" if var else "default")


def _stamp(mo: Path) -> Path:
    return mo.with_name(mo.name + ".sha256")


def _fresh(mo: Path, digest: str) -> bool:
    try:
        return mo.is_file() and _stamp(mo).read_text().strip() == digest
    except OSError:
        return False


def compile_catalog(po: Path, mo: Path) -> None:
    """Compile one .po into a .mo with Babel, fuzzy entries left out, written atomically, with
    the .po's SHA-256 beside it (graders.mo.sha256) so a changed .po is compiled again."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    data = po.read_bytes()
    with open(po, "rb") as f:
        catalog = read_po(f, locale=po.parent.parent.name, domain=DOMAIN)
    mo.parent.mkdir(parents=True, exist_ok=True)
    tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write_mo(f, catalog, use_fuzzy=False)
    os.replace(tmp, mo)
    stamp = _stamp(mo)
    tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    tmp.write_text(hashlib.sha256(data).hexdigest() + "\n")
    os.replace(tmp, stamp)


def compiled(lang: str) -> Path:
    """The locale folder holding an up-to-date graders.mo for `lang`, compiled now if needed:
    beside the .po, or in the user's cache when the kit is read-only. Raises ImportError when
    Babel is missing and nothing compiled is at hand, OSError when there is no catalog."""
    po = LOCALEDIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    digest = hashlib.sha256(po.read_bytes()).hexdigest()
    mo = po.with_suffix(".mo")
    if _fresh(mo, digest):
        return LOCALEDIR
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cached = cache / "concurrency-graders" / digest[:16]
    cached_mo = cached / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if _fresh(cached_mo, digest):
        return cached
    try:
        compile_catalog(po, mo)
        return LOCALEDIR
    except PermissionError:
        compile_catalog(po, cached_mo)
        return cached


def activate(lang: str) -> str:
    """Translate from now on into `lang` (a catalog language, or en); return the language in
    force, which is English when the catalog cannot be had (why_english then says why)."""
    global _translation, language, why_english
    _translation, language, why_english = _ENGLISH, SOURCE, ""
    if lang == SOURCE:
        return language
    try:
        folder = compiled(lang)
    except ImportError:
        why_english = f"{lang}: the catalog is not compiled and Babel is not installed"
        return language
    except OSError as e:
        why_english = f"{lang}: no catalog ({e})"
        return language
    # gettext.translation() would do the same but keeps every catalog it ever read, keyed by
    # path, so a .mo compiled again in this process would not be seen.
    mo = gettext.find(DOMAIN, str(folder), languages=[lang])
    if mo is None:
        why_english = f"{lang}: no compiled catalog in {folder}"
        return language
    with open(mo, "rb") as f:
        _translation = gettext.GNUTranslations(f)
    language = lang
    return language


def _(message: str) -> str:
    """`message` in the language in force (itself in English or when not translated)."""
    return _translation.gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the count `n`, in the language in force."""
    return _translation.ngettext(singular, plural, n)


def install_jinja(env):
    """Jinja2's i18n extension in `env`, over _() and ngettext() (newstyle: a template says
    `{{ _("%(n)s tests", n=...) }}`, its placeholders filled after the translation, and a
    literal percent sign is `%%`); `env` back."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)
    return env


def known(text: str) -> str:
    """A text handed back by a grading child: its translation when the catalog has it (a
    phrase marked with N_, a stub's hint), else the text itself (the student's own words)."""
    return _(text) if isinstance(text, str) and text.strip() else text


def tr_error(error: str) -> str:
    """`Type: message` as a grading child reports an exception: the message translated when
    the catalog has it (an error the graders' own code raised on purpose)."""
    kind, sep, rest = error.partition(": ")
    return f"{kind}{sep}{known(rest)}" if sep and kind.isidentifier() else known(error)
