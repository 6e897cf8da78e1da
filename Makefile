# graft — the two commands a new machine needs:
#   make demo   runs graft's main job (the whole pipeline, offline)
#   make test   installs every tool the tests need, then runs every test
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
BIN := bin
CACHE := .cache
export PATH := $(CURDIR)/$(CACHE)/bin:$(PATH)

.PHONY: all build demo test unit e2e gitea deps lint examples bench fuzz clean

all: build

## build: without a symbol table or DWARF (-s -w), as CLIs ship: linking takes
## half the time and the binary is a quarter smaller; stack traces keep their
## function names and lines.
build:
	$(GO) build -ldflags='-s -w' -o $(BIN)/graft ./cmd/graft

## demo: the README's first command — graft's main job, offline, in seconds.
demo: build
	$(BIN)/graft demo $(if $(WORKDIR),--workdir $(WORKDIR))

## examples: re-render overlays/ from testdata/examples (the golden test checks drift).
examples:
	$(GO) test ./generator/render -run TestExampleOverlays -update

## deps: everything the tests need, idempotent (apt packages, moto in a venv,
## conftest, the Kubernetes control plane and Gitea from the Go module proxy).
deps:
	bash .ci/deps.sh

## test: every test — unit, policy, moto, conftest, real git, Gitea and the
## real Kubernetes control plane.
test: deps lint unit gitea e2e

lint:
	@unformatted=$$(gofmt -l cmd generator internal policies templates testdata/gitea/gitea_test.go); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet ./testdata/gitea

unit:
	$(GO) test -count=1 -timeout 20m ./...

e2e:
	bash testdata/e2e/run.sh

gitea:
	bash testdata/gitea/run.sh

## bench: the benchmarks each issue names, in one run (README's Performance
## section has the figures and the command that measured them).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

fuzz:
	$(GO) test ./generator/spec -run XXX -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./generator/record -run XXX -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./generator/check -run XXX -fuzz FuzzDecodeYAML -fuzztime 60s
	$(GO) test ./generator/check -run XXX -fuzz FuzzLoad -fuzztime 60s

clean:
	rm -rf $(BIN)
