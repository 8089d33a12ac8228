# frozen_string_literal: true

require_relative "test_helper"

# The library's handles must not be freed while a call uses them: #free
# ends the calls it can end (a client's, a lock's or FIFO's acquires) and
# waits for them to return before it frees.
class FreeTest < ZkCase
  def blocked(&call)
    thread = Thread.new do
      call.call
    rescue Zkutil::Error => e
      e
    end
    sleep 0.3
    assert thread.alive?, "the call blocks"
    thread
  end

  def test_client_free_ends_calls_blocked_on_it_first
    other = Zkutil::Client.new(hosts: ZkTest.hosts)
    path = other.create(unique_path)
    thread = blocked { other.get_next(path, version: 5, timeout_ms: -1) }
    other.free
    assert thread.join(0), "the call returned before free did"
    assert_kind_of Zkutil::Closed, thread.value
  end

  def test_fifo_and_lock_free_end_acquires_blocked_on_them_first
    name = unique_path("ruby-free").delete_prefix("/")
    holder = client.fifo(name)
    holder.acquire
    waiter = client.fifo(name)
    thread = blocked { waiter.acquire(timeout_ms: -1) }
    waiter.free
    assert thread.join(0), "the acquire returned before free did"
    assert_kind_of Zkutil::Cancelled, thread.value
    assert_equal 1, holder.contenders.size, "no node of the waiter's left"

    lock_holder = client.lock("#{name}-lock")
    lock_holder.acquire
    lock_waiter = client.lock("#{name}-lock")
    thread = blocked { lock_waiter.acquire(timeout_ms: -1) }
    lock_waiter.free
    assert thread.join(0), "the acquire returned before free did"
    assert_kind_of Zkutil::Cancelled, thread.value
  end

  # A call that free cannot end (a CAS commit against a stalled server)
  # is waited for.
  def test_free_waits_for_a_call_it_cannot_end
    with_own_server do |own, jvm|
      path = own.create(unique_path, "0")
      cas = own.cas_begin(path)
      stalled(jvm) do
        thread = blocked { cas.commit("1", timeout_ms: 1500) }
        start = ZkTest.monotonic
        cas.free
        assert thread.join(0), "the commit returned before free did"
        assert_operator ZkTest.monotonic - start, :>, 0.8, "free waited for the commit"
        assert_kind_of Zkutil::Error, thread.value
      end
    end
  end

  # A Cancel freed while a call runs under it is freed by the collector
  # after the call; the call goes on.
  def test_a_cancel_in_use_is_freed_after_the_call
    path = client.create(unique_path)
    cancel = Zkutil::Cancel.new
    thread = blocked { client.get_next(path, version: 5, timeout_ms: 2000, cancel: cancel) }
    cancel.free
    assert_raises(Zkutil::Closed) { cancel.cancel }
    assert thread.alive?
    client.delete(path)
    assert_kind_of Zkutil::NoNode, thread.value
  end
end
