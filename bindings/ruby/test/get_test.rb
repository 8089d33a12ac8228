# frozen_string_literal: true

require_relative "test_helper"
require "timeout"

# Client#get reads into the fiber's 4 KiB (zku_client_get_into) and reads
# larger data again into a buffer of its size; Stat keeps the C struct's
# bytes and reads fields on demand.
class GetTest < ZkCase
  SLACK = 0.15

  def test_data_of_every_size_around_the_room
    root = client.create(unique_path)
    [0, 1, 4095, 4096, 4097, 100_000].each_with_index do |size, i|
      data = Array.new(size) { |k| (k * 7 + i) % 256 }.pack("C*")
      path = client.create("#{root}/n#{size}", data)
      read, stat = client.get(path)
      assert_equal data, read, "#{size} bytes"
      assert_equal Encoding::BINARY, read.encoding
      assert_equal size, stat.data_length
      assert_equal client.exists(path), stat
    end
    assert_raises(Zkutil::NoNode) { client.get("#{root}/none") }
    assert_raises(Zkutil::InvalidPath) { client.get("relative") }
  end

  def test_stat_reads_like_a_value
    path = client.create(unique_path, "x")
    client.set(path, "yz")
    _data, stat = client.get(path)
    assert_equal [1, 2], [stat.version, stat.data_length]
    assert_equal stat.to_h.keys, stat.members
    assert_equal stat.to_a, stat.members.map { |m| stat[m] }
    assert_equal stat.czxid, stat[0]
    assert_equal stat, client.get(path).last
    assert_equal stat.hash, client.get(path).last.hash
    refute_equal stat, client.set(path, "w")
    assert_match(/\A#<Zkutil::Stat czxid=\d+, .*num_children=0>\z/, stat.inspect)
    case stat
    in { version: 1, data_length: } then assert_equal 2, data_length
    end
    assert_raises(NameError) { stat[:nope] }
    assert_raises(ArgumentError) { Zkutil::Stat.new("short") }
  end

  # A get blocked by a stalled server: Timeout interrupts it (the watcher
  # cancels the call) and a short timeout gives OperationTimeout; the
  # client works again once the server resumes.
  def test_get_against_a_stalled_server
    with_own_server do |own, jvm|
      path = own.create(unique_path, "v")
      stalled(jvm) do
        start = ZkTest.monotonic
        assert_raises(Timeout::Error) { Timeout.timeout(0.3) { own.get(path, timeout_ms: -1) } }
        assert_operator ZkTest.monotonic - start, :<, 0.3 + 0.05 + SLACK
        start = ZkTest.monotonic
        assert_raises(Zkutil::OperationTimeout) { own.get(path, timeout_ms: 300) }
        assert_operator ZkTest.monotonic - start, :<, 0.3 + 0.1 + SLACK
      end
      assert_equal "v", own.get(path).first
    end
  end

  # After a second without calls the watcher sleeps; the next call wakes
  # it, so an interrupt still ends a blocking call.
  def test_an_interrupt_after_the_watcher_slept
    path = client.create(unique_path)
    client.get(path)
    sleep(Zkutil::Interrupts::IDLE_POLLS * Zkutil::Interrupts::POLL_SECONDS + 0.5)
    assert Zkutil::Interrupts.instance_variable_get(:@sleeping), "the watcher sleeps when no call runs"
    start = ZkTest.monotonic
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { client.get_next(path, version: 5, timeout_ms: -1) } }
    assert_operator ZkTest.monotonic - start, :<, 0.3 + 0.05 + SLACK
  end

  # Each fiber that makes calls gets a Caller; those of ended threads and
  # fibers are forgotten within a second or so.
  def test_callers_of_ended_threads_and_fibers_are_forgotten
    path = client.create(unique_path, "x")
    callers = -> { Zkutil::Interrupts.instance_variable_get(:@callers) }
    before = callers.call.size
    Array.new(20) { Thread.new { client.get(path) } }.each(&:join)
    Array.new(20) { Fiber.new { client.get(path) } }.each(&:resume)
    client.get(path) # the watcher runs
    deadline = ZkTest.monotonic + 5
    sleep 0.1 while callers.call.size > before + 1 && ZkTest.monotonic < deadline
    assert_operator callers.call.size, :<=, before + 1
  end
end
