#!/bin/bash
# tools/urio-grep against GNU grep on the same generated inputs: fixed
# strings and regular expressions (basic, extended, -i), -c, several files
# (names, order), stdin, CRLF lines, lines longer than a read, a last line
# without its newline, empty files, no match (exit 1), a missing file
# (exit 2), small reads on 2 workers; then -F (follow) across a rename
# rotation and a truncation. Usage: grep.sh PATH/TO/urio-grep
set -u
ug=$(realpath "$1")
command -v grep >/dev/null && command -v python3 >/dev/null || exit 77
dir=$(mktemp -d /tmp/urio-grep-test.XXXXXX)
fpid=
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir" || exit 1
fail=0

python3 - <<'PY'
import random
r = random.Random(3)
lv = ['INFO'] * 90 + ['WARN'] * 8 + ['ERROR'] * 2
out = []
for i in range(60000):
    s = "2026-11-29T%02d:%02d:%02d %-5s [w%d] id=%d path=/api/%d status=%d" % (
        r.randrange(24), r.randrange(60), r.randrange(60), r.choice(lv),
        r.randrange(8), r.randrange(10**6), r.randrange(1000),
        r.choice([200, 200, 200, 404, 500]))
    if r.random() < 0.05:
        s += "\r"
    if r.random() < 0.0005:
        s += " ERROR" * r.randrange(1, 60000)  # longer than a read
    out.append(s)
open("a.log", "w").write("\n".join(out) + "\n")
open("b.log", "w").write("\n".join(out[:3000]) + "\nlast ERROR without newline")
open("c.log", "w").write("")
open("d.log", "w").write("\n\n\nERROR\n\n")
PY

# check NAME ARGS...: same stdout and exit status as grep
check() {
	local name=$1
	shift
	"$ug" "$@" >u.out 2>/dev/null
	local ue=$?
	grep "$@" >g.out 2>/dev/null
	local ge=$?
	if [ $ue != $ge ] || ! cmp -s u.out g.out; then
		echo "FAIL $name: urio-grep $* -> $ue, grep -> $ge" >&2
		diff u.out g.out | head -5 >&2
		fail=1
	fi
}

check fixed ERROR a.log
check fixed_count -c ERROR a.log
check fixed_several ERROR a.log b.log c.log d.log
check count_several -c ERROR a.log b.log c.log d.log
check one_byte -c 5 a.log
check crlf_end -c $'404\r' a.log
check last_line ERROR b.log
check basic_regex 'status=50[0-9]$' a.log
check basic_anchor -c '^2026-11-29T0[0-3]:.*WARN' a.log b.log
check extended -E 'id=[0-9]+7 path=/api/(1|22)[0-9]*' a.log
check extended_count -c -E '(INFO|WARN) +\[w[37]\]' a.log b.log
check ignore_case -i 'error \[W3\]' a.log
check dot_star -c 'ERROR.*ERROR' a.log
check empty_lines -c '^$' d.log a.log
check no_match zzz-not-there a.log b.log
check no_match_count -c zzz-not-there a.log
check missing ERROR not-there.log a.log
check missing_only ERROR not-there.log
check with_name -H ERROR b.log
check no_name -h ERROR a.log b.log
"$ug" --fixed 'a.b' a.log >u.out; ue=$?
grep -F 'a.b' a.log >g.out; ge=$?
{ [ $ue = $ge ] && cmp -s u.out g.out; } || { echo "FAIL --fixed" >&2; fail=1; }
"$ug" -c ERROR <a.log >u.out; grep -c ERROR <a.log >g.out
cmp -s u.out g.out || { echo "FAIL stdin" >&2; fail=1; }
# small reads: many blocks and border lines, both workers busy
"$ug" --chunk=4096 -j2 ERROR a.log b.log d.log >u.out
grep ERROR a.log b.log d.log >g.out
cmp -s u.out g.out || { echo "FAIL small reads" >&2; fail=1; }
"$ug" --help | grep -q -- --follow || { echo "FAIL --help" >&2; fail=1; }
"$ug" >/dev/null 2>&1; [ $? = 2 ] || { echo "FAIL no pattern: not 2" >&2; fail=1; }
"$ug" -E 'a(' a.log >/dev/null 2>&1; [ $? = 2 ] || { echo "FAIL bad regex" >&2; fail=1; }

# wait_lines N: until f.out has N lines (10 s at most)
wait_lines() {
	for _ in $(seq 1000); do
		[ "$(wc -l <f.out)" -ge "$1" ] && return 0
		sleep 0.01
	done
	echo "FAIL follow: $(wc -l <f.out) lines of $1" >&2
	fail=1
	return 1
}
# -F: new lines, a rename rotation, a truncation
printf 'one hit\nmiss\n' >f.log
"$ug" -F hit f.log >f.out &
fpid=$!
wait_lines 1 &&
	printf 'two hit\nmiss\n' >>f.log && wait_lines 2 &&
	mv f.log f.log.1 && printf 'three hit\n' >f.log && wait_lines 3 &&
	printf 'four hit\n' >>f.log && wait_lines 4 &&
	: >f.log && printf 'five hit\n' >>f.log && wait_lines 5
printf 'one hit\ntwo hit\nthree hit\nfour hit\nfive hit\n' >f.want
cmp -s f.out f.want || { echo "FAIL follow output" >&2; cat f.out >&2; fail=1; }
kill "$fpid"
wait "$fpid" 2>/dev/null
fpid=

exit $fail
