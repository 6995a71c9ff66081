"""Speech recognition: one small interface, a registry of recognizers, and the choice made from config."""

from __future__ import annotations

import importlib
import logging
from typing import ClassVar

from ..config import AsrConfig, Config, ConfigError

log = logging.getLogger("yinling.asr")

# Recognizer registry: name → "module:Class", imported only when configured (an SDK is not small).
RECOGNIZERS: dict[str, str] = {
    "openai": "bot.channels.asr_openai:OpenAIRecognizer",
    "tencent": "bot.channels.asr_tencent:TencentRecognizer",
}


class AsrError(Exception):
    """Recognition failed: the service refused, timed out or answered nonsense. `retry`: a later try may work."""

    def __init__(self, reason: str, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class Recognizer:
    """One speech-to-text service. Gets 16 kHz mono 16-bit PCM, returns the words heard ("" for silence)."""

    name: ClassVar[str] = ""

    def __init__(self, config: AsrConfig) -> None:
        self.config = config

    def recognize(self, pcm: bytes, rate: int) -> str:
        """The transcript of `pcm` (mono, signed 16-bit little-endian, `rate` Hz).

        Raises:
            AsrError: the service could not be asked or did not answer with a transcript.
        """
        raise NotImplementedError


def provider_name(config: Config) -> str | None:
    """The configured recognizer's name, or None when voice is not recognized by us."""
    name = config.asr.provider.strip().lower()
    if name == "auto":
        return "openai" if config.asr.url else None
    if name in ("", "none", "off"):
        return None
    if name not in RECOGNIZERS:
        raise ConfigError(f"asr.provider: {name!r} is not one of auto, none, {', '.join(RECOGNIZERS)}")
    return name


def build(config: Config) -> Recognizer | None:
    """The recognizer config.yaml and the environment choose, or None (raises ConfigError when incomplete)."""
    name = provider_name(config)
    if name is None:
        return None
    asr = config.asr
    if name == "openai" and not asr.url:
        raise ConfigError("asr.url: set YINLING_ASR_URL to the recognizer's address (asr.provider is openai)")
    if name == "tencent":
        # One Tencent Cloud account often serves both SMS and ASR: its keys are used when ASR has none.
        asr.tencent.secret_id = asr.tencent.secret_id or config.sms.tencent.secret_id
        asr.tencent.secret_key = asr.tencent.secret_key or config.sms.tencent.secret_key
        if not (asr.tencent.secret_id and asr.tencent.secret_key):
            raise ConfigError("asr.tencent.secret_id: set TENCENT_ASR_SECRET_ID and TENCENT_ASR_SECRET_KEY")
    module, _, cls_name = RECOGNIZERS[name].partition(":")
    cls: type[Recognizer] = getattr(importlib.import_module(module), cls_name)
    log.info("voice messages are recognized by %s", name)
    return cls(asr)
