# Installs kapokmq for C and C++ programs: kapokmq.h and the C++ wrapper
# kapokmq.hpp, the shared library under its soname, the static library,
# pkg-config modules and a CMake package. It copies what
# `cargo build --release --workspace` built and builds nothing itself.
#
#   make install PREFIX=/opt/kapokmq     # default PREFIX=/usr/local
#   make install DESTDIR=/tmp/stage      # staged: files under DESTDIR, paths say PREFIX
#   make install RELOCATABLE=1 ...       # works wherever the tree is moved (the C SDK of make dist)
#   make uninstall PREFIX=/opt/kapokmq
#   make test-install                    # tests/install/run.sh
#
# Also settable: LIBDIR, INCLUDEDIR, KMQ_RELEASE_DIR (where the built
# libraries are), PATCHELF. Setting the soname needs patchelf: cargo links
# the cdylib without one.

# Included from another makefile, this file must not take over its default goal.
kmq_default_goal := $(.DEFAULT_GOAL)

KMQ_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
PATCHELF   ?= patchelf
KMQ_RELEASE_DIR ?= $(KMQ_ROOT)/target/release

# The version is the crate's: the first `version = "..."` line of Cargo.toml
# is the one of [package].
KMQ_VERSION       := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' '$(KMQ_ROOT)/Cargo.toml' | head -n 1)
kmq_version_words := $(subst ., ,$(KMQ_VERSION))
KMQ_VERSION_MAJOR := $(word 1,$(kmq_version_words))
KMQ_VERSION_MINOR := $(word 2,$(kmq_version_words))
KMQ_SONAME        := libkapokmq.so.$(KMQ_VERSION_MAJOR)
KMQ_SHARED_FILE   := libkapokmq.so.$(KMQ_VERSION)
KMQ_NATIVE_LIBS   := $(shell grep -e '^-' '$(KMQ_ROOT)/bindings/c/native-static-libs.txt')
kmq_pointer_bytes := $(shell echo $$(( $$(getconf LONG_BIT) / 8 )))

kmq_src     := $(KMQ_ROOT)/bindings/c
kmq_inc     := $(DESTDIR)$(INCLUDEDIR)
kmq_lib     := $(DESTDIR)$(LIBDIR)
kmq_pc_dir  := $(kmq_lib)/pkgconfig
kmq_cm_dir  := $(kmq_lib)/cmake/kapokmq

# Fills a template ($1) into a file ($2). The pkg-config files name their
# directories through ${prefix} where they can, so that pkg-config's
# --define-prefix can move them.
kmq_fill = sed -e 's|@PREFIX@|$(PREFIX)|g' \
	-e 's|@LIBDIR@|$(3)|g' \
	-e 's|@INCLUDEDIR@|$(4)|g' \
	-e 's|@VERSION@|$(KMQ_VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(KMQ_VERSION_MAJOR)|g' \
	-e 's|@VERSION_MINOR@|$(KMQ_VERSION_MINOR)|g' \
	-e 's|@SONAME@|$(KMQ_SONAME)|g' \
	-e 's|@SHARED_FILE@|$(KMQ_SHARED_FILE)|g' \
	-e 's|@NATIVE_LIBS@|$(KMQ_NATIVE_LIBS)|g' \
	-e 's|@POINTER_BYTES@|$(kmq_pointer_bytes)|g' \
	'$(1)' >'$(2)'
kmq_pc_libdir     := $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
kmq_pc_includedir := $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

# RELOCATABLE=1: the CMake package finds the files relative to itself
# (lib/cmake/kapokmq is three levels under the prefix), so the tree works
# wherever it is unpacked; pkg-config users pass --define-prefix. It needs
# the default LIBDIR and INCLUDEDIR.
RELOCATABLE ?=
ifeq ($(RELOCATABLE),1)
kmq_cm_libdir     := $${_kapokmq_prefix}/lib
kmq_cm_includedir := $${_kapokmq_prefix}/include
else
kmq_cm_libdir     := $(LIBDIR)
kmq_cm_includedir := $(INCLUDEDIR)
endif

.PHONY: install uninstall test-install kmq-install-check

install: kmq-install-check
	install -d '$(kmq_inc)' '$(kmq_lib)' '$(kmq_pc_dir)' '$(kmq_cm_dir)'
	install -m 644 '$(KMQ_ROOT)/include/kapokmq.h' '$(kmq_src)/kapokmq.hpp' '$(kmq_inc)/'
	@# The soname is set on a copy that is then renamed into place, so that a
	@# program running with the old library never sees a half-written file.
	install -m 755 '$(KMQ_RELEASE_DIR)/libkapokmq.so' '$(kmq_lib)/.$(KMQ_SHARED_FILE).tmp'
	$(PATCHELF) --set-soname '$(KMQ_SONAME)' '$(kmq_lib)/.$(KMQ_SHARED_FILE).tmp'
	mv -f '$(kmq_lib)/.$(KMQ_SHARED_FILE).tmp' '$(kmq_lib)/$(KMQ_SHARED_FILE)'
	ln -sfn '$(KMQ_SHARED_FILE)' '$(kmq_lib)/$(KMQ_SONAME)'
	ln -sfn '$(KMQ_SONAME)' '$(kmq_lib)/libkapokmq.so'
	install -m 644 '$(KMQ_RELEASE_DIR)/libkapokmq.a' '$(kmq_lib)/libkapokmq.a'
	$(call kmq_fill,$(kmq_src)/kapokmq.pc.in,$(kmq_pc_dir)/kapokmq.pc,$(kmq_pc_libdir),$(kmq_pc_includedir))
	$(call kmq_fill,$(kmq_src)/kapokmq-static.pc.in,$(kmq_pc_dir)/kapokmq-static.pc,$(kmq_pc_libdir),$(kmq_pc_includedir))
	$(call kmq_fill,$(kmq_src)/kapokmqConfig.cmake.in,$(kmq_cm_dir)/kapokmqConfig.cmake,$(kmq_cm_libdir),$(kmq_cm_includedir))
	$(call kmq_fill,$(kmq_src)/kapokmqConfigVersion.cmake.in,$(kmq_cm_dir)/kapokmqConfigVersion.cmake,$(kmq_cm_libdir),$(kmq_cm_includedir))
	@echo 'kapokmq $(KMQ_VERSION) installed in $(DESTDIR)$(PREFIX)'

# Fails before anything is copied, and says what to do.
kmq-install-check:
	@for f in '$(KMQ_RELEASE_DIR)/libkapokmq.so' '$(KMQ_RELEASE_DIR)/libkapokmq.a' '$(KMQ_ROOT)/include/kapokmq.h'; do \
	  [ -f "$$f" ] || { echo "install: $$f is missing: build first with cargo build --release --workspace" >&2; exit 1; }; \
	done
	@command -v '$(PATCHELF)' >/dev/null || { echo "install: patchelf sets the soname: install it (Debian: apt-get install patchelf)" >&2; exit 1; }
	@[ -n '$(KMQ_VERSION_MINOR)' ] || { echo "install: no version found in $(KMQ_ROOT)/Cargo.toml" >&2; exit 1; }
	@[ -n '$(KMQ_NATIVE_LIBS)' ] || { echo "install: no libraries listed in $(kmq_src)/native-static-libs.txt" >&2; exit 1; }
	@[ '$(RELOCATABLE)' != 1 ] || [ '$(LIBDIR) $(INCLUDEDIR)' = '$(PREFIX)/lib $(PREFIX)/include' ] \
	  || { echo "install: RELOCATABLE=1 needs LIBDIR=PREFIX/lib and INCLUDEDIR=PREFIX/include" >&2; exit 1; }

uninstall:
	rm -f '$(kmq_inc)/kapokmq.h' '$(kmq_inc)/kapokmq.hpp' \
	  '$(kmq_lib)/$(KMQ_SHARED_FILE)' '$(kmq_lib)/$(KMQ_SONAME)' '$(kmq_lib)/libkapokmq.so' \
	  '$(kmq_lib)/libkapokmq.a' '$(kmq_pc_dir)/kapokmq.pc' '$(kmq_pc_dir)/kapokmq-static.pc' \
	  '$(kmq_cm_dir)/kapokmqConfig.cmake' '$(kmq_cm_dir)/kapokmqConfigVersion.cmake'
	rmdir '$(kmq_cm_dir)' 2>/dev/null || true

# `build` is the including makefile's release build.
test-install: build
	bash '$(KMQ_ROOT)/tests/install/run.sh'

.DEFAULT_GOAL := $(kmq_default_goal)
