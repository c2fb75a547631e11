# Build and install union-e2fsprogs the way e2fsprogs is installed:
#
#     make                    # cargo build --release (as yourself)
#     sudo make install       # binaries, fsck/mkfs links, man pages, completions
#
# Variables (all overridable on the command line):
#   PREFIX=/usr/local  DESTDIR=  (staged installs: make install DESTDIR=/tmp/root PREFIX=/usr)
#   PROFILE=release    (or debug: install what `cargo build --workspace` built)
#   GZIP_MAN=0         (1: install man pages gzipped, as Debian does)
#   sbindir, mandir, bashcompdir, zshcompdir, fishcompdir (directories)
#   umounthelperdir=/sbin  (where umount(8) looks for umount.fuse.union-ext2,
#                           the link that makes umount wait for the FUSE engine)
#
# Other targets: uninstall, completions, deb (Debian package: cargo-deb when
# installed, else packaging/build-deb.sh with dpkg-deb), alternatives /
# unalternatives (opt-in: make these tools the system's mkfs.ext2 and
# fsck.ext2; see README).

PREFIX ?= /usr/local
DESTDIR ?=
sbindir ?= $(PREFIX)/sbin
mandir ?= $(PREFIX)/share/man
man8dir ?= $(mandir)/man8
bashcompdir ?= $(PREFIX)/share/bash-completion/completions
zshcompdir ?= $(PREFIX)/share/zsh/site-functions
fishcompdir ?= $(PREFIX)/share/fish/vendor_completions.d
umounthelperdir ?= /sbin
GZIP_MAN ?= 0

CARGO ?= cargo
PROFILE ?= release
# cargo's name for the profile and the directory it builds into
CARGO_PROFILE := $(if $(filter debug dev,$(PROFILE)),dev,$(PROFILE))
PROFILE_DIR := $(if $(filter debug dev,$(PROFILE)),debug,$(PROFILE))
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
BUILT := $(TARGET_DIR)/$(PROFILE_DIR)
# generated files (completion scripts, the staged .deb tree)
BUILDDIR ?= target/packaging

INSTALL ?= install
LN_S ?= ln -sf

TOOLS := mke2fs-union e2fsck-union debugfs-union mount-union
# link name -> tool: what util-linux mkfs(8) and fsck(8) look for with -t ext2-union
LINKS := mkfs.ext2-union:mke2fs-union fsck.ext2-union:e2fsck-union
LINK_NAMES := $(foreach l,$(LINKS),$(firstword $(subst :, ,$(l))))
NAMES := $(TOOLS) $(LINK_NAMES)
# umount(8) runs /sbin/umount.<type> (and nothing from PATH), so this link
# goes to umounthelperdir: relative beside the tools, else absolute.
UMOUNT_HELPER := umount.fuse.union-ext2
UMOUNT_HELPER_TO := $(if $(filter $(sbindir),$(umounthelperdir)),mount-union,$(sbindir)/mount-union)
BUILT_BINS := $(addprefix $(BUILT)/,$(TOOLS))
MAN_EXT := $(if $(filter 1 yes,$(GZIP_MAN)),.8.gz,.8)

# opt-in system integration (make alternatives): the e2fsprogs names
SYS_SBIN ?= /sbin
SYS_MAN8 ?= /usr/share/man/man8
ALT_ROOT ?=
ALT_PRIORITY ?= 10
DPKG_ROOT_OPT := $(if $(ALT_ROOT),--root $(ALT_ROOT))

.PHONY: all build completions install install-bins install-man install-completions \
	uninstall deb alternatives unalternatives clean-packaging

all: build

build:
	$(CARGO) build --profile $(CARGO_PROFILE) $(addprefix -p ,$(TOOLS))

# Built if missing, so `make install` alone works; after `make`, `sudo make
# install` does not need cargo.
$(BUILT_BINS):
	$(CARGO) build --profile $(CARGO_PROFILE) $(addprefix -p ,$(TOOLS))

# Completion scripts generated from each tool's clap definition (the
# hidden --generate-completions option), for the tools and the links: run
# through a link, a tool writes the script for the link's name. Into
# $(BUILDDIR)/completions, for cargo-deb (make install generates its own).
completions: $(BUILT_BINS)
	rm -rf $(BUILDDIR)/completions
	mkdir -p $(BUILDDIR)/completions/bin $(BUILDDIR)/completions/bash \
		$(BUILDDIR)/completions/zsh $(BUILDDIR)/completions/fish
	for t in $(TOOLS); do \
		ln -sf "$(abspath $(BUILT))/$$t" $(BUILDDIR)/completions/bin/$$t || exit 1; \
	done
	for l in $(LINKS); do \
		ln -sf "$(abspath $(BUILT))/$${l#*:}" $(BUILDDIR)/completions/bin/$${l%%:*} || exit 1; \
	done
	for n in $(NAMES); do \
		$(BUILDDIR)/completions/bin/$$n --generate-completions bash > $(BUILDDIR)/completions/bash/$$n && \
		$(BUILDDIR)/completions/bin/$$n --generate-completions zsh > $(BUILDDIR)/completions/zsh/_$$n && \
		$(BUILDDIR)/completions/bin/$$n --generate-completions fish > $(BUILDDIR)/completions/fish/$$n.fish \
		|| exit 1; \
	done
	rm -rf $(BUILDDIR)/completions/bin

install: install-bins install-man install-completions

install-bins: $(BUILT_BINS)
	$(INSTALL) -d $(DESTDIR)$(sbindir)
	for t in $(TOOLS); do \
		$(INSTALL) -m 755 $(BUILT)/$$t $(DESTDIR)$(sbindir)/$$t || exit 1; \
	done
	for l in $(LINKS); do \
		$(LN_S) $${l#*:} $(DESTDIR)$(sbindir)/$${l%%:*} || exit 1; \
	done
	$(INSTALL) -d $(DESTDIR)$(umounthelperdir)
	$(LN_S) $(UMOUNT_HELPER_TO) $(DESTDIR)$(umounthelperdir)/$(UMOUNT_HELPER)

install-man:
	$(INSTALL) -d $(DESTDIR)$(man8dir)
	for t in $(TOOLS); do \
		if [ "$(MAN_EXT)" = .8.gz ]; then \
			gzip -9n < man/$$t.8 > $(DESTDIR)$(man8dir)/$$t.8.gz && \
			chmod 644 $(DESTDIR)$(man8dir)/$$t.8.gz || exit 1; \
		else \
			$(INSTALL) -m 644 man/$$t.8 $(DESTDIR)$(man8dir)/$$t.8 || exit 1; \
		fi; \
		rm -f $(DESTDIR)$(man8dir)/$$t.8$(if $(filter .8,$(MAN_EXT)),.gz); \
	done
	for l in $(LINKS); do \
		$(LN_S) $${l#*:}$(MAN_EXT) $(DESTDIR)$(man8dir)/$${l%%:*}$(MAN_EXT) || exit 1; \
	done

# Generated by the installed tools and links themselves (nothing is
# written outside DESTDIR, so `sudo make install` leaves the tree alone).
install-completions: install-bins
	$(INSTALL) -d $(DESTDIR)$(bashcompdir) $(DESTDIR)$(zshcompdir) $(DESTDIR)$(fishcompdir)
	for n in $(NAMES); do \
		$(DESTDIR)$(sbindir)/$$n --generate-completions bash > $(DESTDIR)$(bashcompdir)/$$n && \
		$(DESTDIR)$(sbindir)/$$n --generate-completions zsh > $(DESTDIR)$(zshcompdir)/_$$n && \
		$(DESTDIR)$(sbindir)/$$n --generate-completions fish > $(DESTDIR)$(fishcompdir)/$$n.fish && \
		chmod 644 $(DESTDIR)$(bashcompdir)/$$n $(DESTDIR)$(zshcompdir)/_$$n \
			$(DESTDIR)$(fishcompdir)/$$n.fish \
		|| exit 1; \
	done

uninstall:
	for n in $(NAMES); do \
		rm -f $(DESTDIR)$(sbindir)/$$n $(DESTDIR)$(man8dir)/$$n.8 $(DESTDIR)$(man8dir)/$$n.8.gz \
			$(DESTDIR)$(bashcompdir)/$$n $(DESTDIR)$(zshcompdir)/_$$n \
			$(DESTDIR)$(fishcompdir)/$$n.fish; \
	done
	rm -f $(DESTDIR)$(umounthelperdir)/$(UMOUNT_HELPER)

# The Debian package (target/debian/union-e2fsprogs_VERSION-1_ARCH.deb).
# cargo-deb (metadata in mke2fs-union/Cargo.toml) when it is installed,
# else the same tree staged with `make install` and packed with dpkg-deb.
# DEB_TOOL=cargo-deb|dpkg-deb forces one.
DEB_TOOL ?= $(if $(shell command -v cargo-deb 2>/dev/null),cargo-deb,dpkg-deb)
deb: build completions
ifeq ($(DEB_TOOL),cargo-deb)
	$(CARGO) deb -p mke2fs-union --no-build --strip --profile $(CARGO_PROFILE) \
		--output $(TARGET_DIR)/debian/
else
	PROFILE=$(PROFILE) TARGET_DIR=$(TARGET_DIR) BUILT=$(BUILT) BUILDDIR=$(BUILDDIR) MAKE="$(MAKE)" \
		packaging/build-deb.sh $(TARGET_DIR)/debian
endif

# Opt-in, Debian: make mke2fs-union and e2fsck-union the system's
# mkfs.ext2 and fsck.ext2. e2fsprogs' files are diverted (kept as
# mkfs.ext2.e2fsprogs / fsck.ext2.e2fsprogs, so upgrades of e2fsprogs do not
# undo this) and both become alternatives; ours is selected.
# `make unalternatives` restores e2fsprogs. ALT_ROOT= works on another root.
alternatives:
	for pair in mkfs.ext2:mke2fs-union fsck.ext2:e2fsck-union; do \
		name=$${pair%%:*}; tool=$${pair#*:}; \
		dpkg-divert $(DPKG_ROOT_OPT) --local --rename \
			--divert $(SYS_SBIN)/$$name.e2fsprogs --add $(SYS_SBIN)/$$name && \
		dpkg-divert $(DPKG_ROOT_OPT) --local --rename \
			--divert $(SYS_MAN8)/$$name.e2fsprogs.8.gz --add $(SYS_MAN8)/$$name.8.gz && \
		update-alternatives $(DPKG_ROOT_OPT) --install $(SYS_SBIN)/$$name $$name \
			$(SYS_SBIN)/$$name.e2fsprogs 50 \
			--slave $(SYS_MAN8)/$$name.8.gz $$name.8.gz $(SYS_MAN8)/$$name.e2fsprogs.8.gz && \
		ext=.8.gz; [ -e "$(ALT_ROOT)$(man8dir)/$$tool.8.gz" ] || ext=.8; \
		update-alternatives $(DPKG_ROOT_OPT) --install $(SYS_SBIN)/$$name $$name \
			$(sbindir)/$$tool $(ALT_PRIORITY) \
			--slave $(SYS_MAN8)/$$name$$ext $$name$$ext $(man8dir)/$$tool$$ext && \
		update-alternatives $(DPKG_ROOT_OPT) --set $$name $(sbindir)/$$tool \
		|| exit 1; \
	done

unalternatives:
	for name in mkfs.ext2 fsck.ext2; do \
		update-alternatives $(DPKG_ROOT_OPT) --remove-all $$name 2>/dev/null; \
		dpkg-divert $(DPKG_ROOT_OPT) --local --rename --remove $(SYS_SBIN)/$$name || exit 1; \
		dpkg-divert $(DPKG_ROOT_OPT) --local --rename --remove $(SYS_MAN8)/$$name.8.gz || exit 1; \
	done

clean-packaging:
	rm -rf $(BUILDDIR) $(TARGET_DIR)/debian
