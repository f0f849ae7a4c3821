#!/usr/bin/env bats
# ZeroMQ transport: a pipeline moved from pipes to sockets by changing
# arguments only gives the same output.  Every process runs under
# `timeout 60`, so a lost peer fails the test instead of hanging the suite.
#
# "The same output": the batch and end messages are byte-identical; the
# headers are identical except for the endpoint arguments (-i/-o/
# --test-out ...) that provenance records, which necessarily differ
# between the pipe and the socket runs.

load helpers

setup() {
	quanta_setup
	PYS="$ROOT/tests/pystream.py"
	"$PY" "$PYS" write "$T/in.qs" --field images:f4:8,8 --field labels:i8: \
		--classes labels=g,q,t --field v:f8: --field nodes:f4:*,3 \
		--random 3000 --batch 100 --seed 21 --nan v=30
	# the reference: the same pipeline over a pipe
	timeout 60 quanta filter --finite v -q -i "$T/in.qs" |
		timeout 60 quanta split --train 0.7 --stratify labels --seed 4 -q \
			-o "$T/pipe-a.qs" --test-out "$T/pipe-b.qs"
}
teardown() { quanta_teardown; }

# same_output REF GOT: byte-identical files (provenance leaves endpoints
# out, so a socket pipeline writes exactly what the pipe version writes).
same_output() {
	cmp "$1" "$2"
}

# run_with_port CMD...: run CMD with $PORT set to a free port in 20000-40000,
# trying another when the one picked was taken meanwhile ("cannot bind").
run_with_port() {
	local try
	for try in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20000))
		# something answers on it: taken
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && continue
		"$@" && return 0
		grep -q "cannot bind" "$T/err" 2>/dev/null || return 1
	done
	return 1
}

# The pipeline with a socket between filter and split.
# $1: filter's -o, $2: split's -i; which side binds is in the endpoints.
socket_pipeline() {
	: > "$T/err"
	timeout 60 quanta filter --finite v -q -i "$T/in.qs" -o "$1" 2>> "$T/err" &
	local writer=$!
	timeout 60 quanta split --train 0.7 --stratify labels --seed 4 -q -i "$2" \
		-o "$T/a.qs" --test-out "$T/b.qs" 2>> "$T/err"
	local rc=$?
	wait "$writer" || rc=$?
	cat "$T/err" >&2
	return $rc
}

tcp_writer_binds() {
	socket_pipeline "@tcp://127.0.0.1:$PORT" ">tcp://127.0.0.1:$PORT"
}

tcp_reader_binds() {
	socket_pipeline ">tcp://127.0.0.1:$PORT" "@tcp://127.0.0.1:$PORT"
}

@test "zmq: tcp, writer binds and reader connects: same output as the pipe" {
	run_with_port tcp_writer_binds
	same_output "$T/pipe-a.qs" "$T/a.qs"
	same_output "$T/pipe-b.qs" "$T/b.qs"
}

@test "zmq: tcp, reader binds and writer connects: same output as the pipe" {
	run_with_port tcp_reader_binds
	same_output "$T/pipe-a.qs" "$T/a.qs"
	same_output "$T/pipe-b.qs" "$T/b.qs"
}

@test "zmq: ipc, both directions: same output as the pipe" {
	socket_pipeline "@ipc://$T/s1" ">ipc://$T/s1"
	same_output "$T/pipe-a.qs" "$T/a.qs"
	same_output "$T/pipe-b.qs" "$T/b.qs"
	rm -f "$T/a.qs" "$T/b.qs"
	socket_pipeline ">ipc://$T/s2" "@ipc://$T/s2"
	same_output "$T/pipe-a.qs" "$T/a.qs"
	same_output "$T/pipe-b.qs" "$T/b.qs"
}

# split writes both parts to sockets; two readers save them to files.
split_to_sockets() {
	local p2=$((PORT + 1)) readers=()
	: > "$T/err"
	timeout 60 quanta filter --finite v -q -i "$T/in.qs" |
		timeout 60 quanta split --train 0.7 --stratify labels --seed 4 -q \
			-o "@tcp://127.0.0.1:$PORT" --test-out "@tcp://127.0.0.1:$p2" 2>> "$T/err" &
	local writer=$!
	timeout 60 quanta filter --finite v -q -i ">tcp://127.0.0.1:$PORT" -o "$T/a.qs" &
	readers+=($!)
	timeout 60 quanta filter --finite v -q -i ">tcp://127.0.0.1:$p2" -o "$T/b.qs" &
	readers+=($!)
	local rc=0
	wait "$writer" || rc=$?
	wait "${readers[@]}" || rc=$?
	cat "$T/err" >&2
	return $rc
}

@test "zmq: split's outputs as sockets, read by two stages" {
	run_with_port split_to_sockets
	# the readers (filter stages) add a provenance step to the header;
	# what follows it, the batches and the end map, is byte-identical
	"$PY" "$PYS" body "$T/pipe-a.qs" "$T/ref.body"
	"$PY" "$PYS" body "$T/a.qs" "$T/got.body"
	cmp "$T/ref.body" "$T/got.body"
	"$PY" "$PYS" body "$T/pipe-b.qs" "$T/ref.body"
	"$PY" "$PYS" body "$T/b.qs" "$T/got.body"
	cmp "$T/ref.body" "$T/got.body"
}

@test "zmq: inspect reads a socket" {
	quanta inspect --json "$T/pipe-a.qs" > "$T/want.json"
	: > "$T/err"
	PORT=$((20000 + RANDOM % 20000))
	timeout 60 quanta split --train 0.7 --stratify labels --seed 4 -q \
		-i "$T/pipe-a.qs" -o "@tcp://127.0.0.1:$PORT" --test-out "$T/x.qs" &
	local writer=$!
	run timeout 60 quanta inspect --json -i ">tcp://127.0.0.1:$PORT"
	wait "$writer"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq .samples)" -eq "$(( $(jq .samples "$T/want.json") - \
		$(quanta inspect --json "$T/x.qs" | jq .samples) ))" ]
}

@test "zmq: a socket stream whose writer failed is an error downstream" {
	PORT=$((20000 + RANDOM % 20000))
	# a writer that sends a header and one batch, then dies without an end
	"$PY" "$PYS" strip-end "$T/pipe-a.qs" "$T/noend.qs"
	timeout 60 quanta filter --finite v -q -i "$T/noend.qs" -o "@tcp://127.0.0.1:$PORT" \
		2> "$T/werr" &
	local writer=$!
	run timeout 5 quanta inspect -i ">tcp://127.0.0.1:$PORT"
	wait "$writer" || true
	# the writer failed on its truncated input and sent an abort map:
	# the reader stops at once with the writer's reason, exit 2
	assert_usage_error inspect
	[[ "$output" == *"the stage writing this stream failed"*"truncated"* ]]
}

@test "zmq: a bad endpoint is a one-line usage error" {
	run timeout 60 quanta filter --finite v -i "$T/in.qs" -o "@tcp://256.1.1.1:1"
	assert_usage_error filter
	run timeout 60 quanta inspect -i "@tcp://127.0.0.1:notaport"
	assert_usage_error inspect
}
