# The two commands of the README: `make demo` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
VENV  := .venv
BBCU  := $(VENV)/bin/bbcu
export AMARANTH_USE_YOSYS ?= builtin

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(BBCU) restore --sample astronaut --crop 96 --eval -o out/astronaut_x2.png

test: setup
	$(VENV)/bin/python -m pytest -q tests

bench: setup
	$(BBCU) bench --size 256 --json

clean:
	rm -rf out build .pytest_cache sim_build
