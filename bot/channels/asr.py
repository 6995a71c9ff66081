"""Speech recognition hook for WeChat voice messages that arrive without a transcript."""

from __future__ import annotations


def transcribe(media_id: str) -> str | None:
    """Return the text spoken in a voice message, or None when it cannot be recognised.

    WeChat is retiring the `Recognition` field of voice messages; when it is empty the webhook calls
    this hook before the dialogs run. No recognizer is wired in yet, so this returns None and the
    dialogs answer kindly that the voice was not understood and offer the numbered menu.

    A later issue fills this in: download the AMR/SPEEX audio with `/cgi-bin/media/get?media_id=...`
    (valid for 3 days), send it to a Mandarin ASR service, then correct homophones against our
    gazetteer with `pypinyin`/`rapidfuzz`. It runs in the turn's worker thread, so it shares the
    webhook's 5-second budget; a slow recognizer only moves the reply to a customer-service message.

    Args:
        media_id: The voice message's `MediaId`.

    Returns:
        The transcript, or None.
    """
    return None
