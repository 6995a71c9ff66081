"""Real speech for tests: espeak-ng speaks Mandarin to WAV, PyAV encodes it as WeChat's AMR-NB; WAV read back."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass

import av


@dataclass(frozen=True)
class Wav:
    """PCM samples read from a WAV file."""

    rate: int
    channels: int
    width: int  # bytes per sample
    frames: bytes

    @property
    def seconds(self) -> float:
        return len(self.frames) / (self.rate * self.channels * self.width)

    def peak(self) -> int:
        """Largest absolute 16-bit sample (0 for silence)."""
        samples = memoryview(self.frames).cast("h")
        return max((abs(s) for s in samples), default=0)


def read_wav(data: bytes) -> Wav:
    """A WAV file's format and samples (raises wave.Error for anything else)."""
    with wave.open(io.BytesIO(data)) as w:
        return Wav(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes()))


@functools.lru_cache(maxsize=64)
def speak(text: str, voice: str = "cmn", speed: int = 175) -> bytes:
    """espeak-ng (Debian's package) speaking `text` in Mandarin: a 22.05 kHz mono WAV file."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    out = subprocess.run([exe, "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True,
                         check=True, timeout=30)
    return out.stdout


def encode(wav: bytes, codec: str = "libopencore_amrnb", container: str = "amr", rate: int = 8000,
           bit_rate: int = 12200) -> bytes:
    """Re-encode a WAV with PyAV: by default AMR-NB 8 kHz at 12.2 kbit/s, as WeChat stores voice messages."""
    out_buf = io.BytesIO()
    with av.open(io.BytesIO(wav)) as src, av.open(out_buf, "w", format=container) as dst:
        stream = dst.add_stream(codec, rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format=stream.format.name if stream.format else "s16", layout="mono",
                                      rate=rate)
        for frame in src.decode(audio=0):
            for piece in resampler.resample(frame):
                dst.mux(stream.encode(piece))
        for piece in resampler.resample(None):
            dst.mux(stream.encode(piece))
        dst.mux(stream.encode(None))
    return out_buf.getvalue()


def amr(text: str) -> bytes:
    """`text` spoken in Mandarin, as the AMR file WeChat's media API serves for a voice message."""
    return encode(speak(text))


def spoken_seconds(text: str) -> float:
    """How long espeak-ng's speech of `text` lasts (what a recognizer should receive, give or take a frame)."""
    return read_wav(speak(text)).seconds
