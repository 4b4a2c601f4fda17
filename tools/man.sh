#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# tools/man.sh BIN SRC OUT VERSION: a man page from man/*.in, its generated
# parts from the binaries' own tables: @COMMANDS@ each command of penstock's
# table with its --help, @OPTIONS@ penstockd --help, @KEYS@ penstock
# config-keys --format man (the config loader's rows), @VERSION@.
set -eu
bin=$1 src=$2 out=$3 version=$4

# Text for .nf: backslashes escaped, a leading dot or quote made literal.
roff_text() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

commands() {
	"$bin/penstock" help | sed -n 's/^  \([a-z][a-z-]*\)  *\(.*\)$/\1\t\2/p' |
	while IFS="$(printf '\t')" read -r cmd summary; do
		printf '.SS %s\n%s.\n.PP\n.nf\n' "$cmd" "$summary"
		"$bin/penstock" "$cmd" --help | roff_text
		printf '.fi\n'
	done
}

options() {
	printf '.nf\n'
	"$bin/penstockd" --help | roff_text
	printf '.fi\n'
}

tmp=$out.tmp
: >"$tmp"
while IFS= read -r line; do
	case $line in
	@COMMANDS@) commands >>"$tmp" ;;
	@OPTIONS@) options >>"$tmp" ;;
	@KEYS@) "$bin/penstock" config-keys --format man >>"$tmp" ;;
	*) printf '%s\n' "$line" | sed "s/@VERSION@/$version/g" >>"$tmp" ;;
	esac
done <"$src"
mv "$tmp" "$out"
