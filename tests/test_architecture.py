"""The architecture contract: imports run one way, and only bot/ touches Flask and wechatpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "broken" in r.stdout and "0 broken" in r.stdout


def test_importing_opens_nothing() -> None:
    """Importing the app module opens no database, Redis or model: the factory does."""
    code = (
        "import sys, bot.app, bot.pipeline, bot.runtime, dialogs, data.models;"
        "assert 'jieba' not in sys.modules, 'jieba loaded at import';"
        "assert 'psycopg' not in sys.modules, 'database driver loaded at import'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_ruff_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    r = subprocess.run([str(ruff), "check", "bot", "nlu", "dialogs", "data", "tests", "bench", "scripts"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]


def test_mypy_clean_on_nlu_and_data() -> None:
    mypy = Path(sys.executable).with_name("mypy")
    r = subprocess.run([str(mypy)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]


def test_push_and_the_channel_clients_load_alone() -> None:
    """Push runs (and is tested) without the web layer, the pipeline or Flask; the channel clients without
    push either. A change to a webhook cannot break a worker's imports."""
    code = (
        "import sys, bot.push, bot.push.worker, bot.push.scheduled;"
        "loaded = [m for m in ('flask', 'bot.web', 'bot.pipeline', 'bot.app') if m in sys.modules];"
        "assert not loaded, f'push loads {loaded}';"
        "import bot.channels.sms, bot.channels.wechat_api, bot.channels.wecom, bot.channels.asr;"
        "import bot.channels.audio, bot.channels.asr_openai, bot.channels.asr_tencent;"
        "assert 'flask' not in sys.modules, 'a channel client loads Flask'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
