# frozen_string_literal: true

require_relative "test_helper"
require "json"

class LockTest < ZkCase
  ROUNDS = 15

  def test_contention_across_threads
    name = "ruby-threads-#{SecureRandom.hex(4)}"
    counter = client.create(unique_path, "0")
    records = Array.new(4) do
      Thread.new do
        lock = client.lock(name)
        count_under(lock, counter, ROUNDS).tap { lock.free }
      end
    end.flat_map(&:value)
    assert_increasing_tokens(records, 4 * ROUNDS)
  end

  def test_contention_across_processes
    name = "ruby-procs-#{SecureRandom.hex(4)}"
    counter = client.create(unique_path, "0")
    script = <<~RUBY
      require "zkutil"; require "json"
      client = Zkutil::Client.new(hosts: ARGV[0])
      lock = client.lock(ARGV[1])
      out = Array.new(Integer(ARGV[3])) do
        lock.synchronize(timeout_ms: 60_000) do |token|
          data, stat = client.get(ARGV[2])
          count = data.to_i + 1
          client.set(ARGV[2], count.to_s, version: stat.version)
          [count, token]
        end
      end
      puts JSON.generate(out)
    RUBY
    lib = File.expand_path("../lib", __dir__)
    pipes = Array.new(3) do
      IO.popen([RbConfig.ruby, "-I", lib, "-e", script, ZkTest.hosts, name, counter, ROUNDS.to_s])
    end
    records = pipes.flat_map do |io|
      out = io.read
      io.close
      assert $?.success?, "a locking process failed"
      JSON.parse(out)
    end
    assert_increasing_tokens(records, 3 * ROUNDS)
  end

  def test_synchronize_releases_when_the_block_raises
    lock = client.lock("ruby-raise-#{SecureRandom.hex(4)}")
    assert_raises(RuntimeError) { lock.synchronize { raise "inside" } }
    assert_equal Zkutil::LOCK_UNLOCKED, lock.state
    assert_raises(Zkutil::NotLocked) { lock.token }
  end

  def test_io_becomes_readable_on_state_changes
    lock = client.lock("ruby-io-#{SecureRandom.hex(4)}")
    io = lock.io
    assert IO.select([io], nil, nil, 2), "readable once after creation"
    assert_equal Zkutil::LOCK_UNLOCKED, lock.drain
    token = lock.acquire(timeout_ms: 5000)
    assert_operator token, :>, 0
    assert IO.select([io], nil, nil, 2)
    assert_equal Zkutil::LOCK_HELD, lock.drain
    lock.release
  end

  def test_state_callback_and_holder
    name = "ruby-cb-#{SecureRandom.hex(4)}"
    states = Queue.new
    lock = client.lock(name)
    lock.on_state { |_old, new| states << new }
    token = lock.acquire
    assert_equal Zkutil::LOCK_HELD, states.pop
    id, _data, stat = client.lock(name).holder
    assert_equal lock.identifier, id
    assert_equal token, stat.czxid
    other = client.lock(name)
    locked, holder, = other.try_acquire
    refute locked
    assert_equal lock.identifier, JSON.parse(holder)["id"]
    seen = []
    assert_raises(Zkutil::Aborted) { other.acquire(timeout_ms: 5000) { |data, _version| seen << data; true } }
    assert_equal 1, seen.size
    lock.release
  end

  def test_holder_block_raising_is_raised_after_the_call
    name = "ruby-holder-#{SecureRandom.hex(4)}"
    lock = client.lock(name)
    lock.acquire
    error = assert_raises(ArgumentError) { client.lock(name).acquire(timeout_ms: 5000) { raise ArgumentError, "from the block" } }
    assert_equal "from the block", error.message
    assert lock.locked?
    lock.release
  end
end
