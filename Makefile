# The learner's whole interface. `make help` lists every target.

# A step is a folder step<N>_<name>/, found here by its name (steps.py finds them for Python).
# Make sorts words as text, where 10 comes before 2: the numbers are sorted one digit, then two.
STEP_FOLDERS_FOUND := $(patsubst %/,%,$(wildcard step*_*/))
STEP_NUMBERS_FOUND := $(foreach folder,$(STEP_FOLDERS_FOUND),$(patsubst step%,%,$(firstword $(subst _, ,$(folder)))))
DIGITS := 1 2 3 4 5 6 7 8 9
STEP_NUMBERS := $(strip $(sort $(filter $(DIGITS),$(STEP_NUMBERS_FOUND))) $(sort $(filter-out $(DIGITS),$(STEP_NUMBERS_FOUND))))
LAST_STEP := $(lastword $(STEP_NUMBERS))
step_dir = $(patsubst %/,%,$(firstword $(wildcard step$(strip $(1))_*/)))
# What holds from step n on: the steps numbered n or more.
steps_from = $(wordlist $(1),$(words $(STEP_NUMBERS)),$(STEP_NUMBERS))
COMMA := ,
EMPTY :=
SPACE := $(EMPTY) $(EMPTY)
STEP_CHOICES := $(subst $(SPACE),$(COMMA) ,$(filter-out $(LAST_STEP),$(STEP_NUMBERS)))$(if $(word 2,$(STEP_NUMBERS)), or )$(LAST_STEP)

# STEP given on the command line or in the environment narrows `make test` to that step.
STEP_GIVEN := $(filter command line environment,$(origin STEP))
STEP ?= $(LAST_STEP)
HOST ?= 127.0.0.1
PORT ?= 5000
PYTHON ?= python3

# Use the active virtual environment if there is one, else .venv here.
VENV := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),.venv)
BIN := $(VENV)/bin
# Stamps in the environment: its requirements are installed; this folder is on its path.
REQUIREMENTS := $(VENV)/.installed-requirements
INSTALLED := $(VENV)/.installed-repository-path

# Stops a recipe with a clear message unless STEP is the number of a step folder.
check_step = case "$(STEP)" in $(subst $(SPACE),|,$(STEP_NUMBERS))) ;; \
  *) echo "STEP must be $(STEP_CHOICES) (got '$(STEP)'), for example: make $(firstword $(MAKECMDGOALS)) STEP=$(LAST_STEP)" >&2; exit 2;; esac

# Workshop mode (exercises/): WORKSHOP=1 makes run, shell, diff and notebook use your
# working copy of the step in workshop/ instead of the solution.
WORKSHOP_DIR ?= workshop
WORKSHOP_ON := $(filter 1,$(WORKSHOP))
STEP_APP = $(if $(WORKSHOP_ON),$(WORKSHOP_DIR)/)$(call step_dir,$(STEP))
WORKSHOP_PYTHONPATH = $(abspath $(WORKSHOP_DIR))$(if $(PYTHONPATH),:$(PYTHONPATH))
check_copy = $(if $(WORKSHOP_ON),test -d $(STEP_APP) || { echo "There is no $(STEP_APP)/ yet: make exercise STEP=$(STEP) creates it." >&2; exit 2; })
need_step = $(if $(STEP_GIVEN),$(check_step),echo "Say which step, for example: make $@ STEP=3" >&2; exit 2)
WORKSHOP_TOOL = $(BIN)/python -m exercises.workshop --workshop $(WORKSHOP_DIR)

.DEFAULT_GOAL := help
.PHONY: help install-dependencies run shell test test-api test-browser test-postgres diff clean valid-step exercise check hint

valid-step:
	@$(check_step)

help: ## List the targets
	@echo "Usage: make TARGET [STEP=1..$(LAST_STEP)] [HOST=127.0.0.1] [PORT=5000] [WORKERS=k] [WORKSHOP=1]"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-22s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install-dependencies: $(INSTALLED) ## Create .venv with PYTHON (unless one is active), install the pinned requirements, put the steps on its path

# The shell answers 127 for a command it cannot find (so do pyenv's shims), 126 for one it
# cannot run; an interpreter that runs but is too old exits with 1.
AGAIN = make $(firstword $(MAKECMDGOALS) install-dependencies)
$(REQUIREMENTS): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || { \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; \
	  case $$? in \
	    0) ;; \
	    126|127) \
	      echo "PYTHON=$(PYTHON): command not found. Point PYTHON at a Python 3.11 or newer, by its name or its full path, for example:" >&2; \
	      echo "  $(AGAIN) PYTHON=python3.12" >&2; \
	      echo "  $(AGAIN) PYTHON=$$HOME/.pyenv/versions/3.13.0/bin/python3   (a Python that pyenv installed)" >&2; \
	      exit 1;; \
	    *) \
	      echo "Python 3.11 or newer is needed, and $(PYTHON) is $$($(PYTHON) --version 2>&1). Choose another, for example: $(AGAIN) PYTHON=python3.12" >&2; \
	      exit 1;; \
	  esac; \
	  echo "Creating a virtual environment in $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	  -r requirements.txt -r requirements-dev.txt
	@touch $@

# A .pth file in the environment's site-packages puts this folder on sys.path wherever Python
# starts from it (a notebook kernel in notebooks/, an editor), so `import step1_models` works
# there. PYTHONPATH still comes first: that is how WORKSHOP=1 puts your copies before it.
PTH_FILE = import pathlib, sys, sysconfig; \
  pathlib.Path(sysconfig.get_paths()["purelib"], "flask_rest_auth_tutorial.pth").write_text(sys.argv[1] + "\n")
$(INSTALLED): $(REQUIREMENTS)
	@echo "Putting $(CURDIR) on the path of $(VENV) (a .pth file in its site-packages)"
	@$(BIN)/python -c '$(PTH_FILE)' "$(CURDIR)"
	@touch $@

# The app that make run and make serve build, as `module:factory(...)`. The test servers pass
# APP_WRAPPER=tests.hashing:cheap_app, which builds that same app with a cheap hashing cost.
app = $(if $(APP_WRAPPER),$(APP_WRAPPER)("$(subst ",\",$(1))"),$(1))

# apidocs/ (tooling, not a step) builds the step's app as `flask --app $(STEP_APP)` would and
# adds its docs page beside it: Swagger UI at /docs, the description at /openapi.yaml.
run: valid-step $(INSTALLED) ## Serve step STEP (default: the last) with Flask's development server and its API docs at /docs (WORKSHOP=1: your copy)
	@$(check_copy)
	@echo "Serving $(STEP_APP) on http://$(HOST):$(PORT), its API docs on http://$(HOST):$(PORT)/docs (Ctrl+C stops it)"
	exec $(BIN)/flask --app '$(call app,apidocs:create_app("$(STEP_APP)"))' run --host $(HOST) --port $(PORT) \
	  --with-threads --no-reload $(if $(DEBUG),--debug,--no-debugger)

shell: valid-step $(INSTALLED) ## Open a Python shell inside step STEP's app (flask shell)
	@$(check_copy)
	exec $(BIN)/flask --app $(STEP_APP) shell

# The notebooks call the server that `make run` starts with the same HOST and PORT, and
# import the step packages through the environment's .pth file (WORKSHOP=1: workshop/ first).
API_URL ?= http://$(HOST):$(PORT)
.PHONY: notebook
notebook: $(INSTALLED) ## Start Jupyter in notebooks/ (run `make run STEP=n` in another terminal)
	cd notebooks && API_URL=$(API_URL) $(if $(WORKSHOP_ON),PYTHONPATH="$(WORKSHOP_PYTHONPATH)") \
	  exec $(abspath $(BIN))/jupyter notebook $(if $(filter 0,$(shell id -u)),--allow-root)

# The tests create a thousand SQLite files and wait each time for the disk to sync them. On
# Linux, /dev/shm is a folder in memory, where syncing costs nothing: make test and make check
# run there about a fifth faster. Elsewhere, the system's temporary folder.
TEST_TMPDIR := $(if $(wildcard /dev/shm/.),/dev/shm)

# pytest-xdist's workers: one per core, and one more, since many tests spend seconds waiting
# for a server, a notebook's kernel or make check to start, while a core is free.
TEST_WORKERS = $(shell $(BIN)/python -c "import os; print((os.cpu_count() or 1) + 1)")

test: $(INSTALLED) ## Run the whole test suite (or STEP's tests) and the linters
	@$(if $(STEP_GIVEN),$(check_step))
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(BIN)/python -m pytest -n $(TEST_WORKERS) $(if $(STEP_GIVEN),-m step$(STEP))
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# schemathesis runs every step's OpenAPI description against a live server of the step: in
# make test with a few examples per operation, here with many.
API_EXAMPLES ?= 100
test-api: $(INSTALLED) ## Run schemathesis deeper: API_EXAMPLES (default 100) per operation against every step (or STEP's)
	@$(if $(STEP_GIVEN),$(check_step))
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(BIN)/python -m pytest -n auto tests/test_openapi_live.py \
	  --api-examples $(API_EXAMPLES) $(if $(STEP_GIVEN),-m step$(STEP))

# A headless Chromium (Debian's chromium package; CHROMIUM= names another) opens the last
# step's docs page, registers, authorizes and calls every route, and saves a screenshot in
# SCREENSHOT.
CHROMIUM ?= /usr/bin/chromium
SCREENSHOT ?= .test-browser/docs-page.png
test-browser: $(INSTALLED) ## Use the last step's docs page in headless Chromium (CHROMIUM=its path, SCREENSHOT=a .png)
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/browser_docs_page.py --screenshot $(SCREENSHOT)

test-postgres: $(INSTALLED) ## Run the step tests and the reliability suite on a throwaway PostgreSQL
	tests/postgres.sh $(BIN)/python

# Step 7's roles: no route grants one, so the first admin is made on the server's machine.
.PHONY: admin
admin: valid-step $(INSTALLED) ## Make user NAME an admin of step STEP (7 on), in its database (REVOKE=1: a plain user again)
	@test -n "$(NAME)" || { echo "Say whose role, for example: make admin STEP=$(STEP) NAME=alice" >&2; exit 2; }
	@$(if $(filter $(STEP),$(call steps_from,7)),,echo "Roles come with step 7: make admin needs STEP=7 or later (got $(STEP))." >&2; exit 2)
	@$(check_copy)
	@$(BIN)/flask --app $(STEP_APP) admin $(if $(REVOKE),revoke,grant) '$(subst ','\'',$(NAME))'
# exercises/diff.py reads the manifest with the standard library only: make diff needs no
# installed environment, and uses the one in VENV when there is one, else PYTHON.
TOOL_PYTHON = $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
diff: valid-step ## Show what step STEP adds to the step before it, its concept first (API=1: its openapi.yaml too; WORKSHOP=1: your copy vs the solution)
	@$(check_copy)
	@$(TOOL_PYTHON) -m exercises.diff $(STEP) $(if $(filter 1,$(API)),--api) \
	  $(if $(WORKSHOP_ON),--workshop $(WORKSHOP_DIR))

exercise: $(INSTALLED) ## Start step STEP's exercise: your copy in workshop/ (FORCE=1 starts over)
	@$(need_step)
	@$(WORKSHOP_TOOL) exercise $(STEP) $(if $(FORCE),--force)

check: $(INSTALLED) ## Test your copy of step STEP; without STEP, show your progress
	@$(if $(STEP_GIVEN),$(check_step))
	@$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(WORKSHOP_TOOL) check $(if $(STEP_GIVEN),$(STEP))

hint: $(INSTALLED) ## Show one more hint for step STEP's exercise (ALL=1: every hint)
	@$(need_step)
	@$(WORKSHOP_TOOL) hint $(STEP) $(if $(ALL),--all)

# A production server, and what authentication costs on it.
.PHONY: serve bench valid-workers
# Password verification is CPU-bound: worker processes beyond the number of cores add nothing.
# No --preload: each worker imports the app itself, so no database connection is shared
# across a fork. --no-control-socket: gunicorn's runtime control interface is not used here.
CORES = $(shell $(PYTHON) -c "import os; print(os.cpu_count() or 1)")
check_workers = case "$(WORKERS)" in ''|0*|*[!0-9]*) \
  echo "WORKERS must be a whole number from 1 (got '$(WORKERS)'), for example: make $(firstword $(MAKECMDGOALS)) WORKERS=2" >&2; exit 2;; esac

valid-workers:
	@$(if $(WORKERS),$(check_workers))

# The access log leaves out two things gunicorn logs by default: the username of Basic
# credentials (a client that puts a token or a password there would see it logged) and the
# query string (where a client may put what belongs in a header). gunicorn writes the path
# (%(U)s) decoded, %0A as a line break: each step's logs.py escapes every control character
# and line separator in gunicorn's records, so that no request can add a line to the log.
ACCESS_LOG_FORMAT = '%(h)s - - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s'
# --forwarded-allow-ips '': gunicorn trusts no peer's proxy headers. By default it trusts
# loopback's, so any local client could set the path prefix with a SCRIPT_NAME header or
# get gunicorn's own HTML error page with two scheme headers that disagree. Behind a real
# proxy, give its address here.

# From step 6 on, each worker counts failed logins in its memory, unless the limits are off or
# FLASK_RATELIMIT_STORAGE_URI names a store that the workers share (make redis starts one):
# then one worker, since k workers counting alone would let k times the limit through.
COUNTS_ALONE = $(if $(filter $(STEP),$(call steps_from,6)),$(if $(filter false,$(FLASK_RATELIMIT_ENABLED))$(filter-out memory://%,$(FLASK_RATELIMIT_STORAGE_URI)),,yes))
SERVE_WORKERS = $(or $(WORKERS),$(if $(COUNTS_ALONE),1,$(CORES)))
# What decides the workers reaches the app too, even when given as make's arguments.
ifdef FLASK_RATELIMIT_STORAGE_URI
export FLASK_RATELIMIT_STORAGE_URI
endif
ifdef FLASK_RATELIMIT_ENABLED
export FLASK_RATELIMIT_ENABLED
endif
REDIS_PORT ?= 6379
define workers_share_no_store
echo "With WORKERS=$(WORKERS), each worker would count failed logins alone, and let $(WORKERS) times the limit through." >&2; \
echo "Give the workers one store: run make redis in another terminal, then" >&2; \
echo "  FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:$(REDIS_PORT) make serve STEP=$(STEP) WORKERS=$(WORKERS)" >&2; exit 2
endef
define one_worker_counts
echo "Step $(STEP) counts failed logins in this process's memory, so one worker serves it. For more, see make redis."
endef

serve: valid-step valid-workers $(INSTALLED) ## Serve step STEP under gunicorn with WORKERS processes (default: one per core; from step 6 on: see make redis)
	@$(if $(and $(COUNTS_ALONE),$(filter-out 1,$(SERVE_WORKERS))),$(workers_share_no_store))
	@$(if $(COUNTS_ALONE),$(one_worker_counts))
	@echo "Serving $(call step_dir,$(STEP)) with gunicorn, $(SERVE_WORKERS) worker(s), on http://$(HOST):$(PORT) (Ctrl+C stops it)"
	exec $(BIN)/gunicorn --workers $(SERVE_WORKERS) --bind $(HOST):$(PORT) \
	  --access-logfile - --access-logformat $(ACCESS_LOG_FORMAT) --no-control-socket \
	  --forwarded-allow-ips '' \
	  '$(call app,$(call step_dir,$(STEP)):create_app())'

.PHONY: redis test-redis
redis: ## Start a throwaway Redis on 127.0.0.1:REDIS_PORT (default 6379) that the workers of step 6 and later share
	@command -v redis-server >/dev/null || { \
	  echo "redis-server was not found. Install it, then run make redis again:" >&2; \
	  echo "  Debian or Ubuntu:  sudo apt-get install redis-server" >&2; \
	  echo "  macOS (Homebrew):  brew install redis" >&2; exit 1; }
	@echo "Redis on 127.0.0.1:$(REDIS_PORT), keeping nothing on disk (Ctrl+C stops it). In another terminal:"
	@echo "  FLASK_RATELIMIT_STORAGE_URI=redis://127.0.0.1:$(REDIS_PORT) make serve STEP=$(LAST_STEP) WORKERS=2"
	exec redis-server --bind 127.0.0.1 --port $(REDIS_PORT) --save '' --appendonly no

test-redis: $(INSTALLED) ## Run the tests that need Redis (step 6's limits shared by workers) on a throwaway redis-server
	tests/redis.sh $(BIN)/python

bench: valid-workers $(INSTALLED) ## Measure what authentication costs from step 4 on (WORKERS=k: under gunicorn, from step 6 with Redis; SUITE=1: time the tests too)
	$(BIN)/python -m bench.run $(if $(WORKERS),--workers $(WORKERS)) $(if $(SUITE),--suite)

clean: ## Remove the local databases (your workshop copies' too) and caches (never your code)
	rm -rf instance $(WORKSHOP_DIR)/instance .pytest_cache .ruff_cache .hypothesis .test-browser .bench
	find . -path ./.venv -prune -o -path ./workshop -prune -o \
	  -name __pycache__ -type d -exec rm -rf {} +
