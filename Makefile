.PHONY: run test lint setup
setup:
	./scripts/setup
run:
	./scripts/setup-and-run
test:
	./scripts/test
lint:
	.venv/bin/ruff check . && .venv/bin/mypy gis store
