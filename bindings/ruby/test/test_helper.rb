# frozen_string_literal: true

# Tests run against a real ZooKeeper: $ZKU_HOSTS, else one started here by
# scripts/zk-server.sh (stopped when this process exits).
require "zkutil" # first: its at_exit (freeing handles) must run after the tests' one
require "minitest/autorun"
require "securerandom"
require "tmpdir"
require "fileutils"

module ZkTest
  REPO = File.expand_path("../../..", __dir__)

  def self.hosts
    @hosts ||= ENV["ZKU_HOSTS"] || start_server
  end

  def self.start_server
    dir = Dir.mktmpdir("zkutil-ruby-zk")
    script = File.join(REPO, "scripts/zk-server.sh")
    hosts = IO.popen([script, "start", dir, "--owner", Process.pid.to_s], &:read).strip
    raise "scripts/zk-server.sh start failed" unless $?.success?

    owner = Process.pid
    at_exit { system(script, "stop", dir, out: File::NULL) if Process.pid == owner }
    hosts
  end

  def self.unique_path(prefix = "ruby")
    "/#{prefix}-#{SecureRandom.hex(6)}"
  end

  def self.monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end
end

class ZkCase < Minitest::Test
  def client
    @client ||= Zkutil::Client.new(hosts: ZkTest.hosts)
  end

  def teardown
    @client&.free
  end

  def unique_path(prefix = "ruby")
    ZkTest.unique_path(prefix)
  end

  # A server of the test's own (to stall): yields a client on it and its
  # JVM's pid; stops it after.
  def with_own_server
    dir = Dir.mktmpdir("zkutil-ruby-own")
    script = File.join(ZkTest::REPO, "scripts/zk-server.sh")
    hosts = IO.popen([script, "start", dir, "--owner", Process.pid.to_s], &:read).strip
    own = Zkutil::Client.new(hosts: hosts)
    yield own, Integer(File.read(File.join(dir, "pid")))
  ensure
    own&.free
    system(script, "stop", dir, out: File::NULL)
    FileUtils.rm_rf(dir)
  end

  # Runs the block with the server's JVM stopped (SIGSTOP).
  def stalled(jvm)
    Process.kill(:STOP, jvm)
    yield
  ensure
    Process.kill(:CONT, jvm)
  end

  # Inside the lock (a Lock or a Fifo): read the counter, write it + 1,
  # record [count, token]. Mutual exclusion: no increment lost; fencing:
  # tokens grow with count.
  def count_under(lock, counter, rounds)
    Array.new(rounds) do
      lock.synchronize(timeout_ms: 60_000) do |token|
        data, stat = client.get(counter)
        count = data.to_i + 1
        client.set(counter, count.to_s, version: stat.version)
        [count, token]
      end
    end
  end

  def assert_increasing_tokens(records, total)
    records = records.sort
    assert_equal (1..total).to_a, records.map(&:first)
    tokens = records.map(&:last)
    assert_equal tokens.sort, tokens
    assert_equal tokens.uniq, tokens
  end
end
