# rnnpipe: every workflow is a make target. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000
MODEL ?= models:/rnnpipe-sentiment@champion
SERVE_PORT ?= 5001
MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db
ARGS ?=

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(STAMP) ## create .venv and install rnnpipe with its dev tools (torch 2.13.0 CPU)

train: $(STAMP) ## train the default experiment (sentiment, bundled sample), log it to MLflow, register it, promote it by rule
	$(BIN)/rnnpipe-train register_model=true promote=auto $(ARGS)

train-ner: $(STAMP) ## named-entity recognition (bidirectional RNN tagger), bundled CoNLL sample; registered, promoted by rule
	$(BIN)/rnnpipe-train experiment=ner register_model=true promote=auto $(ARGS)

train-translation: $(STAMP) ## English->German encoder-decoder with attention, bundled Multi30k sample; registered, promoted by rule
	$(BIN)/rnnpipe-train experiment=translation register_model=true promote=auto $(ARGS)

train-generation: $(STAMP) ## one-to-many: generate reviews for a sentiment label (truncated BPTT); registered, promoted by rule
	$(BIN)/rnnpipe-train experiment=generation register_model=true promote=auto $(ARGS)

train-adding: $(STAMP) ## the adding problem (generated, T=150): an IRNN carries a number across 150 steps
	$(BIN)/rnnpipe-train experiment=adding $(ARGS)

train-copy-memory: $(STAMP) ## the copy-memory task (generated): keep 10 symbols across a delay of 100 steps
	$(BIN)/rnnpipe-train experiment=copy_memory $(ARGS)

train-digits: $(STAMP) ## sequential digits (scikit-learn's 8x8, one pixel per step); ARGS="data.permuted=true" for the permuted variant
	$(BIN)/rnnpipe-train experiment=digits $(ARGS)

sweep-memory: $(STAMP) ## Hydra multirun on the adding problem: T in 50..200 x rnn=tanh,irnn,orthogonal,gru,lstm (hours on a CPU)
	$(BIN)/rnnpipe-train experiment=memory_sweep $(ARGS)

sweep: $(STAMP) ## Hydra multirun, hidden size x nonlinearity: one MLflow run per job, one sweep id
	$(BIN)/rnnpipe-train --multirun experiment=sentiment model.hidden_size=64,128 model.nonlinearity=tanh,relu $(ARGS)

TASK ?= sentiment
FOLDS ?=
SEEDS ?=
EVAL_ARGS ?=
# the time and a random suffix: recipes started in the same second write to directories of their own
RECIPE_TIME := $(shell date +%Y-%m-%d_%H-%M-%S)_$(shell od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
CV_FOLDS = $(or $(FOLDS),5)
CV_DIR ?= outputs/sentiment/cross-validate/$(RECIPE_TIME)
cross-validate: $(STAMP) ## k-fold cross-validation (FOLDS, default 5) of sentiment on the real reviews: one fold group (every review tested once); SEEDS=20: 20 seeds a fold, then each fold's seed ensemble (rnnpipe-evaluate, EVAL_ARGS), a second fold group
	$(BIN)/rnnpipe-train --multirun experiment=sentiment_full data.folds=$(CV_FOLDS) 'data.fold=range($(CV_FOLDS))' \
	    $(if $(SEEDS),seed=$(shell seq -s, 1 $(SEEDS)) hydra.sweep.dir=$(CV_DIR)) $(ARGS)
	$(if $(SEEDS),$(BIN)/rnnpipe-evaluate --multirun model_uri=runs:/$$(cat $(CV_DIR)/seed_groups.txt) \
	    'fold=range($(CV_FOLDS))' hydra.sweep.dir=$(CV_DIR)/ensembles $(EVAL_ARGS))

# the two-step transfer recipes: step 1's language model goes to outputs/transfer/<its experiment>/<time>/
language_model_dir = $${paths.output_dir}/transfer/$(1)/$(RECIPE_TIME)
define two_steps
	$(BIN)/rnnpipe-train experiment=$(1) 'hydra.run.dir=$(call language_model_dir,$(1))' $(ARGS)
	$(BIN)/rnnpipe-train experiment=$(2) 'model.init_from=$(call language_model_dir,$(1))/checkpoints/last.ckpt' $(ARGS)
endef

transfer-sentiment: $(STAMP) ## sentiment on the real reviews, started from a word-level language model of its own train split (2 steps); FOLDS=5: one LM per fold
ifeq ($(FOLDS),)
	$(call two_steps,sentiment_lm,sentiment_full)
else
	$(BIN)/rnnpipe-train --multirun experiment=sentiment_lm data.folds=$(FOLDS) 'data.fold=range($(FOLDS))' \
		'hydra.sweep.dir=$(call language_model_dir,sentiment_lm)' 'hydra.sweep.subdir=fold$${data.fold}' $(ARGS)
	$(BIN)/rnnpipe-train --multirun experiment=sentiment_full data.folds=$(FOLDS) 'data.fold=range($(FOLDS))' \
		'model.init_from=$(call language_model_dir,sentiment_lm)/fold$${data.fold}/checkpoints/last.ckpt' $(ARGS)
endif

transfer-generation: $(STAMP) ## the generator on the real reviews, started from a character LM of the other train splits' English (experiment=generation_lm; 2 steps)
	$(call two_steps,generation_lm,generation_full)

transfer-ner: $(STAMP) ## NER on the real CoNLL-2003, started from a word LM of its train sentences (experiment=ner_lm; 2 steps)
	$(call two_steps,ner_lm,ner_conll2003)

transfer-translation: $(STAMP) ## translation on the real Multi30k, the encoder started from a word LM of its English train captions (experiment=translation_lm; 2 steps)
	$(call two_steps,translation_lm,translation_multi30k)

baseline: $(STAMP) ## the baseline of TASK=<experiment> (sentiment*: TF-IDF + LR, ner*: most-frequent tag), same splits and scorer, in MLflow; FOLDS=5: every fold, one group
	$(BIN)/rnnpipe-baseline $(if $(FOLDS),--multirun data.folds=$(FOLDS) 'data.fold=range($(FOLDS))') experiment=$(TASK) $(ARGS)

tune: $(STAMP) ## Optuna search for TASK=<task> over conf/hparams_search/<task>_optuna.yaml (resumable, pruned)
	$(BIN)/rnnpipe-tune experiment=$(TASK) hparams_search=$(TASK)_optuna $(ARGS)

data: $(STAMP) ## download Multi30k (verified), check CoNLL-2003 / reviews placed by hand (data/raw/)
	$(BIN)/rnnpipe-data $(ARGS)

evaluate: $(STAMP) ## score MODEL (checkpoint or MLflow URI) on DATA=<file in the task's format>; without DATA, on the model's own test split
	$(BIN)/rnnpipe-evaluate model_uri=$(MODEL) $(if $(DATA),data_path=$(DATA)) $(ARGS)

# predict: the text travels in the environment and on stdin, never on a shell line, and as it was
# typed: taken unexpanded, so a '$' in it stays a '$'
override TEXT := $(value TEXT)
export TEXT
predict: $(STAMP) ## predict with MODEL (default: the champion) for TEXT="..." (any quotes), or ARGS=input_path=<file>
	$(if $(TEXT),printf '%s\n' "$$TEXT" | )$(BIN)/rnnpipe-predict model_uri=$(MODEL) $(if $(TEXT),input_path=-) $(ARGS)

SERVE_TIMEOUT ?=
serve-model: $(STAMP) ## serve MODEL (@champion by default) as JSON over HTTP on 127.0.0.1:SERVE_PORT (5001): MLflow's scoring app, its request body capped; SERVE_TIMEOUT=<seconds>: the per-request limit (60)
	$(BIN)/rnnpipe-serve model_uri="$(MODEL)" tracking_uri="$(MLFLOW_TRACKING_URI)" port=$(SERVE_PORT) \
	  $(if $(SERVE_TIMEOUT),timeout_seconds=$(SERVE_TIMEOUT)) $(ARGS)

promote: $(STAMP) ## give MODEL=models:/rnnpipe-<task>/<version> @champion if it beats the champion, else @challenger
	$(BIN)/rnnpipe-promote "$(MODEL)" --tracking-uri "$(MLFLOW_TRACKING_URI)"

gc: $(STAMP) ## permanently remove runs deleted in the MLflow UI, with their artifacts
	MLFLOW_TRACKING_URI="$(MLFLOW_TRACKING_URI)" $(BIN)/mlflow gc --backend-store-uri "$(MLFLOW_TRACKING_URI)"

ui: $(STAMP) ## MLflow UI for the embedded store on http://127.0.0.1:5000 (PORT=... to change)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port $(PORT)

server: $(STAMP) ## MLflow tracking server on 127.0.0.1:5000 (PORT=...), SQLite store + artifacts in the project
	$(BIN)/mlflow server --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --artifacts-destination $(CURDIR)/mlartifacts --host 127.0.0.1 --port $(PORT)

results: $(STAMP) ## rebuild the README results table from the MLflow store (runs with results_row=...)
	$(BIN)/python -m rnnpipe.cli.results $(ARGS)

bench: $(STAMP) ## RNN speed against PyTorch's own RNN (ratios, same process), JSON in bench/results/
	$(BIN)/python scripts/bench_rnn.py $(ARGS)

bench-tasks: $(STAMP) ## whole-pipeline speed of every task (train, validate, decode, serve) against its nn.RNN twin
	$(BIN)/python scripts/bench_tasks.py $(ARGS)

TEST_WORKERS ?= auto
test: $(STAMP) ## run the whole test suite (slow tests included), a worker per core (TEST_WORKERS=1: one); a test file stays on one worker, so its shared fixtures are trained once
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP) ## fuzz every data reader longer: FUZZ_EXAMPLES damaged files each (RNNPIPE_FUZZ_SEED=...)
	RNNPIPE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/data/test_reader_fuzz.py $(ARGS)

NUMERICS_JOBS ?= 1
test-numerics: $(STAMP) ## every learning test (-m learning) at its own seed, 5 other seeds, MKL_CBWR=COMPATIBLE|AVX2, 1 and 2 threads: a Markdown table, fails if any cell fails (NUMERICS_JOBS=2: two cells at once)
	$(BIN)/python scripts/test_numerics.py --jobs $(NUMERICS_JOBS) $(ARGS)

lint: $(STAMP) ## ruff: lint and format check
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: $(STAMP) ## ruff: fix what can be fixed, format
	$(BIN)/ruff check --fix src tests scripts
	$(BIN)/ruff format src tests scripts

clean: ## remove Hydra outputs and caches (keeps mlflow.db, mlartifacts/ and .venv)
	rm -rf outputs multirun .pytest_cache .ruff_cache build dist src/*.egg-info
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too (the MLflow store stays)
	rm -rf $(VENV)

.PHONY: help install baseline transfer-sentiment transfer-generation transfer-ner transfer-translation train train-ner train-translation train-generation train-adding train-copy-memory train-digits sweep-memory sweep cross-validate tune data evaluate predict serve-model promote gc ui server results bench bench-tasks test fuzz test-numerics lint format clean distclean
