# frozen_string_literal: true

# Per-call cost of the Ruby gem against C on the same loops: a pure helper
# (zku_strerror, 50x n calls) and a get of a small node (n calls), in
# `rounds` rounds alternating C and Ruby. Run by scripts/bench.sh:
#   ruby -Ibindings/ruby/lib bindings/ruby/bench/bench.rb HOSTS BASELINE_EXE [N] [ROUNDS]
require "zkutil"

hosts, baseline, n, rounds = ARGV
n = Integer(n || 2000)
rounds = Integer(rounds || 3)

def ns_per_call(calls)
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
  calls.times { yield }
  (Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond) - start).fdiv(calls)
end

Zkutil::Client.open(hosts: hosts) do |client|
  path = client.create("/zkutil-ruby-bench-#{Process.pid}", "x" * 64)
  ns_per_call(n) { client.get(path) } # warm up
  rows = Array.new(rounds) do
    c = IO.popen([baseline, hosts, path, n.to_s], &:read).lines.to_h { |l| k, v = l.split; [k, Float(v)] }
    raise "baseline failed" unless $?.success?

    ruby_helper = ns_per_call(n * 50) { Zkutil.strerror(Zkutil::ENONODE) }
    ruby_get = ns_per_call(n) { client.get(path) }
    [c["strerror"], ruby_helper, c["get"], ruby_get]
  end
  client.delete(path)

  puts "Ruby gem vs C (ns per call; target: get within 30 us of C)"
  puts format("%-6s %12s %12s %12s %12s %12s %12s", "round", "strerror C", "Ruby", "Ruby-C", "get C", "Ruby", "Ruby-C")
  rows.each_with_index do |(ch, rh, cg, rg), i|
    puts format("%-6d %12.0f %12.0f %12.0f %12.0f %12.0f %12.0f", i + 1, ch, rh, rh - ch, cg, rg, rg - cg)
  end
  diffs = rows.map { |_, _, cg, rg| rg - cg }
  puts format("get: Ruby - C = %.1f us (min %.1f, max %.1f over %d rounds)",
              diffs.sum / diffs.size / 1000, diffs.min / 1000, diffs.max / 1000, rounds)
end
