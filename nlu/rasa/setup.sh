#!/usr/bin/env bash
# Build .venv-rasa (Python 3.10, rasa==3.6.21) and train an NLU-only model on data/nlu/ into var/rasa-models/.
# Usage: bash nlu/rasa/setup.sh [--no-train]
set -euo pipefail
cd "$(dirname "$0")/../.."

PY310="${YINLING_PY310:-/root/.pyenv/versions/3.10.13/bin/python3.10}"
VENV=.venv-rasa
RASA_VERSION=3.6.21

if ! "$VENV/bin/python" -c "import rasa, jieba" >/dev/null 2>&1; then
    echo "building $VENV with $PY310 and rasa==$RASA_VERSION"
    "$PY310" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade "pip<24.1" "setuptools<70" wheel
    "$VENV/bin/python" -m pip install "rasa==$RASA_VERSION" "jieba==0.42.1"
fi
"$VENV/bin/rasa" --version

if [[ "${1:-}" == "--no-train" ]]; then
    exit 0
fi

# Rasa's JiebaTokenizer loads every file of dictionary_path as a user dictionary, so give it a folder of its own.
mkdir -p var/rasa-jieba var/rasa-models
cp data/nlu/userdict.txt var/rasa-jieba/userdict.txt

export TF_CPP_MIN_LOG_LEVEL=2
export RASA_CACHE_DIRECTORY=var/rasa-cache  # not .rasa/ in the work tree
"$VENV/bin/rasa" train nlu \
    --config nlu/rasa/config.yml \
    --nlu data/nlu \
    --out var/rasa-models \
    --fixed-model-name yinling-nlu
echo "trained var/rasa-models/yinling-nlu.tar.gz"
