# frozen_string_literal: true

require_relative "test_helper"
require "timeout"

class FifoTest < ZkCase
  ROUNDS = 15

  def fresh_name
    "ruby-fifo-#{SecureRandom.hex(4)}"
  end

  def test_mutex_contention_across_threads
    lock_name = fresh_name
    counter = client.create(unique_path, "0")
    records = Array.new(4) do
      Thread.new do
        fifo = client.fifo(lock_name)
        count_under(fifo, counter, ROUNDS).tap { fifo.free }
      end
    end.flat_map(&:value)
    assert_increasing_tokens(records, 4 * ROUNDS)
  end

  def test_states_token_io_and_guarded_writes
    fifo = client.fifo(fresh_name, identifier: "me")
    target = client.create(unique_path, "0")
    states = Queue.new
    fifo.on_state { |_old, new| states << new }
    assert IO.select([fifo.io], nil, nil, 2), "readable once after creation"
    assert_equal Zkutil::LOCK_UNLOCKED, fifo.drain
    assert_raises(Zkutil::NotLocked) { fifo.token }
    assert_raises(Zkutil::NotLocked) { fifo.guarded_set(target, "1") }
    token = fifo.acquire(timeout_ms: 5000)
    assert_equal Zkutil::LOCK_HELD, states.pop
    assert IO.select([fifo.io], nil, nil, 2)
    assert_equal Zkutil::LOCK_HELD, fifo.drain
    assert fifo.locked?
    assert_equal token, fifo.token
    assert_nil fifo.lost_reason
    assert_equal [["me"]], fifo.contenders.map { |_node, id| [id] }
    assert_match(/-lock-\d+\z/, fifo.contenders.first.first)
    assert_equal 1, fifo.guarded_set(target, "1").version
    fifo.guarded_delete(target)
    assert_nil client.exists(target)
    fifo.release
    assert_equal Zkutil::LOCK_UNLOCKED, states.pop
    assert_equal [], fifo.contenders
  end

  def test_try_acquire_behind_the_holder
    lock_name = fresh_name
    holder = client.fifo(lock_name)
    token = holder.acquire
    other = client.fifo(lock_name)
    assert_equal [false, 0], other.try_acquire
    assert_equal 1, holder.contenders.size, "the failed attempt leaves no node"
    holder.release
    locked, other_token = other.try_acquire
    assert locked
    assert_operator other_token, :>, token
    other.release
  end

  def test_leader_and_standby_taking_over
    election = fresh_name
    leader = client.fifo(election, kind: :leader, identifier: "first")
    first_token = leader.acquire
    standby = client.fifo(election, kind: :leader, identifier: "second")
    waiting = Thread.new { standby.acquire(timeout_ms: 30_000) }
    sleep 0.01 until leader.contenders.size == 2 || !waiting.alive?
    assert_equal %w[first second], leader.contenders.map(&:last)
    assert_equal Zkutil::LOCK_UNLOCKED, standby.state
    assert_match(/latch-\d+\z/, leader.contenders.first.first)
    leader.release
    assert_operator waiting.value, :>, first_token
    assert_equal Zkutil::LOCK_HELD, standby.state
    standby.release
  end

  def test_readers_share_and_writer_waits
    lock_name = fresh_name
    readers = Array.new(2) { client.fifo(lock_name, kind: :read) }
    readers.each { |r| r.acquire(timeout_ms: 5000) }
    writer = client.fifo(lock_name, kind: :write)
    refute writer.try_acquire.first, "readers hold it"
    readers.each(&:release)
    assert writer.try_acquire.first
    refute readers.first.try_acquire.first, "a writer holds it"
    writer.release
  end

  def test_read_of_downgrades_the_write_side
    lock_name = fresh_name
    write = client.fifo(lock_name, kind: :write)
    write_token = write.acquire
    own_read = write.read_of
    assert_equal write_token, own_read.acquire(timeout_ms: 0), "granted at once to the write side's owner"
    write.release
    refute client.fifo(lock_name, kind: :write).try_acquire.first, "the downgraded reader keeps writers out"
    other_read = client.fifo(lock_name, kind: :read)
    assert other_read.try_acquire.first, "other readers come in"
    [own_read, other_read].each(&:release)
  end

  def test_acquire_interrupted_by_timeout_leaves_no_node
    lock_name = fresh_name
    holder = client.fifo(lock_name)
    holder.acquire
    waiter = client.fifo(lock_name)
    start = ZkTest.monotonic
    assert_raises(Timeout::Error) { Timeout.timeout(0.2) { waiter.acquire(timeout_ms: -1) } }
    assert_operator ZkTest.monotonic - start, :<, 2
    assert_equal 1, waiter.contenders.size, "its next call waits for the cleanup of its node"
    holder.release
  end

  def test_cancel_ends_acquires_running_in_other_threads
    lock_name = fresh_name
    holder = client.fifo(lock_name)
    holder.acquire
    waiter = client.fifo(lock_name)
    threads = Array.new(2) { Thread.new { waiter.acquire(timeout_ms: -1) rescue $! } }
    sleep 0.3
    waiter.cancel
    threads.each { |t| assert_kind_of Zkutil::Cancelled, t.value }
    assert_equal 1, waiter.contenders.size, "no node of the waiter's left"
    assert_raises(Zkutil::OperationTimeout) { waiter.acquire(timeout_ms: 200) }
    holder.release
    assert_operator waiter.acquire, :>, 0
    waiter.release
  end

  def test_bad_input
    assert_raises(Zkutil::InvalidPath) { client.fifo("") }
    assert_raises(Zkutil::InvalidArgument) { client.fifo(fresh_name, identifier: "") }
    assert_raises(Zkutil::InvalidArgument) { client.fifo(fresh_name, default_timeout_ms: -5) }
    assert_raises(ArgumentError) { client.fifo(fresh_name, kind: :semaphore) }
    assert_raises(Zkutil::InvalidArgument) { client.fifo(fresh_name, kind: :read).read_of }
    fifo = client.fifo(fresh_name)
    assert_raises(Zkutil::InvalidArgument) { fifo.acquire(timeout_ms: -7) }
    fifo.free
    assert_raises(Zkutil::Closed) { fifo.state }
  end
end
