# 银龄志愿助手 — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test install lint bench worker rasa rasa-serve rasa-ci rasa-serve-ci clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## make run: install, migrate the embedded SQLite database, load demo data if empty, start on :8000
run: install
	$(PY) -m bot db upgrade
	$(PY) -m bot db seed-demo
	$(PY) -m bot serve

## make test: install dev dependencies and run every test
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check bot nlu dialogs data tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

## make bench: every benchmark (each prints its numbers; Rasa and PostgreSQL columns when available)
bench: install
	$(PY) bench/nlu_bench.py
	$(PY) bench/webhook_bench.py --think 2
	$(PY) bench/webhook_bench.py
	$(PY) bench/turn_bench.py
	$(PY) bench/fanout_bench.py --people 20000
	$(PY) bench/ack_bench.py --runs 30
	$(PY) bench/login_flood_bench.py --seconds 15
	$(PY) bench/voice_bench.py --messages 60
	$(PY) bench/keys_bench.py --people 20000
	$(PY) bench/read_aloud_bench.py --runs 10
	$(PY) bench/metrics_bench.py
	@if [ -n "$$YINLING_BENCH_POSTGRES_URL" ]; then $(PY) bench/search_bench.py && \
	  $(PY) bench/busy_day.py --people 5000 --window 30; \
	  else echo "search_bench and busy_day need YINLING_BENCH_POSTGRES_URL (and YINLING_BENCH_REDIS_URL)"; fi

## make worker: RQ workers for late replies and notices (needs YINLING_REDIS_URL)
worker: install
	$(PY) -m bot worker

## Rasa 3.6 lives in its own Python 3.10 environment and runs as a server on 127.0.0.1:5005
rasa:
	bash nlu/rasa/setup.sh

rasa-serve:
	bash nlu/rasa/serve.sh

## make rasa-ci / rasa-serve-ci: the small model CI tests against (nlu/rasa/config-ci.yml), same port
rasa-ci:
	bash nlu/rasa/setup.sh --ci

rasa-serve-ci:
	YINLING_RASA_MODEL=var/rasa-models-ci/yinling-nlu-ci.tar.gz bash nlu/rasa/serve.sh

clean:
	rm -rf $(VENV) .pytest_cache
