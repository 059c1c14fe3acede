# What the benchmark scripts share (sourced, not run): reading a contender's output line, keeping
# the best round, and naming the machine.

# The images_per_second=<value> field of a benchmark program's output line.
images_per_second() { sed -n 's/.*images_per_second=\([0-9.]*\).*/\1/p' <<<"$1"; }
# The larger of two numbers (the best round: interference only ever slows a round down).
larger() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
# The smaller of two numbers, 0 meaning none yet (the best of timed compilations).
smaller() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == 0 || b < a ? b : a) }'; }
# "2 cores, Intel(R) Xeon(R) Processor, 23 GiB"
machine_description() {
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
}
