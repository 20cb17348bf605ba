# The README's two commands: `make demo` and `make test`. Both set everything up from scratch.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test fixtures oracles bench clean zoo

$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(RUN_STAMP)
	$(VENV)/bin/memscan fixtures/keras3/vgg16.h5 --input 1024,1024,3

test: $(TEST_STAMP)
	$(PY) -m pytest -q

# Rebuild every committed fixture (needs the test dependencies; takes a few minutes).
fixtures: $(TEST_STAMP)
	$(PY) fixtures/make_fixtures.py

# Re-record what Keras itself reports for every fixture (golden oracle JSON).
oracles: $(TEST_STAMP)
	$(PY) fixtures/record_oracles.py

# Rebuild the gzip-compressed hollow keras.applications zoo and its oracles (long: run in
# the background; resumes where it stopped). Also the .keras/.h5 pairs and weights-only files.
zoo: $(TEST_STAMP)
	$(PY) fixtures/make_zoo.py keras3
	$(PY) fixtures/make_zoo.py tf_keras
	$(PY) fixtures/make_keras_zips.py

bench: $(TEST_STAMP)
	$(PY) bench/bench_h5.py

clean:
	rm -rf $(VENV) .pytest_cache .cache
