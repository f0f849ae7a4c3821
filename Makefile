# quanta: build, test and install.
#
#   make            libraries in lib/, programs in bin/
#   make test       unit tests, Bats tests, a short fuzz run; ends "N passed, N failed"
#   make sanitize   the same tests built with AddressSanitizer + UBSan (in build/san)
#   make fuzz       a longer fuzz run of the stream decoder (FUZZ_SECONDS=600)
#   make bench      build bench/*.c into build/bench/ and run bench/run.sh
#   make setup      install the Debian packages quanta needs (root)
#   make install PREFIX=/usr/local
#
# The CUDA backend is built when nvcc is found (CUDA_ARCH ?= sm_90).

PREFIX   ?= /usr/local
BUILD    ?= build
BINDIR   ?= bin
LIBDIR   ?= lib
CC       ?= cc
OPT      ?= -O2 -march=native
WERROR   ?= $(if $(CI),-Werror,)
SAN      ?=
NVCC     ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA_ARCH ?= sm_90

PKGS     := msgpack libzmq hdf5 openblas chealpix plplot jansson libzip fftw3f nettle
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Wshadow \
            -Wno-unused-parameter $(WERROR) -MMD -MP -I. $(PKG_CFLAGS) $(SAN)
LDLIBS   := $(PKG_LIBS) -lm -lpthread
LDFLAGS  := $(SAN)

# Library folders: each becomes lib/libquanta_DIR.a.
LIBDIRS  := common kernels nn sim
LIB_SRCS := $(foreach d,$(LIBDIRS),$(wildcard $(d)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBS     := $(foreach d,$(LIBDIRS),$(if $(wildcard $(d)/*.c),$(LIBDIR)/libquanta_$(d).a))

# nvcc may be a wrapper script outside the toolkit (/usr/local/bin/nvcc):
# the toolkit is the first candidate folder that holds the runtime library.
CUDA_HOME ?= $(firstword $(foreach d,$(patsubst %/bin/nvcc,%,$(realpath $(NVCC))) \
                 /usr/local/cuda,$(if $(wildcard $(d)/lib64/libcudart.so),$(d))))

ifneq ($(and $(NVCC),$(CUDA_HOME)),)
CU_SRCS  := $(wildcard kernels/*.cu)
CU_OBJS  := $(CU_SRCS:%.cu=$(BUILD)/%.cu.o)
CFLAGS   += -DQT_HAVE_CUDA
LDLIBS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++ -ldl -lrt
NVFLAGS  := -O3 -arch=$(CUDA_ARCH) -I. -Xcompiler -fPIC,-Wall -MMD -MP
HAVE_CUDA := yes
else
HAVE_CUDA := no
endif

STAGE_SRCS := $(wildcard stages/*.c)
STAGES     := $(patsubst stages/%.c,%,$(STAGE_SRCS))
PROGS      := $(BINDIR)/quanta $(patsubst %,$(BINDIR)/quanta-%,$(filter-out quanta,$(STAGES)))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test sanitize fuzz setup install clean report bench bench-build
# Keep objects of test programs: make would delete them as intermediates,
# and `make test` must end with the test summary line.
.SECONDARY:
all: report $(LIBS) $(PROGS)

report:
	@printf 'quanta build: CUDA backend %s\n' \
	    "$(if $(filter yes,$(HAVE_CUDA)),✓ ($(NVCC), $(CUDA_ARCH)),✗ ($(if $(NVCC),no CUDA runtime library beside $(NVCC),no nvcc)))"
	@pkg-config --exists $(PKGS) 2>/dev/null || \
	    { echo "✗ missing libraries: run 'make setup' (pkg-config: $(PKGS))"; exit 1; }

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Kernels: -O3, and fused multiply-adds (ISO C mode turns contraction off;
# kernels/vec.h relies on it).  Results stay the same for every thread count.
$(BUILD)/kernels/%.o: kernels/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 -ffp-contract=fast -Wno-psabi -c $< -o $@

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c $< -o $@

# Each library folder's objects; CUDA objects join the kernels library.
define LIB_RULE
$(LIBDIR)/libquanta_$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(if $(filter kernels,$(1)),$(CU_OBJS))
	@mkdir -p $(LIBDIR)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach d,$(LIBDIRS),$(eval $(call LIB_RULE,$(d))))

# Link order: higher layers first.
LINK_LIBS := $(foreach d,sim nn kernels common,$(if $(wildcard $(d)/*.c),$(LIBDIR)/libquanta_$(d).a))

$(BINDIR)/quanta: $(BUILD)/stages/quanta.o $(LINK_LIBS)
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BINDIR)/quanta-%: $(BUILD)/stages/%.o $(LINK_LIBS)
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

test: all $(UNIT_BINS) $(BUILD)/tests/fuzz_stream_run
	@BUILD=$(BUILD) BINDIR=$(BINDIR) tests/run.sh $(UNIT_BINS)

# The fuzz target also builds without libFuzzer, as a replayer of the
# corpus and of random mutations (fuzz_stream_run), so `make test` and
# `make sanitize` exercise it with gcc.
$(BUILD)/tests/fuzz_stream_run: tests/fuzz/fuzz_stream.c tests/fuzz/replay.c $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) tests/fuzz/fuzz_stream.c tests/fuzz/replay.c $(LINK_LIBS) -o $@ $(LDLIBS)

# Benchmarks against PyTorch (docs/BENCHMARKS.md): bench/NAME.c becomes
# $(BENCHDIR)/NAME; bench/run.sh runs them beside their PyTorch twins.
BENCHDIR   ?= build/bench
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BENCHDIR)/%)

$(BENCHDIR)/%: $(BUILD)/bench/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

bench-build: $(BENCH_BINS)

bench: report $(BENCH_BINS)
	BENCHDIR=$(BENCHDIR) bench/run.sh

FUZZ_SECONDS ?= 600
fuzz:
	@mkdir -p $(BUILD)/fuzz tests/fuzz/corpus-run
	clang -std=c11 -D_GNU_SOURCE -g -O1 -I. $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    tests/fuzz/fuzz_stream.c common/*.c -o $(BUILD)/fuzz/fuzz_stream $(LDLIBS)
	$(BUILD)/fuzz/fuzz_stream -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    tests/fuzz/corpus-run tests/fuzz/corpus

sanitize:
	$(MAKE) --no-print-directory BUILD=build/san BINDIR=build/san/bin LIBDIR=build/san/lib \
	    SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined' \
	    OPT='-O1' NVCC= test

setup:
	scripts/install-deps.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/quanta/common \
	    $(DESTDIR)$(PREFIX)/include/quanta/kernels $(DESTDIR)$(PREFIX)/share/quanta/models
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBS) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 common/*.h $(DESTDIR)$(PREFIX)/include/quanta/common/
	install -m 644 $(wildcard kernels/*.h) $(DESTDIR)$(PREFIX)/include/quanta/kernels/
	install -m 644 $(wildcard models/*.net) $(DESTDIR)$(PREFIX)/share/quanta/models/

clean:
	rm -rf build bin lib

-include $(LIB_OBJS:.o=.d) $(STAGE_SRCS:%.c=$(BUILD)/%.d) $(UNIT_SRCS:%.c=$(BUILD)/%.d) $(CU_OBJS:.o=.d) \
    $(BENCH_SRCS:%.c=$(BUILD)/%.d)
