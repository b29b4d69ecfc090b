# `make up` runs the platform, `make test` runs the whole test suite (both call scripts/dev).
.PHONY: up test
up:
	bash scripts/dev up
test:
	bash scripts/dev test
