# frozen_string_literal: true

require_relative "test_helper"
require "timeout"

# The library promises 50 ms; the bounds leave room for a loaded machine.
class CancelTest < ZkCase
  SLACK = 0.15

  def test_cancel_from_another_thread
    path = client.create(unique_path)
    cancel = Zkutil::Cancel.new
    cancelled_at = nil
    Thread.new do
      sleep 0.2
      cancelled_at = ZkTest.monotonic
      cancel.cancel
    end
    assert_raises(Zkutil::Cancelled) { client.wait_absent(path, timeout_ms: -1, cancel: cancel) }
    assert_operator ZkTest.monotonic - cancelled_at, :<, 0.05 + SLACK
    assert cancel.cancelled?
  end

  def test_timeout_interrupts_a_blocking_call
    path = client.create(unique_path)
    start = ZkTest.monotonic
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { client.get_next(path, version: 5, timeout_ms: -1) } }
    assert_operator ZkTest.monotonic - start, :<, 0.3 + 0.05 + SLACK
    assert_equal "", client.get(path).first # the client still works
  end

  # The block's call and the cas_update around it share the fiber's
  # zku_cancel, which the interrupt cancels: both end, and later calls get
  # a new one. (The block's Zkutil::Cancelled, raised by cas_update, wins
  # over the Timeout::Error that was pending, as with a zku_cancel per call.)
  def test_timeout_interrupts_a_call_made_by_a_block_during_a_call
    path = client.create(unique_path, "0")
    start = ZkTest.monotonic
    assert_raises(Timeout::Error, Zkutil::Cancelled) do
      Timeout.timeout(0.3) do
        client.cas_update(path) { |value, _stat| client.get_next(path, version: 5, timeout_ms: -1) && value }
      end
    end
    assert_operator ZkTest.monotonic - start, :<, 0.3 + 0.05 + SLACK
    GC.start
    assert_equal "0", client.get(path).first
  end

  def test_thread_kill_ends_a_blocking_acquire
    name = "ruby-kill-#{SecureRandom.hex(4)}"
    holder = client.lock(name)
    holder.acquire
    waiter = Thread.new { client.lock(name).acquire(timeout_ms: -1) }
    sleep 0.3
    start = ZkTest.monotonic
    waiter.kill
    assert waiter.join(0.05 + SLACK), "the killed thread is still in its acquire"
    assert_operator ZkTest.monotonic - start, :<, 0.05 + SLACK
    holder.release
  end

  def test_blocking_calls_let_other_threads_run
    path = client.create(unique_path)
    blocked = Thread.new { client.wait_absent(path, timeout_ms: 2000) rescue nil }
    ticks = 0
    deadline = ZkTest.monotonic + 0.3
    while ZkTest.monotonic < deadline
      ticks += 1
      sleep 0.01
    end
    assert_operator ticks, :>, 10
    blocked.join
  end
end
