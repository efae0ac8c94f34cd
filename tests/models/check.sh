#!/bin/sh
# Verifies one Spin model: spin -a, gcc pan.c, ./pan. Safety (assertions,
# invalid end states) always; with ltl=1 also the model's ltl property
# under weak fairness. expect=fail: the (broken) model must be caught.
# usage: check.sh model.pml workdir expect(ok|fail) [spin -D flags...]
set -eu
model=$1 dir=$2 expect=$3
shift 3
mkdir -p "$dir"
cd "$dir"
spin -a "$@" "$model" >spin.out
# pan.c's own warnings (array stores indexed by a model variable) go to
# cc.out, shown only when the compile fails
${CC:-gcc} -O2 -DVECTORSZ=4096 -DNFAIR=3 -DMEMLIM=1024 -o pan pan.c >cc.out 2>&1 ||
	{ cat cc.out; exit 1; }
./pan -m100000 >safety.out 2>&1 || true
errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' safety.out | head -1)
states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' safety.out | head -1)
if grep -q "^ltl " "$model"; then
	./pan -m100000 -a -f >live.out 2>&1 || true
	lerrs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' live.out | head -1)
	lstates=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' live.out | head -1)
else
	lerrs=0 lstates=-
fi
echo "$(basename "$model") $*: safety errors ${errs:-?} (${states:-?} states), liveness errors ${lerrs:-?} (${lstates:-?} states)"
if [ "$expect" = ok ]; then
	[ "$errs" = 0 ] && [ "$lerrs" = 0 ] || { cat safety.out live.out 2>/dev/null | grep -i "error\|violated\|assertion" | head; exit 1; }
else
	[ "${errs:-0}" != 0 ] || [ "${lerrs:-0}" != 0 ] || { echo "the broken variant was not caught"; exit 1; }
	grep -h "assertion violated\|acceptance cycle\|invalid end state" safety.out live.out 2>/dev/null | head -2
fi
