"""Voice audio: WeChat's AMR (or Speex in Ogg) decoded to 16 kHz mono 16-bit PCM with PyAV."""

from __future__ import annotations

import io
from dataclasses import dataclass

RATE = 16000  # what Mandarin recognizers expect (Tencent 16k_zh, Whisper, Paraformer)
SAMPLE_BYTES = 2  # signed 16-bit little-endian


class AudioError(Exception):
    """The bytes are not audio PyAV can decode (empty, truncated, an unknown container)."""


@dataclass(frozen=True)
class Pcm:
    """Mono signed 16-bit little-endian samples at `rate` Hz."""

    data: bytes
    rate: int = RATE

    @property
    def seconds(self) -> float:
        return len(self.data) / (SAMPLE_BYTES * self.rate)


def decode(data: bytes, max_seconds: float = 60.0) -> Pcm:
    """Decode a voice file (AMR-NB as WeChat's media API serves it, AMR-WB, Speex/Opus in Ogg, WAV, MP3).

    Args:
        data: the file's bytes.
        max_seconds: audio after this is dropped (a WeChat voice message is at most 60 s).

    Raises:
        AudioError: nothing decodable in `data`.
    """
    import av  # imported on first use: loading FFmpeg's libraries costs start-up time

    if not data:
        raise AudioError("empty")
    limit = int(max_seconds * RATE) * SAMPLE_BYTES
    out = bytearray()
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioError("no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in container.decode(stream):
                for piece in resampler.resample(frame):
                    out += bytes(piece.planes[0])[: piece.samples * SAMPLE_BYTES]
                if len(out) >= limit:
                    break
            else:
                for piece in resampler.resample(None):  # what the resampler still holds
                    out += bytes(piece.planes[0])[: piece.samples * SAMPLE_BYTES]
    except AudioError:
        raise
    except (av.FFmpegError, ValueError, EOFError) as exc:
        raise AudioError(type(exc).__name__) from exc
    if not out:
        raise AudioError("no samples")
    return Pcm(bytes(out[:limit]))
