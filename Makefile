# The README's two commands: `make demo` and `make test`. Both set everything up from scratch.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test audit audit-savedmodel docs fixtures oracles bench bench-jobs clean \
	savedmodel-fixtures fuzz zoo layer-models mutations corpus-golden

$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(RUN_STAMP)
	$(VENV)/bin/memscan fixtures/keras3/vgg16.h5 --input 1024,1024,3

# One worker per core; a module's tests stay on one worker (their module fixtures run once);
# modules in tests/conftest.py's order (long few-test modules first, then by test count).
test: $(TEST_STAMP) audit audit-savedmodel docs
	$(PY) -m pytest -q -n auto --dist loadscope --no-loadscope-reorder --durations=20

# memscan as a pipeline gate over this repo's own fixtures (README: "memscan in a Makefile").
# Fixtures that store no input size (*_notop models, MobileNetV3) are audited at 1024x1024x3;
# everything else at the size it was saved with. Needs only `make demo`'s install: the two
# graph-only SavedModels, which need TensorFlow (the savedmodel extra), are audited by
# `make audit-savedmodel` (part of `make test`).
AUDIT_BUDGET ?= 8GiB
AUDIT_GATES  ?= --budget $(AUDIT_BUDGET) --fail-on int32-param-overflow,shape-error
AUDIT_AT_1024 := fixtures/*/*_notop.h5 fixtures/keras_zip/mobilenetv3small.*
AUDIT_NEED_TF := fixtures/savedmodel/resnet50_export fixtures/savedmodel/tf1_conv
audit: $(RUN_STAMP)
	$(VENV)/bin/memscan fixtures/ --exclude '*_notop.h5' --exclude resnet50_export \
		--exclude tf1_conv --exclude savedmodels --exclude 'mobilenetv3small.*' $(AUDIT_GATES) --format summary
	$(VENV)/bin/memscan $(AUDIT_AT_1024) --input 1024,1024,3 $(AUDIT_GATES) --format summary

audit-savedmodel: $(TEST_STAMP)
	$(VENV)/bin/memscan $(AUDIT_NEED_TF) --input 1024,1024,3 $(AUDIT_GATES) --format summary

# The documentation site (docs/, mkdocs Material), built strictly: a broken link fails.
docs: $(TEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir .cache/site

# Rebuild every committed fixture (needs the test dependencies; takes a few minutes).
fixtures: $(TEST_STAMP)
	$(PY) fixtures/make_fixtures.py

# Rebuild the hollow SavedModel fixtures (tf-keras VGG16, Keras 3 ResNet50 export).
savedmodel-fixtures: $(TEST_STAMP)
	$(PY) fixtures/make_savedmodels.py

# Re-record the third-party corpus's ground truth from Keras/onnxruntime/TF (docs/corpus.md).
corpus-golden: $(TEST_STAMP)
	$(PY) tests/corpus/record.py

# Re-record what Keras itself reports for every fixture (golden oracle JSON).
oracles: $(TEST_STAMP)
	$(PY) fixtures/record_oracles.py

# One small model per registered layer class, Keras 3 and tf-keras, with Keras's own
# per-layer figures at two inputs (fixtures/layers/; a few minutes).
layer-models: $(TEST_STAMP)
	$(PY) fixtures/layers/make_layer_models.py

# The mutation check of docs/testing.md: deliberate faults, each against its tests (long:
# about half an hour on a quiet machine; results in .cache/mutations.json).
mutations: $(TEST_STAMP)
	$(PY) tests/mutation/mutations.py

# Longer fuzzing of the readers (tests/hostile/test_hostile_fuzz.py): bounded by the case
# count (MEMSCAN_FUZZ_EXAMPLES, default 5000); prints the count SECURITY.md records.
fuzz: $(TEST_STAMP)
	MEMSCAN_FUZZ=1 $(PY) -m pytest -q -s tests/hostile/test_hostile_fuzz.py

# Rebuild the gzip-compressed hollow keras.applications zoo and its oracles (long: run in
# the background; resumes where it stopped). Also the .keras/.h5 pairs and weights-only files.
zoo: $(TEST_STAMP)
	$(PY) fixtures/make_zoo.py keras3
	$(PY) fixtures/make_zoo.py tf_keras
	$(PY) fixtures/make_keras_zips.py

bench: $(TEST_STAMP)
	$(PY) bench/bench_h5.py

bench-jobs: $(RUN_STAMP)
	$(PY) bench/bench_jobs.py

clean:
	rm -rf $(VENV) .pytest_cache .cache

# ONNX benchmark: memscan vs onnx.load + shape inference vs onnx-tool (README "ONNX").
.PHONY: bench-onnx
bench-onnx: $(TEST_STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/bench_onnx.py
