# The two commands of the README:
#   make run   - the portal in the embedded mode (SQLite, file-system Celery broker,
#                web + worker + beat in one process group; Ctrl-C stops all of it)
#   make test  - the test suite (SQLite by default; DATABASE_URL / CELERY_BROKER_URL
#                switch it to PostgreSQL / Redis, as .ci/run does)
# Both create .venv and install what is missing first.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test install check-system lint messages clean

$(VENV)/.installed: requirements.lock pyproject.toml
	@bash scripts/bootstrap.sh "$(VENV)"
	@touch $@

install: $(VENV)/.installed

check-system: install
	@$(PY) scripts/check_system.py

run: install
	@$(PY) scripts/check_system.py --for run
	@$(PY) manage.py migrate --noinput
	@DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo  # the same DEBUG as run_embedded.py: its staff-login note must be true
	@$(PY) scripts/run_embedded.py

test: install
	@$(PY) scripts/check_system.py --for test
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	@$(VENV)/bin/ruff check .

messages: install
	@$(PY) manage.py makemessages -l ru -l kk --no-obsolete --no-location
	@$(PY) manage.py compilemessages_babel

clean:
	rm -rf $(VENV) var media staticfiles
