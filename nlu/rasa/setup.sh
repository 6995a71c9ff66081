#!/usr/bin/env bash
# Build .venv-rasa (Python 3.10, rasa==3.6.21) and train an NLU-only model on data/nlu/ into var/rasa-models/.
# Usage: bash nlu/rasa/setup.sh [--no-train | --ci]
#   --no-train  only build the environment
#   --ci        train the CI model instead: nlu/rasa/config-ci.yml (few epochs, fixed seed) into
#               var/rasa-models-ci/yinling-nlu-ci.tar.gz, with a cache of its own (never mixed with the real model)
# YINLING_PY310 is the Python 3.10 to build with; YINLING_RASA_VENV the environment's folder (default .venv-rasa).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The first Python 3.10 that runs: YINLING_PY310, pyenv's 3.10 builds, python3.10 on the PATH (a pyenv shim
# there fails unless 3.10 is selected, hence the check).
find_py310() {
    local candidate
    for candidate in ${YINLING_PY310:-} "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10 python3.10; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    echo "Rasa 3.6 needs Python 3.10: none found (set YINLING_PY310)" >&2
    return 1
}
VENV="${YINLING_RASA_VENV:-.venv-rasa}"
RASA_VERSION=3.6.21

CONFIG=nlu/rasa/config.yml
OUT=var/rasa-models
NAME=yinling-nlu
CACHE=var/rasa-cache
case "${1:-}" in
    "" | --no-train) ;;
    --ci) CONFIG=nlu/rasa/config-ci.yml OUT=var/rasa-models-ci NAME=yinling-nlu-ci CACHE=var/rasa-cache-ci ;;
    *) echo "usage: $0 [--no-train | --ci]" >&2; exit 2 ;;
esac

if ! "$VENV/bin/python" -c "import jieba; from rasa.version import __version__ as v; assert v == '$RASA_VERSION'" \
    >/dev/null 2>&1; then
    PY310=$(find_py310)
    echo "building $VENV with $PY310 and rasa==$RASA_VERSION"
    "$PY310" -m venv --clear "$VENV"  # --clear: never reuse a half-built or older environment as it is
    "$VENV/bin/python" -m pip install --quiet --upgrade "pip<24.1" "setuptools<70" wheel
    "$VENV/bin/python" -m pip install --quiet --progress-bar off "rasa==$RASA_VERSION" "jieba==0.42.1"
fi
"$VENV/bin/rasa" --version

if [[ "${1:-}" == "--no-train" ]]; then
    exit 0
fi

# Rasa's JiebaTokenizer loads every file of dictionary_path as a user dictionary, so give it a folder of its own.
mkdir -p var/rasa-jieba "$OUT"
cp data/nlu/userdict.txt var/rasa-jieba/userdict.txt

export TF_CPP_MIN_LOG_LEVEL=2
export RASA_CACHE_DIRECTORY="$CACHE"  # not .rasa/ in the work tree
"$VENV/bin/rasa" train nlu \
    --config "$CONFIG" \
    --nlu data/nlu \
    --out "$OUT" \
    --fixed-model-name "$NAME"
echo "trained $OUT/$NAME.tar.gz"
