# The README's two commands, and the lock's refresh. Thin on purpose: each target is the few
# commands a developer would type by hand.
#
#   make demo    set up .venv from uv.lock and run `timeshift demo`
#   make test    the same set-up, plus the system packages the media and browser tests need
#                (installed as root, otherwise named), then the example user project's tests
#                and the whole test suite
#   make lock    refresh uv.lock from pyproject.toml (after adding or changing a dependency;
#                existing pins are kept); make lock UPGRADE=1 moves every pin to the newest
#                version pyproject.toml allows
#
# Python packages come only from uv.lock (`uv sync --locked` refuses a lock that no longer
# matches pyproject.toml), installed by a pinned uv that is itself bootstrapped from PyPI into
# .tools/. Nothing outside the checkout changes except through apt-get (as root).

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_STAMP := $(TOOLS)/uv-$(UV_VERSION)
VENV := .venv
EXAMPLE_VENV := .venv-example

# Extra pytest arguments: make test PYTEST_ARGS='-x -k clip'
PYTEST_ARGS ?=
# In CI every test must run: a test skipped (say, for a missing GStreamer or Chromium) fails
# the run instead of passing quietly. Locally, skips are allowed and listed.
ifeq ($(CI),true)
PYTEST_FLAGS := --no-skips
endif

.PHONY: demo test lock sync system example-test clean

demo: sync
	$(VENV)/bin/timeshift demo

# pytest exits 5 when it collected no test; make treats any non-zero exit as failure.
test: system sync example-test
	$(VENV)/bin/python -m pytest --durations=10 $(PYTEST_FLAGS) $(PYTEST_ARGS)

sync: $(UV_STAMP)
	$(UV) sync --locked --extra dev --python $(PYTHON) || { echo "make: could not install" \
		"from uv.lock; if it no longer matches pyproject.toml, run make lock and commit" \
		"uv.lock" >&2; exit 1; }

system:
	tools/system-deps.sh

lock: $(UV_STAMP)
	$(UV) lock --python $(PYTHON) $(if $(UPGRADE),--upgrade)

# A user's project (examples/user-project) in its own environment, installed as a user would:
# timeshift as a built wheel (not this checkout) with the locked versions, then its tests,
# which reach our local servers only through the pytest plugin's entry point.
example-test: $(UV_STAMP)
	rm -rf $(EXAMPLE_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(EXAMPLE_VENV)
	$(UV) export --quiet --locked --extra dev --no-emit-project --no-hashes \
		-o $(EXAMPLE_VENV)/constraints.txt
	$(UV) pip install --quiet --python $(EXAMPLE_VENV)/bin/python \
		-c $(EXAMPLE_VENV)/constraints.txt . "./examples/user-project[test]"
	cd examples/user-project && ../../$(EXAMPLE_VENV)/bin/python -c \
		'import timeshift; print("example project: timeshift from", timeshift.__file__)'
	cd examples/user-project && ../../$(EXAMPLE_VENV)/bin/python -m pytest -p no:cacheprovider

$(UV_STAMP):
	tools/bootstrap-uv.sh $(PYTHON) $(TOOLS) $(UV_VERSION)
	touch $@

clean:
	rm -rf $(VENV) $(EXAMPLE_VENV) $(TOOLS) build timeshift.egg-info timeshift-demo.mp4
