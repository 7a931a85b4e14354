#!/bin/sh
# Make a man page from the built weir's own --help (the one text to keep up to
# date), with Debian's help2man:
#   man.sh WEIR VERSION OUT NAME [SUBCOMMAND]
# weir.1 is `weir --help`; weir-SUBCOMMAND.1 is `weir SUBCOMMAND --help`.
# What help2man cannot know is fixed here, not in the help text:
#  - a subcommand's option lines "  --flag   ENV   text" become "--flag, ENV"
#    terms (help2man would take ENV and its padding as the description);
#  - the Examples section is printed as written (no-fill), each command on
#    its own line, a "\"-continued one indented under it;
#  - non-ASCII dashes become roff escapes (the page reads the same in any locale).
set -eu
weir=$1 version=$2 out=$3 name=$4 sub=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prog=$tmp/weir${sub:+-$sub}
cat >"$prog" <<WRAP
#!/bin/sh
"$weir" $sub "\$@" | sed -E 's/^  (--[^ ]+) +([A-Z_]+) {2,}/  \\1, \\2  /'
WRAP
chmod +x "$prog"
help2man --no-info --locale=C.UTF-8 --version-string="$version" --name="$name" "$prog" >"$tmp/page"
LC_ALL=C awk '
  function end_nofill() { if (nofill) print ".fi"; nofill = 0 }
  { gsub(/\342\200\224/, "\\(em"); gsub(/\342\200\223/, "\\(en") }
  /^\.SH / { end_nofill(); examples = ($0 == ".SH EXAMPLES"); print; next }
  examples && /^\.IP$/ && !nofill { print ".nf"; nofill = 1; next }
  examples && nofill && /^\.HP$/ { indent = 1; next }
  examples && nofill && /^\.(PP|TP|IP)$/ { end_nofill(); print; next }
  nofill { print (indent ? "      " : "  ") $0; indent = 0; next }
  { print }
  END { end_nofill() }
' "$tmp/page" >"$out"
