# onshikaku: PGXS build, plus the project's own commands.
#
#   make demo    install what is missing, build, start a throwaway cluster, walk through the main job
#   make test    the same set-up, then every suite; ends with "N passed, N failed"
#   make bench   the benchmarks under test/bench/ (long; not part of make test)
#   make fuzz    libFuzzer + ASan/UBSan over every identifier parser, bounded
#
# Plain PGXS targets (all, install, installcheck, clean) work as usual.

EXTENSION   = onshikaku
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

# The C layers, in dependency order (docs/architecture.md).
MODULE_big  = onshikaku
OBJS        = extension/onshikaku.o \
              extension/ident.o \
              extension/identifier_types.o \
              extension/redaction.o \
              extension/crypto.o \
              extension/privileged.o \
              extension/keys.o \
              extension/access_log.o \
              extension/encrypted_types.o \
              extension/partitions.o \
              extension/isolation.o \
              extension/card_lookup.o extension/issuance.o \
              extension/flows.o extension/bulk_enrolment.o extension/confirmation.o \
              extension/analyst_surface.o

# The install script is assembled from extension/sql/NN_*.sql, in order;
# upgrade scripts onshikaku--A--B.sql are written by hand (released ones are
# frozen in extension/released/ with the install scripts), and the install
# scripts of released versions are frozen in extension/released/ (so that
# CREATE EXTENSION ... VERSION works and the upgrade suite can test paths).
SQL_PARTS   = $(sort $(wildcard extension/sql/*.sql))
DATA_built  = extension/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(wildcard extension/$(EXTENSION)--*--*.sql) \
              $(filter-out %/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard extension/released/$(EXTENSION)--*.sql))

REGRESS     = $(basename $(notdir $(wildcard sql/*.sql)))
REGRESS_OPTS = --dbname=onshikaku_regress --load-extension=onshikaku

PG_CPPFLAGS = -I$(srcdir)/extension
# -Wextra as asked; unused-parameter is off because every fmgr function
# takes fcinfo whether it uses it or not (PostgreSQL's own -Wextra advice).
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration
SHLIB_LINK  = -lcrypto
EXTRA_CLEAN = results regression.diffs regression.out output_iso fuzz-* crash-* \
              test/unit/test_ident test/fuzz/fuzz_identifiers

PG_CONFIG  ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS       := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.PHONY: demo test bench fuzz deps unit

ifneq ($(PGXS),)
include $(PGXS)
else
all install installcheck:
	@echo "PostgreSQL 15 server headers not found: run 'make deps' (or test/setup/deps.sh) first." >&2; exit 1
endif

extension/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) $(EXTENSION).control Makefile
	@echo "-- Generated from extension/sql/*.sql by make: edit those files, not this one." > $@.tmp
	@printf '%s\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit' >> $@.tmp
	@for f in $(SQL_PARTS); do printf '\n-- ---- %s ----\n' "$$f"; cat "$$f"; done >> $@.tmp
	@mv $@.tmp $@

deps:
	@test/setup/deps.sh

# Build and install as the current user, or through sudo when the server's
# directories are not writable by it (test/setup/install.sh says which).
demo: deps
	@$(MAKE) --no-print-directory all
	@test/setup/install.sh
	@test/demo/run.sh

test: deps
	@$(MAKE) --no-print-directory all
	@test/setup/install.sh
	@test/run_all.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@test/setup/install.sh
	@test/bench/run.sh

fuzz:
	@test/fuzz/run.sh $(FUZZ_RUNS)

unit:
	@test/unit/run.sh
