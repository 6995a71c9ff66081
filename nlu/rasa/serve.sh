#!/usr/bin/env bash
# Serve the trained Rasa NLU model on 127.0.0.1:5005 (POST /model/parse); run nlu/rasa/setup.sh first.
# YINLING_RASA_MODEL, YINLING_RASA_PORT and YINLING_RASA_VENV override the model, the port and the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV="${YINLING_RASA_VENV:-.venv-rasa}"
MODEL="${YINLING_RASA_MODEL:-var/rasa-models/yinling-nlu.tar.gz}"
PORT="${YINLING_RASA_PORT:-5005}"

if [[ ! -f "$MODEL" ]]; then
    echo "no model at $MODEL: run 'make rasa' (or 'make rasa-ci' for the CI model) first" >&2
    exit 1
fi
mkdir -p var
export TF_CPP_MIN_LOG_LEVEL=2
exec "$VENV/bin/rasa" run \
    --enable-api \
    --interface 127.0.0.1 \
    --port "$PORT" \
    --model "$MODEL" \
    --log-file var/rasa-server.log
