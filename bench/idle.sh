# bench/idle.sh: sourced by the benchmark scripts.
#
#   wait_idle    with IDLE=P, wait until the CPUs were P% idle over 5 s
#                (at most IDLE_WAIT seconds, 300 by default)

# cpu_ticks: "idle total" jiffies of all CPUs so far (/proc/stat)
cpu_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat
}

wait_idle() {
	[ -n "${IDLE:-}" ] || return 0
	waited=0
	while :; do
		a=$(cpu_ticks)
		sleep 5
		b=$(cpu_ticks)
		echo "$a $b" | awk -v p="$IDLE" '{ exit !(($3 - $1) >= p / 100 * ($4 - $2)) }' &&
			return 0
		waited=$((waited + 5))
		if [ "$waited" -ge "${IDLE_WAIT:-300}" ]; then
			echo "bench/${0##*/}: CPUs still busy after ${waited} s; timing anyway" >&2
			return 0
		fi
	done
}
