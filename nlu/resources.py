"""Derived lookup tables (繁→简 characters, pinyin, a trimmed jieba dictionary), built once and cached on disk."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pickle
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Words of jieba's dictionary below this frequency are left out (memory and start-up time).
JIEBA_MIN_FREQ = 20

_REPO = Path(__file__).resolve().parent.parent
#: Part of cache keys that depend on jieba's dictionary.
JIEBA_VERSION_KEY = f"jieba-min{JIEBA_MIN_FREQ}"


def cache_dir() -> Path:
    """The cache folder: $YINLING_NLU_CACHE, else var/nlu-cache in the repo, else the temp folder."""
    env = os.environ.get("YINLING_NLU_CACHE")
    candidates = [Path(env)] if env else []
    candidates += [_REPO / "var" / "nlu-cache", Path(tempfile.gettempdir()) / "yinling-nlu-cache"]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    return Path(tempfile.gettempdir())


def _version(package: str) -> str:
    """A cheap stand-in for a package's version: size and mtime of its ``__init__.py``, without importing
    it (importing pypinyin loads its phrase dictionaries: 0.5 s and 50 MB)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return "0"
    st = os.stat(spec.origin)
    return f"{st.st_size:x}{int(st.st_mtime):x}"


def cached(name: str, build: Callable[[], T]) -> T:
    """Load ``name`` from the cache folder, or build it with ``build()`` and store it there."""
    return _cached(name, build)


def fingerprint(paths: Iterable[Path], *extra: str) -> str:
    """A short hash of files' contents (missing files count as empty) and extra strings."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.name).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"-")
    for item in extra:
        digest.update(item.encode("utf-8"))
    return digest.hexdigest()[:20]


def _cached(name: str, build: Callable[[], T]) -> T:
    path = cache_dir() / name
    try:
        with path.open("rb") as fh:
            value: T = pickle.load(fh)
        return value
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
        pass
    value = build()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only disk only costs start-up time
        log.warning("cannot write NLU cache %s: %s", path, exc)
    return value


def _build_t2s() -> dict[str, str]:
    from zhconv import zhconv  # slow to load (0.3 s): only when the cache is cold

    # With its default name zhconv opens the file without closing it; an absolute path is read with `with`.
    zhconv.loaddict(os.path.join(os.path.dirname(zhconv.__file__), zhconv.DICTIONARY))
    table: dict[str, Any] = zhconv.getdict("zh-cn")
    return {k: v for k, v in table.items() if len(k) == 1 and len(v) == 1 and k != v}


def t2s_chars() -> dict[str, str]:
    """Single-character traditional → simplified pairs from zhconv's zh-cn table."""
    return _cached(f"t2s-{_version('zhconv')}.pickle", _build_t2s)


def _strip_tone(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFKD", syllable)
    return "".join(c for c in decomposed if c.isascii() and c.isalpha()).replace("v", "u")


def _build_pinyin() -> dict[str, tuple[str, ...]]:
    from pypinyin.pinyin_dict import pinyin_dict  # 0.45 s to import: only when the cache is cold

    table: dict[str, tuple[str, ...]] = {}
    for code, readings in pinyin_dict.items():
        if code < 0x3400:
            continue
        seen: list[str] = []
        for reading in readings.split(","):
            plain = _strip_tone(reading)
            if plain and plain not in seen:
                seen.append(plain)
        if seen:
            table[chr(code)] = tuple(seen)
    return table


def pinyin_table() -> dict[str, tuple[str, ...]]:
    """Every Chinese character's toneless readings (heteronyms included), from pypinyin."""
    return _cached(f"pinyin-{_version('pypinyin')}.pickle", _build_pinyin)


_TONE_MARKS = {"\u0304": "1", "\u0301": "2", "\u030c": "3", "\u0300": "4"}


def _toned(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFKD", syllable)
    tone = next((_TONE_MARKS[c] for c in decomposed if c in _TONE_MARKS), "5")
    return _strip_tone(syllable) + tone


def _build_tones() -> dict[str, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    return {chr(code): _toned(readings.split(",")[0]) for code, readings in pinyin_dict.items() if code >= 0x3400}


def tone_table() -> dict[str, str]:
    """Every Chinese character's most common reading with its tone (扶 → fu2), from pypinyin."""
    return _cached(f"tones-{_version('pypinyin')}.pickle", _build_tones)


def jieba_dictionary() -> Path:
    """A copy of jieba's dictionary without its rarest words (written once into the cache folder)."""
    import jieba

    source = Path(jieba.__file__).resolve().parent / "dict.txt"
    target = cache_dir() / f"jieba-{_version('jieba')}-min{JIEBA_MIN_FREQ}.txt"
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    kept: list[str] = []
    with source.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) >= JIEBA_MIN_FREQ:
                kept.append(line.rstrip("\n"))
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(kept) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target
