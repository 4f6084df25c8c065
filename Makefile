.PHONY: test lint bench run console

test:            ## install test dependencies and run lint, types and tests
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy src telegram_bot.py tests bench

bench:           ## the end-to-end suite and the store benchmark (markdown tables)
	.venv/bin/python -m bench.e2e
	.venv/bin/python -m bench.store_append

run:
	.venv/bin/python telegram_bot.py

console:
	.venv/bin/python telegram_bot.py --console
