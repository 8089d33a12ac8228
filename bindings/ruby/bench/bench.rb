# frozen_string_literal: true

# Per-call cost of the Ruby gem against C on the same loops: a pure helper
# (zku_strerror, 50x n calls) and a get of a small node (n calls). The C
# loops (bench/loops.c, built by scripts/bench.sh) run in this process on
# the gem's client, in batches of 50 interleaved with the Ruby batches, so
# both see the same session, thread and machine load; a round's figure is
# the median over its batches of (Ruby batch - the C batch just before),
# the final one that median over every round's batches, with its 95%
# confidence interval. N gets in all (bench.sh: 10x its -n).
# Run by scripts/bench.sh:
#   ruby -Ibindings/ruby/lib bindings/ruby/bench/bench.rb HOSTS LOOPS_SO [N] [ROUNDS]
require "zkutil"

hosts, loops, n, rounds = ARGV
n = Integer(n || 2000)
rounds = Integer(rounds || 3)
BATCH = 50

CLoops = Module.new do
  extend FFI::Library
  ffi_lib loops
  attach_function :zkb_strerror_loop, [:int], :double
  attach_function :zkb_get_loop, %i[pointer string int], :double, blocking: true
end

def ns_per_call(calls)
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
  calls.times { yield }
  (Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond) - start).fdiv(calls)
end

def median(xs) = xs.sort[xs.size / 2]

# A distribution-free 95% confidence interval of the median of xs: the
# order statistics 1.96 standard deviations of a binomial(size, 1/2)
# either side of the middle.
def median_interval(xs)
  sorted = xs.sort
  spread = 0.98 * Math.sqrt(xs.size)
  [sorted[[(xs.size / 2.0 - spread).floor, 0].max], sorted[[(xs.size / 2.0 + spread).ceil, xs.size - 1].min]]
end

# [median C, median Ruby, median of the paired differences] over the
# batches, and the differences.
def interleaved(calls, c_batch, &ruby)
  pairs = Array.new(calls / BATCH) do
    c = c_batch.call
    raise "the C loop failed" if c.negative?

    [c, ns_per_call(BATCH, &ruby)]
  end
  diffs = pairs.map { |c, r| r - c }
  [median(pairs.map(&:first)), median(pairs.map(&:last)), median(diffs), diffs]
end

Zkutil::Client.open(hosts: hosts) do |client|
  path = client.create("/zkutil-ruby-bench-#{Process.pid}", "x" * 64)
  get_c = -> { CLoops.zkb_get_loop(client.ptr, path, BATCH) }
  interleaved(n / 10, get_c) { client.get(path) } # warm-up
  rows = Array.new(rounds) do
    helper = interleaved(n * 50 / rounds, -> { CLoops.zkb_strerror_loop(BATCH) }) { Zkutil.strerror(Zkutil::ENONODE) }
    helper.first(3) + interleaved(n / rounds, get_c) { client.get(path) }
  end
  client.delete(path)

  puts "Ruby gem vs C (ns per call, medians of interleaved batches of #{BATCH}; target: get within 30 us of C)"
  puts format("%-6s %12s %12s %12s %12s %12s %12s", "round", "strerror C", "Ruby", "Ruby-C", "get C", "Ruby", "Ruby-C")
  rows.each_with_index { |row, i| puts format("%-6d %12.0f %12.0f %12.0f %12.0f %12.0f %12.0f", i + 1, *row.first(6)) }
  diffs = rows.flat_map(&:last)
  low, high = median_interval(diffs)
  puts format("get: Ruby - C = %.1f us (95%% CI %.1f to %.1f; %d gets each, %d rounds)",
              median(diffs) / 1000, low / 1000, high / 1000, diffs.size * BATCH, rounds)
end
