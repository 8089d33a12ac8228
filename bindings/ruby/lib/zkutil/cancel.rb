# frozen_string_literal: true

module Zkutil
  # A cancellation flag for blocking calls (zku_cancel): pass it as
  # `cancel:`; #cancel (from any thread) makes calls under it raise
  # Zkutil::Cancelled within 50 ms. Sticky: make a new one per operation.
  class Cancel < Handle
    FREE_ORDER = 2
    def initialize
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_cancel_new(out, err) }
      super(out.read_pointer, :zku_cancel_free)
    end

    def cancel
      Native.zku_cancel_cancel(ptr)
      self
    end

    def cancelled?
      Native.zku_cancel_is_cancelled(ptr)
    end
  end

  # Makes blocking calls Timeout-friendly. Ruby cannot interrupt a C call:
  # Thread#raise (Timeout.timeout, Thread#kill) waits until it returns. So
  # every blocking call runs under a zku_cancel, and a watcher thread, while
  # such calls are running, looks every 5 ms for their threads having an
  # interrupt pending and cancels their call (it returns within 50 ms); the
  # interrupt is then raised as usual.
  module Interrupts
    POLL_SECONDS = 0.005

    @mutex = Mutex.new
    @wakeup = ConditionVariable.new
    @calls = {}.compare_by_identity
    @watcher = nil

    class << self
      # Yields the zku_cancel pointer to pass to the call: `cancel`'s, or
      # the calling fiber's own, kept for its next calls until the watcher
      # cancels it (a new one per call cost several µs per get: README).
      def run(cancel)
        Thread.handle_interrupt(Object => :never) do
          raw = cancel ? cancel.ptr : own_cancel
          entry = [Thread.current, raw, false]
          track(entry)
          begin
            yield raw
          ensure
            untrack(entry)
            drop_own_cancel(raw) if entry[2] && !cancel
          end
        end
      end

      # After fork only this thread exists: forget the parent's watcher.
      def reset_after_fork
        @mutex = Mutex.new
        @wakeup = ConditionVariable.new
        @calls = {}.compare_by_identity
        @watcher = nil
      end

      private

      # The fiber's reusable zku_cancel, freed by the collector once nothing
      # uses it, never at exit (unlike a Handle: a call under it may still
      # run then). One made before fork() is the parent's.
      def own_cancel
        own, generation = Thread.current[:zkutil_cancel]
        return own if own && generation == Zkutil.fork_generation

        out = Memory.out_pointer
        Zkutil.check { |err| Native.zku_cancel_new(out, err) }
        own = FFI::AutoPointer.new(out.read_pointer, Handle.releaser(:zku_cancel_free, Zkutil.fork_generation))
        Thread.current[:zkutil_cancel] = [own, Zkutil.fork_generation]
        own
      end

      # The watcher cancelled it (the flag is sticky): the fiber's next call
      # makes a new one. Freed by the collector, not here: a call of this
      # fiber that is still running (a block run during a call may make a
      # call itself) may use it.
      def drop_own_cancel(raw)
        own, = Thread.current[:zkutil_cancel]
        Thread.current[:zkutil_cancel] = nil if own.equal?(raw)
      end

      def track(entry)
        @mutex.synchronize do
          @calls[entry] = true
          @watcher = start_watcher unless @watcher&.alive?
          @wakeup.signal if @calls.size == 1
        end
      end

      def untrack(entry)
        @mutex.synchronize { @calls.delete(entry) }
      end

      def start_watcher
        Thread.new do
          Thread.current.name = "zkutil-interrupts"
          Thread.current.report_on_exception = false
          # A new thread inherits its creator's interrupt mask (:never here).
          Thread.handle_interrupt(Object => :immediate) { loop { watch_once } }
        end
      end

      def watch_once
        @mutex.synchronize do
          @wakeup.wait(@mutex) while @calls.empty?
          # Under the mutex: an entry here is still running, so its cancel
          # is not freed yet.
          @calls.each_key do |entry|
            thread, raw = entry
            next unless thread.pending_interrupt?

            Native.zku_cancel_cancel(raw)
            entry[2] = true
          end
        end
        sleep POLL_SECONDS
      end
    end
  end
end
