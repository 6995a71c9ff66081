"""Read-aloud bench: what one reply read aloud costs this machine, per step, with the local backend.

    .venv/bin/python bench/read_aloud_bench.py [--runs 20]

For three replies of the conversation (a short confirmation, the main menu, a list of four activities, as
the dialogs render them) prints p50 / p99 in milliseconds of: espeak-ng speaking it (a process per piece),
PyAV turning the WAV into AMR-NB (8 kHz, 12.2 kbit/s), and the whole `Speaker.voices` call; then the
seconds of speech, the AMR bytes, and the real-time factor (seconds of work per second of speech).
None of it runs inside the 5-second window: the webhook only queues the job (an RQ enqueue or a thread).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels import tts  # noqa: E402
from bot.config import TtsConfig  # noqa: E402

REPLIES = {
    "confirmation": "好的，以后不发语音了，只发文字。想听的时候，说“念给我听”。",
    "menu": "请问您想做什么？请回复数字：\n1. 找活动\n2. 给我推荐活动\n3. 我报名的活动\n4. 我的服务时长\n"
            "回复9找人工。想取消报名、改资料，直接说就行。",
    "list": "明天（12月2日星期三）有这些活动：\n1. 给独居老人送棉衣，上午9点，阳光社区服务站，剩3个名额\n"
            "2. 陪老人读报，下午2点半，幸福里日间照料中心，剩2个名额\n3. 学校门口护学岗，上午7点，实验小学北门\n"
            "4. 清扫小区积雪，上午8点，向阳花社区，剩5个名额\n回复数字看详情，回复“更多”看后面的，回复0回主菜单。",
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    cfg = TtsConfig(backend="espeak", fallback="off")
    engine = tts.EspeakBackend(cfg)
    speaker = tts.Speaker(cfg)
    print(f"espeak-ng, {cfg.espeak_speed} words/min, pieces of ≤{cfg.max_chars} characters; "
          f"{args.runs} runs each; {os.cpu_count()} CPUs")
    print(f"{'reply':<13}{'chars':>6}{'speak p50':>11}{'p99':>8}{'amr p50':>10}{'p99':>8}{'total p50':>11}"
          f"{'p99':>8}{'speech s':>10}{'AMR KB':>8}{'RTF':>7}")
    for name, text in REPLIES.items():
        spoken = tts.speakable(text)
        pieces = tts.chunks(spoken, min(engine.max_chars, cfg.max_chars))
        synth, encode, whole = [], [], []
        seconds, size = 0.0, 0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            wavs = [engine.synthesize(p) for p in pieces]
            t1 = time.perf_counter()
            voices = [v for w in wavs for v in tts.to_amr(w)]
            t2 = time.perf_counter()
            synth.append((t1 - t0) * 1000)
            encode.append((t2 - t1) * 1000)
            t3 = time.perf_counter()
            speaker.voices(text)
            whole.append((time.perf_counter() - t3) * 1000)
            seconds = sum(v.seconds for v in voices)
            size = sum(len(v.amr) for v in voices)
        rtf = statistics.median(whole) / 1000 / seconds if seconds else 0.0
        print(f"{name:<13}{len(spoken):>6}{pct(synth, .5):>11.0f}{pct(synth, .99):>8.0f}{pct(encode, .5):>10.0f}"
              f"{pct(encode, .99):>8.0f}{pct(whole, .5):>11.0f}{pct(whole, .99):>8.0f}{seconds:>10.1f}"
              f"{size / 1024:>8.1f}{rtf:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
