"""Everything a process needs, built once: config, database, store, NLU. Importing opens nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from data.crypto import PhoneVault
from data.db import make_engine, make_sessionmaker
from data.kv import MemoryStore, RedisStore, Store
from data.models import Place

from .config import Config, load_config

log = logging.getLogger("yinling")


@dataclass
class Runtime:
    """The wired parts of one process (web worker, queue worker or CLI)."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    store: Store
    vault: PhoneVault
    _nlu: Any = field(default=None, repr=False)

    @property
    def redis(self) -> Any | None:
        """The raw Redis client when configured (queues need it), else None."""
        return self.store.client if isinstance(self.store, RedisStore) else None

    @property
    def nlu(self) -> Any:
        """The NLU parser (built-in or Rasa over HTTP), loaded on first use or by `load_nlu`."""
        if self._nlu is None:
            self.load_nlu()
        return self._nlu

    def load_nlu(self) -> None:
        cfg = self.config.nlu
        if cfg.backend == "rasa":
            from nlu.rasa_client import RasaHTTPParser

            self._nlu = RasaHTTPParser(cfg.rasa_url, timeout=cfg.rasa_timeout)
            return
        from nlu import Parser

        try:
            with self.sessions() as s:
                names = list(s.scalars(select(Place.name)))
        except Exception:  # noqa: BLE001 - the database may not be migrated yet; the seed file still counts
            log.warning("place names not read from the database; using the seed gazetteer only")
            names = []
        self._nlu = Parser.load(places=names)

    def health(self) -> dict[str, Any]:
        """Status of each dependency, for /healthz and `python -m bot` checks."""
        out: dict[str, Any] = {}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            out["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            out["database"] = f"error: {type(exc).__name__}"
        if isinstance(self.store, RedisStore):
            try:
                self.store.ping()
                out["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                out["redis"] = f"error: {type(exc).__name__}"
        else:
            out["redis"] = "not configured (in-process store, single process only)"
        return out


def build_runtime(config: Config | None = None, overrides: dict[str, Any] | None = None) -> Runtime:
    cfg = config or load_config(overrides=overrides)
    engine = make_engine(cfg.database.url, echo=cfg.database.echo)
    store: Store
    if cfg.redis.url:
        store = RedisStore.from_url(cfg.redis.url, prefix=cfg.redis.prefix)
    else:
        log.info("no Redis configured: using the in-process store (single process only)")
        store = MemoryStore()
    return Runtime(cfg, engine, make_sessionmaker(engine), store, PhoneVault(cfg.secret_key))
