# cardflow: two commands. `make demo` installs and runs the whole pipeline on embedded defaults;
# `make test` installs (if needed) and runs the suite. Installs are pinned by constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# two workers: most integration tests wait on servers, dbt and subprocesses rather than the CPU
PYTEST_ARGS ?= -n 2

.PHONY: install demo test lint bench chaos clean deploy serve

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,snowflake]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cardflow demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks

# kill -9 one process per round (consumer, webhook, backfill, load, transform), then check every
# accepted event is in Bronze, RAW and Gold exactly once; needs the local PostgreSQL and RabbitMQ.
# Not part of `make test`. CHAOS_ROUNDS=5 make chaos for a short run.
CHAOS_ROUNDS ?= 50
chaos: $(STAMP)
	$(BIN)/python -m chaos --rounds $(CHAOS_ROUNDS)

# needs PREFECT_API_URL pointing at a Prefect server (or Cloud workspace)
deploy: $(STAMP)
	$(BIN)/prefect work-pool create cardflow-process --type process --overwrite
	$(BIN)/cardflow limits
	$(BIN)/cardflow blocks
	$(BIN)/prefect --no-prompt deploy --all
	-$(BIN)/cardflow automations  # the server-side backstop (needs the Slack block from `cardflow blocks`)

serve: $(STAMP)
	$(BIN)/cardflow serve

# .cardflow is the default data dir (lake, warehouse, dbt target and logs); dbt/target and dbt/logs are
# what dbt run by hand from dbt/ writes
clean:
	rm -rf $(VENV) .cardflow dbt/target dbt/logs
